// Transformer layers with PyTorch's parameter names (self_attn, linear1, linear2, norm1, norm2, ...),
// so PyTorch state dicts load into them. Pre-norm (normFirst) and post-norm, relu/gelu or a function.

import type { DType, Tensor } from '../autograd/tensor.js';
import { add } from '../ops/binary.js';
import { fmtShape } from '../helpers/shape.js';
import * as F from './functional.js';
import { MultiheadAttention } from './attention.js';
import { Dropout, LayerNorm, Linear, ModuleList } from './layers.js';
import { Module } from './module.js';
import { checkBoolean, checkOptions } from '../helpers/validate.js';

export type Activation = 'relu' | 'gelu' | ((x: Tensor) => Tensor);

export interface TransformerLayerOptions {
  dimFeedforward?: number;
  dropout?: number;
  activation?: Activation;
  layerNormEps?: number;
  batchFirst?: boolean;
  normFirst?: boolean;
  bias?: boolean;
  dtype?: DType;
}

function activationFn(a: Activation): (x: Tensor) => Tensor {
  if (typeof a === 'function') return a;
  if (a === 'relu') return F.relu;
  if (a === 'gelu') return (x) => F.gelu(x);
  throw new Error(`activation should be 'relu', 'gelu' or a function, not '${String(a)}'`);
}

interface Resolved {
  dModel: number;
  nhead: number;
  dimFeedforward: number;
  dropout: number;
  activation: Activation;
  layerNormEps: number;
  batchFirst: boolean;
  normFirst: boolean;
  bias: boolean;
  dtype: DType;
}

const LAYER_OPTIONS = ['dimFeedforward', 'dropout', 'activation', 'layerNormEps', 'batchFirst', 'normFirst', 'bias', 'dtype'];
const DECODER_FORWARD = ['tgtMask', 'memoryMask', 'tgtKeyPaddingMask', 'memoryKeyPaddingMask', 'tgtIsCausal', 'memoryIsCausal'];

/** The options a resolved configuration was made from (for a fresh copy of a layer). */
function layerOptions(c: Resolved): TransformerLayerOptions {
  const { dModel: _d, nhead: _h, ...opts } = c;
  return opts;
}

function resolve(name: string, dModel: number, nhead: number, o: TransformerLayerOptions): Resolved {
  checkOptions(name, o, LAYER_OPTIONS);
  for (const k of ['batchFirst', 'normFirst', 'bias'] as const) checkBoolean(name, k, o[k], false);
  return {
    dModel,
    nhead,
    dimFeedforward: o.dimFeedforward ?? 2048,
    dropout: o.dropout ?? 0.1,
    activation: o.activation ?? 'relu',
    layerNormEps: o.layerNormEps ?? 1e-5,
    batchFirst: o.batchFirst ?? false,
    normFirst: o.normFirst ?? false,
    bias: o.bias ?? true,
    dtype: o.dtype ?? 'float32',
  };
}

/** `fresh` (same configuration) with a copy of `from`'s weights and its train/eval mode (PyTorch's deepcopy). */
function copyOf<M extends Module>(from: Module, fresh: M): M {
  fresh.loadStateDict(from.stateDict());
  fresh.train(from.training);
  return fresh;
}

/** The position-wise block both layers share: out(linear2(dropout(act(linear1(x))))). */
function feedForward(
  l: { linear1: Linear; dropout: Dropout; linear2: Linear },
  act: (x: Tensor) => Tensor,
  x: Tensor,
  out: Dropout,
): Tensor {
  return out.forward(l.linear2.forward(l.dropout.forward(act(l.linear1.forward(x)))));
}

export interface EncoderForwardOptions {
  srcMask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
  isCausal?: boolean;
}

export class TransformerEncoderLayer extends Module {
  static override readonly moduleName = 'TransformerEncoderLayer';
  readonly config: Resolved;
  selfAttn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  private act: (x: Tensor) => Tensor;

