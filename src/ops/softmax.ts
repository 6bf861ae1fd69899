// softmax / logSoftmax along any dim. A row-statistics kernel computes the log-sum-exp of each row
// (max first, so exp never overflows), then one elementwise kernel gives the output.
//   softmax:    y = exp(x - lse)   dx = y * (g - sum(g*y))
//   logSoftmax: y = x - lse        dx = g - exp(y) * sum(g)
// Only -Infinity is masked (softmax gives it 0, logSoftmax -Infinity), as in PyTorch: a finite -2e30 is an
// ordinary value. The test is `x < lowest finite value of the dtype`, so no kernel ever does arithmetic on
// -Infinity (GL cannot be trusted with it); the attention op passes its own threshold for its internal
// -2e30 marker. A row masked everywhere gives softmax 0 (never NaN), as PyTorch's fused attention does
// (PyTorch's plain softmax gives NaN there). A NaN or +Infinity in a row makes the whole row NaN, as PyTorch.
// Rows longer than ROW_FUSED elements are reduced by the chunked reductions of reduce.ts instead of one
// loop per row (GL loop limits, float32 accuracy).

import { record } from '../autograd/engine.js';
import { launch } from '../autograd/launch.js';
import type { Tensor } from '../autograd/tensor.js';
import { isFloat, type DType } from '../helpers/dtype.js';
import { fmtShape, normDim, numelOf, stridesOf } from '../helpers/shape.js';
import { REDUCE_CHUNK } from '../kernels/reduce.js';
import { bcastIndex, blockedSum, floorDiv } from '../kernels/source.js';
import { declareKernel } from '../kernels/template.js';
import { amax, sum } from './reduce.js';

/** Rows up to this long are reduced by one fused kernel (two loops of at most this many iterations per thread). */
export const ROW_FUSED = 4 * REDUCE_CHUNK;

/** The kernel test for "masked" in user softmax: below the lowest finite value of the dtype, i.e. -Infinity. */
export function minusInfBelow(dtype: DType): string {
  return dtype === 'float64' ? '-1.7976931348623157e308' : '-3.4028234663852886e38';
}

/** exp(x − l) for live entries, 0 for entries below `maskBelow`, NaN everywhere when the row's l is NaN
 * (tested first: GL's exp of NaN is not NaN everywhere; SwiftShader gives Infinity). */
export function softmaxEntry(maskBelow: string): string {
  return `(l != l ? l : (x < ${maskBelow} ? 0 : Math.exp(x - l)))`;
}

/** The largest finite value of the dtype: `v > it` is the +Infinity test that every mode keeps. */
const maxFinite = (dtype: DType): string => (dtype === 'float64' ? '1.7976931348623157e308' : '3.4028234663852886e38');
/** A NaN made at run time from a value read from memory (finite or not): `0 / 0` and `Infinity - Infinity` are not NaN on every GL. */
const NAN_FROM = (v: string): string => `Math.sqrt(-1 - ${v} * 0)`;

// ---- row kernels: one thread per row of `n` elements `inner` apart (the output drops the row's dim) ----

type RowParams = {
  /** the row's length (the reduced dim's size) */
  n: number;
  /** the reduced dim's stride: a row's elements lie `inner` apart */
  inner: number;
};

/** Row kernels' statistics: `maskBelow` (a source expression) is the threshold below which entries are skipped. */
type RowStatsParams = RowParams & { kind: 'max' | 'logsum' | 'lse'; maskBelow: string; dtype: DType };

/** Statements that find the row's first element `base` from the output index. */
function rowHead(p: RowParams): string[] {
  return [`const o = ${floorDiv('i', p.inner)};`, `const e = i - o * ${p.inner};`, `const base = o * ${p.n * p.inner} + e;`];
}

/** The row's element `k` of array `arr`. */
function rowAt(p: RowParams, arr: string, k: string): string {
  return p.inner === 1 ? `${arr}[base + ${k}]` : `${arr}[base + (${k}) * ${p.inner}]`;
}

/**
 * Per-row statistics over entries not below `maskBelow`: `max` (the largest live entry, or `maskBelow`
 * when none is live), `logsum` (log Σ exp(x − max); 0 when none is live, NaN when the row holds NaN or
 * +Infinity) or `lse` (max + logsum in one kernel).
 */
