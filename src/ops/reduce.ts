// Reductions over any set of dims, with keepdim. One generated kernel per (kind, shape, dims): each
// output element loops over its reduced elements (loop bounds baked in).
//   sum:  dx = expand(g)            mean: dx = expand(g)/n
//   amax/amin: dx = g/count on every tied extreme, 0 elsewhere (PyTorch's even split)
//   max(dim)/min(dim): dx = g at the returned index, 0 elsewhere
//   var:  dx = g*2*(x - mean)/(n - correction)

import { needsGrad, record } from '../autograd/engine.js';
import { Tensor, type DType } from '../autograd/tensor.js';
import { fromValues } from './creation.js';
import { mapKernel } from './map.js';
import { permuteKernel } from './shape.js';
import { fmtShape, isFloat, launch, normDim, numelOf, sameShape } from './util.js';

type Kind = 'sum' | 'mean' | 'amax' | 'amin' | 'argmax' | 'argmin' | 'var';

export function reduceDims(op: string, x: Tensor, dim: number | number[] | undefined): number[] {
  if (dim === undefined || (Array.isArray(dim) && dim.length === 0)) return x.shape.map((_, i) => i);
  const list = (Array.isArray(dim) ? dim : [dim]).map((d) => normDim(op, d, x.ndim, x.shape));
  if (new Set(list).size !== list.length) throw new Error(`${op}: dim ${JSON.stringify(dim)} names a dimension twice (shape ${fmtShape(x.shape)})`);
  return x.ndim === 0 ? [] : list.sort((a, b) => a - b);
}

function keptShape(shape: number[], dims: number[], keepdim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((s, d) => {
    if (!dims.includes(d)) out.push(s);
    else if (keepdim) out.push(1);
  });
  return out;
}

/**
 * Elements one kernel thread reduces in one pass. Long reductions run in passes: each thread reduces a
 * chunk of at most this many elements to one partial, and the partials are reduced again until one is
 * left. That keeps every thread's loop short (Mesa's llvmpipe, the software GL here, stops every loop of
 * a shader after 65,535 iterations in all; GPUs have watchdogs) and sums in a tree of blocks, so float32
 * sums of millions of elements keep float32 accuracy instead of drifting by one rounding per element.
 */
export const REDUCE_CHUNK = 1024;

/** Statements that accumulate `len` elements `read(k)` (k < ${'len'}, a literal) into `out` with four interleaved accumulators. */
export function blockedSum(out: string, read: (k: string) => string, len: number, guard?: string): string {
  const g = (k: string, body: string): string => (guard ? `if (${k} < ${guard}) { ${body} } ` : `${body} `);
  if (len < 8) return `let ${out} = 0; for (let ${out}k = 0; ${out}k < ${len}; ${out}k++) { ${g(`${out}k`, `${out} += ${read(`${out}k`)};`)}} `;
  const L4 = len - (len % 4);
  let code = `let ${out}0 = 0; let ${out}1 = 0; let ${out}2 = 0; let ${out}3 = 0; for (let ${out}k = 0; ${out}k < ${L4}; ${out}k += 4) { `;
  for (let j = 0; j < 4; j++) {
    const k = j === 0 ? `${out}k` : `${out}k + ${j}`;
    code += g(k, `${out}${j} += ${read(k)};`);
  }
  code += `} let ${out} = (${out}0 + ${out}1) + (${out}2 + ${out}3); `;
  if (len > L4) code += `for (let ${out}r = ${L4}; ${out}r < ${len}; ${out}r++) { ${g(`${out}r`, `${out} += ${read(`${out}r`)};`)}} `;
  return code;
}

