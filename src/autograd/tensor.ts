// Tensor: a shape, a dtype and a strided window (element strides and an element offset) into a Storage,
// plus what autograd needs (requiresGrad, grad, gradFn, a version counter for in-place checks). Tensors
// made from data or by a kernel are dense (row-major strides, offset 0, the whole storage); the view ops
// (transpose, permute, slice, narrow, select, expand, reshape where it can) make tensors over the same
// storage with other strides, as PyTorch's views. All math lives in src/ops; the methods here only forward
// to it.
//
// Kernels read a view in place, through its strides and offset (src/autograd/launch.ts, src/ops/map.ts,
// src/kernels/strided.ts; matrix products take a transposed view as a flag); where a dense array is
// needed (a SIMD native, a readback) a view gives a dense copy made by the strided gather kernel, cached
// on the view while the storage's version is unchanged. Writes into a view go back into the base storage
// at the view's positions (the strided scatter kernel), so every tensor over it sees them.

import { Storage } from '../backend/storage.js';
import { precisionOfDTypes } from '../helpers/dtype.js';
import { isContiguousStrides, numelOf, stridesOf, viewStrides } from '../helpers/shape.js';
import { gatherStrided, scatterStrided } from '../kernels/copy.js';
import { castStorage, runTemplate } from '../kernels/run.js';
import { GradNode, releaseLater, runBackward, type BackwardOptions } from './engine.js';
import { isGradEnabled } from './grad-mode.js';
import { formatTensor } from './format.js';
import { keep, trackTensor } from './tidy.js';

import { DTYPES, type DType } from '../helpers/dtype.js';
export { DTYPES, type DType };
export type Scalar = number;
/** A gradient hook: gets the gradient, may return a replacement (registerHook). */
export type GradHook = (grad: Tensor) => Tensor | void | undefined;
export type Operand = Tensor | number;

let liveTensors = 0;
// Counts tensors the garbage collector took. It holds nothing of theirs: a storage (and its host data)
// goes with its last tensor; textures have their own safety net in storage.ts.
const finalizer = typeof FinalizationRegistry !== 'undefined' ? new FinalizationRegistry<0>(() => void liveTensors--) : null;

