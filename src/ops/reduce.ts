// Reductions over any set of dims, with keepdim. A reduction runs as the kernel layer's chunked passes
// (src/kernels/reduce.ts: each thread reduces at most REDUCE_CHUNK elements, partials are reduced again
// until one is left) over `x` viewed as [O, n, I] with the reduced dims in the middle.
//   sum:  dx = expand(g)            mean: dx = expand(g)/n
//   amax/amin: dx = g/count on every tied extreme, 0 elsewhere (PyTorch's even split)
//   max(dim)/min(dim): dx = g at the returned index, 0 elsewhere
//   var:  dx = g*2*(x - mean)/(n - correction)

import { checkTensor } from '../autograd/check.js';
import { fromValues, onesLike } from '../autograd/creation.js';
import { record, recordLinear } from '../autograd/engine.js';
import { launch } from '../autograd/launch.js';
import type { Tensor } from '../autograd/tensor.js';
import { isFloat, type DType } from '../helpers/dtype.js';
import { fmtShape, normDim, numelOf, stridesOf } from '../helpers/shape.js';
import { gatherStrided } from '../kernels/copy.js';
import { REDUCE_CHUNK, reducePass, type PassKind } from '../kernels/reduce.js';
import { mapKernel } from './map.js';
import { div, mul, sub } from './binary.js';
import { checkBoolean, checkOptions } from '../helpers/validate.js';

// the ops that write their own blocked sums import these from here

type Kind = 'sum' | 'mean' | 'amax' | 'amin' | 'argmax' | 'argmin' | 'var';

