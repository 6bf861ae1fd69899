// nn.MultiheadAttention with PyTorch's option set, on the scaled-dot-product-attention op.
// Inputs are (L, N, E) (or (N, L, E) with batchFirst, or unbatched (L, E)); internally everything runs
// batch-first as (N, H, L, headDim) for the attention op. Boolean masks mean "true = not allowed" here
// (PyTorch's MHA convention, the opposite of SDPA's); float masks are added to the scores. Both masks
// are turned into one float mask (-Infinity where not allowed) as PyTorch merges them.
// The output always comes from the attention op; with needWeights the same call also returns its
// weights, so the output does not depend on needWeights. A row whose keys are all masked gives 0
// (PyTorch's math path would give NaN there).

import type { Tensor, DType } from '../autograd/tensor.js';
import { zeros, fromValues } from '../ops/creation.js';
import { add } from '../ops/binary.js';
import { maskedFill } from '../ops/compare.js';
import { mean } from '../ops/reduce.js';
import { cat, expand, narrow, permute, reshape, squeeze, transpose, unsqueeze } from '../ops/shape.js';
import { scaledDotProductAttentionWithWeights, scaledDotProductAttention } from '../ops/sdpa.js';
import { fmtShape } from '../helpers/shape.js';
import * as F from './functional.js';
import * as init from './init.js';
import { Linear } from './layers.js';
import { Module, pyBool } from './module.js';
import { checkBoolean, checkOptions } from '../helpers/validate.js';

export interface MultiheadAttentionOptions {
  dropout?: number;
  bias?: boolean;
  addBiasKv?: boolean;
  addZeroAttn?: boolean;
  kdim?: number;
  vdim?: number;
  batchFirst?: boolean;
  dtype?: DType;
}

export interface MultiheadAttentionForwardOptions {
  keyPaddingMask?: Tensor | null;
  needWeights?: boolean;
  attnMask?: Tensor | null;
  averageAttnWeights?: boolean;
  isCausal?: boolean;
}

const OP = 'MultiheadAttention';

export class MultiheadAttention extends Module {
  static override readonly moduleName = 'MultiheadAttention';
  readonly embedDim: number;
  readonly kdim: number;
  readonly vdim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  readonly addZeroAttn: boolean;
  private readonly qkvSameEmbedDim: boolean;
  inProjWeight: Tensor | null;
  qProjWeight: Tensor | null;
  kProjWeight: Tensor | null;
  vProjWeight: Tensor | null;
  inProjBias: Tensor | null;
  outProj: Linear;
  biasK: Tensor | null;
  biasV: Tensor | null;

  constructor(embedDim: number, numHeads: number, opts: MultiheadAttentionOptions = {}) {
    super();
    checkOptions(OP, opts, ['dropout', 'bias', 'addBiasKv', 'addZeroAttn', 'kdim', 'vdim', 'batchFirst', 'dtype']);
    if (!Number.isInteger(embedDim) || embedDim <= 0) throw new Error(`${OP}: embedDim must be a positive integer, got ${embedDim}`);
    if (!Number.isInteger(numHeads) || numHeads <= 0) throw new Error(`${OP}: numHeads must be a positive integer, got ${numHeads}`);
    if (embedDim % numHeads !== 0) throw new Error(`${OP}: embedDim (${embedDim}) must be divisible by numHeads (${numHeads})`);
    const dropout = opts.dropout ?? 0;
    if (!(dropout >= 0 && dropout <= 1)) throw new Error(`${OP}: dropout probability has to be between 0 and 1, but got ${dropout}`);
    const dtype = opts.dtype ?? 'float32';
    const bias = checkBoolean(OP, 'bias', opts.bias, true);
    this.embedDim = embedDim;
    this.kdim = opts.kdim ?? embedDim;
    this.vdim = opts.vdim ?? embedDim;
    for (const k of ['kdim', 'vdim'] as const)
      if (!Number.isInteger(this[k]) || this[k] <= 0) throw new Error(`${OP}: ${k} must be a positive integer, got ${String(opts[k])}`);
    this.qkvSameEmbedDim = this.kdim === embedDim && this.vdim === embedDim;
    this.numHeads = numHeads;
    this.headDim = embedDim / numHeads;
    this.dropout = dropout;
    this.batchFirst = checkBoolean(OP, 'batchFirst', opts.batchFirst, false);
    this.addZeroAttn = checkBoolean(OP, 'addZeroAttn', opts.addZeroAttn, false);
    // Registration order follows PyTorch's __init__, so stateDict() lists keys as PyTorch does.
    if (this.qkvSameEmbedDim) {
      this.inProjWeight = this.registerParameter('in_proj_weight', zeros([3 * embedDim, embedDim], { dtype }));
      this.qProjWeight = this.registerParameter('q_proj_weight', null);
      this.kProjWeight = this.registerParameter('k_proj_weight', null);
      this.vProjWeight = this.registerParameter('v_proj_weight', null);
    } else {
      this.qProjWeight = this.registerParameter('q_proj_weight', zeros([embedDim, embedDim], { dtype }));
      this.kProjWeight = this.registerParameter('k_proj_weight', zeros([embedDim, this.kdim], { dtype }));
      this.vProjWeight = this.registerParameter('v_proj_weight', zeros([embedDim, this.vdim], { dtype }));
      this.inProjWeight = this.registerParameter('in_proj_weight', null);
    }
    this.inProjBias = this.registerParameter('in_proj_bias', bias ? zeros([3 * embedDim], { dtype }) : null);
    this.outProj = this.registerModule('out_proj', new Linear(embedDim, embedDim, { bias, dtype }));
    if (checkBoolean(OP, 'addBiasKv', opts.addBiasKv, false)) {
      this.biasK = this.registerParameter('bias_k', zeros([1, 1, embedDim], { dtype }));
      this.biasV = this.registerParameter('bias_v', zeros([1, 1, embedDim], { dtype }));
    } else {
      this.biasK = this.biasV = null;
    }
    this.resetParameters();
  }

