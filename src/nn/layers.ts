// Layers with PyTorch's parameter names, default initialisation (drawn from gpugrad's seeded generator)
// and reprs, so state dicts load both ways and `toString()` reads like `print(model)`.

import type { DType, Tensor } from '../autograd/tensor.js';
import { noGrad } from '../autograd/grad-mode.js';
import { fromValues, full, zeros } from '../ops/creation.js';
import { fmtShape } from '../helpers/shape.js';
import * as F from './functional.js';
import * as init from './init.js';
import { addIndent, describeValue, Module, pyBool, pyFloat, type AttrHooks } from './module.js';
import { checkBoolean, checkOptions, describeValue as describeArg } from '../helpers/validate.js';

type FloatDType = Extract<DType, 'float32' | 'float64'>;

function checkFloatDType(fn: string, dtype: DType | undefined): FloatDType {
  const d = dtype ?? 'float32';
  if (d !== 'float32' && d !== 'float64') throw new Error(`${fn}: dtype must be float32 or float64, got ${String(d)}`);
  return d;
}

function checkCount(fn: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new Error(`${fn}: ${name} must be a non-negative integer, got ${String(v)}`);
  return v;
}

/** y = x·Wᵀ + b with weight (outFeatures, inFeatures); weight and bias ~ U(±1/√inFeatures) like PyTorch. */
export class Linear extends Module {
  static override readonly moduleName = 'Linear';
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Tensor;
  bias: Tensor | null;

  constructor(inFeatures: number, outFeatures: number, opts: { bias?: boolean; dtype?: DType } = {}) {
    super();
    checkOptions('Linear', opts, ['bias', 'dtype'], 'options (the third argument: { bias: false }, not false)');
    checkBoolean('Linear', 'bias', opts.bias, true);
    this.inFeatures = checkCount('Linear', 'inFeatures', inFeatures);
    this.outFeatures = checkCount('Linear', 'outFeatures', outFeatures);
    const dtype = checkFloatDType('Linear', opts.dtype);
    this.weight = this.registerParameter('weight', zeros([outFeatures, inFeatures], { dtype }));
    this.bias = this.registerParameter('bias', (opts.bias ?? true) ? zeros([outFeatures], { dtype }) : null);
    this.resetParameters();
  }