  constructor(dModel: number, nhead: number, opts: TransformerLayerOptions = {}) {
    super();
    const c = (this.config = resolve('TransformerEncoderLayer', dModel, nhead, opts));
    this.selfAttn = this.registerModule(
      'self_attn',
      new MultiheadAttention(dModel, nhead, { dropout: c.dropout, bias: c.bias, batchFirst: c.batchFirst, dtype: c.dtype }),
    );
    this.linear1 = this.registerModule('linear1', new Linear(dModel, c.dimFeedforward, { bias: c.bias, dtype: c.dtype }));
    this.dropout = this.registerModule('dropout', new Dropout(c.dropout));
    this.linear2 = this.registerModule('linear2', new Linear(c.dimFeedforward, dModel, { bias: c.bias, dtype: c.dtype }));
    this.norm1 = this.registerModule('norm1', new LayerNorm(dModel, { eps: c.layerNormEps, bias: c.bias, dtype: c.dtype }));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dModel, { eps: c.layerNormEps, bias: c.bias, dtype: c.dtype }));
    this.dropout1 = this.registerModule('dropout1', new Dropout(c.dropout));
    this.dropout2 = this.registerModule('dropout2', new Dropout(c.dropout));
    this.act = activationFn(c.activation);
  }

  override forward(src: Tensor, opts: EncoderForwardOptions = {}): Tensor {
    checkOptions('TransformerEncoderLayer.forward', opts, ['srcMask', 'srcKeyPaddingMask', 'isCausal']);
    checkBoolean('TransformerEncoderLayer.forward', 'isCausal', opts.isCausal, false);
    if (src.ndim !== 2 && src.ndim !== 3)
      throw new Error(`TransformerEncoderLayer: src must be 2-D (unbatched) or 3-D, got shape ${fmtShape(src.shape)}`);
    const sa = (x: Tensor): Tensor =>
      this.dropout1.forward(
        this.selfAttn.forward(x, x, x, {
          attnMask: opts.srcMask ?? null,
          keyPaddingMask: opts.srcKeyPaddingMask ?? null,
          needWeights: false,
          isCausal: opts.isCausal ?? false,
        })[0],
      );
    const ff = (x: Tensor): Tensor => feedForward(this, this.act, x, this.dropout2);
    let x = src;
    if (this.config.normFirst) {
      x = add(x, sa(this.norm1.forward(x)));
      x = add(x, ff(this.norm2.forward(x)));
    } else {
      x = this.norm1.forward(add(x, sa(x)));
      x = this.norm2.forward(add(x, ff(x)));
    }
    return x;
  }

  /** A fresh layer with the same configuration and a copy of the weights. */
  clone(): TransformerEncoderLayer {
    return copyOf(this, new TransformerEncoderLayer(this.config.dModel, this.config.nhead, layerOptions(this.config)));
  }
}

/** `numLayers` copies of a layer (as PyTorch deep-copies it) under 'layers', with an optional final 'norm'. */
abstract class LayerStack<L extends Module & { clone(): L }> extends Module {
  layers: ModuleList<L>;
  norm: LayerNorm | null;
  readonly numLayers: number;

  constructor(name: string, layer: L, numLayers: number, norm: LayerNorm | null) {
    super();
    if (!Number.isInteger(numLayers) || numLayers < 1) throw new Error(`${name}: numLayers must be a positive integer, got ${numLayers}`);
    this.numLayers = numLayers;
    this.layers = this.registerModule('layers', new ModuleList(Array.from({ length: numLayers }, () => layer.clone())));
    this.norm = this.registerModule('norm', norm);
  }

  protected finish(x: Tensor): Tensor {
    return this.norm ? this.norm.forward(x) : x;
  }
}

export class TransformerEncoder extends LayerStack<TransformerEncoderLayer> {
  static override readonly moduleName = 'TransformerEncoder';
  constructor(encoderLayer: TransformerEncoderLayer, numLayers: number, opts: { norm?: LayerNorm | null } = {}) {
    checkOptions('TransformerEncoder', opts, ['norm']);
    super('TransformerEncoder', encoderLayer, numLayers, opts.norm ?? null);
  }

  override forward(src: Tensor, opts: { mask?: Tensor | null; srcKeyPaddingMask?: Tensor | null; isCausal?: boolean } = {}): Tensor {
    checkOptions('TransformerEncoder.forward', opts, ['mask', 'srcKeyPaddingMask', 'isCausal']);
    let x = src;
    for (const layer of this.layers)
      x = layer.forward(x, { srcMask: opts.mask ?? null, srcKeyPaddingMask: opts.srcKeyPaddingMask ?? null, isCausal: opts.isCausal });
    return this.finish(x);
  }
}

export interface DecoderForwardOptions {
  tgtMask?: Tensor | null;
  memoryMask?: Tensor | null;
  tgtKeyPaddingMask?: Tensor | null;
  memoryKeyPaddingMask?: Tensor | null;
  tgtIsCausal?: boolean;
  memoryIsCausal?: boolean;
}