  /** PyTorch's _reset_parameters: xavier-uniform projections, zero biases, xavier-normal bias_k/v. */
  resetParameters(): void {
    if (this.inProjWeight) init.xavierUniform_(this.inProjWeight);
    else for (const w of [this.qProjWeight, this.kProjWeight, this.vProjWeight]) init.xavierUniform_(w!);
    if (this.inProjBias) init.constant_(this.inProjBias, 0);
    if (this.outProj.bias) init.constant_(this.outProj.bias, 0);
    if (this.biasK) init.xavierNormal_(this.biasK);
    if (this.biasV) init.xavierNormal_(this.biasV);
  }

  override extraRepr(): string {
    return '';
  }

  override toString(): string {
    return `MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear(in_features=${this.embedDim}, out_features=${this.embedDim}, bias=${pyBool(this.outProj.bias !== null)})\n)`;
  }

  /** Returns `[output, weights | null]` exactly as torch.nn.MultiheadAttention.forward. */
  override forward(query: Tensor, key: Tensor, value: Tensor, opts: MultiheadAttentionForwardOptions = {}): [Tensor, Tensor | null] {
    checkOptions(`${OP}.forward`, opts, ['keyPaddingMask', 'needWeights', 'attnMask', 'averageAttnWeights', 'isCausal']);
    const needWeights = checkBoolean(`${OP}.forward`, 'needWeights', opts.needWeights, true);
    const average = checkBoolean(`${OP}.forward`, 'averageAttnWeights', opts.averageAttnWeights, true);
    checkBoolean(`${OP}.forward`, 'isCausal', opts.isCausal, false);
    const batched = this.checkShapes(query, key, value, opts.keyPaddingMask ?? null, opts.attnMask ?? null);
    // to batch-first (N, L, E)
    let q = query;
    let k = key;
    let v = value;
    let kpm = opts.keyPaddingMask ?? null;
    if (!batched) {
      q = unsqueeze(q, 0); // (L, E) -> (1, L, E)
      k = unsqueeze(k, 0); // (S, kdim) -> (1, S, kdim)
      v = unsqueeze(v, 0); // (S, vdim) -> (1, S, vdim)
      if (kpm) kpm = unsqueeze(kpm, 0); // (S) -> (1, S)
    } else if (!this.batchFirst) {
      q = transpose(q, 0, 1); // (L, N, E) -> (N, L, E)
      k = key === query ? q : transpose(k, 0, 1); // (S, N, kdim) -> (N, S, kdim)
      v = value === key ? k : transpose(v, 0, 1); // (S, N, vdim) -> (N, S, vdim)
    }
    const [N, L] = q.shape;
    const S0 = k.shape[1];
    const E = this.embedDim;
    const H = this.numHeads;
    const hd = this.headDim;
    this.checkBatch(q, k, v, kpm);

    // in-projection
    let qp: Tensor;
    let kp: Tensor;
    let vp: Tensor;
    const b = this.inProjBias;
    // the i-th E-slice of the packed bias, cut only on the paths that use it (the packed one does not)
    const bias = (i: number): Tensor | null => (b ? narrow(b, 0, i * E, E) : null);
    if (this.inProjWeight) {
      const w = this.inProjWeight;
      if (query === key && key === value) {
        const packed = F.linear(q, w, b); // (N, L, 3E)
        [qp, kp, vp] = [0, 1, 2].map((i) => narrow(packed, -1, i * E, E)); // 3 x (N, L, E)
      } else {
        qp = F.linear(q, narrow(w, 0, 0, E), bias(0)); // (N, L, E)
        kp = F.linear(k, narrow(w, 0, E, E), bias(1)); // (N, S, E)
        vp = F.linear(v, narrow(w, 0, 2 * E, E), bias(2)); // (N, S, E)
      }
    } else {
      qp = F.linear(q, this.qProjWeight!, bias(0)); // (N, L, E)
      kp = F.linear(k, this.kProjWeight!, bias(1)); // (N, S, kdim) -> (N, S, E)
      vp = F.linear(v, this.vProjWeight!, bias(2)); // (N, S, vdim) -> (N, S, E)
    }

    // masks as one float mask broadcastable to (N, H, L, S); -Infinity where not allowed
    let mask = this.canonicalAttnMask(opts.attnMask ?? null, N, L, S0, q.dtype);
    let pad = kpm ? toFloatMask(kpm, q.dtype) : null; // (N, S)
    let isCausal = false;
    if (opts.isCausal) {
      // As PyTorch: with an attnMask, the hint lets the attention op apply causality by index only when
      // there is no padding mask and no weights are asked for; otherwise the given attnMask is used as is.
      // Without an attnMask PyTorch raises; gpugrad applies the causal mask (by index where it can).
      const plain = !kpm && !this.biasK && !this.addZeroAttn;
      if (!mask) {
        if (plain) isCausal = true;
        else mask = causalMask(L, S0, q.dtype);
      } else if (plain && !needWeights) {
        mask = null;
        isCausal = true;
      }
    }

    if (this.biasK && this.biasV) {
      kp = cat([kp, expand(this.biasK, [N, 1, E])], 1); // (N, S + 1, E)
      vp = cat([vp, expand(this.biasV, [N, 1, E])], 1); // (N, S + 1, E)
      if (mask) mask = padLast(mask);
      if (pad) pad = padLast(pad);
    }
    // (N, T, E) -> (N, T, H, hd) -> (N, H, T, hd): one attention per head
    const heads = (t: Tensor): Tensor => permute(reshape(t, [N, t.shape[1], H, hd]), [0, 2, 1, 3]);
    const qh = heads(qp); // (N, H, L, hd)
    let kh = heads(kp); // (N, H, S, hd)
    let vh = heads(vp); // (N, H, S, hd)
    if (this.addZeroAttn) {
      kh = cat([kh, zeros([N, H, 1, hd], { dtype: q.dtype })], 2); // (N, H, S + 1, hd)
      vh = cat([vh, zeros([N, H, 1, hd], { dtype: q.dtype })], 2); // (N, H, S + 1, hd)
      if (mask) mask = padLast(mask);
      if (pad) pad = padLast(pad);
    }
    if (pad) {
      const p4 = reshape(pad, [N, 1, 1, pad.shape[1]]); // (N, S) -> (N, 1, 1, S), broadcast over heads and queries
      mask = mask ? add(mask, p4) : p4;
    }
    const p = this.training ? this.dropout : 0;
    const sdpaOpts = { attnMask: mask, dropoutP: p, isCausal };
    let out: Tensor;
    let weights: Tensor | null = null;
    if (needWeights) {
      const r = scaledDotProductAttentionWithWeights(qh, kh, vh, sdpaOpts);
      out = r.out; // (N, H, L, hd)
      weights = r.weights; // (N, H, L, S)
      if (average) weights = mean(weights, 1); // (N, L, S)
      if (!batched) weights = squeeze(weights, 0);
    } else {
      out = scaledDotProductAttention(qh, kh, vh, sdpaOpts); // (N, H, L, hd)
    }
    // re-assemble all head outputs side by side: (N, H, L, hd) -> (N, L, H, hd) -> (N, L, E)
    let o = reshape(permute(out, [0, 2, 1, 3]), [N, L, E]);
    o = this.outProj.forward(o); // (N, L, E)
    if (!batched)
      o = squeeze(o, 0); // (L, E)
    else if (!this.batchFirst) o = transpose(o, 0, 1); // (L, N, E)
    return [o, weights];
  }

