// Sorting and sampling: sort, argsort, topk (GPU.js kernels) and multinomial (on the host).
//   sort:   values, indices along dim (ascending, or descending); dvalues → dx = g scattered back through indices
//   topk:   the k largest (or smallest) along dim, in order;      dvalues → dx = g scattered back through indices
//   argsort, multinomial: int32 results, no derivative
//
// Order. Our sort is always stable: equal values keep their index order (PyTorch's `stable=True`; its default
// sort makes no promise for ties). NaN sorts as the largest value, as in PyTorch: last ascending, first
// descending, NaNs among themselves in index order. topk is the head of that stable order, so ties come
// lowest index first; PyTorch leaves topk's tie order unspecified (its CPU kernel returned [2, 4, 1] for the
// three tied 3s of [1, 3, 3, 2, 3, 1], top 3), so tied indices (and where a gradient goes among ties) may
// differ from PyTorch's; the values never do.
//
// How. A rank-by-counting kernel gives each element its place in the row (the number of elements that sort
// before it: smaller, or equal and at a lower index); a second kernel finds, for each output place, the
// element of that rank. Both are O(n^2) per row of n along dim, with n baked into the loops: fine for the rows
// a transformer sorts (vocab-size rows of up to a few thousand; a 50k-entry row costs ~2.5e9 comparisons on the
// GPU.js CPU modes, so it takes seconds there). On the simd backend both run natively on the host in
// O(n log n). Only comparisons touch the values (no Infinity arithmetic: ±Infinity sort correctly on GL too);
// NaN is found by `v != v`. Row lengths are exact below 2^24.

import { fromValues } from '../autograd/creation.js';
import { record, recordLinear } from '../autograd/engine.js';
import { launch } from '../autograd/launch.js';
import { uniform } from '../autograd/random.js';
import type { Tensor } from '../autograd/tensor.js';
import type { Precision } from '../backend/index.js';
import { allocFloat32, type HostArray } from '../backend/storage.js';
import { isFloat, type DType } from '../helpers/dtype.js';
import { fmtShape, numelOf, stridesOf } from '../helpers/shape.js';
import { checkBoolean, describeValue } from '../helpers/validate.js';
import { unravel } from '../kernels/source.js';
import { declareKernel } from '../kernels/template.js';
import { checkDim, checkInt, checkTensor, gather, gatherKernel, scatterAddZeros } from './indexing.js';
import { MaxResult } from './reduce.js';

/** x viewed as [O, n, I] around the sorted dim. */
type RankParams = { O: number; n: number; I: number; descending: boolean };

/** Where element (o, j, e) lands in the stable order of its row (NaN largest). */
const sortRank = declareKernel({
  name: 'sort.rank',
  inputs: ['a'],
  body: ({ O, n, I, descending }: RankParams) => [
    unravel('i', [O, n, I], ['o', 'j', 'e']),
    `const base = o * ${n * I} + e;`,
    `const v = a[base + j * ${I}];`,
    'const vn = v != v ? 1 : 0;',
    `// count the elements that come before v: ${descending ? 'larger' : 'smaller'} (NaN is the largest), or equal at a lower index`,
    'let r = 0;',
    `for (let k = 0; k < ${n}; k++) {`,
    `const b = a[base + k * ${I}];`,
    'const bn = b != b ? 1 : 0;',
    descending ? 'if ((bn == 1 && vn == 0) || b > v) { r += 1; }' : 'if ((vn == 1 && bn == 0) || b < v) { r += 1; }',
    'else if (k < j && (b == v || (bn == 1 && vn == 1))) { r += 1; }',
    '}',
    'return r;',
  ],
  native: ({ O, n, I, descending }, [a], size) => {
    if (O * n * I !== size || a.length < size) return null;
    const out = allocFloat32(size);
    const order = new Array<number>(n);
    const row = new Float64Array(n);
    for (let o = 0; o < O; o++) {
      for (let e = 0; e < I; e++) {
        const base = o * n * I + e;
        for (let k = 0; k < n; k++) {
          row[k] = a[base + k * I];
          order[k] = k;
        }
        order.sort((p, q) => compare(row[p], row[q], descending) || p - q);
        for (let r = 0; r < n; r++) out[base + order[r] * I] = r;
      }
    }
    return out;
  },
});

/** The sort order on the host: NaN largest; 0 for equal values (the caller breaks ties by index). */
function compare(x: number, y: number, descending: boolean): number {
  const xn = Number.isNaN(x);
  const yn = Number.isNaN(y);
  let c: number;
  if (xn || yn) c = xn === yn ? 0 : xn ? 1 : -1;
  else c = x < y ? -1 : x > y ? 1 : 0;
  return descending ? -c : c;
}