/** `x` viewed as [O, n, I] with the reduced dims as the middle block (permuted there by a copy when they are not adjacent). */
function asBlock(x: Tensor, dims: number[]): { t: Tensor; O: number; n: number; I: number; temp: boolean } {
  const adjacent = dims.every((d, k) => k === 0 || d === dims[k - 1] + 1);
  if (adjacent && dims.length > 0) {
    const O = x.shape.slice(0, dims[0]).reduce((a, b) => a * b, 1);
    const n = dims.reduce((a, d) => a * x.shape[d], 1);
    return { t: x, O, n, I: x.numel / (O * n), temp: false };
  }
  const kept = x.shape.map((_, d) => d).filter((d) => !dims.includes(d));
  const t = permuteKernel(x, [...kept, ...dims]);
  const n = dims.reduce((a, d) => a * x.shape[d], 1);
  return { t, O: n === 0 ? 0 : x.numel / n, n, I: 1, temp: true };
}

type PassKind = 'sum' | 'amax' | 'amin' | 'argmax' | 'argmin';

/**
 * One pass over a [O, n, I] block: output [O, C, I] with C = ceil(n / chunk), each element the
 * reduction of its chunk. argmax/argmin passes read (values, indices) of the previous pass when `idx` is
 * given (the indices are those of the original reduced dim) and return indices; their values come from
 * the matching amax/amin pass.
 */
function passKernel(kind: PassKind, a: Tensor, O: number, n: number, I: number, chunk: number, dtype: DType, idx?: Tensor, divideBy = 1): Tensor {
  const C = Math.ceil(n / chunk);
  const len = C === 1 ? n : chunk;
  const last = n - (C - 1) * chunk; // elements in the last chunk
  const key = `reduce.pass:${kind}:${O}:${n}:${I}:${chunk}:${idx ? 'i' : ''}:${divideBy}`;
  const build = (): string => {
    const head =
      `const i = this.thread.x; const o = Math.floor((i + 0.5) / ${C * I}); const rem = i - o * ${C * I}; ` +
      `const c = Math.floor((rem + 0.5) / ${I}); const e = rem - c * ${I}; const base = o * ${n * I} + c * ${chunk * I} + e; ` +
      `const len = c < ${C - 1} ? ${len} : ${last}; `;
    const at = (k: string): string => (I === 1 ? `a[base + ${k}]` : `a[base + (${k}) * ${I}]`);
    let body: string;
    if (kind === 'sum') {
      body = `${blockedSum('s', at, len, C === 1 ? undefined : 'len')}return ${divideBy === 1 ? 's' : `s / ${divideBy}`};`;
    } else {
      // NaN wins (as PyTorch), the first extreme wins ties; the explicit NaN test also stops GL compilers
      // from turning the comparison into max(), which drops NaN
      const cmp = kind === 'amax' || kind === 'argmax' ? '>' : '<';
      const arg = kind === 'argmax' || kind === 'argmin';
      const where = (k: string): string => (idx ? (I === 1 ? `ix[base + ${k}]` : `ix[base + (${k}) * ${I}]`) : `c * ${chunk} + ${k}`);
      body =
        `let acc = ${at('0')}; let at = ${where('0')}; for (let k = 1; k < ${len}; k++) { if (k < len) { const v = ${at('k')}; ` +
        `if (v ${cmp} acc || (v != v && acc == acc)) { acc = v; at = ${where('k')}; } } } return ${arg ? 'at' : 'acc'};`;
    }
    return `function (a${idx ? ', ix' : ''}) { ${head}${body} }`;
  };
  return launch(key, build, idx ? [a, idx] : [a], [O, C, I], dtype);
}

/**
 * The reduction `kind` over `dims` of `x`; output has the kept dims (no keepdim 1s). Runs as passes of
 * at most REDUCE_CHUNK elements per thread (see there).
 */
