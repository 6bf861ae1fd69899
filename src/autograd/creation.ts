// Tensor creation from host data: nested arrays, typed arrays, constants, ranges and random values (from
// the one seeded generator, so the same seed gives the same values on every mode and dtype). No kernel
// runs here: the data is made on the host and wrapped as a tensor, so the autograd layer (gradcheck) and
// every op can create tensors without importing an op. src/ops/creation.ts re-exports all of it.

import { Storage } from '../backend/storage.js';
import { DTYPES, type DType } from '../helpers/dtype.js';
import { fmtShape, numelOf } from '../helpers/shape.js';
import { normal, randInt, uniform } from './random.js';
import { Tensor } from './tensor.js';
import { checkTensor } from './check.js';
import { checkBoolean, checkOptions, describeValue } from '../helpers/validate.js';

/** A dtype as creation functions take it: 'int64' is accepted as PyTorch's default integer and stores int32. */
export type DTypeArg = DType | 'int64';

export interface CreateOptions {
  dtype?: DTypeArg;
  requiresGrad?: boolean;
}

export interface TensorOptions extends CreateOptions {
  shape?: number[];
}

type Nested = number | boolean | Nested[];
export type TensorData = Nested | Float32Array | Float64Array | Int32Array | Uint8Array;

/** The dtype a creation function makes: 'int64' (PyTorch's torch.long) is int32 here, GPU.js having no 64-bit integers. */
function checkDType(op: string, dtype: DTypeArg): DType {
  if (dtype === 'int64') return 'int32';
  if (!DTYPES.includes(dtype))
    throw new Error(`${op}: unknown dtype '${String(dtype)}'; expected one of ${DTYPES.join(', ')} (or int64, stored as int32)`);
  return dtype;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Integer data must fit int32 (gpugrad's only integer type): beyond it is an error, never a wrapped value. */
function checkInt32Range(op: string, values: ArrayLike<number>, asked: DTypeArg | undefined): void {
  for (let i = 0; i < values.length; i++) {
    const v = Math.trunc(values[i]);
    if (v < INT32_MIN || v > INT32_MAX || Number.isNaN(v))
      throw new Error(
        `${op}: value ${values[i]} does not fit ${asked === 'int64' ? 'int64 (stored as int32: gpugrad has no 64-bit integers)' : 'int32'} ` +
          `(range ${INT32_MIN} to ${INT32_MAX}); pass { dtype: 'float32' } or 'float64' for larger values`,
      );
  }
}

export function checkShape(op: string, shape: readonly number[]): number[] {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${op}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  return [...shape];
}

export function allocHost(dtype: DType, n: number): Float32Array | Float64Array | Int32Array | Uint8Array {
  switch (dtype) {
    case 'float64':
      return new Float64Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'bool':
      return new Uint8Array(n);
    default:
      return new Float32Array(n);
  }
}

/** Wraps host values (copied into the dtype's array type) as a tensor. */
export function fromValues(values: ArrayLike<number>, shape: number[], dtype: DType, requiresGrad = false): Tensor {
  const data = allocHost(dtype, values.length);
  if (dtype === 'int32') for (let i = 0; i < values.length; i++) data[i] = Math.trunc(values[i]);
  else if (dtype === 'bool') for (let i = 0; i < values.length; i++) data[i] = values[i] ? 1 : 0;
  else data.set(values);
  const t = Tensor._fromStorage(Storage.fromHost(data), shape, dtype);
  if (requiresGrad) t.requiresGrad = true;
  return t;
}

function inferShape(data: Nested, op: string): number[] {
  const shape: number[] = [];
  let cur: Nested = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  const check = (x: Nested, d: number, path: string): void => {
    if (d === shape.length) {
      if (Array.isArray(x))
        throw new Error(`${op}: ragged nested array: ${path} has more levels than its siblings (shape so far ${fmtShape(shape)})`);
      if (typeof x !== 'number' && typeof x !== 'boolean') throw new Error(`${op}: ${path} is ${typeof x}, expected a number or boolean`);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[d]) {
      throw new Error(
        `${op}: ragged nested array: ${path} has ${Array.isArray(x) ? x.length : 'no'} elements where ${shape[d]} were expected ` +
          `(shape ${fmtShape(shape)})`,
      );
    }
    x.forEach((y, i) => check(y, d + 1, `${path}[${i}]`));
  };
  check(data, 0, 'data');
  return shape;
}

/** Makes a tensor from a number, nested arrays or a typed array (like `torch.tensor`). */
export function tensor(data: TensorData, opts: TensorOptions = {}): Tensor {
  checkCreate('tensor', opts, ['dtype', 'requiresGrad', 'shape']);
  let values: ArrayLike<number>;
  let shape: number[];
  let inferred: DType = 'float32';
  if (ArrayBuffer.isView(data)) {
    values = data as ArrayLike<number>;
    shape = [values.length];
    if (data instanceof Float64Array) inferred = 'float64';
    else if (data instanceof Int32Array) inferred = 'int32';
    else if (data instanceof Uint8Array) inferred = 'bool';
  } else {
    shape = inferShape(data as Nested, 'tensor');
    const flat = (Array.isArray(data) ? (data as unknown[]).flat(Infinity as 1) : [data]) as (number | boolean)[];
    if (flat.length > 0 && flat.every((v) => typeof v === 'boolean')) inferred = 'bool';
    values = flat.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
    // integer data gives an integer tensor, as torch.tensor([1, 2, 3]) is int64 (int32 here). JavaScript
    // cannot write 1.0, so data asked to require grad stays float32, and so do numbers beyond int32 (1e30)
    const int32 = (v: number | boolean): boolean => Number.isInteger(v) && (v as number) >= INT32_MIN && (v as number) <= INT32_MAX;
    if (inferred === 'float32' && flat.length > 0 && !opts.requiresGrad && flat.every(int32)) inferred = 'int32';
  }
  const dtype = checkDType('tensor', opts.dtype ?? inferred);
  if (dtype === 'int32') checkInt32Range('tensor', values, opts.dtype);
  if (opts.shape) {
    const s = checkShape('tensor', opts.shape);
    if (numelOf(s) !== values.length)
      throw new Error(`tensor: shape ${fmtShape(s)} needs ${numelOf(s)} values but data has ${values.length}`);
    shape = s;
  }
  return fromValues(values, shape, dtype, opts.requiresGrad);
}

export function full(shape: number[], value: number, opts: CreateOptions = {}): Tensor {
  return filled('full', shape, value, opts);
}

function filled(op: string, shape: number[], value: number, opts: CreateOptions): Tensor {
  checkCreate(op, opts, ['dtype', 'requiresGrad']);
  const s = checkShape(op, shape);
  const dtype = checkDType(op, opts.dtype ?? 'float32');
  if (typeof value !== 'number' && !(typeof value === 'boolean' && dtype === 'bool'))
    throw new Error(`${op}: fill value must be a number, got ${describeValue(value)}`);
  if (dtype === 'int32') checkInt32Range(op, [value], opts.dtype);
  const data = allocHost(dtype, numelOf(s));
  data.fill(dtype === 'bool' ? (value ? 1 : 0) : dtype === 'int32' ? Math.trunc(value) : value);
  const t = Tensor._fromStorage(Storage.fromHost(data), s, dtype);
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

export const zeros = (shape: number[], opts: CreateOptions = {}): Tensor => filled('zeros', shape, 0, opts);
export const ones = (shape: number[], opts: CreateOptions = {}): Tensor => filled('ones', shape, 1, opts);
/** full() in the shape (and, unless given, the dtype) of a live tensor, named `op` in errors. */
function filledLike(op: string, t: Tensor, value: number, opts: CreateOptions): Tensor {
  checkTensor(op, 'input', t);
  checkCreate(op, opts, ['dtype', 'requiresGrad']);
  return filled(op, t.shape, value, { dtype: t.dtype, ...opts });
}

export const zerosLike = (t: Tensor, opts: CreateOptions = {}): Tensor => filledLike('zerosLike', t, 0, opts);
export const onesLike = (t: Tensor, opts: CreateOptions = {}): Tensor => filledLike('onesLike', t, 1, opts);
export const fullLike = (t: Tensor, value: number, opts: CreateOptions = {}): Tensor => filledLike('fullLike', t, value, opts);

/** `arange(end)`, `arange(start, end, step?)`. */
export function arange(start: number, end?: number | CreateOptions, step: number | CreateOptions = 1, opts: CreateOptions = {}): Tensor {
  // options may follow any of the numbers, as PyTorch users write them: arange(T, { dtype }), arange(0, T, { dtype })
  if (typeof end === 'object' && end !== null) [opts, end, step] = [end, undefined, 1];
  else if (typeof step === 'object' && step !== null) [opts, step] = [step, 1];
  checkCreate('arange', opts, ['dtype', 'requiresGrad']);
  for (const [name, v] of [
    ['start', start],
    ['end', end],
    ['step', step],
  ] as const)
    if (v !== undefined && typeof v !== 'number') throw new Error(`arange: ${name} must be a number, got ${describeValue(v)}`);
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0 || !Number.isFinite(step)) throw new Error(`arange: step must be a non-zero finite number, got ${step}`);
  if (!Number.isFinite(start) || !Number.isFinite(end))
    throw new Error(`arange: start and end must be finite numbers, got start=${start}, end=${end}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const vals = new Float64Array(n);
  for (let i = 0; i < n; i++) vals[i] = start + i * step;
  const ints = Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step);
  const dtype = checkDType('arange', opts.dtype ?? (ints ? 'int32' : 'float32'));
  if (dtype === 'int32') checkInt32Range('arange', n ? [start, vals[n - 1]] : [], opts.dtype);
  return fromValues(vals, [n], dtype, opts.requiresGrad);
}

/** A creation function's options: known keys, requiresGrad a boolean. */
function checkCreate(op: string, opts: unknown, allowed: string[]): void {
  checkOptions(op, opts, allowed);
  checkBoolean(op, 'requiresGrad', (opts as CreateOptions | undefined)?.requiresGrad, false);
}

function randomTensor(op: string, shape: number[], opts: CreateOptions, draw: () => number): Tensor {
  checkCreate(op, opts, ['dtype', 'requiresGrad']);
  const s = checkShape(op, shape);
  const dtype = opts.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') throw new Error(`${op}: dtype must be float32 or float64, got ${dtype}`);
  const n = numelOf(s);
  const vals = new Float64Array(n);
  for (let i = 0; i < n; i++) vals[i] = draw();
  return fromValues(vals, s, dtype, opts.requiresGrad);
}

/** Uniform [0, 1). */
export const rand = (shape: number[], opts: CreateOptions = {}): Tensor => randomTensor('rand', shape, opts, uniform);
/** Standard normal. */
export const randn = (shape: number[], opts: CreateOptions = {}): Tensor => randomTensor('randn', shape, opts, normal);

/** Integers uniform in [low, high) (int32 unless a dtype is given). */
export function randint(low: number, high: number, shape: number[], opts: CreateOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new Error(`randint: expects integers low < high, got low=${low}, high=${high}`);
  }
  checkCreate('randint', opts, ['dtype', 'requiresGrad']);
  const s = checkShape('randint', shape);
  const n = numelOf(s);
  const vals = new Float64Array(n);
  const dtype = checkDType('randint', opts.dtype ?? 'int32');
  if (dtype === 'int32') checkInt32Range('randint', [low, high - 1], opts.dtype);
  for (let i = 0; i < n; i++) vals[i] = randInt(low, high);
  return fromValues(vals, s, dtype, opts.requiresGrad);
}

/** A 0-d tensor holding a scalar operand: `like`'s float dtype, int32 for integers next to int/bool data. */
export function scalarTensor(v: number, like: Tensor): Tensor {
  const dtype: DType =
    like.dtype === 'float64' ? 'float64' : like.dtype === 'float32' ? 'float32' : Number.isInteger(v) ? 'int32' : 'float32';
  return full([], v, { dtype });
}