export function reduceDims(op: string, x: Tensor, dim: number | number[] | undefined, keepdim?: unknown): number[] {
  checkTensor(op, 'input', x);
  if (keepdim !== undefined) checkBoolean(op, 'keepdim', keepdim, false);
  if (dim === undefined || (Array.isArray(dim) && dim.length === 0)) return x.shape.map((_, i) => i);
  const list = (Array.isArray(dim) ? dim : [dim]).map((d) => normDim(op, d, x.ndim, x.shape));
  if (new Set(list).size !== list.length)
    throw new Error(`${op}: dim ${JSON.stringify(dim)} names a dimension twice (shape ${fmtShape(x.shape)})`);
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

/** `x` viewed as [O, n, I] with the reduced dims as the middle block (permuted there by a copy when they are not adjacent). */
function asBlock(x: Tensor, dims: number[]): { t: Tensor; O: number; n: number; I: number; temp: boolean } {
  const adjacent = dims.every((d, k) => k === 0 || d === dims[k - 1] + 1);
  const n = dims.reduce((a, d) => a * x.shape[d], 1);
  if (adjacent && dims.length > 0) {
    const O = x.shape.slice(0, dims[0]).reduce((a, b) => a * b, 1);
    return { t: x, O, n, I: x.numel() / (O * n), temp: false };
  }
  // the kept dims first, then the reduced ones: a permuted copy
  const kept = x.shape.map((_, d) => d).filter((d) => !dims.includes(d));
  const perm = [...kept, ...dims];
  const st = stridesOf(x.shape);
  const shape = perm.map((d) => x.shape[d]);
  const t = launch(gatherStrided, { shape, strides: perm.map((d) => st[d]), offset: 0 }, [x], shape, x.dtype);
  return { t, O: n === 0 ? 0 : x.numel() / n, n, I: 1, temp: true };
}

/**
 * One pass of the kernel layer's `reducePass` over the [O, n, I] block `a`: output [O, ceil(n / REDUCE_CHUNK), I].
 * argmax/argmin passes after the first read the previous pass's indices `idx`.
 */
function pass(kind: PassKind, a: Tensor, O: number, n: number, I: number, dtype: DType, idx: Tensor | null, divideBy = 1): Tensor {
  const params = { kind, O, n, I, chunk: REDUCE_CHUNK, withIndex: idx !== null, divideBy };
  return launch(reducePass, params, idx ? [a, idx] : [a], [O, Math.ceil(n / REDUCE_CHUNK), I], dtype);
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
    const sq = mapKernel(
      'var.sq',
      '(x - m) * (x - m)',
      [
        ['x', x],
        ['m', mk],
      ],
      x.shape,
      x.dtype,
    );
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
  const passKind: PassKind = kind === 'mean' ? 'sum' : kind;
  const arg = kind === 'argmax' || kind === 'argmin';
  // argmax/argmin carry (values, indices) through the passes: values by amax/amin, indices by argmax/argmin
  const valKind: PassKind = kind === 'argmax' ? 'amax' : kind === 'argmin' ? 'amin' : passKind;
  const accDType: DType = arg ? (x.dtype === 'float64' ? 'float64' : isFloat(x.dtype) ? x.dtype : 'float64') : dtype;
  let vals: Tensor = blk.t;
  let idxs: Tensor | null = null;
  let len = blk.n;
  let owned = blk.temp;
  do {
    const nextIdx: Tensor | null = arg ? pass(passKind, vals, O, len, I, 'int32', idxs) : null;
    // the last pass of a mean divides by the element count
    const divideBy = kind === 'mean' && len <= REDUCE_CHUNK ? n : 1;
    const last = Math.ceil(len / REDUCE_CHUNK) === 1;
    const nextVals = arg && last ? null : pass(valKind, vals, O, len, I, arg ? accDType : dtype, null, divideBy);
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
      throw new Error(
        `${op}: the int32 result ${h[k]} does not fit in int32 (input shape ${fmtShape(x.shape)}); ` +
          'gpugrad has no int64: convert the input with .double() first',
      );
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

/**
 * g (of the reduction's shape) broadcast back over `dims` of x, recorded (createGraph): the broadcast is linear
 * in g, and its own backward is the sum over those dims again.
 */
function expandRecorded(g: Tensor, x: Tensor, dims: number[]): Tensor {
  if (!dims.length) return g;
  const keep = g.ndim === x.ndim;
  return recordLinear('SumBackward', expandGrad('sum.backward', g, x, dims), g, (h) => sum(h, dims, keep));
}

/**
 * The double backward of a selection (amax/amin, max/min over a dim): its backward is expand(g) times
 * constant weights, which are the backward at g = 1; dx = expand(g) · weights with ops.
 */
function selectionGraph(x: Tensor, dims: number[], backward: (g: Tensor) => Tensor[]): (g: Tensor) => Tensor[] {
  return (g) => {
    const ones = onesLike(g);
    const [w] = backward(ones);
    ones.dispose();
    return [mul(expandRecorded(g, x, dims), w)];
  };
}

function finish(y: Tensor, x: Tensor, dims: number[], keepdim: boolean): Tensor {
  if (!keepdim) return y;
  const v = y._view(keptShape(x.shape, dims, true));
  y.dispose();
  return v;
}

export function sum(x: Tensor, dim?: number | number[], keepdim = false): Tensor {
  const dims = reduceDims('sum', x, dim, keepdim);
  const dtype: DType = isFloat(x.dtype) ? x.dtype : 'int32';
  const y = finish(reduceKernel('sum', x, dims, dtype), x, dims, keepdim);
  // the broadcast of g, recorded under createGraph (record() does nothing in a plain backward)
  const back = (g: Tensor): Tensor[] => [expandRecorded(g, x, dims)];
  return record(y, { name: 'Sum', inputs: [x], backward: back, backwardGraph: back });
}

export function mean(x: Tensor, dim?: number | number[], keepdim = false): Tensor {
  checkTensor('mean', 'input', x);
  if (!isFloat(x.dtype))
    throw new Error(`mean: expects a floating point tensor, got ${x.dtype} (shape ${fmtShape(x.shape)}); convert it with .float()`);
  const dims = reduceDims('mean', x, dim, keepdim);
  const n = dims.reduce((a, d) => a * x.shape[d], 1);
  const y = finish(reduceKernel('mean', x, dims, x.dtype), x, dims, keepdim);
  return record(y, {
    name: 'Mean',
    inputs: [x],
    backward: (g) => [expandGrad('mean.backward', g, x, dims, 1 / n)],
    backwardGraph: (g) => [mul(expandRecorded(g, x, dims), 1 / n)],
  });
}

function extreme(kind: 'amax' | 'amin', x: Tensor, dim?: number | number[], keepdim = false): Tensor {
  const dims = reduceDims(kind, x, dim, keepdim);
  if (dims.some((d) => x.shape[d] === 0) || x.numel() === 0)
    throw new Error(`${kind}: cannot reduce over an empty dimension (shape ${fmtShape(x.shape)})`);
  const y = finish(reduceKernel(kind, x, dims, x.dtype), x, dims, keepdim);
  const backward = (g: Tensor): Tensor[] => {
    const yk = y._view(keptShape(x.shape, dims, true));
    const gk = g._view(yk.shape);
    // 1 on every element equal to its extreme; the gradient is split evenly over the ties
    const ties = mapKernel(
      `${kind}.backward.ties`,
      '(x == y ? 1 : 0)',
      [
        ['x', x],
        ['y', yk],
      ],
      x.shape,
      x.dtype,
    );
    const count = reduceKernel('sum', ties, dims, x.dtype);
    const ck = count._view(yk.shape);
    const dx = mapKernel(
      `${kind}.backward`,
      '(t != 0 ? g / c : 0)',
      [
        ['g', gk],
        ['t', ties],
        ['c', ck],
      ],
      x.shape,
      x.dtype,
    );
    for (const t of [yk, gk, ties, count, ck]) t.dispose();
    return [dx];
  };
  return record(y, {
    name: kind === 'amax' ? 'Amax' : 'Amin',
    inputs: [x],
    backward,
    // the tie weights (1 / count on each extreme, 0 elsewhere) are constants
    backwardGraph: selectionGraph(x, dims, backward),
    saved: [x, y],
  });
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
  checkTensor(kind, 'input', x);
  checkBoolean(kind, 'keepdim', keepdim, false);
  if (x.numel() === 0) throw new Error(`${kind}: the input is empty (shape ${fmtShape(x.shape)})`);
  if (dim === undefined) {
    const flat = x._view([x.numel()]);
    const r = reduceKernel(kind, flat, [0], 'int32');
    flat.dispose();
    return r;
  }
  const d = normDim(kind, dim, x.ndim, x.shape);
  return finish(reduceKernel(kind, x, x.ndim ? [d] : [], 'int32'), x, [d], keepdim);
}

export function maxDim(x: Tensor, dim: number, keepdim: boolean, which: 'max' | 'min'): MaxResult {
  checkTensor(which, 'input', x);
  const d = normDim(which, dim, x.ndim, x.shape);
  const dims = x.ndim ? [d] : [];
  if (x.ndim && x.shape[d] === 0) throw new Error(`${which}: cannot reduce over an empty dimension ${dim} (shape ${fmtShape(x.shape)})`);
  const indices = argmax(x, dim, keepdim, which === 'max' ? 'argmax' : 'argmin');
  const values = finish(reduceKernel(which === 'max' ? 'amax' : 'amin', x, dims, x.dtype), x, dims, keepdim);
  const backward = (g: Tensor): Tensor[] => {
    const kshape = keptShape(x.shape, dims, true);
    const gk = g._view(kshape);
    const ik = indices._view(kshape);
    // each element's position along dim d, compared with the returned index
    const posShape = x.shape.map((s, k) => (k === d ? s : 1));
    const pos = fromValues(
      Array.from({ length: x.shape[d] ?? 1 }, (_, k) => k),
      posShape,
      'int32',
    );
    const precision = g.dtype === 'float64' ? 'float64' : 'float32';
    const dx = mapKernel(
      `${which}.backward`,
      '(p == j ? g : 0)',
      [
        ['g', gk],
        ['p', pos],
        ['j', ik],
      ],
      x.shape,
      g.dtype,
      { precision },
    );
    for (const t of [gk, ik, pos]) t.dispose();
    return [dx];
  };
  record(values, {
    name: which === 'max' ? 'Max' : 'Min',
    inputs: [x],
    backward,
    // the one-hot of the returned index along d is a constant
    backwardGraph: selectionGraph(x, dims, backward),
  });
  return new MaxResult(values, indices);
}

export function variance(x: Tensor, dim?: number | number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
  checkOptions('var', opts, ['correction', 'keepdim']);
  checkBoolean('var', 'keepdim', opts.keepdim, false);
  checkTensor('var', 'input', x);
  if (!isFloat(x.dtype)) throw new Error(`var: expects a floating point tensor, got ${x.dtype} (shape ${fmtShape(x.shape)})`);
  const correction = opts.correction ?? 1;
  const dims = reduceDims('var', x, dim);
  const n = dims.reduce((a, d) => a * x.shape[d], 1);
  const denom = Math.max(n - correction, 0);
  // No degrees of freedom left: PyTorch divides by 0 (inf, or nan for 0/0). A kernel's x / 0 is not
  // reliable on GL (var of one element gave 0 there, not NaN), so that division happens on the host.
  const v = denom === 0 ? divideByZero(reduceKernel('var', x, dims, x.dtype, 0)) : reduceKernel('var', x, dims, x.dtype, correction);
  const y = finish(v, x, dims, opts.keepdim ?? false);
  return record(y, {
    name: 'Var',
    inputs: [x],
    backward: (g) => {
      const m = reduceKernel('mean', x, dims, x.dtype);
      const mk = m._view(keptShape(x.shape, dims, true));
      const gk = g._view(mk.shape);
      const expr = `g * 2 * (x - m) / ${denom === 0 ? 1 : denom}`;
      const num = mapKernel(
        'var.backward',
        expr,
        [
          ['g', gk],
          ['x', x],
          ['m', mk],
        ],
        x.shape,
        x.dtype,
      );
      for (const t of [m, mk, gk]) t.dispose();
      return [denom === 0 ? divideByZero(num) : num];
    },
    // dx = expand(g) * 2 (x - mean) / denom, with ops
    backwardGraph: (g) => [div(mul(expandRecorded(g, x, dims), mul(sub(x, mean(x, dims, true)), 2)), denom)],
  });
}

/** v / 0 for every element, on the host (Infinity with v's sign, NaN for 0); disposes `t`. */
function divideByZero(t: Tensor): Tensor {
  const out = fromValues(
    Array.from(t.toArray() as ArrayLike<number>, (v) => v / 0),
    [...t.shape],
    t.dtype,
  );
  t.dispose();
  return out;
}