  /** PyTorch's Linear.reset_parameters: kaiming_uniform_(a=√5) ⇒ U(±1/√in); bias U(±1/√in). */
  resetParameters(): void {
    init.kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const bound = this.inFeatures > 0 ? 1 / Math.sqrt(this.inFeatures) : 0;
      init.uniform_(this.bias, -bound, bound);
    }
  }

  override forward(input: Tensor): Tensor {
    return F.linear(input, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${pyBool(this.bias !== null)}`;
  }
}

/** Zeroes elements with probability p in train mode (scaling the rest by 1/(1-p)); the identity in eval mode. */
export class Dropout extends Module {
  static override readonly moduleName = 'Dropout';
  readonly p: number;

  constructor(p = 0.5) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1))
      throw new Error(`Dropout: dropout probability has to be between 0 and 1, but got ${String(p)}`);
    this.p = p;
  }

  override forward(input: Tensor): Tensor {
    return F.dropout(input, this.p, this.training);
  }

  override extraRepr(): string {
    return `p=${pyFloat(this.p)}, inplace=False`;
  }
}

export interface LayerNormOptions {
  eps?: number;
  elementwiseAffine?: boolean;
  bias?: boolean;
  dtype?: DType;
}

/**
 * A norm layer's normalizedShape (a number or a non-empty array of non-negative integers), as an array;
 * `size` is how the error names a size (LayerNorm's message has said 'positive' since before RMSNorm).
 */
function normalizedShapeOf(fn: string, v: unknown, size = 'non-negative'): number[] {
  const ns = typeof v === 'number' ? [v] : Array.isArray(v) ? [...(v as unknown[])] : null;
  if (ns === null || ns.length === 0 || ns.some((d) => !Number.isInteger(d) || (d as number) < 0))
    throw new Error(`${fn}: normalizedShape must be a ${size} integer or a non-empty array of them, got ${describeArg(v)}`);
  return ns as number[];
}

/** Python's repr of a tuple of ints: (8,) or (2, 3). */
const pyTuple = (xs: readonly number[]): string => (xs.length === 1 ? `(${xs[0]},)` : `(${xs.join(', ')})`);

/** Layer normalisation over the trailing `normalizedShape` dims; weight ones, bias zeros. */
export class LayerNorm extends Module {
  static override readonly moduleName = 'LayerNorm';
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;
  weight: Tensor | null;
  bias: Tensor | null;

  constructor(normalizedShape: number | number[], opts: LayerNormOptions = {}) {
    super();
    checkOptions('LayerNorm', opts, ['eps', 'elementwiseAffine', 'bias', 'dtype']);
    checkBoolean('LayerNorm', 'elementwiseAffine', opts.elementwiseAffine, true);
    checkBoolean('LayerNorm', 'bias', opts.bias, true);
    const ns = normalizedShapeOf('LayerNorm', normalizedShape, 'positive');
    this.normalizedShape = ns;
    this.eps = opts.eps ?? 1e-5;
    this.elementwiseAffine = opts.elementwiseAffine ?? true;
    const dtype = checkFloatDType('LayerNorm', opts.dtype);
    if (this.elementwiseAffine) {
      this.weight = this.registerParameter('weight', full(ns, 1, { dtype }));
      this.bias = this.registerParameter('bias', (opts.bias ?? true) ? zeros(ns, { dtype }) : null);
    } else {
      this.weight = this.registerParameter('weight', null);
      this.bias = this.registerParameter('bias', null);
    }
  }

  resetParameters(): void {
    if (this.weight) init.ones_(this.weight);
    if (this.bias) init.zeros_(this.bias);
  }

  override forward(input: Tensor): Tensor {
    return F.layerNorm(input, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `${pyTuple(this.normalizedShape)}, eps=${pyFloat(this.eps)}, elementwise_affine=${pyBool(this.elementwiseAffine)}`;
  }
}

export interface EmbeddingOptions {
  paddingIdx?: number | null;
  dtype?: DType;
}

/** A lookup table (numEmbeddings, embeddingDim) ~ N(0, 1), with the paddingIdx row zeroed (and getting no gradient). */
export class Embedding extends Module {
  static override readonly moduleName = 'Embedding';
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;
  weight: Tensor;

  constructor(numEmbeddings: number, embeddingDim: number, opts: EmbeddingOptions = {}) {
    super();
    checkOptions('Embedding', opts, ['paddingIdx', 'dtype']);
    this.numEmbeddings = checkCount('Embedding', 'numEmbeddings', numEmbeddings);
    this.embeddingDim = checkCount('Embedding', 'embeddingDim', embeddingDim);
    const pad = opts.paddingIdx ?? null;
    if (pad !== null) {
      if (!Number.isInteger(pad) || pad >= numEmbeddings || pad < -numEmbeddings) {
        throw new Error(`Embedding: paddingIdx must be an integer within numEmbeddings (${numEmbeddings}), got ${String(pad)}`);
      }
    }
    this.paddingIdx = pad === null ? null : pad < 0 ? pad + numEmbeddings : pad;
    const dtype = checkFloatDType('Embedding', opts.dtype);
    this.weight = this.registerParameter('weight', zeros([numEmbeddings, embeddingDim], { dtype }));
    this.resetParameters();
  }

  /** A frozen (by default) embedding holding `embeddings` (like Embedding.from_pretrained). */
  static fromPretrained(embeddings: Tensor, opts: { freeze?: boolean; paddingIdx?: number | null } = {}): Embedding {
    checkOptions('Embedding.fromPretrained', opts, ['freeze', 'paddingIdx']);
    checkBoolean('Embedding.fromPretrained', 'freeze', opts.freeze, true);
    if (embeddings.ndim !== 2)
      throw new Error(`Embedding.fromPretrained: embeddings must be 2-dimensional, got shape ${fmtShape(embeddings.shape)}`);
    const e = new Embedding(embeddings.shape[0], embeddings.shape[1], { paddingIdx: opts.paddingIdx, dtype: embeddings.dtype });
    e.loadStateDict({ weight: embeddings });
    e.weight.requiresGrad = !(opts.freeze ?? true);
    return e;
  }

  resetParameters(): void {
    init.normal_(this.weight);
    if (this.paddingIdx !== null) {
      const D = this.embeddingDim;
      const v = Float64Array.from(this.weight.toArray());
      v.fill(0, this.paddingIdx * D, (this.paddingIdx + 1) * D);
      const src = fromValues(v, [...this.weight.shape], this.weight.dtype);
      noGrad(() => this.weight._assign(src, 'Embedding.resetParameters', true));
      src.dispose();
    }
  }

  override forward(input: Tensor): Tensor {
    return F.embedding(input, this.weight, this.paddingIdx);
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx !== null ? `, padding_idx=${this.paddingIdx}` : ''}`;
  }
}