function reduceKernel(kind: Kind, x: Tensor, dims: number[], outDType: DType, correction = 0): Tensor {
  let dtype = outDType;
  const kept = x.shape.map((_, d) => d).filter((d) => !dims.includes(d));
  const outShape = kept.map((d) => x.shape[d]);
  const n = dims.reduce((a, d) => a * x.shape[d], 1);
  if (kind === 'var') {
    const m = reduceKernel('mean', x, dims, x.dtype);
    const mk = m._view(keptShape(x.shape, dims, true));
    const sq = mapKernel('var.sq', '(x - m) * (x - m)', [['x', x], ['m', mk]], x.shape, x.dtype);
    m.dispose();
    mk.dispose();
    const q = reduceKernel('sum', sq, dims, x.dtype);
    sq.dispose();
    const denom = Math.max(n - correction, 0);
    const out = mapKernel('var.div', `q / ${denom === 0 ? 1 : denom}`, [['q', q]], outShape, x.dtype);
    q.dispose();
    return out;
  }
  if (numelOf(outShape) === 0 || n === 0) {
    // nothing to reduce: PyTorch's identities (sum 0, mean NaN); amax/argmax of empty dims threw before
    const v = kind === 'mean' ? NaN : 0;
    return fromValues(new Array<number>(numelOf(outShape)).fill(v), outShape, dtype);
  }
  const intSum = kind === 'sum' && dtype === 'int32';
  if (intSum) dtype = 'float64'; // exact on the host path; checked and cast below
  const blk = asBlock(x, dims);
  const { O, I } = blk;
  const pass: PassKind = kind === 'mean' ? 'sum' : kind;
  const arg = kind === 'argmax' || kind === 'argmin';
  // argmax/argmin carry (values, indices) through the passes: values by amax/amin, indices by argmax/argmin
  const valKind: PassKind = kind === 'argmax' ? 'amax' : kind === 'argmin' ? 'amin' : pass;
  const accDType: DType = arg ? (x.dtype === 'float64' ? 'float64' : isFloat(x.dtype) ? x.dtype : 'float64') : dtype;
  let vals: Tensor = blk.t;
  let idxs: Tensor | null = null;
  let len = blk.n;
  let owned = blk.temp;
  do {
    const nextIdx: Tensor | null = arg ? passKernel(pass, vals, O, len, I, REDUCE_CHUNK, 'int32', idxs ?? undefined) : null;
    const nextVals = arg && Math.ceil(len / REDUCE_CHUNK) === 1 ? null : passKernel(valKind, vals, O, len, I, REDUCE_CHUNK, arg ? accDType : dtype, undefined, kind === 'mean' && len <= REDUCE_CHUNK ? n : 1);
    if (owned) vals.dispose();
    idxs?.dispose();
    idxs = nextIdx;
    len = Math.ceil(len / REDUCE_CHUNK);
    if (nextVals) {
      vals = nextVals;
      owned = true;
    } else break;
  } while (len > 1);
  const out: Tensor = arg ? idxs! : vals;
  if (intSum) {
    const h = checkIntRange('sum', out, x);
    out.dispose();
    return fromValues(h, outShape, 'int32');
  }
  const v = out._view(outShape);
  out.dispose();
  return v;
}

/** int32 sums are exact (they run on the float64 host path) but PyTorch returns int64; gpugrad has no
 * int64, so a sum outside the int32 range throws instead of wrapping. */
function checkIntRange(op: string, s: Tensor, x: Tensor): ArrayLike<number> {
  const h = s._storageForKernel().host();
  for (let k = 0; k < h.length; k++) {
    if (h[k] > 2147483647 || h[k] < -2147483648) {
      throw new Error(`${op}: the int32 result ${h[k]} does not fit in int32 (input shape ${fmtShape(x.shape)}); gpugrad has no int64: convert the input with .double() first`);
    }
  }
  return h;
}

function expandGrad(op: string, g: Tensor, x: Tensor, dims: number[], scale?: number): Tensor {
  const gk = g._view(keptShape(x.shape, dims, true));
  const out = mapKernel(op, scale === undefined ? 'g' : `g * ${scale}`, [['g', gk]], x.shape, g.dtype);
  gk.dispose();
  return out;
}

function finish(y: Tensor, x: Tensor, dims: number[], keepdim: boolean): Tensor {
  if (!keepdim) return y;
  const v = y._view(keptShape(x.shape, dims, true));
  y.dispose();
  return v;
}