export class TransformerDecoderLayer extends Module {
  static override readonly moduleName = 'TransformerDecoderLayer';
  readonly config: Resolved;
  selfAttn: MultiheadAttention;
  multiheadAttn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  norm3: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  dropout3: Dropout;
  private act: (x: Tensor) => Tensor;

  constructor(dModel: number, nhead: number, opts: TransformerLayerOptions = {}) {
    super();
    const c = (this.config = resolve('TransformerDecoderLayer', dModel, nhead, opts));
    const mha = () => new MultiheadAttention(dModel, nhead, { dropout: c.dropout, bias: c.bias, batchFirst: c.batchFirst, dtype: c.dtype });
    this.selfAttn = this.registerModule('self_attn', mha());
    this.multiheadAttn = this.registerModule('multihead_attn', mha());
    this.linear1 = this.registerModule('linear1', new Linear(dModel, c.dimFeedforward, { bias: c.bias, dtype: c.dtype }));
    this.dropout = this.registerModule('dropout', new Dropout(c.dropout));
    this.linear2 = this.registerModule('linear2', new Linear(c.dimFeedforward, dModel, { bias: c.bias, dtype: c.dtype }));
    const ln = () => new LayerNorm(dModel, { eps: c.layerNormEps, bias: c.bias, dtype: c.dtype });
    this.norm1 = this.registerModule('norm1', ln());
    this.norm2 = this.registerModule('norm2', ln());
    this.norm3 = this.registerModule('norm3', ln());
    this.dropout1 = this.registerModule('dropout1', new Dropout(c.dropout));
    this.dropout2 = this.registerModule('dropout2', new Dropout(c.dropout));
    this.dropout3 = this.registerModule('dropout3', new Dropout(c.dropout));
    this.act = activationFn(c.activation);
  }

  override forward(tgt: Tensor, memory: Tensor, o: DecoderForwardOptions = {}): Tensor {
    checkOptions('TransformerDecoderLayer.forward', o, DECODER_FORWARD);
    for (const k of ['tgtIsCausal', 'memoryIsCausal'] as const) checkBoolean('TransformerDecoderLayer.forward', k, o[k], false);
    const sa = (x: Tensor): Tensor =>
      this.dropout1.forward(
        this.selfAttn.forward(x, x, x, {
          attnMask: o.tgtMask ?? null,
          keyPaddingMask: o.tgtKeyPaddingMask ?? null,
          needWeights: false,
          isCausal: o.tgtIsCausal ?? false,
        })[0],
      );
    const mha = (x: Tensor): Tensor =>
      this.dropout2.forward(
        this.multiheadAttn.forward(x, memory, memory, {
          attnMask: o.memoryMask ?? null,
          keyPaddingMask: o.memoryKeyPaddingMask ?? null,
          needWeights: false,
          isCausal: o.memoryIsCausal ?? false,
        })[0],
      );
    const ff = (x: Tensor): Tensor => feedForward(this, this.act, x, this.dropout3);
    let x = tgt;
    if (this.config.normFirst) {
      x = add(x, sa(this.norm1.forward(x)));
      x = add(x, mha(this.norm2.forward(x)));
      x = add(x, ff(this.norm3.forward(x)));
    } else {
      x = this.norm1.forward(add(x, sa(x)));
      x = this.norm2.forward(add(x, mha(x)));
      x = this.norm3.forward(add(x, ff(x)));
    }
    return x;
  }

  clone(): TransformerDecoderLayer {
    return copyOf(this, new TransformerDecoderLayer(this.config.dModel, this.config.nhead, layerOptions(this.config)));
  }
}

export class TransformerDecoder extends LayerStack<TransformerDecoderLayer> {
  static override readonly moduleName = 'TransformerDecoder';
  constructor(decoderLayer: TransformerDecoderLayer, numLayers: number, opts: { norm?: LayerNorm | null } = {}) {
    checkOptions('TransformerDecoder', opts, ['norm']);
    super('TransformerDecoder', decoderLayer, numLayers, opts.norm ?? null);
  }

  override forward(tgt: Tensor, memory: Tensor, o: DecoderForwardOptions = {}): Tensor {
    checkOptions('TransformerDecoder.forward', o, DECODER_FORWARD);
    for (const k of ['tgtIsCausal', 'memoryIsCausal'] as const) checkBoolean('TransformerDecoder.forward', k, o[k], false);
    let x = tgt;
    for (const layer of this.layers) x = layer.forward(x, memory, o);
    return this.finish(x);
  }
}
