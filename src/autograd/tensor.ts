// Tensor: a shape, a dtype and a reference to a Storage (contiguous, row-major), plus what autograd
// needs (requiresGrad, grad, gradFn, a version counter for in-place checks). All math lives in src/ops;
// the methods here only forward to it.

import { Storage } from '../backend/storage.js';
import { GradNode, releaseLater, runBackward, type BackwardOptions } from './engine.js';
import { isGradEnabled, noGrad } from './grad-mode.js';
import { formatTensor } from './format.js';
import { keep, trackTensor } from './tidy.js';
import * as B from '../ops/binary.js';
import * as U from '../ops/unary.js';
import * as C from '../ops/compare.js';
import * as R from '../ops/reduce.js';
import * as S from '../ops/shape.js';
import * as M from '../ops/matmul.js';
import * as SM from '../ops/softmax.js';
import * as CV from '../ops/convert.js';
import { full } from '../ops/creation.js';
import type { MaxResult } from '../ops/reduce.js';

export type DType = 'float32' | 'float64' | 'int32' | 'bool';
export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'bool'];
export type Scalar = number;
export type Operand = Tensor | number;

let liveTensors = 0;
// Counts tensors the garbage collector took. It holds nothing of theirs: a storage (and its host data)
// goes with its last tensor; textures have their own safety net in storage.ts.
const finalizer = typeof FinalizationRegistry !== 'undefined' ? new FinalizationRegistry<0>(() => void liveTensors--) : null;

export class Tensor {
  private st: Storage;
  readonly shape: number[];
  readonly dtype: DType;
  private rg = false;
  private g: Tensor | null = null;
  private fn: GradNode | null = null;
  private disposed = false;

  private constructor(storage: Storage, shape: number[], dtype: DType) {
    this.st = storage;
    this.shape = shape;
    this.dtype = dtype;
    storage.retain();
    liveTensors++;
    finalizer?.register(this, 0, this);
    trackTensor(this);
  }

  /** Whether user code may hold the current `.grad` (it read or assigned it): zeroGrad() then leaves it valid. */
  private gHandedOut = false;

  /** The accumulated gradient (for leaves that require grad), after `backward()`; kept out of tidy(). */
  get grad(): Tensor | null {
    if (this.g) this.gHandedOut = true;
    return this.g;
  }

  set grad(v: Tensor | null) {
    this._setGrad(v);
    this.gHandedOut = this.g !== null;
  }

  /** @internal the gradient, read by gpugrad itself (optimizers, clipping, accumulation): not handed out. */
  _gradInternal(): Tensor | null {
    return this.g;
  }

  /** @internal sets the gradient from gpugrad itself (backward): nobody else holds it yet. */
  _setGrad(v: Tensor | null): void {
    if (v !== null && v !== undefined && (v.dtype !== this.dtype || v.shape.join() !== this.shape.join())) {
      throw new Error(`grad: assigned gradient (shape [${v.shape.join(', ')}], ${v.dtype}) must match the tensor (shape [${this.shape.join(', ')}], ${this.dtype})`);
    }
    this.g = v === null || v === undefined ? null : keep(v);
    this.gHandedOut = false;
  }

  /** @internal wraps a storage (the tensor takes a reference to it). */
  static _fromStorage(storage: Storage, shape: number[], dtype: DType): Tensor {
    if (storage.size !== shape.reduce((a, b) => a * b, 1)) {
      throw new Error(`gpugrad internal: storage of ${storage.size} elements for shape [${shape.join(', ')}]`);
    }
    return new Tensor(storage, shape, dtype);
  }

  /** @internal the storage, for kernels. */
  _storageForKernel(): Storage {
    this.assertLive();
    return this.st;
  }

  /** @internal a new tensor of another shape over the same storage (no gradient link). */
  _view(shape: number[]): Tensor {
    this.assertLive();
    return new Tensor(this.st, shape, this.dtype);
  }

  /** @internal ones of this tensor's shape and dtype. */
  _onesLikeSelf(): Tensor {
    const n = this.numel;
    const data = this.dtype === 'float64' ? new Float64Array(n).fill(1) : new Float32Array(n).fill(1);
    return Tensor._fromStorage(Storage.fromHost(data), [...this.shape], this.dtype === 'float64' ? 'float64' : 'float32');
  }

  /** @internal */
  _setGradFn(node: GradNode): void {
    this.fn = node;
    this.rg = true;
  }