/** ranks viewed as [O, n, I]; output [O, K, I]: the index j whose rank is the output place. */
type PositionParams = { O: number; n: number; I: number; K: number };

const sortPositions = declareKernel({
  name: 'sort.positions',
  inputs: ['rank'],
  body: ({ O, n, I, K }: PositionParams) => [
    unravel('i', [O, K, I], ['o', 'r', 'e']),
    `const base = o * ${n * I} + e;`,
    '// the element whose rank is r (ranks are a permutation of 0 .. n-1)',
    'let found = 0;',
    `for (let k = 0; k < ${n}; k++) { if (rank[base + k * ${I}] == r) { found = k; break; } }`,
    'return found;',
  ],
  native: ({ O, n, I, K }, [rank], size) => {
    if (O * K * I !== size || rank.length < O * n * I) return null;
    const out = allocFloat32(size);
    for (let o = 0; o < O; o++)
      for (let e = 0; e < I; e++)
        for (let k = 0; k < n; k++) {
          const r = rank[o * n * I + k * I + e];
          if (!(Number.isInteger(r) && r >= 0 && r < n)) return null;
          if (r < K) out[o * K * I + r * I + e] = k;
        }
    return out;
  },
});

const precisionFor = (t: Tensor): Precision => (t.dtype === 'float32' ? 'float32' : 'float64');

/** The first K places of the stable order of x along d: [values?, indices], no graph. */
function orderAlong(x: Tensor, d: number, K: number, descending: boolean, withValues: boolean): { values: Tensor | null; indices: Tensor } {
  const shape = x.ndim ? x.shape : [1];
  const O = numelOf(shape.slice(0, d));
  const n = shape[d];
  const I = stridesOf(shape)[d];
  const outShape = [...x.shape];
  if (x.ndim) outShape[d] = K;
  if (O * K * I === 0) {
    return { values: withValues ? fromValues([], outShape, x.dtype) : null, indices: fromValues([], outShape, 'int32') };
  }
  const precision = precisionFor(x);
  const rankDType: DType = precision === 'float32' ? 'float32' : 'float64';
  const rank = launch(sortRank, { O, n, I, descending }, [x], shape, rankDType, precision);
  const indices = launch(sortPositions, { O, n, I, K }, [rank], outShape, 'int32', precision);
  rank.dispose();
  const values = withValues ? gatherKernel(x, [O, n, I], 1, indices, [O, K, I], [O, K, I], outShape) : null;
  return { values, indices };
}

function checkSortable(fn: string, input: unknown): Tensor {
  const x = checkTensor(fn, 'input', input);
  if (!(isFloat(x.dtype) || x.dtype === 'int32' || x.dtype === 'bool'))
    throw new Error(`${fn}: input must be float32, float64, int32 or bool, got ${x.dtype} (shape ${fmtShape(x.shape)})`);
  return x;
}

/** Records values = x at indices along d; the backward scatters g back through the indices. */
function recordValues(name: string, x: Tensor, d: number, values: Tensor, indices: Tensor): Tensor {
  const xShape = x.ndim ? x.shape : [1];
  // the scatter-add, recorded under createGraph with gather as its adjoint
  const back = (g: Tensor): Tensor[] => [
    recordLinear(`${name}Backward`, scatterAddZeros(g, d, indices, xShape, x.shape), g, (h) => gather(h, d, indices)),
  ];
  return record(values, { name, inputs: [x], saved: [indices], backward: back, backwardGraph: back });
}

/**
 * The values of input along dim in ascending (or descending) order, and their indices (int32), as
 * `{ values, indices }` (also iterable: `const [v, i] = sort(x)`). Stable; NaN sorts as the largest value.
 */
export function sort(input: Tensor, dim = -1, descending = false): MaxResult {
  const x = checkSortable('sort', input);
  const d = checkDim('sort', 'dim', dim, x.shape);
  const desc = checkBoolean('sort', 'descending', descending, false);
  const n = x.ndim ? x.shape[d] : 1;
  const { values, indices } = orderAlong(x, d, n, desc, true);
  return new MaxResult(recordValues('Sort', x, d, values!, indices), indices);
}

/** The indices (int32) that sort input along dim (stable; NaN largest). */
export function argsort(input: Tensor, dim = -1, descending = false): Tensor {
  const x = checkSortable('argsort', input);
  const d = checkDim('argsort', 'dim', dim, x.shape);
  const desc = checkBoolean('argsort', 'descending', descending, false);
  return orderAlong(x, d, x.ndim ? x.shape[d] : 1, desc, false).indices;
}

/**
 * The k largest (largest = false: smallest) values along dim and their indices, in sorted order (a `sorted`
 * false gives the same order: PyTorch then promises none). Ties: lowest index first.
 */