const rowStatsKernel = declareKernel({
  name: 'softmax.rowStats',
  inputs: ['a'],
  body: (p: RowStatsParams) => {
    const at = (k: string): string => rowAt(p, 'a', k);
    const max = [
      '// m: the largest live entry; a NaN or +Infinity anywhere makes the row NaN, tested explicitly (no',
      "// Infinity arithmetic in kernels, and GL's exp(NaN) is not always NaN)",
      `let m = ${p.maskBelow}; let bad = 0;`,
      `for (let k = 0; k < ${p.n}; k++) {`,
      `const v = ${at('k')};`,
      'if (v > m) { m = v; }',
      `if (v != v || v > ${maxFinite(p.dtype)}) { bad = 1; }`,
      '}',
      `if (bad > 0) { return ${NAN_FROM(at('0'))}; }`,
    ];
    if (p.kind === 'max') return [rowHead(p), max, 'return m;'];
    return [
      rowHead(p),
      max,
      '// s: Σ exp(x − m) over the live entries',
      blockedSum('s', (k) => `(${at(k)} < ${p.maskBelow} ? 0 : Math.exp(${at(k)} - m))`, p.n),
      `return s > 0 ? ${p.kind === 'lse' ? 'm + Math.log(s)' : 'Math.log(s)'} : 0;`,
    ];
  },
});

/** Σ over the row of a·b (a and b of one shape). */
const rowDotKernel = declareKernel({
  name: 'softmax.rowDot',
  inputs: ['a', 'b'],
  body: (p: RowParams) => [rowHead(p), blockedSum('s', (k) => `${rowAt(p, 'a', k)} * ${rowAt(p, 'b', k)}`, p.n), 'return s;'],
});

/** x·y elementwise (x and y of one shape): the products a long row's dot sums. */
const rowDotMul = declareKernel({
  name: 'softmax.rowDot.mul',
  inputs: ['x', 'y'],
  body: () => ['const a = x[i];', 'const b = y[i];', 'return a * b;'],
});

// ---- long rows (past ROW_FUSED): the statistics from the chunked reductions, elementwise ----

/** m from the row maxima `mx`: NaN when the row holds NaN or +Infinity, `maskBelow` when nothing is live. */
const longRowMax = declareKernel({
  name: 'softmax.longRows.max',
  inputs: ['mx'],
  body: (p: { maskBelow: string; dtype: DType }) => [
    'const v = mx[i];',
    `return (v != v || v > ${maxFinite(p.dtype)} ? ${NAN_FROM('v')} : (v < ${p.maskBelow} ? ${p.maskBelow} : v));`,
  ],
});

/** Every row statistic's index in an x of `shape`: the coordinate along the row dim dropped. */
type StatParams = { shape: readonly number[]; dim: number };

/** Where x's element i reads its row statistics: x's index with the row dim dropped. */
function statIndex(p: StatParams): string {
  const statShape = p.shape.map((s, k) => (k === p.dim ? 1 : s));
  return numelOf(statShape) === 1 ? '0' : bcastIndex(p.shape, statShape);
}

/** Where x's element i is read (a one-element x at 0). */
const elemIndex = (p: StatParams): string => (numelOf(p.shape) === 1 ? '0' : 'i');

/** Statements that read x at i as `v` and each row statistic [name, array] as `name`. */
function statLoads(p: StatParams, x: string, stats: readonly [string, string][]): string[] {
  return [
    `const v = ${x}[${elemIndex(p)}];`,
    "// the row statistics' index: x's index with the row dim dropped",
    `const r = ${statIndex(p)};`,
    ...stats.map(([n, a]) => `const ${n} = ${a}[r];`),
  ];
}

/** exp(x − m) for live entries, 0 below the mask, NaN for a NaN row. */
const longRowExp = declareKernel({
  name: 'softmax.longRows.exp',
  inputs: ['x', 'rowMax'],
  body: (p: StatParams & { maskBelow: string }) => [
    statLoads(p, 'x', [['m', 'rowMax']]),
    `return (m != m ? m : (v < ${p.maskBelow} ? 0 : Math.exp(v - m)));`,
  ],
});