/** GELU, exact (erf) or with the tanh approximation. */
export class GELU extends Module {
  static override readonly moduleName = 'GELU';
  readonly approximate: 'none' | 'tanh';
  constructor(opts: { approximate?: 'none' | 'tanh' } = {}) {
    super();
    checkOptions('GELU', opts, ['approximate']);
    const a = opts.approximate ?? 'none';
    if (a !== 'none' && a !== 'tanh') throw new Error(`GELU: approximate must be 'none' or 'tanh', got ${String(a)}`);
    this.approximate = a;
  }
  override forward(input: Tensor): Tensor {
    return F.gelu(input, { approximate: this.approximate });
  }
  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

/** SiLU (swish): x·sigmoid(x). */
export class SiLU extends Module {
  static override readonly moduleName = 'SiLU';
  override forward(input: Tensor): Tensor {
    return F.silu(input);
  }
}

export interface RMSNormOptions {
  /** null (the default): torch.finfo(input dtype).eps at each call, as PyTorch 2.4. */
  eps?: number | null;
  elementwiseAffine?: boolean;
  dtype?: DType;
}

/** RMS normalization over the last dims (PyTorch 2.4's nn.RMSNorm): x / √(mean(x²) + eps) · weight. */
export class RMSNorm extends Module {
  static override readonly moduleName = 'RMSNorm';
  readonly normalizedShape: number[];
  readonly eps: number | null;
  readonly elementwiseAffine: boolean;
  weight: Tensor | null;

  constructor(normalizedShape: number | number[], opts: RMSNormOptions = {}) {
    super();
    checkOptions('RMSNorm', opts, ['eps', 'elementwiseAffine', 'dtype']);
    this.elementwiseAffine = checkBoolean('RMSNorm', 'elementwiseAffine', opts.elementwiseAffine, true);
    const ns = normalizedShapeOf('RMSNorm', normalizedShape);
    const eps = opts.eps ?? null;
    if (eps !== null && (typeof eps !== 'number' || !(eps >= 0)))
      throw new Error(`RMSNorm: eps must be a non-negative number or null, got ${describeArg(eps)}`);
    this.normalizedShape = ns;
    this.eps = eps;
    const dtype = checkFloatDType('RMSNorm', opts.dtype);
    this.weight = this.registerParameter('weight', this.elementwiseAffine ? full(ns, 1, { dtype }) : null);
  }

  resetParameters(): void {
    if (this.weight) init.ones_(this.weight);
  }

  override forward(input: Tensor): Tensor {
    return F.rmsNorm(input, this.normalizedShape, this.weight, this.eps);
  }