export function topk(input: Tensor, k: number, dim = -1, largest = true, sorted = true): MaxResult {
  const x = checkSortable('topk', input);
  const d = checkDim('topk', 'dim', dim, x.shape);
  const n = x.ndim ? x.shape[d] : 1;
  checkInt('topk', 'k', k);
  if (k < 0 || k > n)
    throw new Error(`topk: k ${k} is out of range [0, ${n}] for dim ${dim} (size ${n}) of a tensor of shape ${fmtShape(x.shape)}`);
  const big = checkBoolean('topk', 'largest', largest, true);
  checkBoolean('topk', 'sorted', sorted, true);
  const { values, indices } = orderAlong(x, d, k, big, true);
  return new MaxResult(recordValues('Topk', x, d, values!, indices), indices);
}

// ---- multinomial -------------------------------------------------------------------------------------

/**
 * numSamples category indices (int32) per row of non-negative weights (1-D: one row; 2-D: one per row),
 * drawn with probability proportional to the weights from the seeded generator (manualSeed), on the host.
 * Without replacement a drawn category is removed from its row; numSamples may not exceed the row's
 * non-zero categories.
 */
export function multinomial(input: Tensor, numSamples: number, replacement = false): Tensor {
  const x = checkTensor('multinomial', 'input', input);
  if (x.ndim !== 1 && x.ndim !== 2) throw new Error(`multinomial: input must be 1-D or 2-D, got shape ${fmtShape(x.shape)}`);
  if (!isFloat(x.dtype))
    throw new Error(`multinomial: input must be floating point (weights), got ${x.dtype} (shape ${fmtShape(x.shape)})`);
  if (typeof numSamples !== 'number' || !Number.isInteger(numSamples))
    throw new Error(`multinomial: numSamples must be an integer, got ${describeValue(numSamples)}`);
  if (numSamples <= 0) throw new Error(`multinomial: cannot sample numSamples <= 0 samples (got ${numSamples})`);
  const repl = checkBoolean('multinomial', 'replacement', replacement, false);
  const C = x.shape[x.ndim - 1];
  const rows = x.ndim === 2 ? x.shape[0] : 1;
  if (!repl && numSamples > C)
    throw new Error(
      `multinomial: cannot sample numSamples ${numSamples} > ${C} categories (input shape ${fmtShape(x.shape)}) without replacement`,
    );
  const w: HostArray = x.toArray();
  for (let q = 0; q < w.length; q++) {
    const v = w[q];
    if (!Number.isFinite(v) || v < 0) {
      const at = x.ndim === 2 ? `[${Math.floor(q / C)}, ${q % C}]` : `[${q}]`;
      throw new Error(
        `multinomial: probability tensor contains either inf, nan or element < 0: input${at} is ${v} (shape ${fmtShape(x.shape)})`,
      );
    }
  }
  const out = new Int32Array(rows * numSamples);
  const row = new Float64Array(C);
  for (let r = 0; r < rows; r++) {
    let total = 0;
    let nonzero = 0;
    for (let c = 0; c < C; c++) {
      row[c] = w[r * C + c];
      total += row[c];
      if (row[c] > 0) nonzero++;
    }
    const which = x.ndim === 2 ? `row ${r} of input` : 'input';
    if (!(total > 0))
      throw new Error(`multinomial: invalid distribution: the weights of ${which} sum to ${total} (shape ${fmtShape(x.shape)})`);
    if (!repl && numSamples > nonzero)
      throw new Error(
        `multinomial: cannot sample numSamples ${numSamples} without replacement from ${which}, which has ${nonzero} non-zero ` +
          `categories (shape ${fmtShape(x.shape)})`,
      );
    for (let s = 0; s < numSamples; s++) {
      const c = drawOne(row, total);
      out[r * numSamples + s] = c;
      if (!repl) {
        total -= row[c];
        row[c] = 0;
        // recompute the sum now and then: the running subtraction drifts
        if (s % 64 === 63) total = row.reduce((a, b) => a + b, 0);
      }
    }
  }
  return fromValues(out, x.ndim === 2 ? [rows, numSamples] : [numSamples], 'int32');
}

/** One category of `row` (sum `total` > 0) by inverting the cumulative weights at a uniform draw. */
function drawOne(row: Float64Array, total: number): number {
  const u = uniform() * total;
  let acc = 0;
  let last = -1;
  for (let c = 0; c < row.length; c++) {
    if (row[c] <= 0) continue;
    acc += row[c];
    last = c;
    if (u < acc) return c;
  }
  // u fell on the rounding error beyond the last sum: the last category with weight
  return last;
}