  private checkShapes(query: Tensor, key: Tensor, value: Tensor, kpm: Tensor | null, attnMask: Tensor | null): boolean {
    const qd = query.ndim;
    if (qd !== 3 && qd !== 2)
      throw new Error(
        `${OP}: query should be unbatched 2D or batched 3D tensor but received ${qd}-D query tensor (shape ${fmtShape(query.shape)})`,
      );
    const batched = qd === 3;
    const what = batched ? 'batched (3-D)' : 'unbatched (2-D)';
    if (key.ndim !== qd || value.ndim !== qd) {
      throw new Error(
        `${OP}: for ${what} query, expected key and value to be ${qd}-D but found ${key.ndim}-D and ${value.ndim}-D tensors respectively (key ${fmtShape(key.shape)}, value ${fmtShape(value.shape)})`,
      );
    }
    if (kpm) {
      if (kpm.ndim !== qd - 1)
        throw new Error(
          `${OP}: for ${what} query, expected keyPaddingMask to be null or ${qd - 1}-D but found ${kpm.ndim}-D tensor instead (shape ${fmtShape(kpm.shape)})`,
        );
      if (kpm.dtype !== 'bool' && kpm.dtype !== query.dtype)
        throw new Error(`${OP}: only bool and floating types of keyPaddingMask are supported; got ${kpm.dtype} for a ${query.dtype} query`);
    }
    if (attnMask) {
      if (attnMask.ndim !== 2 && attnMask.ndim !== 3) {
        throw new Error(
          `${OP}: for ${what} query, expected attnMask to be null, 2-D or 3-D but found ${attnMask.ndim}-D tensor instead (shape ${fmtShape(attnMask.shape)})`,
        );
      }
      if (attnMask.dtype !== 'bool' && attnMask.dtype !== query.dtype)
        throw new Error(`${OP}: only bool and floating types of attnMask are supported; got ${attnMask.dtype} for a ${query.dtype} query`);
    }
    const E = query.shape[qd - 1];
    if (E !== this.embedDim)
      throw new Error(`${OP}: was expecting embedding dimension of ${this.embedDim}, but got ${E} (query shape ${fmtShape(query.shape)})`);
    if (key.shape[qd - 1] !== this.kdim)
      throw new Error(`${OP}: key has ${key.shape[qd - 1]} features but kdim is ${this.kdim} (key shape ${fmtShape(key.shape)})`);
    if (value.shape[qd - 1] !== this.vdim)
      throw new Error(`${OP}: value has ${value.shape[qd - 1]} features but vdim is ${this.vdim} (value shape ${fmtShape(value.shape)})`);
    const kLead = key.shape.slice(0, -1).join();
    if (kLead !== value.shape.slice(0, -1).join()) {
      throw new Error(
        `${OP}: key shape ${fmtShape(key.shape)} does not match value shape ${fmtShape(value.shape)} (all dims but the last must match)`,
      );
    }
    return batched;
  }

