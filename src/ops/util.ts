// Shared helpers for ops: shape checks with clear messages, and the code generators that turn shapes
// into kernel source (flat 1-D indexing, every shape baked in as a literal).

import { runKernel, Storage, type Precision } from '../backend/index.js';
import type { HostArray } from '../backend/storage.js';
import { Tensor, type DType } from '../autograd/tensor.js';

import { fmtShape, sameShape } from '../helpers/shape.js';

export { fmtShape, sameShape };

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    st[d] = s;
    s *= shape[d];
  }
  return st;
}

/** Normalises a possibly negative dim; throws naming the op and shape when out of range. */
export function normDim(op: string, dim: number, ndim: number, shape?: readonly number[]): number {
  const lo = ndim === 0 ? -1 : -ndim;
  const hi = ndim === 0 ? 0 : ndim - 1;
  if (!Number.isInteger(dim) || dim < lo || dim > hi) {
    const s = shape ? ` of a tensor of shape ${fmtShape(shape)}` : '';
    throw new Error(`${op}: dim ${dim} is out of range [${lo}, ${hi}]${s}`);
  }
  return dim < 0 ? dim + Math.max(ndim, 1) : dim;
}

/** PyTorch's broadcasting rule over any number of shapes; the error names each argument. */
export function broadcastShapes(op: string, shapes: readonly (readonly number[])[], names: readonly string[]): number[] {
  const nd = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(nd).fill(1);
  for (let k = 0; k < nd; k++) {
    for (const s of shapes) {
      const d = s[s.length - nd + k] ?? 1;
      if (d === 1) continue;
      if (out[k] !== 1 && out[k] !== d) {
        const parts = shapes.map((sh, i) => `${names[i]} (shape ${fmtShape(sh)})`).join(' and ');
        throw new Error(`${op}: shapes are not broadcastable: ${parts}; dimension ${k - nd} has sizes ${out[k]} and ${d}`);
      }
      out[k] = d;
    }
  }
  return out;
}

/**
 * An expression pasted into generated kernel source, parenthesised unless it is a bare name or an
 * unsigned number literal: every expression builder wraps each argument with this, so `b - 1` pasted into
 * `X / 2` reads `(b - 1) / 2`, never `b - 1 / 2`.
 */
export function paren(expr: string): string {
  const e = expr.trim();
  return /^([A-Za-z_$][\w$]*|\d+(\.\d+)?([eE][+-]?\d+)?)$/.test(e) ? e : `(${e})`;
}

/** A number as a JS literal that round-trips exactly (kernels bake constants in). */
export function lit(x: number): string {
  if (Number.isNaN(x)) return '(0 / 0)';
  if (x === Infinity) return '1e39';
  if (x === -Infinity) return '-1e39';
  if (Object.is(x, -0)) return '(-0)';
  const s = String(x);
  return x < 0 ? `(${s})` : s;
}

/**
 * Expression for the flat index into a tensor with element strides `inStrides` (0 = broadcast) and
 * `offset`, seen through an output of shape `outShape`, from the flat output index `i`.
 * Adjacent dims that stay contiguous are merged so most kernels need one or two divisions.
 */
export function gatherIndex(outShape: readonly number[], inStrides: readonly number[], offset = 0, i = 'i'): string {
  // merge dims: (size, outStride, inStride)
  const dims: { size: number; st: number }[] = [];
  for (let d = 0; d < outShape.length; d++) {
    if (outShape[d] === 1) continue;
    const cur = { size: outShape[d], st: inStrides[d] };
    const prev = dims[dims.length - 1];
    if (prev && prev.st === cur.st * cur.size) {
      prev.size *= cur.size;
      prev.st = cur.st;
    } else dims.push(cur);
  }
  const terms: string[] = [];
  let outStride = 1;
  const ctx: { size: number; st: number; outStride: number }[] = [];
  for (let k = dims.length - 1; k >= 0; k--) {
    ctx.push({ ...dims[k], outStride });
    outStride *= dims[k].size;
  }
  for (const { size, st, outStride: os } of ctx) {
    if (st === 0) continue;
    const outer = os * size === outStride; // the outermost dim needs no modulo
    let c: string;
    if (os === 1) c = outer ? i : `(${i} - Math.floor((${i} + 0.5) / ${size}) * ${size})`;
    else if (outer) c = `Math.floor((${i} + 0.5) / ${os})`;
    else c = `(Math.floor((${i} + 0.5) / ${os}) - Math.floor((${i} + 0.5) / ${os * size}) * ${size})`;
    terms.push(st === 1 ? c : `${c} * ${st}`);
  }
  if (offset !== 0) terms.push(String(offset));
  return terms.length ? terms.join(' + ') : '0';
}