  /** @internal replaces the data in place (optimizer updates, `copy_`); bumps the version. */
  _assign(src: Tensor, op = 'copy_', steal = false): this {
    this.assertLive();
    if (isGradEnabled() && this.rg) {
      throw new Error(
        `${op}: a tensor that requires grad (shape [${this.shape.join(', ')}]) cannot be modified in place while grad mode is on; ` +
          `wrap the update in noGrad(() => ...)`,
      );
    }
    if (src.shape.join() !== this.shape.join()) {
      throw new Error(`${op}: source has shape [${src.shape.join(', ')}] but the tensor has shape [${this.shape.join(', ')}]`);
    }
    // The new values are written into this tensor's storage, so every view of it (detach(), reshape(),
    // the tensor itself as saved by an op) sees them, as in PyTorch. A source the caller owns (steal) and
    // that nothing else views hands over its data; otherwise it is copied first.
    let fresh = src.dtype === this.dtype ? null : src.to(this.dtype);
    const from = fresh ?? src;
    const own = fresh !== null || steal;
    if (!own || from._storageForKernel().refCount !== 1 || from._storageForKernel() === this.st) {
      const copy = CV.clone(from);
      fresh?.dispose();
      fresh = copy;
    }
    this.st.adopt((fresh ?? from)._storageForKernel());
    fresh?.dispose();
    if (steal && fresh !== src) src.dispose();
    return this;
  }

  /** Bumped by every in-place change (through any view); saved tensors are checked against it in backward. */
  get _version(): number {
    return this.st.version;
  }

  get requiresGrad(): boolean {
    return this.rg;
  }

  set requiresGrad(v: boolean) {
    if (v && !(this.dtype === 'float32' || this.dtype === 'float64')) {
      throw new Error(`requiresGrad: only floating point tensors can require gradients, this one is ${this.dtype} (shape [${this.shape.join(', ')}])`);
    }
    if (!v && this.fn) {
      throw new Error(`requiresGrad: cannot turn off requiresGrad on a non-leaf tensor (one made by an op, shape [${this.shape.join(', ')}]); use detach()`);
    }
    this.rg = v;
  }

  /** Sets requiresGrad and returns the tensor (like `requires_grad_()`). */
  requiresGrad_(v = true): this {
    this.requiresGrad = v;
    return this;
  }

  get gradFn(): GradNode | null {
    return this.fn;
  }

  get isLeaf(): boolean {
    return this.fn === null;
  }

  get numel(): number {
    return this.st.size;
  }

  get ndim(): number {
    return this.shape.length;
  }

  size(dim?: number): number | number[] {
    if (dim === undefined) return [...this.shape];
    const d = dim < 0 ? dim + this.ndim : dim;
    if (d < 0 || d >= this.ndim) throw new Error(`size: dim ${dim} is out of range for a tensor of shape [${this.shape.join(', ')}]`);
    return this.shape[d];
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error(`this tensor (shape [${this.shape.join(', ')}]) was disposed`);
  }

  /** Releases this tensor's reference to its data now (textures on GL) instead of waiting for GC. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    liveTensors--;
    finalizer?.unregister(this);
    this.st.release();
    // gradFn stays (a backward through a disposed tensor must fail loudly, not treat it as a leaf), but what
    // its backward saved is freed now: disposing an op's output releases the op's graph state too
    this.fn?.releaseForDisposedOutput();
  }

  // ---- data access -------------------------------------------------------------------------------

  /** A flat copy of the data as a typed array of the tensor's dtype. */
  toArray(): Float32Array | Float64Array | Int32Array | Uint8Array {
    this.assertLive();
    return this.st.host().slice();
  }

  /** Reads the data asynchronously (the door stays open for async GPU readback). */
  async data(): Promise<Float32Array | Float64Array | Int32Array | Uint8Array> {
    return this.toArray();
  }