export function sum(x: Tensor, dim?: number | number[], keepdim = false): Tensor {
  const dims = reduceDims('sum', x, dim);
  const dtype: DType = isFloat(x.dtype) ? x.dtype : 'int32';
  const y = finish(reduceKernel('sum', x, dims, dtype), x, dims, keepdim);
  if (!needsGrad(x)) return y;
  return record(y, 'Sum', [x], (g) => [expandGrad('sum.bwd', g, x, dims)]);
}

export function mean(x: Tensor, dim?: number | number[], keepdim = false): Tensor {
  if (!isFloat(x.dtype)) throw new Error(`mean: expects a floating point tensor, got ${x.dtype} (shape ${fmtShape(x.shape)}); convert it with .float()`);
  const dims = reduceDims('mean', x, dim);
  const n = dims.reduce((a, d) => a * x.shape[d], 1);
  const y = finish(reduceKernel('mean', x, dims, x.dtype), x, dims, keepdim);
  if (!needsGrad(x)) return y;
  return record(y, 'Mean', [x], (g) => [expandGrad('mean.bwd', g, x, dims, 1 / n)]);
}

function extreme(kind: 'amax' | 'amin', x: Tensor, dim?: number | number[], keepdim = false): Tensor {
  const dims = reduceDims(kind, x, dim);
  if (dims.some((d) => x.shape[d] === 0) || x.numel === 0) throw new Error(`${kind}: cannot reduce over an empty dimension (shape ${fmtShape(x.shape)})`);
  const y = finish(reduceKernel(kind, x, dims, x.dtype), x, dims, keepdim);
  if (!needsGrad(x)) return y;
  return record(
    y,
    kind === 'amax' ? 'Amax' : 'Amin',
    [x],
    (g) => {
      const yk = y._view(keptShape(x.shape, dims, true));
      const gk = g._view(yk.shape);
      const ties = mapKernel(`${kind}.ties`, '(x == y ? 1 : 0)', [['x', x], ['y', yk]], x.shape, x.dtype);
      const count = reduceKernel('sum', ties, dims, x.dtype);
      const ck = count._view(yk.shape);
      const dx = mapKernel(`${kind}.bwd`, '(t != 0 ? g / c : 0)', [['g', gk], ['t', ties], ['c', ck]], x.shape, x.dtype);
      for (const t of [yk, gk, ties, count, ck]) t.dispose();
      return [dx];
    },
    [x, y],
  );
}

export const amax = (x: Tensor, dim?: number | number[], keepdim = false): Tensor => extreme('amax', x, dim, keepdim);
export const amin = (x: Tensor, dim?: number | number[], keepdim = false): Tensor => extreme('amin', x, dim, keepdim);

/** `max(dim)` / `min(dim)` result: destructure `[values, indices]` or read `.values` / `.indices`. */
export class MaxResult {
  constructor(
    readonly values: Tensor,
    readonly indices: Tensor,
  ) {}
  *[Symbol.iterator](): Iterator<Tensor> {
    yield this.values;
    yield this.indices;
  }
}

export function argmax(x: Tensor, dim?: number, keepdim = false, kind: 'argmax' | 'argmin' = 'argmax'): Tensor {
  if (x.numel === 0) throw new Error(`${kind}: the input is empty (shape ${fmtShape(x.shape)})`);
  if (dim === undefined) {
    const flat = x._view([x.numel]);
    const r = reduceKernel(kind, flat, [0], 'int32');
    flat.dispose();
    return r;
  }
  const d = normDim(kind, dim, x.ndim, x.shape);
  return finish(reduceKernel(kind, x, x.ndim ? [d] : [], 'int32'), x, [d], keepdim);
}