  private checkBatch(q: Tensor, k: Tensor, _v: Tensor, kpm: Tensor | null): void {
    const [N] = q.shape;
    const [Nk, S] = k.shape;
    if (Nk !== N)
      throw new Error(
        `${OP}: query batch size ${N} does not match key batch size ${Nk} (batch-first shapes query ${fmtShape(q.shape)}, key ${fmtShape(k.shape)})`,
      );
    if (kpm && (kpm.shape[0] !== N || kpm.shape[1] !== S)) {
      throw new Error(`${OP}: expected keyPaddingMask of shape [${N}, ${S}] (batch, source length), but got ${fmtShape(kpm.shape)}`);
    }
  }

  /** attnMask (L, S) or (N·H, L, S) (or (H, L, S) unbatched) as a float mask (1|N, 1|H, L, S). */
  private canonicalAttnMask(m: Tensor | null, N: number, L: number, S: number, dtype: DType): Tensor | null {
    if (!m) return null;
    const H = this.numHeads;
    if (m.ndim === 2) {
      if (m.shape[0] !== L || m.shape[1] !== S)
        throw new Error(`${OP}: the shape of the 2D attnMask is ${fmtShape(m.shape)}, but should be [${L}, ${S}]`);
      return reshape(toFloatMask(m, dtype), [1, 1, L, S]);
    }
    if (m.shape[0] !== N * H || m.shape[1] !== L || m.shape[2] !== S) {
      throw new Error(`${OP}: the shape of the 3D attnMask is ${fmtShape(m.shape)}, but should be [${N * H}, ${L}, ${S}]`);
    }
    return reshape(toFloatMask(m, dtype), [N, H, L, S]);
  }
}

/** bool (true = not allowed) or float mask -> float mask with -Infinity where not allowed. */
function toFloatMask(m: Tensor, dtype: DType): Tensor {
  if (m.dtype !== 'bool') return m;
  return maskedFill(zeros(m.shape, { dtype }), m, -Infinity);
}

/** Appends one allowed (0) column on the last dim. */
function padLast(m: Tensor): Tensor {
  const shape = [...m.shape];
  shape[shape.length - 1] = 1;
  return cat([m, zeros(shape, { dtype: m.dtype })], -1);
}

/** Float causal mask (1, 1, L, S) with -Infinity above the diagonal (upper-left aligned). */
function causalMask(L: number, S: number, dtype: DType): Tensor {
  const vals = new Float64Array(L * S);
  for (let i = 0; i < L; i++) for (let j = i + 1; j < S; j++) vals[i * S + j] = -Infinity;
  return reshape(fromValues(vals, [L, S], dtype), [1, 1, L, S]);
}