/** ls = log s (0 when nothing is live), NaN for a NaN row; s and m of one shape. */
const longRowLog = declareKernel({
  name: 'softmax.longRows.log',
  inputs: ['rowSum', 'rowMax'],
  body: () => ['const s = rowSum[i];', 'const m = rowMax[i];', 'return (m != m ? m : (s > 0 ? Math.log(s) : 0));'],
});

/** The log-sum-exp m + ls (0 when nothing is live), NaN for a NaN row. */
const longRowLse = declareKernel({
  name: 'softmax.longRows.lse',
  inputs: ['rowMax', 'rowLogSum'],
  body: (p: { maskBelow: string }) => [
    'const m = rowMax[i];',
    'const ls = rowLogSum[i];',
    `return (ls != ls ? ls : (m < ${p.maskBelow} ? 0 : m + ls));`,
  ],
});

// ---- softmax and logSoftmax ----

/** y = exp((x − m) − ls); 0 for masked entries, NaN for NaN rows. */
const softmaxForward = declareKernel({
  name: 'softmax.forward',
  inputs: ['x', 'rowMax', 'rowLogSum'],
  body: (p: StatParams & { maskBelow: string }) => [
    statLoads(p, 'x', [
      ['m', 'rowMax'],
      ['ls', 'rowLogSum'],
    ]),
    `return (ls != ls ? ls : (v < ${p.maskBelow} ? 0 : Math.exp((v - m) - ls)));`,
  ],
});

/** dx = y · (g − Σ g·y), the row sum `gy` broadcast over the row. */
const softmaxBackward = declareKernel({
  name: 'softmax.backward',
  inputs: ['g', 'y', 'gy'],
  body: (p: StatParams) => [
    `const gv = g[${elemIndex(p)}];`,
    `const yv = y[${elemIndex(p)}];`,
    `const s = gy[${statIndex(p)}];`,
    'return yv * (gv - s);',
  ],
});

/** y = (x − m) − ls; -Infinity entries stay -Infinity without arithmetic on them (NaN when the row is NaN). */
const logSoftmaxForward = declareKernel({
  name: 'logSoftmax.forward',
  inputs: ['x', 'rowMax', 'rowLogSum'],
  body: (p: StatParams & { maskBelow: string }) => [
    statLoads(p, 'x', [
      ['m', 'rowMax'],
      ['ls', 'rowLogSum'],
    ]),
    `return (ls != ls ? ls : (v < ${p.maskBelow} ? v : (v - m) - ls));`,
  ],
});

/** dx = g − exp(y) · Σ g, the row sum `gs` broadcast over the row. */
const logSoftmaxBackward = declareKernel({
  name: 'logSoftmax.backward',
  inputs: ['g', 'y', 'gs'],
  body: (p: StatParams) => [
    `const gv = g[${elemIndex(p)}];`,
    `const yv = y[${elemIndex(p)}];`,
    `const s = gs[${statIndex(p)}];`,
    'return gv - Math.exp(yv) * s;',
  ],
});

function rowParams(x: Tensor, d: number): RowParams {
  return { n: x.shape[d], inner: stridesOf(x.shape)[d] };
}

/** A row kernel's result (the row dim dropped) as a broadcastable tensor (the row dim kept as 1); `t` is disposed. */
function keptDim(t: Tensor, shape: readonly number[], d: number): Tensor {
  const k = t._view(shape.map((s, j) => (j === d ? 1 : s)));
  t.dispose();
  return k;
}

function rowStatKernel(kind: RowStatsParams['kind'], x: Tensor, d: number, maskBelow: string): Tensor {
  const outShape = x.shape.filter((_, k) => k !== d);
  return keptDim(launch(rowStatsKernel, { ...rowParams(x, d), kind, maskBelow, dtype: x.dtype }, [x], outShape, x.dtype), x.shape, d);
}

function check(op: string, x: Tensor, dim: number): number {
  if (!isFloat(x.dtype)) throw new Error(`${op}: expects a floating point tensor, got ${x.dtype} (shape ${fmtShape(x.shape)})`);
  if (x.ndim === 0) throw new Error(`${op}: expects at least 1 dimension, got a 0-d tensor`);
  return normDim(op, dim, x.ndim, x.shape);
}

