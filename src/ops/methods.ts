// Tensor's chaining methods (x.add(y), x.sum(1), x.softmax(-1), ...): each forwards to its op. They are
// installed on Tensor's prototype here, in the ops layer, so that autograd's Tensor imports no op (the
// layers of DESIGN.md: ops stand on autograd, never the other way). src/index.ts imports this module.

import { Tensor, type DType, type Operand } from '../autograd/tensor.js';
import { isGradEnabled, noGrad } from '../autograd/grad-mode.js';
import * as B from './binary.js';
import * as U from './unary.js';
import * as C from './compare.js';
import * as R from './reduce.js';
import * as S from './shape.js';
import * as M from './matmul.js';
import * as SM from './softmax.js';
import * as CV from './convert.js';
import * as IX from './indexing.js';
import * as SO from './sort.js';
import * as CL from './clamp.js';
import * as SE from './select.js';
import * as NO from './norm.js';
import type { IndexEntry } from './select.js';
import type { IscloseOptions } from './compare.js';
import { full } from './creation.js';
import { describeValue } from '../helpers/validate.js';
import type { MaxResult } from './reduce.js';

declare module '../autograd/tensor.js' {
  interface Tensor {
    /** 'int64' is accepted as PyTorch's torch.long and gives int32 (gpugrad has no 64-bit integers). */
    to(dtype: DType | 'int64'): Tensor;
    float(): Tensor;
    double(): Tensor;
    int(): Tensor;
    /** PyTorch's .long(): int32 here (gpugrad has no 64-bit integers). */
    long(): Tensor;
    bool(): Tensor;
    clone(): Tensor;
    copy_(src: Tensor): this;
    add_(other: Operand, alpha?: number): this;
    sub_(other: Operand, alpha?: number): this;
    mul_(other: Operand): this;
    div_(other: Operand): this;
    fill_(value: number): this;
    zero_(): this;
    exp_(): this;
    maskedFill_(mask: Tensor, value: number): this;
    clamp_(min?: Tensor | number | null, max?: Tensor | number | null): this;
    clip_(min?: Tensor | number | null, max?: Tensor | number | null): this;
    /** Every element limited to [min, max] (numbers or tensors; either null). */
    clamp(min?: Tensor | number | null, max?: Tensor | number | null): Tensor;
    clip(min?: Tensor | number | null, max?: Tensor | number | null): Tensor;
    /** The slice at `index` along `dim`, that dim removed (like `x.select(dim, index)`). */
    select(dim: number, index: number): Tensor;
    /** Basic indexing: `x.index(null, -1)` is `x[:, -1]`, a range [start, end, step] is a slice. */
    index(...indices: IndexEntry[]): Tensor;
    isclose(other: Tensor, opts?: IscloseOptions): Tensor;
    allclose(other: Tensor, opts?: IscloseOptions): boolean;
    outer(vec2: Tensor): Tensor;
    norm(p?: NO.NormP, dim?: number | number[] | null, keepdim?: boolean): Tensor;
    add(o: Operand, alpha?: number): Tensor;
    sub(o: Operand, alpha?: number): Tensor;
    mul(o: Operand): Tensor;
    div(o: Operand): Tensor;
    pow(o: Operand): Tensor;
    maximum(o: Operand): Tensor;
    minimum(o: Operand): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    abs(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    gelu(approximate?: 'none' | 'tanh'): Tensor;
    eq(o: Operand): Tensor;
    ne(o: Operand): Tensor;
    lt(o: Operand): Tensor;
    le(o: Operand): Tensor;
    gt(o: Operand): Tensor;
    ge(o: Operand): Tensor;
    logicalNot(): Tensor;
    logicalAnd(o: Tensor): Tensor;
    logicalOr(o: Tensor): Tensor;
    /** `condition ? this : other`, elementwise (like `Tensor.where`). */
    where(condition: Tensor, other: Operand): Tensor;
    maskedFill(mask: Tensor, value: number): Tensor;
    sum(dim?: number | number[], keepdim?: boolean): Tensor;
    mean(dim?: number | number[], keepdim?: boolean): Tensor;
    var(dim?: number | number[], opts?: { correction?: number; keepdim?: boolean }): Tensor;
    amax(dim?: number | number[], keepdim?: boolean): Tensor;
    amin(dim?: number | number[], keepdim?: boolean): Tensor;
    max(): Tensor;
    max(dim: number, keepdim?: boolean): MaxResult;
    min(): Tensor;
    min(dim: number, keepdim?: boolean): MaxResult;
    argmax(dim?: number, keepdim?: boolean): Tensor;
    matmul(o: Tensor): Tensor;
    reshape(...shape: (number | number[])[]): Tensor;
    view(...shape: (number | number[])[]): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    permute(...dims: (number | number[])[]): Tensor;
    transpose(dim0: number, dim1: number): Tensor;
    /** Transposes a 2-D tensor (like `.t()`). */
    t(): Tensor;
    unsqueeze(dim: number): Tensor;
    squeeze(dim?: number | number[]): Tensor;
    expand(...shape: (number | number[])[]): Tensor;
    expandAs(other: Tensor): Tensor;
    contiguous(): Tensor;
    narrow(dim: number, start: number, length: number): Tensor;
    /** Elements start..end (exclusive, negative from the end) along dim, with a step (like `x[:, a:b:s]`). */
    slice(dim: number, start?: number, end?: number, step?: number): Tensor;
    split(splitSize: number | number[], dim?: number): Tensor[];
    chunk(chunks: number, dim?: number): Tensor[];
    indexSelect(dim: number, index: Tensor): Tensor;
    repeatInterleave(repeats: number, dim: number): Tensor;
    softmax(dim: number): Tensor;
    logSoftmax(dim: number): Tensor;
    tril(diagonal?: number): Tensor;
    triu(diagonal?: number): Tensor;
    gather(dim: number, index: Tensor): Tensor;
    scatter(dim: number, index: Tensor, src: Tensor | number): Tensor;
    scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor;
    flip(...dims: (number | number[])[]): Tensor;
    roll(shifts: number | number[], dims?: number | number[]): Tensor;
    cumsum(dim: number): Tensor;
    sort(dim?: number, descending?: boolean): MaxResult;
    argsort(dim?: number, descending?: boolean): Tensor;
    topk(k: number, dim?: number, largest?: boolean, sorted?: boolean): MaxResult;
    multinomial(numSamples: number, replacement?: boolean): Tensor;
  }
}

/**
 * Refuses an in-place change autograd could not follow: of a tensor that requires grad (a leaf, as PyTorch
 * refuses; a non-leaf, because gpugrad records no in-place op) or from an operand that requires grad, while
 * grad mode is on.
 */
function checkInPlace(self: Tensor, op: string, operands: readonly unknown[]): void {
  if (!(self instanceof Tensor)) throw new Error(`${op}: must be called on a Tensor`);
  if (!isGradEnabled()) return;
  const shape = `shape [${self.shape.join(', ')}]`;
  if (self.requiresGrad) {
    if (self.isLeaf)
      throw new Error(
        `${op}: a tensor that requires grad (${shape}) cannot be modified in place while grad mode is on ` +
          `(a leaf Variable that requires grad is being used in an in-place operation.); wrap the update in noGrad(() => ...)`,
      );
    throw new Error(
      `${op}: a tensor that requires grad (${shape}) cannot be modified in place while grad mode is on: ` +
        `gpugrad records no in-place op on the graph; use the out-of-place op (y = y.${op.replace(/_$/, '')}(...))`,
    );
  }
  if (operands.some((o) => o instanceof Tensor && o.requiresGrad))
    throw new Error(
      `${op}: the operand requires grad, but in-place ops are not recorded by autograd (tensor ${shape}); use the out-of-place op, or wrap the update in noGrad(() => ...)`,
    );
}

/** Runs an out-of-place update and writes its result into the tensor (autograd does not track in-place ops). */
function inPlace(self: Tensor, op: string, operand: Operand | null, compute: () => Tensor, more: readonly unknown[] = []): Tensor {
  checkInPlace(self, op, [operand, ...more]);
  const r = noGrad(compute);
  // as PyTorch: an in-place result may not lose its kind (a float result into an int tensor would be truncated)
  const rank = (d: string): number => (d === 'bool' ? 0 : d === 'int32' ? 1 : 2);
  if (rank(r.dtype) > rank(self.dtype)) {
    r.dispose();
    throw new Error(
      `${op}: result type ${r.dtype} can't be cast to the desired output type ${self.dtype} (shape [${self.shape.join(', ')}]); ` +
        `convert first (x = x.float()) or use the out-of-place op`,
    );
  }
  return self._assign(r, op, true);
}

function flatShape(args: (number | number[])[]): number[] {
  if (args.length === 1 && Array.isArray(args[0])) return [...args[0]];
  return args.map((a) => {
    if (Array.isArray(a)) throw new Error(`shape arguments must be numbers or one array of numbers, got ${JSON.stringify(args)}`);
    return a;
  });
}

const METHODS = {
  // ---- conversion --------------------------------------------------------------------------------
  to(this: Tensor, dtype: DType | 'int64'): Tensor {
    return CV.cast(this, dtype === 'int64' ? 'int32' : dtype);
  },
  float(this: Tensor): Tensor {
    return CV.cast(this, 'float32');
  },
  double(this: Tensor): Tensor {
    return CV.cast(this, 'float64');
  },
  int(this: Tensor): Tensor {
    return CV.cast(this, 'int32');
  },
  long(this: Tensor): Tensor {
    return CV.cast(this, 'int32');
  },
  bool(this: Tensor): Tensor {
    return CV.cast(this, 'bool');
  },
  clone(this: Tensor): Tensor {
    return CV.clone(this);
  },

  // ---- in place (only under noGrad for tensors that require grad) -------------------------------
  copy_(this: Tensor, src: Tensor): Tensor {
    checkInPlace(this, 'copy_', []);
    if (!(src instanceof Tensor)) throw new Error(`copy_: src must be a Tensor, got ${describeValue(src)}`);
    return this._assign(src, 'copy_');
  },
  /** Runs an out-of-place update and writes its result into this tensor (autograd does not track in-place ops). */
  add_(this: Tensor, other: Operand, alpha?: number): Tensor {
    return inPlace(this, 'add_', other, () => B.add(this, other, alpha));
  },
  sub_(this: Tensor, other: Operand, alpha?: number): Tensor {
    return inPlace(this, 'sub_', other, () => B.sub(this, other, alpha));
  },
  mul_(this: Tensor, other: Operand): Tensor {
    return inPlace(this, 'mul_', other, () => B.mul(this, other));
  },
  div_(this: Tensor, other: Operand): Tensor {
    return inPlace(this, 'div_', other, () => B.div(this, other));
  },
  fill_(this: Tensor, value: number): Tensor {
    return inPlace(this, 'fill_', null, () => full(this.shape, value, { dtype: this.dtype }));
  },
  zero_(this: Tensor): Tensor {
    return inPlace(this, 'zero_', null, () => full(this.shape, 0, { dtype: this.dtype }));
  },
  exp_(this: Tensor): Tensor {
    return inPlace(this, 'exp_', null, () => U.exp(this));
  },
  maskedFill_(this: Tensor, mask: Tensor, value: number): Tensor {
    return inPlace(this, 'maskedFill_', mask, () => C.maskedFill(this, mask, value));
  },
  clamp_(this: Tensor, min?: Tensor | number | null, max?: Tensor | number | null): Tensor {
    return inPlace(this, 'clamp_', null, () => CL.clamp(this, min, max), [min, max]);
  },
  clip_(this: Tensor, min?: Tensor | number | null, max?: Tensor | number | null): Tensor {
    return inPlace(this, 'clip_', null, () => CL.clip(this, min, max), [min, max]);
  },

  // ---- elementwise -------------------------------------------------------------------------------
  add(this: Tensor, o: Operand, alpha?: number): Tensor {
    return B.add(this, o, alpha);
  },
  sub(this: Tensor, o: Operand, alpha?: number): Tensor {
    return B.sub(this, o, alpha);
  },
  mul(this: Tensor, o: Operand): Tensor {
    return B.mul(this, o);
  },
  div(this: Tensor, o: Operand): Tensor {
    return B.div(this, o);
  },
  pow(this: Tensor, o: Operand): Tensor {
    return B.pow(this, o);
  },
  maximum(this: Tensor, o: Operand): Tensor {
    return B.maximum(this, o);
  },
  minimum(this: Tensor, o: Operand): Tensor {
    return B.minimum(this, o);
  },
  neg(this: Tensor): Tensor {
    return U.neg(this);
  },
  exp(this: Tensor): Tensor {
    return U.exp(this);
  },
  log(this: Tensor): Tensor {
    return U.log(this);
  },
  sqrt(this: Tensor): Tensor {
    return U.sqrt(this);
  },
  rsqrt(this: Tensor): Tensor {
    return U.rsqrt(this);
  },
  abs(this: Tensor): Tensor {
    return U.abs(this);
  },
  tanh(this: Tensor): Tensor {
    return U.tanh(this);
  },
  sigmoid(this: Tensor): Tensor {
    return U.sigmoid(this);
  },
  relu(this: Tensor): Tensor {
    return U.relu(this);
  },
  gelu(this: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
    return U.gelu(this, approximate);
  },
  clamp(this: Tensor, min?: Tensor | number | null, max?: Tensor | number | null): Tensor {
    return CL.clamp(this, min, max);
  },
  clip(this: Tensor, min?: Tensor | number | null, max?: Tensor | number | null): Tensor {
    return CL.clip(this, min, max);
  },

  // ---- comparison and selection ------------------------------------------------------------------
  eq(this: Tensor, o: Operand): Tensor {
    return C.eq(this, o);
  },
  ne(this: Tensor, o: Operand): Tensor {
    return C.ne(this, o);
  },
  lt(this: Tensor, o: Operand): Tensor {
    return C.lt(this, o);
  },
  le(this: Tensor, o: Operand): Tensor {
    return C.le(this, o);
  },
  gt(this: Tensor, o: Operand): Tensor {
    return C.gt(this, o);
  },
  ge(this: Tensor, o: Operand): Tensor {
    return C.ge(this, o);
  },
  logicalNot(this: Tensor): Tensor {
    return C.logicalNot(this);
  },
  logicalAnd(this: Tensor, o: Tensor): Tensor {
    return C.logicalAnd(this, o);
  },
  logicalOr(this: Tensor, o: Tensor): Tensor {
    return C.logicalOr(this, o);
  },
  /** `condition ? this : other`, elementwise (like `Tensor.where`). */
  where(this: Tensor, condition: Tensor, other: Operand): Tensor {
    return C.where(condition, this, other);
  },
  maskedFill(this: Tensor, mask: Tensor, value: number): Tensor {
    return C.maskedFill(this, mask, value);
  },
  isclose(this: Tensor, other: Tensor, opts?: IscloseOptions): Tensor {
    return C.isclose(this, other, opts);
  },
  allclose(this: Tensor, other: Tensor, opts?: IscloseOptions): boolean {
    return C.allclose(this, other, opts);
  },

  // ---- reductions --------------------------------------------------------------------------------
  sum(this: Tensor, dim?: number | number[], keepdim = false): Tensor {
    return R.sum(this, dim, keepdim);
  },
  mean(this: Tensor, dim?: number | number[], keepdim = false): Tensor {
    return R.mean(this, dim, keepdim);
  },
  var(this: Tensor, dim?: number | number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return R.variance(this, dim, opts);
  },
  amax(this: Tensor, dim?: number | number[], keepdim = false): Tensor {
    return R.amax(this, dim, keepdim);
  },
  amin(this: Tensor, dim?: number | number[], keepdim = false): Tensor {
    return R.amin(this, dim, keepdim);
  },
  max(this: Tensor, dim?: number, keepdim = false): Tensor | MaxResult {
    return dim === undefined ? R.amax(this) : R.maxDim(this, dim, keepdim, 'max');
  },
  min(this: Tensor, dim?: number, keepdim = false): Tensor | MaxResult {
    return dim === undefined ? R.amin(this) : R.maxDim(this, dim, keepdim, 'min');
  },
  argmax(this: Tensor, dim?: number, keepdim = false): Tensor {
    return R.argmax(this, dim, keepdim);
  },
  norm(this: Tensor, p?: NO.NormP, dim?: number | number[] | null, keepdim = false): Tensor {
    return NO.norm(this, p, dim, keepdim);
  },

  // ---- linear algebra ----------------------------------------------------------------------------
  matmul(this: Tensor, o: Tensor): Tensor {
    return M.matmul(this, o);
  },
  outer(this: Tensor, vec2: Tensor): Tensor {
    return NO.outer(this, vec2);
  },

  // ---- shape -------------------------------------------------------------------------------------
  reshape(this: Tensor, ...shape: (number | number[])[]): Tensor {
    return S.reshape(this, flatShape(shape));
  },
  view(this: Tensor, ...shape: (number | number[])[]): Tensor {
    return S.reshape(this, flatShape(shape), 'view');
  },
  flatten(this: Tensor, startDim = 0, endDim = -1): Tensor {
    return S.flatten(this, startDim, endDim);
  },
  permute(this: Tensor, ...dims: (number | number[])[]): Tensor {
    return S.permute(this, flatShape(dims));
  },
  transpose(this: Tensor, dim0: number, dim1: number): Tensor {
    return S.transpose(this, dim0, dim1);
  },
  /** Transposes a 2-D tensor (like `.t()`). */
  t(this: Tensor): Tensor {
    if (this.ndim > 2)
      throw new Error(`t: expects a tensor with at most 2 dims, got shape [${this.shape.join(', ')}]; use transpose(dim0, dim1)`);
    return this.ndim < 2 ? S.reshape(this, [...this.shape], 't') : S.transpose(this, 0, 1);
  },
  unsqueeze(this: Tensor, dim: number): Tensor {
    return S.unsqueeze(this, dim);
  },
  squeeze(this: Tensor, dim?: number | number[]): Tensor {
    return S.squeeze(this, dim);
  },
  expand(this: Tensor, ...shape: (number | number[])[]): Tensor {
    return S.expand(this, flatShape(shape));
  },
  expandAs(this: Tensor, other: Tensor): Tensor {
    return S.expand(this, other.shape);
  },
  /** The tensor itself when its elements are in row-major order, else a dense copy (graph-recorded, as clone). */
  contiguous(this: Tensor): Tensor {
    return this.isContiguous() ? this : CV.clone(this);
  },
  narrow(this: Tensor, dim: number, start: number, length: number): Tensor {
    return S.narrow(this, dim, start, length);
  },
  /** Elements start..end (exclusive, negative from the end) along dim, with a step (like `x[:, a:b:s]`). */
  slice(this: Tensor, dim: number, start?: number, end?: number, step = 1): Tensor {
    return S.slice(this, dim, start, end, step);
  },
  split(this: Tensor, splitSize: number | number[], dim = 0): Tensor[] {
    return S.split(this, splitSize, dim);
  },
  chunk(this: Tensor, chunks: number, dim = 0): Tensor[] {
    return S.chunk(this, chunks, dim);
  },
  indexSelect(this: Tensor, dim: number, index: Tensor): Tensor {
    return S.indexSelect(this, dim, index);
  },
  repeatInterleave(this: Tensor, repeats: number, dim: number): Tensor {
    return S.repeatInterleave(this, repeats, dim);
  },

  // ---- nn ----------------------------------------------------------------------------------------
  softmax(this: Tensor, dim: number): Tensor {
    return SM.softmax(this, dim);
  },
  logSoftmax(this: Tensor, dim: number): Tensor {
    return SM.logSoftmax(this, dim);
  },

  // ---- indexing ----------------------------------------------------------------------------------
  tril(this: Tensor, diagonal = 0): Tensor {
    return IX.tril(this, diagonal);
  },
  triu(this: Tensor, diagonal = 0): Tensor {
    return IX.triu(this, diagonal);
  },
  gather(this: Tensor, dim: number, index: Tensor): Tensor {
    return IX.gather(this, dim, index);
  },
  scatter(this: Tensor, dim: number, index: Tensor, src: Tensor | number): Tensor {
    return IX.scatter(this, dim, index, src);
  },
  scatterAdd(this: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
    return IX.scatterAdd(this, dim, index, src);
  },
  /** Reverses the given dims (`x.flip(0, 1)` or `x.flip([0, 1])`). */
  flip(this: Tensor, ...dims: (number | number[])[]): Tensor {
    return IX.flip(this, dims.length === 1 && Array.isArray(dims[0]) ? dims[0] : (dims as number[]));
  },
  roll(this: Tensor, shifts: number | number[], dims?: number | number[]): Tensor {
    return IX.roll(this, shifts, dims);
  },
  cumsum(this: Tensor, dim: number): Tensor {
    return IX.cumsum(this, dim);
  },
  select(this: Tensor, dim: number, index: number): Tensor {
    return SE.select(this, dim, index);
  },
  index(this: Tensor, ...indices: IndexEntry[]): Tensor {
    return SE.index(this, ...indices);
  },

  // ---- sorting and sampling ----------------------------------------------------------------------
  sort(this: Tensor, dim = -1, descending = false): MaxResult {
    return SO.sort(this, dim, descending);
  },
  argsort(this: Tensor, dim = -1, descending = false): Tensor {
    return SO.argsort(this, dim, descending);
  },
  topk(this: Tensor, k: number, dim = -1, largest = true, sorted = true): MaxResult {
    return SO.topk(this, k, dim, largest, sorted);
  },
  multinomial(this: Tensor, numSamples: number, replacement = false): Tensor {
    return SO.multinomial(this, numSamples, replacement);
  },
};

for (const [name, fn] of Object.entries(METHODS)) {
  Object.defineProperty(Tensor.prototype, name, { value: fn, writable: true, configurable: true, enumerable: false });
}

// what the tape needs from the ops (it cannot import them): gradient accumulation, copies, broadcast reduction
