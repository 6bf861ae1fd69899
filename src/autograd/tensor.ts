// Tensor: a shape, a dtype and a reference to a Storage (contiguous, row-major), plus what autograd
// needs (requiresGrad, grad, gradFn, a version counter for in-place checks). All math lives in src/ops;
// the methods here only forward to it.

import { Storage } from '../backend/storage.js';
import { GradNode, releaseLater, runBackward, type BackwardOptions } from './engine.js';
import { isGradEnabled } from './grad-mode.js';
import { formatTensor } from './format.js';
import { keep, trackTensor } from './tidy.js';

import { DTYPES, type DType } from '../helpers/dtype.js';
export { DTYPES, type DType };
export type Scalar = number;
export type Operand = Tensor | number;

let liveTensors = 0;
// Counts tensors the garbage collector took. It holds nothing of theirs: a storage (and its host data)
// goes with its last tensor; textures have their own safety net in storage.ts.
const finalizer = typeof FinalizationRegistry !== 'undefined' ? new FinalizationRegistry<0>(() => void liveTensors--) : null;

/** Errors thrown by reading a disposed tensor, and that tensor: the tape names the op whose backward read it. */
const disposedReads = new WeakMap<Error, Tensor>();

/** @internal the disposed tensor whose read threw `e`, if that is what `e` is. */
export function disposedTensorOf(e: unknown): Tensor | undefined {
  return e instanceof Error ? disposedReads.get(e) : undefined;
}

export class Tensor {
  private st: Storage;
  readonly shape: number[];
  readonly dtype: DType;
  private rg = false;
  private g: Tensor | null = null;
  private fn: GradNode | null = null;
  private disposed = false;
  /** What disposed it ('tidy()' or 'dispose()'), for the errors that follow. */
  private disposedBy: string | null = null;

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
      throw new Error(
        `grad: assigned gradient (shape [${v.shape.join(', ')}], ${v.dtype}) must match the tensor (shape [${this.shape.join(', ')}], ${this.dtype})` +
          (v.dtype === 'int32' && this.dtype !== 'int32' ? "; integer data makes an int32 tensor: tensor(data, { dtype: 'float32' })" : ''),
      );
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
    const n = this.numel();
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
      const copy = from.clone();
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
      throw new Error(
        `requiresGrad: only floating point tensors can require gradients, this one is ${this.dtype} (shape [${this.shape.join(', ')}])`,
      );
    }
    if (!v && this.fn) {
      throw new Error(
        `requiresGrad: cannot turn off requiresGrad on a non-leaf tensor (one made by an op, shape [${this.shape.join(', ')}]); use detach()`,
      );
    }
    this.rg = v;
    // a leaf that requires grad is a parameter: on GL it keeps a device copy from its first kernel on
    if (v) this.st.deviceResident = true;
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

  /** The number of elements (PyTorch's `numel()`). */
  numel(): number {
    return this.st.size;
  }

  /** The number of dimensions, as a property (also `dim()`). */
  get ndim(): number {
    return this.shape.length;
  }

  /** The number of dimensions (PyTorch's `dim()`). */
  dim(): number {
    return this.shape.length;
  }

  /** The shape as a new array (`size()`), or the size of one dim, negative counting from the end (`size(-1)`). */
  size(): number[];
  size(dim: number): number;
  size(dim?: number): number | number[] {
    if (dim === undefined) return [...this.shape];
    if (!Number.isInteger(dim))
      throw new Error(`size: dim must be an integer, got ${typeof dim === 'number' ? dim : typeof dim} (shape [${this.shape.join(', ')}])`);
    const d = dim < 0 ? dim + this.ndim : dim;
    if (d < 0 || d >= this.ndim)
      throw new Error(
        `size: Dimension out of range (expected to be in range of [${-Math.max(this.ndim, 1)}, ${Math.max(this.ndim, 1) - 1}], but got ${dim}) (shape [${this.shape.join(', ')}])`,
      );
    return this.shape[d];
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** @internal what disposed this tensor ('tidy()' or 'dispose()'), or null while it is live. */
  get _disposedBy(): string | null {
    return this.disposedBy;
  }

  private assertLive(): void {
    if (!this.disposed) return;
    const e = new Error(`this tensor (shape [${this.shape.join(', ')}], ${this.dtype}) was disposed by ${this.disposedBy}`);
    disposedReads.set(e, this);
    throw e;
  }

  /** Releases this tensor's reference to its data now (textures on GL) instead of waiting for GC. */
  dispose(): void {
    this._disposeBy('dispose()');
  }

  /** @internal dispose(), remembering who asked ('tidy()' for the tensors a tidy scope frees). */
  _disposeBy(by: string): void {
    if (this.disposed) return;
    this.disposed = true;
    this.disposedBy = by;
    liveTensors--;
    finalizer?.unregister(this);
    this.st.release();
    // gradFn stays (a backward through a disposed tensor must fail loudly, not treat it as a leaf), but what
    // its backward saved is freed now: disposing an op's output releases the op's graph state too
    this.fn?.releaseForDisposedOutput(by);
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
    if (this.numel() !== 1)
      throw new Error(`item: only one-element tensors can be converted to a number, this one has shape [${this.shape.join(', ')}]`);
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
}

export function liveTensorCount(): number {
  return liveTensors;
}