export function maxDim(x: Tensor, dim: number, keepdim: boolean, which: 'max' | 'min'): MaxResult {
  const d = normDim(which, dim, x.ndim, x.shape);
  const dims = x.ndim ? [d] : [];
  if (x.ndim && x.shape[d] === 0) throw new Error(`${which}: cannot reduce over an empty dimension ${dim} (shape ${fmtShape(x.shape)})`);
  const indices = argmax(x, dim, keepdim, which === 'max' ? 'argmax' : 'argmin');
  const values = finish(reduceKernel(which === 'max' ? 'amax' : 'amin', x, dims, x.dtype), x, dims, keepdim);
  if (needsGrad(x)) {
    record(values, which === 'max' ? 'Max' : 'Min', [x], (g) => {
      const kshape = keptShape(x.shape, dims, true);
      const gk = g._view(kshape);
      const ik = indices._view(kshape);
      const posShape = x.shape.map((s, k) => (k === d ? s : 1));
      const pos = fromValues(Array.from({ length: x.shape[d] ?? 1 }, (_, k) => k), posShape, 'int32');
      const dx = mapKernel(`${which}.bwd`, '(p == j ? g : 0)', [['g', gk], ['p', pos], ['j', ik]], x.shape, g.dtype, { precision: g.dtype === 'float64' ? 'float64' : 'float32' });
      for (const t of [gk, ik, pos]) t.dispose();
      return [dx];
    });
  }
  return new MaxResult(values, indices);
}

export function variance(x: Tensor, dim?: number | number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
  if (!isFloat(x.dtype)) throw new Error(`var: expects a floating point tensor, got ${x.dtype} (shape ${fmtShape(x.shape)})`);
  const correction = opts.correction ?? 1;
  const dims = reduceDims('var', x, dim);
  const n = dims.reduce((a, d) => a * x.shape[d], 1);
  const denom = Math.max(n - correction, 0);
  // No degrees of freedom left: PyTorch divides by 0 (inf, or nan for 0/0). A kernel's x / 0 is not
  // reliable on GL (var of one element gave 0 there, not NaN), so that division happens on the host.
  const y = finish(denom === 0 ? divideByZero(reduceKernel('var', x, dims, x.dtype, 0)) : reduceKernel('var', x, dims, x.dtype, correction), x, dims, opts.keepdim ?? false);
  if (!needsGrad(x)) return y;
  return record(y, 'Var', [x], (g) => {
    const m = reduceKernel('mean', x, dims, x.dtype);
    const mk = m._view(keptShape(x.shape, dims, true));
    const gk = g._view(mk.shape);
    const num = mapKernel('var.bwd', `g * 2 * (x - m) / ${denom === 0 ? 1 : denom}`, [['g', gk], ['x', x], ['m', mk]], x.shape, x.dtype);
    for (const t of [m, mk, gk]) t.dispose();
    return [denom === 0 ? divideByZero(num) : num];
  });
}

/** v / 0 for every element, on the host (Infinity with v's sign, NaN for 0); disposes `t`. */
function divideByZero(t: Tensor): Tensor {
  const out = fromValues(Array.from(t.toArray() as ArrayLike<number>, (v) => v / 0), [...t.shape], t.dtype);
  t.dispose();
  return out;
}

/** Sums a broadcast gradient back to `shape` (the engine's one place for broadcasting). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  if (lead < 0) throw new Error(`cannot sum shape ${fmtShape(g.shape)} to the larger shape ${fmtShape(shape)}`);
  const dims: number[] = [];
  g.shape.forEach((s, d) => {
    if (d < lead) dims.push(d);
    else if (shape[d - lead] === 1 && s !== 1) dims.push(d);
    else if (shape[d - lead] !== s) throw new Error(`cannot sum shape ${fmtShape(g.shape)} to shape ${fmtShape(shape)}`);
  });
  const r = reduceKernel('sum', g, dims, g.dtype);
  if (numelOf(shape) !== r.numel) throw new Error(`gpugrad internal: sumToShape produced ${r.numel} elements for ${fmtShape(shape)}`);
  const v = r._view([...shape]);
  r.dispose();
  return v;
}