  override extraRepr(): string {
    const eps = this.eps === null ? 'None' : pyFloat(this.eps);
    return `${pyTuple(this.normalizedShape)}, eps=${eps}, elementwise_affine=${pyBool(this.elementwiseAffine)}`;
  }
}

export class ReLU extends Module {
  static override readonly moduleName = 'ReLU';
  override forward(input: Tensor): Tensor {
    return F.relu(input);
  }
}

export class Tanh extends Module {
  static override readonly moduleName = 'Tanh';
  override forward(input: Tensor): Tensor {
    return F.tanh(input);
  }
}

export class Sigmoid extends Module {
  static override readonly moduleName = 'Sigmoid';
  override forward(input: Tensor): Tensor {
    return F.sigmoid(input);
  }
}

/** Returns its input. */
export class Identity extends Module {
  static override readonly moduleName = 'Identity';
  override forward(input: Tensor): Tensor {
    return input;
  }
}

function normIndex(fn: string, i: number, n: number): number {
  if (!Number.isInteger(i) || i < -n || i >= n)
    throw new Error(`${fn}: index ${String(i)} is out of range for a container of ${n} modules`);
  return i < 0 ? i + n : i;
}

/** A canonical array index, negative ones included ('0', '12', '-1'; not '01' or '1.5'). */
const INDEX_KEY = /^-?(0|[1-9]\d*)$/;

/**
 * A list of modules registered as children '0', '1', ... (like nn.ModuleList). `list[i]` and `list.at(i)`
 * read (negative i counts from the end), `list[i] = m` and `list.set(i, m)` replace; an index out of range
 * is an error, as in PyTorch.
 */
export class ModuleList<M extends Module = Module> extends Module {
  static override readonly moduleName = 'ModuleList';
  static override readonly _attrHooks: AttrHooks = {
    get: (m, key) => (INDEX_KEY.test(key) ? { value: (m as ModuleList).item('ModuleList', Number(key)) } : undefined),
    set: (m, key, v) => {
      if (!INDEX_KEY.test(key)) return false;
      (m as ModuleList).replace('ModuleList', Number(key), v);
      return true;
    },
  };
  [index: number]: M;
  private items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  get length(): number {
    return this.items.length;
  }

  at(i: number): M {
    return this.item('ModuleList.at', i);
  }

  private item(fn: string, i: number): M {
    return this.items[normIndex(fn, i, this.items.length)];
  }

  private replace(fn: string, i: number, m: unknown): void {
    const k = normIndex(fn, i, this.items.length);
    if (!(m instanceof Module)) throw new Error(`${fn}: the module at index ${i} must be a Module, got ${describeValue(m)}`);
    this._modules.set(String(k), m);
    this.items[k] = m as M;
  }

  append(m: M): this {
    this.items.push(this.registerModule(String(this.items.length), m));
    return this;
  }

  extend(ms: Iterable<M>): this {
    for (const m of ms) this.append(m);
    return this;
  }

  /** Replaces the module at index i. */
  set(i: number, m: M): this {
    this.replace('ModuleList.set', i, m);
    return this;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }

  override forward(): never {
    throw new Error('forward: ModuleList is a container and has no forward; iterate over it and call each module');
  }

  /** PyTorch's ModuleList repr, which folds repeated modules into `(0-5): 6 x Layer(...)`. */
  override toString(): string {
    const reprs = this.items.map((m) => m.toString());
    if (reprs.length === 0) return `${this._getName()}()`;
    const blocks: [number, number, string][] = [[0, 0, reprs[0]]];
    for (let i = 1; i < reprs.length; i++) {
      const last = blocks[blocks.length - 1];
      if (reprs[i] === last[2]) last[1] = i;
      else blocks.push([i, i, reprs[i]]);
    }
    const lines = blocks.map(([s, e, r]) => addIndent(s === e ? `(${s}): ${r}` : `(${s}-${e}): ${e - s + 1} x ${r}`, 2));
    return `${this._getName()}(\n  ${lines.join('\n  ')}\n)`;
  }
}

/** Modules applied in order, children '0', '1', ... (or the given names). */
export class Sequential extends Module {
  static override readonly moduleName = 'Sequential';
  private items: Module[] = [];

  constructor(...modules: Module[] | [Record<string, Module>]) {
    super();
    if (modules.length === 1 && !(modules[0] instanceof Module) && typeof modules[0] === 'object' && modules[0] !== null) {
      for (const [name, m] of Object.entries(modules[0] as Record<string, Module>)) this.items.push(this.registerModule(name, m));
    } else {
      (modules as Module[]).forEach((m, i) => {
        if (!(m instanceof Module)) throw new Error(`Sequential: argument ${i} is not a Module`);
        this.items.push(this.registerModule(String(i), m));
      });
    }
  }