/** Σ over `dim` of x·y, kept as a broadcastable tensor (softmax's backward and the attention op's). */
export function rowDot(x: Tensor, y: Tensor, d: number): Tensor {
  if (x.shape[d] > ROW_FUSED) {
    const xy = launch(rowDotMul, {}, [x, y], x.shape, x.dtype);
    const r = sum(xy, d, true);
    xy.dispose();
    return r;
  }
  const outShape = x.shape.filter((_, k) => k !== d);
  return keptDim(launch(rowDotKernel, rowParams(x, d), [x, y], outShape, x.dtype), x.shape, d);
}

/**
 * Row statistics kept as broadcastable tensors: m (the largest live entry) and ls = log Σ exp(x − m)
 * over live entries, where live means not below `maskBelow` (default: all but -Infinity). Outputs are
 * then formed from x − m first, as PyTorch does, so rows of huge magnitude (-2e30) keep their precision.
 */
export function rowStats(x: Tensor, d: number, maskBelow = minusInfBelow(x.dtype)): { m: Tensor; ls: Tensor } {
  if (x.shape[d] > ROW_FUSED) {
    // long rows by the chunked reductions: m = max, then Σ exp(x − m) over live entries
    const mx = amax(x, d, true);
    const m = launch(longRowMax, { maskBelow, dtype: x.dtype }, [mx], mx.shape, x.dtype);
    const e = launch(longRowExp, { shape: x.shape, dim: d, maskBelow }, [x, m], x.shape, x.dtype);
    const s = sum(e, d, true);
    const ls = launch(longRowLog, {}, [s, m], s.shape, x.dtype);
    for (const t of [mx, e, s]) t.dispose();
    return { m, ls };
  }
  return { m: rowStatKernel('max', x, d, maskBelow), ls: rowStatKernel('logsum', x, d, maskBelow) };
}

/**
 * The row log-sum-exp kept as a broadcastable tensor (the attention op's saved statistic); entries below
 * `maskBelow` are skipped, a row with none left gives 0.
 */
export function rowLogSumExp(x: Tensor, d: number, maskBelow: string): Tensor {
  if (x.shape[d] > ROW_FUSED) {
    const { m, ls } = rowStats(x, d, maskBelow);
    const l = launch(longRowLse, { maskBelow }, [m, ls], m.shape, x.dtype);
    m.dispose();
    ls.dispose();
    return l;
  }
  return rowStatKernel('lse', x, d, maskBelow);
}

export function softmax(x: Tensor, dim: number): Tensor {
  const d = check('softmax', x, dim);
  const maskBelow = minusInfBelow(x.dtype);
  const { m, ls } = rowStats(x, d, maskBelow);
  const y = launch(softmaxForward, { shape: x.shape, dim: d, maskBelow }, [x, m, ls], x.shape, x.dtype);
  m.dispose();
  ls.dispose();
  return record(y, {
    name: 'Softmax',
    inputs: [x],
    backward: (g) => {
      const gy = rowDot(g, y, d);
      const dx = launch(softmaxBackward, { shape: x.shape, dim: d }, [g, y, gy], x.shape, x.dtype);
      gy.dispose();
      return [dx];
    },
    saved: [y],
  });
}

export function logSoftmax(x: Tensor, dim: number): Tensor {
  const d = check('logSoftmax', x, dim);
  const maskBelow = minusInfBelow(x.dtype);
  const { m, ls } = rowStats(x, d, maskBelow);
  const y = launch(logSoftmaxForward, { shape: x.shape, dim: d, maskBelow }, [x, m, ls], x.shape, x.dtype);
  m.dispose();
  ls.dispose();
  return record(y, {
    name: 'LogSoftmax',
    inputs: [x],
    backward: (g) => {
      const gs = sum(g, d, true);
      const dx = launch(logSoftmaxBackward, { shape: x.shape, dim: d }, [g, y, gs], x.shape, x.dtype);
      gs.dispose();
      return [dx];
    },
    saved: [y],
  });
}