  /** Nested JS arrays (booleans for bool tensors), like `tolist()`. */
  tolist(): unknown {
    const flat = this.toArray();
    const conv = this.dtype === 'bool' ? (v: number) => v !== 0 : (v: number) => v;
    if (this.ndim === 0) return conv(flat[0]);
    const build = (dim: number, off: number): unknown[] => {
      const n = this.shape[dim];
      const stride = this.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(dim === this.ndim - 1 ? conv(flat[off + i]) : build(dim + 1, off + i * stride));
      return out;
    };
    return build(0, 0);
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.numel !== 1) throw new Error(`item: only one-element tensors can be converted to a number, this one has shape [${this.shape.join(', ')}]`);
    return this.st.host()[0];
  }

  toString(): string {
    return formatTensor(this);
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // ---- autograd ----------------------------------------------------------------------------------

  backward(gradient?: Tensor, opts: BackwardOptions = {}): void {
    runBackward(this, gradient, opts);
  }

  /** A new tensor sharing the data, cut from the graph. */
  detach(): Tensor {
    return this._view([...this.shape]);
  }

  /** Drops the gradient. */
  /**
   * Drops the gradient (PyTorch's `grad = None`). A `.grad` that user code read or assigned stays valid
   * (on the GL modes its texture moves to host memory at the next backward unless it was disposed by
   * then); one nobody outside gpugrad ever saw is freed now.
   */
  zeroGrad(): void {
    if (this.g && this.gHandedOut) releaseLater(this.g);
    else this.g?.dispose();
    this.g = null;
    this.gHandedOut = false;
  }

  // ---- conversion --------------------------------------------------------------------------------
  to(dtype: DType): Tensor {
    return CV.cast(this, dtype);
  }
  float(): Tensor {
    return CV.cast(this, 'float32');
  }
  double(): Tensor {
    return CV.cast(this, 'float64');
  }
  int(): Tensor {
    return CV.cast(this, 'int32');
  }
  bool(): Tensor {
    return CV.cast(this, 'bool');
  }
  clone(): Tensor {
    return CV.clone(this);
  }

  // ---- in place (only under noGrad for tensors that require grad) -------------------------------
  copy_(src: Tensor): this {
    return this._assign(src, 'copy_');
  }
  /** Runs an out-of-place update and writes its result into this tensor (autograd does not track in-place ops). */
  private inPlace(op: string, operand: Operand | null, compute: () => Tensor): this {
    if (isGradEnabled() && (this.rg || (operand instanceof Tensor && operand.requiresGrad))) {
      if (this.rg) {
        throw new Error(`${op}: a tensor that requires grad (shape [${this.shape.join(', ')}]) cannot be modified in place while grad mode is on; wrap the update in noGrad(() => ...)`);
      }
      throw new Error(`${op}: the operand requires grad, but in-place ops are not recorded by autograd (tensor shape [${this.shape.join(', ')}]); use the out-of-place op, or wrap the update in noGrad(() => ...)`);
    }
    return this._assign(noGrad(compute), op, true);
  }
  add_(other: Operand, alpha = 1): this {
    return this.inPlace('add_', other, () => B.add(this, alpha === 1 ? other : other instanceof Tensor ? B.mul(other, alpha) : other * alpha));
  }
  sub_(other: Operand): this {
    return this.inPlace('sub_', other, () => B.sub(this, other));
  }
  mul_(other: Operand): this {
    return this.inPlace('mul_', other, () => B.mul(this, other));
  }
  div_(other: Operand): this {
    return this.inPlace('div_', other, () => B.div(this, other));
  }
  fill_(value: number): this {
    return this.inPlace('fill_', null, () => full(this.shape, value, { dtype: this.dtype }));
  }
  zero_(): this {
    return this.fill_(0);
  }

  // ---- elementwise -------------------------------------------------------------------------------
  add(o: Operand, alpha?: number): Tensor {
    if (alpha === undefined || alpha === 1) return B.add(this, o);
    return B.add(this, o instanceof Tensor ? B.mul(o, alpha) : o * alpha);
  }
  sub(o: Operand): Tensor {
    return B.sub(this, o);
  }
  mul(o: Operand): Tensor {
    return B.mul(this, o);
  }
  div(o: Operand): Tensor {
    return B.div(this, o);
  }
  pow(o: Operand): Tensor {
    return B.pow(this, o);
  }
  maximum(o: Operand): Tensor {
    return B.maximum(this, o);
  }
  minimum(o: Operand): Tensor {
    return B.minimum(this, o);
  }
  neg(): Tensor {
    return U.neg(this);
  }
  exp(): Tensor {
    return U.exp(this);
  }
  log(): Tensor {
    return U.log(this);
  }
  sqrt(): Tensor {
    return U.sqrt(this);
  }
  rsqrt(): Tensor {
    return U.rsqrt(this);
  }
  abs(): Tensor {
    return U.abs(this);
  }
  tanh(): Tensor {
    return U.tanh(this);
  }
  sigmoid(): Tensor {
    return U.sigmoid(this);
  }
  relu(): Tensor {
    return U.relu(this);
  }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return U.gelu(this, approximate);
  }

  // ---- comparison and selection ------------------------------------------------------------------
  eq(o: Operand): Tensor {
    return C.eq(this, o);
  }
  ne(o: Operand): Tensor {
    return C.ne(this, o);
  }
  lt(o: Operand): Tensor {
    return C.lt(this, o);
  }
  le(o: Operand): Tensor {
    return C.le(this, o);
  }
  gt(o: Operand): Tensor {
    return C.gt(this, o);
  }
  ge(o: Operand): Tensor {
    return C.ge(this, o);
  }
  logicalNot(): Tensor {
    return C.logicalNot(this);
  }
  logicalAnd(o: Tensor): Tensor {
    return C.logicalAnd(this, o);
  }
  logicalOr(o: Tensor): Tensor {
    return C.logicalOr(this, o);
  }
  /** `condition ? this : other`, elementwise (like `Tensor.where`). */
  where(condition: Tensor, other: Operand): Tensor {
    return C.where(condition, this, other);
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    return C.maskedFill(this, mask, value);
  }

  // ---- reductions --------------------------------------------------------------------------------
  sum(dim?: number | number[], keepdim = false): Tensor {
    return R.sum(this, dim, keepdim);
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    return R.mean(this, dim, keepdim);
  }
  var(dim?: number | number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return R.variance(this, dim, opts);
  }
  amax(dim?: number | number[], keepdim = false): Tensor {
    return R.amax(this, dim, keepdim);
  }
  amin(dim?: number | number[], keepdim = false): Tensor {
    return R.amin(this, dim, keepdim);
  }
  max(): Tensor;
  max(dim: number, keepdim?: boolean): MaxResult;
  max(dim?: number, keepdim = false): Tensor | MaxResult {
    return dim === undefined ? R.amax(this) : R.maxDim(this, dim, keepdim, 'max');
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): MaxResult;
  min(dim?: number, keepdim = false): Tensor | MaxResult {
    return dim === undefined ? R.amin(this) : R.maxDim(this, dim, keepdim, 'min');
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return R.argmax(this, dim, keepdim);
  }

  // ---- linear algebra ----------------------------------------------------------------------------
  matmul(o: Tensor): Tensor {
    return M.matmul(this, o);
  }

  // ---- shape -------------------------------------------------------------------------------------
  reshape(...shape: (number | number[])[]): Tensor {
    return S.reshape(this, flatShape(shape));
  }
  view(...shape: (number | number[])[]): Tensor {
    return S.reshape(this, flatShape(shape), 'view');
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return S.flatten(this, startDim, endDim);
  }
  permute(...dims: (number | number[])[]): Tensor {
    return S.permute(this, flatShape(dims));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return S.transpose(this, dim0, dim1);
  }
  /** Transposes a 2-D tensor (like `.t()`). */
  t(): Tensor {
    if (this.ndim > 2) throw new Error(`t: expects a tensor with at most 2 dims, got shape [${this.shape.join(', ')}]; use transpose(dim0, dim1)`);
    return this.ndim < 2 ? S.reshape(this, [...this.shape], 't') : S.transpose(this, 0, 1);
  }
  unsqueeze(dim: number): Tensor {
    return S.unsqueeze(this, dim);
  }
  squeeze(dim?: number | number[]): Tensor {
    return S.squeeze(this, dim);
  }
  expand(...shape: (number | number[])[]): Tensor {
    return S.expand(this, flatShape(shape));
  }
  expandAs(other: Tensor): Tensor {
    return S.expand(this, other.shape);
  }
  contiguous(): Tensor {
    return this;
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return S.narrow(this, dim, start, length);
  }
  /** Elements start..end (exclusive, negative from the end) along dim, with a step (like `x[:, a:b:s]`). */
  slice(dim: number, start?: number, end?: number, step = 1): Tensor {
    return S.slice(this, dim, start, end, step);
  }
  split(splitSize: number | number[], dim = 0): Tensor[] {
    return S.split(this, splitSize, dim);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return S.chunk(this, chunks, dim);
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return S.indexSelect(this, dim, index);
  }
  repeatInterleave(repeats: number, dim: number): Tensor {
    return S.repeatInterleave(this, repeats, dim);
  }

  // ---- nn ----------------------------------------------------------------------------------------
  softmax(dim: number): Tensor {
    return SM.softmax(this, dim);
  }
  logSoftmax(dim: number): Tensor {
    return SM.logSoftmax(this, dim);
  }
}

function flatShape(args: (number | number[])[]): number[] {
  if (args.length === 1 && Array.isArray(args[0])) return [...args[0]];
  return args.map((a) => {
    if (Array.isArray(a)) throw new Error(`shape arguments must be numbers or one array of numbers, got ${JSON.stringify(args)}`);
    return a;
  });
}


export function liveTensorCount(): number {
  return liveTensors;
}