let viewCopies = 0;
/** @internal how many dense copies of views have been made (tests check that kernels read views in place). */
export const _viewCopyCount = (): number => viewCopies;

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

  /** Element strides into the storage, one per dim. */
  private readonly str: number[];
  /** The element offset of this tensor's first element in the storage. */
  private readonly off: number;
  /** Row-major strides, offset 0 and the whole storage: kernels read the storage as it is. */
  private readonly dense: boolean;
  /** A view's dense copy for kernels and reads, made at storage version `cacheVersion`. */
  private cache: Storage | null = null;
  private cacheVersion = -1;
  /**
   * Made by a view op from a tensor that requires grad (or from such a view): an in-place change through
   * it under grad mode would change that tensor behind autograd's back.
   */
  private viewOfGrad = false;

  private constructor(storage: Storage, shape: number[], dtype: DType, strides?: number[], offset = 0) {
    this.st = storage;
    this.shape = shape;
    this.dtype = dtype;
    this.str = strides ?? stridesOf(shape);
    this.off = offset;
    this.dense = offset === 0 && storage.size === numelOf(shape) && isContiguousStrides(shape, this.str);
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

  /**
   * @internal the data as a dense storage of this tensor's shape, for kernels and reads: the storage itself
   * for a dense tensor; for a view, its dense copy (a strided gather from the base storage), cached while
   * the storage's version is unchanged (for SIMD natives and readbacks; kernels read views in place).
   */
  _storageForKernel(): Storage {
    this.assertLive();
    if (this.dense) return this.st;
    if (this.cache && this.cacheVersion === this.st.version && !this.cache.isReleased) return this.cache;
    this.dropCache();
    this.cache = this._materialize();
    this.cache.retain();
    this.cacheVersion = this.st.version;
    return this.cache;
  }

  /** @internal a new dense storage with this tensor's elements in row-major order (the caller owns it). */
  _materialize(): Storage {
    this.assertLive();
    viewCopies++;
    const n = this.numel();
    const precision = precisionOfDTypes([this.dtype]);
    const out = runTemplate(gatherStrided, { shape: [...this.shape], strides: [...this.str], offset: this.off }, [this.st], n, precision);
    return castStorage(out, this.dtype);
  }

  private dropCache(): void {
    this.cache?.release();
    this.cache = null;
    this.cacheVersion = -1;
  }

  /** @internal whether kernels read this tensor's storage as it is (row-major, offset 0, the whole storage). */
  _isDense(): boolean {
    return this.dense;
  }

  /** @internal whether this tensor's storage (or a view's cached dense copy) is a texture. */
  _hasTexture(): boolean {
    this.assertLive();
    return this.st.texture !== null || (this.cache?.texture ?? null) !== null;
  }

  /**
   * @internal moves the storage's texture to host memory (see Storage.spill) and drops a view's cached
   * dense copy (it is made again from the storage when read); true when a texture went.
   */
  _spill(): boolean {
    const hadCache = this.cache?.texture ? true : false;
    this.dropCache();
    return this.st.spill() || hadCache;
  }

  /** @internal marks an in-place write made directly into this (dense) tensor's storage. */
  _bumpVersion(): void {
    this.assertLive();
    this.st.version++;
  }

  /**
   * @internal a view of `shape`, `strides` and `offset` over this tensor's storage (no gradient link),
   * made by a view op: an in-place change through it under grad mode is refused while its base requires grad.
   */
  _strided(shape: number[], strides: number[], offset: number): Tensor {
    this.assertLive();
    const t = new Tensor(this.st, shape, this.dtype, strides, offset);
    t.viewOfGrad = this.rg || this.viewOfGrad;
    return t;
  }

  /**
   * @internal when this tensor is its storage's dense data with the last two dims swapped (`d.transpose(-2,
   * -1)` or `d.t()` of a dense `d`), that dense tensor (a new tensor over the same storage; the caller
   * disposes it): matrix products read it transposed in place instead of copying the view. Otherwise null.
   */
  _transposedDense(): Tensor | null {
    this.assertLive();
    const n = this.shape.length;
    if (this.dense || n < 2 || this.off !== 0 || this.st.size !== numelOf(this.shape)) return null;
    const swapped = [...this.shape];
    [swapped[n - 2], swapped[n - 1]] = [swapped[n - 1], swapped[n - 2]];
    const want = stridesOf(swapped);
    [want[n - 2], want[n - 1]] = [want[n - 1], want[n - 2]];
    // size-1 dims may carry any stride
    if (!this.str.every((s, d) => s === want[d] || this.shape[d] === 1)) return null;
    return new Tensor(this.st, swapped, this.dtype);
  }

  /**
   * @internal for a view (not dense): its whole storage as a 1-D dense tensor (a new tensor over the same
   * storage; the caller disposes it), with the view's element strides and offset into it, so a kernel can
   * read the view in place. Null for a dense tensor, or where flat float indices into the storage would not
   * be exact (2^24 elements and more).
   */
  _stridedSource(): { base: Tensor; strides: number[]; offset: number } | null {
    this.assertLive();
    if (this.dense || this.st.size >= 2 ** 24) return null;
    return { base: new Tensor(this.st, [this.st.size], this.dtype), strides: [...this.str], offset: this.off };
  }

  /** @internal the strides viewing this tensor as `shape` without moving data, or null (see viewStrides). */
  _viewStrides(shape: readonly number[]): number[] | null {
    return viewStrides(this.shape, this.str, shape);
  }

  /**
   * @internal this tensor's data as `shape` (same numel), no gradient link: a tensor over the same storage
   * where the strides allow it, else over a dense copy.
   */
  _view(shape: number[]): Tensor {
    this.assertLive();
    const st = this._viewStrides(shape);
    if (st) return new Tensor(this.st, shape, this.dtype, st, this.off);
    return new Tensor(this._materialize(), shape, this.dtype);
  }

  /** Element strides, one per dim (PyTorch's `stride()`), or the stride of one dim. */
  stride(): number[];
  stride(dim: number): number;
  stride(dim?: number): number | number[] {
    if (dim === undefined) return [...this.str];
    const d = Number.isInteger(dim) ? (dim < 0 ? dim + this.ndim : dim) : -1;
    if (d < 0 || d >= this.ndim)
      throw new Error(
        `stride: Dimension out of range (expected to be in range of [${-Math.max(this.ndim, 1)}, ${Math.max(this.ndim, 1) - 1}], but got ${dim}) (shape [${this.shape.join(', ')}])`,
      );
    return this.str[d];
  }

  /** The element offset of the first element in the storage (PyTorch's `storage_offset()`). */
  storageOffset(): number {
    return this.off;
  }

  /** Whether the elements lie in row-major order with no gaps (PyTorch's `is_contiguous()`). */
  isContiguous(): boolean {
    return isContiguousStrides(this.shape, this.str);
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

  /**
   * @internal replaces the data in place (optimizer updates, `copy_`); bumps the version. A view writes
   * into its base storage at its own positions, so every tensor over that storage sees the change.
   */
  _assign(src: Tensor, op = 'copy_', steal = false): this {
    this.assertLive();
    if (isGradEnabled() && this.rg) {
      throw new Error(
        `${op}: a tensor that requires grad (shape [${this.shape.join(', ')}]) cannot be modified in place while grad mode is on; ` +
          `wrap the update in noGrad(() => ...)`,
      );
    }
    if (isGradEnabled() && this.viewOfGrad) {
      // PyTorch records such a write (CopySlices) so the base's gradient sees it; gpugrad does not record it yet
      throw new Error(
        `${op}: this tensor (shape [${this.shape.join(', ')}]) is a view of a tensor that requires grad; gpugrad does not ` +
          `record in-place changes through a view on the graph yet (PyTorch's CopySlices), so it refuses them while grad mode is on; ` +
          `wrap the update in noGrad(() => ...), or use out-of-place ops`,
      );
    }
    if (src.shape.join() !== this.shape.join()) {
      throw new Error(`${op}: source has shape [${src.shape.join(', ')}] but the tensor has shape [${this.shape.join(', ')}]`);
    }
    if (this.shape.some((n, d) => n > 1 && this.str[d] === 0)) {
      throw new Error(
        `${op}: unsupported operation: more than one element of the written-to tensor refers to a single memory location. ` +
          `Please clone() the tensor before performing the operation. (shape [${this.shape.join(', ')}], strides [${this.str.join(', ')}])`,
      );
    }
    // The new values are written into this tensor's storage, so every view of it (detach(), reshape(),
    // the tensor itself as saved by an op) sees them, as in PyTorch. A dense source the caller owns (steal)
    // and that nothing else views hands over its data; otherwise it is copied first.
    let fresh = src.dtype === this.dtype ? null : src.to(this.dtype);
    const from = fresh ?? src;
    if (!this.dense) {
      this.scatterFrom(from);
      fresh?.dispose();
      if (steal && fresh !== src) src.dispose();
      return this;
    }
    const own = fresh !== null || steal;
    if (!own || !from.dense || from._storageForKernel().refCount !== 1 || from._storageForKernel() === this.st) {
      const copy = from.clone();
      fresh?.dispose();
      fresh = copy;
    }
    this.st.adopt((fresh ?? from)._storageForKernel());
    fresh?.dispose();
    if (steal && fresh !== src) src.dispose();
    return this;
  }

  /** Writes `src` (this view's shape and dtype) into the base storage at this view's positions. */
  private scatterFrom(src: Tensor): void {
    const precision = precisionOfDTypes([this.dtype]);
    const params = { size: this.st.size, shape: [...this.shape], strides: [...this.str], offset: this.off };
    const out = castStorage(runTemplate(scatterStrided, params, [this.st, src._storageForKernel()], this.st.size, precision), this.dtype);
    this.st.adopt(out);
    this.dropCache();
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

  /** @internal hooks of a leaf (a non-leaf's live on its gradFn), run on its gradient before it is accumulated. */
  _leafHooks: GradHook[] = [];

  /**
   * Registers `fn(grad)`, called with this tensor's gradient each time one is computed (PyTorch's
   * `register_hook`); a returned tensor (same shape and dtype) replaces the gradient. Hooks run in
   * registration order, each on the previous one's result. Returns a handle whose `remove()` unregisters it.
   */
  registerHook(fn: GradHook): { remove(): void } {
    if (typeof fn !== 'function') throw new Error(`registerHook: expects a function (grad) => Tensor | void, got ${typeof fn}`);
    if (!this.rg)
      throw new Error(`registerHook: cannot register a hook on a tensor that doesn't require gradient (shape [${this.shape.join(', ')}])`);
    const list = this.fn ? this.fn._hooks : this._leafHooks;
    const entry: GradHook = (g) => fn(g);
    list.push(entry);
    return {
      remove: () => {
        const k = list.indexOf(entry);
        if (k >= 0) list.splice(k, 1);
      },
    };
  }

  /** Keeps the gradient of a non-leaf in `.grad` at the next backward (PyTorch's `retain_grad()`); a no-op on a leaf. */
  retainGrad(): void {
    if (!this.rg)
      throw new Error(`retainGrad: can't retain the gradient of a tensor that doesn't require grad (shape [${this.shape.join(', ')}])`);
    if (this.fn) this.fn._retained = this;
  }

  /** Whether a backward keeps this non-leaf's gradient in `.grad` (`retainGrad()` was called). */
  get retainsGrad(): boolean {
    return this.fn !== null && this.fn._retained === this;
  }

  get isLeaf(): boolean {
    return this.fn === null;
  }

  /** The number of elements (PyTorch's `numel()`). */
  numel(): number {
    return numelOf(this.shape);
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
    this.dropCache();
    // gradFn stays (a backward through a disposed tensor must fail loudly, not treat it as a leaf), but what
    // its backward saved is freed now: disposing an op's output releases the op's graph state too
    this.fn?.releaseForDisposedOutput(by);
  }

  // ---- data access -------------------------------------------------------------------------------

  /** A flat copy of the data as a typed array of the tensor's dtype. */
  toArray(): Float32Array | Float64Array | Int32Array | Uint8Array {
    return this._storageForKernel().host().slice();
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
    return this._storageForKernel().host()[0];
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

  /** A new tensor sharing the data (a view of a view: same strides and offset), cut from the graph. */
  detach(): Tensor {
    this.assertLive();
    return new Tensor(this.st, [...this.shape], this.dtype, [...this.str], this.off);
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