  get length(): number {
    return this.items.length;
  }

  at(i: number): Module {
    return this.items[normIndex('Sequential.at', i, this.items.length)];
  }

  append(m: Module): this {
    this.items.push(this.registerModule(String(this._modules.size), m));
    return this;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.items[Symbol.iterator]();
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override forward(input: any): any {
    let x = input;
    for (const m of this.items) x = m.call(x);
    return x;
  }
}

/**
 * Names a JavaScript runtime or test framework may read from any object to learn what it is (a Promise's
 * `then`, JSON's `toJSON`, vitest's matchers, React-style tags): a ModuleDict answers undefined for them
 * instead of "no module named".
 */
const PROBED = new Set(['then', 'catch', 'toJSON', 'asymmetricMatch', '$$typeof', 'nodeType', 'tagName', 'size', 'inspect']);

/**
 * Named child modules (like nn.ModuleDict); keys are the PyTorch names. `dict.wte` reads like
 * `dict.get('wte')` (TypeScript keeps each module's class when the dict is built from an object literal),
 * and `dict.wte = m` sets; reading a name that is neither a module nor a property of the dict is an
 * error naming the keys (except the few names runtimes probe, above, and names starting with '@@' or '__').
 */
class ModuleDictImpl<M extends Module = Module> extends Module {
  static override readonly moduleName = 'ModuleDict';
  static override readonly _attrHooks: AttrHooks = {
    get: (m, key) => {
      if (key in m) return undefined;
      const d = m as ModuleDictImpl;
      if (d._modules.has(key)) return { value: d._modules.get(key) };
      if (PROBED.has(key) || key.startsWith('@@') || key.startsWith('__')) return undefined;
      throw new Error(`ModuleDict: no module named "${key}"; keys are ${JSON.stringify(d.keys())}`);
    },
    set: (m, key, v) => {
      if (!(v instanceof Module) || (key in m && !(m as ModuleDictImpl)._modules.has(key))) return false;
      (m as ModuleDictImpl).set(key, v);
      return true;
    },
  };

  constructor(modules: Record<string, M> = {}) {
    super();
    for (const [k, m] of Object.entries(modules)) this.set(k, m);
  }

  get length(): number {
    return this._modules.size;
  }

  get(key: string): M {
    const m = this._modules.get(key);
    if (!m) throw new Error(`ModuleDict.get: no module named "${key}"; keys are ${JSON.stringify([...this._modules.keys()])}`);
    return m as M;
  }

  set(key: string, m: M): this {
    if (this._modules.has(key)) this._modules.set(key, m);
    else this.registerModule(key, m);
    return this;
  }

  has(key: string): boolean {
    return this._modules.has(key);
  }

  delete(key: string): boolean {
    return this._modules.delete(key);
  }

  keys(): string[] {
    return [...this._modules.keys()];
  }

  values(): M[] {
    return [...this._modules.values()] as M[];
  }

  entries(): [string, M][] {
    return [...this._modules.entries()] as [string, M][];
  }

  [Symbol.iterator](): Iterator<string> {
    return this.keys()[Symbol.iterator]();
  }

  override forward(): never {
    throw new Error('forward: ModuleDict is a container and has no forward; call its modules');
  }
}

/** A ModuleDict whose modules are typed by name (`dict.wte` is an Embedding) when built from an object literal. */
export type ModuleDict<T extends Record<string, Module> = Record<string, Module>> = ModuleDictImpl<T[keyof T]> &
  (string extends keyof T ? unknown : { [K in keyof T]: T[K] });

export const ModuleDict = ModuleDictImpl as unknown as {
  new <T extends Record<string, Module> = Record<string, Module>>(modules?: T): ModuleDict<T>;
  readonly moduleName: string;
  readonly prototype: ModuleDictImpl;
};