/** Element strides of `inShape` broadcast to `outShape` (0 where the input is broadcast). */
export function broadcastStrides(outShape: readonly number[], inShape: readonly number[]): number[] {
  const st = stridesOf(inShape);
  const nd = outShape.length;
  const res = new Array<number>(nd).fill(0);
  for (let d = 0; d < inShape.length; d++) {
    const od = nd - inShape.length + d;
    res[od] = inShape[d] === 1 ? 0 : st[d];
  }
  return res;
}

export function bcastIndex(outShape: readonly number[], inShape: readonly number[], i = 'i'): string {
  if (sameShape(outShape, inShape)) return i;
  return gatherIndex(outShape, broadcastStrides(outShape, inShape), 0, i);
}

const FLOATS: readonly DType[] = ['float32', 'float64'];
export const isFloat = (d: DType): boolean => FLOATS.includes(d);

/** The precision a kernel over these tensors runs in: float64 (host) when any input is float64 or
 * when none is floating (int/bool data stays exact), float32 (GPU.js) otherwise. */
export function precisionOf(...ts: (Tensor | null | undefined)[]): Precision {
  let f32 = false;
  for (const t of ts) {
    if (!t) continue;
    if (t.dtype === 'float64') return 'float64';
    if (t.dtype === 'float32') f32 = true;
  }
  return f32 ? 'float32' : 'float64';
}

/** The float dtype of a set of operands: float32 and float64 do not mix silently. */
export function floatDType(op: string, named: [string, Tensor][]): DType {
  let found: DType | null = null;
  let who = '';
  let whoShape: readonly number[] = [];
  for (const [name, t] of named) {
    if (!isFloat(t.dtype)) continue;
    if (found && found !== t.dtype) {
      throw new Error(
        `${op}: dtype mismatch: ${who} is ${found} but ${name} is ${t.dtype} (shapes ${fmtShape(whoShape)} and ${fmtShape(t.shape)}); ` +
          `convert one with .float() or .double()`,
      );
    }
    found = t.dtype;
    who = name;
    whoShape = t.shape;
  }
  return found ?? 'float32';
}

/** Runs a kernel over tensors and wraps the result in a new tensor of `shape` and `dtype`. */
export function launch(
  key: string,
  build: () => string,
  args: Tensor[],
  shape: readonly number[],
  dtype: DType,
  precision: Precision = precisionOf(...args),
): Tensor {
  const size = numelOf(shape);
  const storage = runKernel(precision, key, build, args.map((t) => t._storageForKernel()), size);
  return Tensor._fromStorage(castStorage(storage, dtype), [...shape], dtype);
}

/** Kernels compute in floats; int/bool results are read back into their own typed arrays. */
function castStorage(s: Storage, dtype: DType): Storage {
  if (dtype === 'float32' && s.texture !== null) return s;
  const h = s.host();
  let data: HostArray;
  if (dtype === 'float32') data = h instanceof Float32Array ? h : Float32Array.from(h as ArrayLike<number>);
  else if (dtype === 'float64') data = h instanceof Float64Array ? h : Float64Array.from(h as ArrayLike<number>);
  else if (dtype === 'bool') data = Uint8Array.from(h as ArrayLike<number>, (v) => (v !== 0 ? 1 : 0));
  else data = Int32Array.from(h as ArrayLike<number>, (v) => Math.trunc(v));
  if (data === h) return s;
  s.release();
  return Storage.fromHost(data);
}

/** Key fragment for a shape. */
export const sk = (s: readonly number[]): string => s.join('x');
