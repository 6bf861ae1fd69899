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

import { checkTensor } from '../autograd/check.js';
import { record } from '../autograd/engine.js';
import { launch } from '../autograd/launch.js';
import type { Tensor } from '../autograd/tensor.js';
import { allocFloat32, type HostArray } from '../backend/storage.js';
import type { SimdProvider } from '../backend/index.js';
import { isFloat, type DType } from '../helpers/dtype.js';
import { fmtShape, normDim, numelOf, stridesOf } from '../helpers/shape.js';
import { REDUCE_CHUNK } from '../kernels/reduce.js';
import { bcastIndex, blockedSum, floorDiv } from '../kernels/source.js';
import { declareKernel } from '../kernels/template.js';
import { amax, sum } from './reduce.js';
import { mul, sub } from './binary.js';
import { exp } from './unary.js';

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

// ---- the natives ----
// The 'simd' backend's float32 runs: plain loops over the host arrays, the sources' formulas and tests
// (mask, NaN row, +Infinity) in the same order, sums in JS numbers (float64), one float32 rounding on the
// store. Rows are walked as [outer, n, inner] blocks: with inner > 1 the `inner` rows of a block side by
// side (contiguous reads), with inner = 1 one row at a time. Each declines (null) for arguments that do not
// have the layout the parameters promise, or for a mask threshold that is not a plain number literal.

/** Whether `a` is a float32 host array of at least `n` elements. */
const f32 = (a: HostArray | undefined, n: number): a is Float32Array => a instanceof Float32Array && a.length >= n;

// exp for the natives' loops: Math.exp is a library call (about 10 ns here); this one is inlined, a third of
// that, and agrees with it to a few units in the last place of a float64 (about 3e-15 relative: the
// float32 results match Math.exp's rounded to float32). x = (32k + j)·ln2/32 + r, |r| <= ln2/64, e^r by
// its degree-5 Taylor polynomial (error below 3e-15), 2^(j/32) and 2^k from tables. x is clamped first, so
// NaN stays NaN, +Infinity (and anything past 709.8) gives Infinity, -Infinity (and below -745.5) gives 0.
const EXP_FRAC = new Float64Array(32).map((_, j) => Math.pow(2, j / 32));
const EXP_POW2 = new Float64Array(2101).map((_, j) => Math.pow(2, j - 1076)); // 2^n at n + 1076, n in [-1076, 1024]
const EXP_INV = 32 / Math.LN2;
const EXP_HI = 6.9314718036912382e-1 / 32; // ln2/32 in two parts (Cody and Waite): k·EXP_HI is exact
const EXP_LO = 1.9082149292705877e-10 / 32;
const EXP_ROUND = 6755399441055744; // 1.5·2^52: adding it rounds to an integer

/** e^x for the natives (see above). */
export function hostExp(x0: number): number {
  const x = Math.max(-745.5, Math.min(710, x0));
  const kd = x * EXP_INV + EXP_ROUND - EXP_ROUND;
  const r = x - kd * EXP_HI - kd * EXP_LO;
  const k = kd | 0;
  const r2 = r * r;
  const p = 1 + r + r2 * (0.5 + r * (1 / 6)) + r2 * r2 * (1 / 24 + r * (1 / 120));
  return EXP_FRAC[k & 31] * p * EXP_POW2[(k >> 5) + 1076];
}

/** The value of a mask threshold (a source expression): a plain number literal, else null (the native declines). */
function maskValue(src: string): number | null {
  return /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(src.trim()) ? Number(src) : null;
}

/** The largest finite value of the dtype as a number (maxFinite's value). */
const maxFiniteValue = (dtype: DType): number => (dtype === 'float64' ? Number.MAX_VALUE : 3.4028234663852886e38);

/** The [outer, n, inner] blocks of an x of `shape` around its row dim `dim`, or null when `size` is not x's size. */
function blocks(p: { shape: readonly number[]; dim: number }, size: number): { outer: number; n: number; inner: number } | null {
  const n = p.shape[p.dim];
  const inner = numelOf(p.shape.slice(p.dim + 1));
  const outer = numelOf(p.shape.slice(0, p.dim));
  return outer * n * inner === size && size > 0 ? { outer, n, inner } : null;
}

/** A row kernel's outer blocks (its output holds outer·inner row results), or null when `a` is too short. */
function rowBlocks(p: RowParams, a: HostArray | undefined, size: number): number | null {
  const outer = size / p.inner;
  return Number.isInteger(outer) && p.inner >= 1 && f32(a, outer * p.n * p.inner) ? outer : null;
}

/** rowStatsKernel on the host (see there): per row the max and the bad flag, then Σ exp(x − m) over live entries. */
function rowStatsHost(p: RowStatsParams, a: Float32Array, outer: number, size: number, simd: SimdProvider | null): Float32Array | null {
  const mask = maskValue(p.maskBelow);
  const maxF = maxFiniteValue(p.dtype);
  // (a threshold past the largest finite value would defeat the +Infinity test below)
  if (mask === null || !(mask <= maxF)) return null;
  const { n, inner, kind } = p;
  if (inner === 1 && simd) return rowStatsSimd(kind, mask, a, outer, n, simd);
  const out = allocFloat32(size);
  // The source's bad flag (a NaN or +Infinity in the row) without a test per element: the row's plain sum
  // `t` turns NaN for a NaN (a sum of float32 values cannot overflow a float64), and m > maxF for +Infinity;
  // -Infinity alone leaves t -Infinity.
  if (inner === 1) {
    for (let o = 0, b = 0; o < outer; o++, b += n) {
      let m = mask;
      let t = 0;
      for (let k = b; k < b + n; k++) {
        const v = a[k];
        m = v > m ? v : m;
        t += v;
      }
      if (t !== t || m > maxF) out[o] = NaN;
      else if (kind === 'max') out[o] = m;
      else {
        let s = 0;
        for (let k = b; k < b + n; k++) {
          const v = a[k];
          if (!(v < mask)) s += hostExp(v - m);
        }
        out[o] = s > 0 ? (kind === 'lse' ? m + Math.log(s) : Math.log(s)) : 0;
      }
    }
    return out;
  }
  // inner rows side by side: a block's k-th elements are contiguous
  const m = new Float64Array(inner);
  const t = new Float64Array(inner);
  const s = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const b = o * n * inner;
    m.fill(mask);
    t.fill(0);
    for (let k = 0, r = b; k < n; k++, r += inner) {
      for (let e = 0; e < inner; e++) {
        const v = a[r + e];
        if (v > m[e]) m[e] = v;
        t[e] += v;
      }
    }
    const w = o * inner;
    if (kind === 'max') {
      for (let e = 0; e < inner; e++) out[w + e] = t[e] !== t[e] || m[e] > maxF ? NaN : m[e];
      continue;
    }
    s.fill(0);
    for (let k = 0, r = b; k < n; k++, r += inner) {
      for (let e = 0; e < inner; e++) {
        const v = a[r + e];
        if (!(v < mask)) s[e] += hostExp(v - m[e]);
      }
    }
    for (let e = 0; e < inner; e++) {
      const q = s[e];
      const bad = t[e] !== t[e] || m[e] > maxF;
      out[w + e] = bad ? NaN : q > 0 ? (kind === 'lse' ? m[e] + Math.log(q) : Math.log(q)) : 0;
    }
  }
  return out;
}

/**
 * rowStatsHost's contiguous rows on the SIMD provider: its max and exp-sum sweeps in WebAssembly, the
 * logarithm per row here. An entry is live when not below `mask` (a double); the provider tests
 * float32 x ≥ t, so t is the smallest float32 not below the mask (the same entries are live).
 */
function rowStatsSimd(
  kind: RowStatsParams['kind'],
  mask: number,
  a: Float32Array,
  rows: number,
  n: number,
  simd: SimdProvider,
): Float32Array {
  let t = Math.fround(mask);
  if (t < mask) t = nextFloat32Up(t);
  const { max, sums } = simd.rowStats(a, rows, n, t, kind !== 'max');
  const out = allocFloat32(rows);
  for (let r = 0; r < rows; r++) {
    const mx = max[r];
    if (mx !== mx) out[r] = NaN;
    else if (kind === 'max') out[r] = mx < mask ? mask : mx;
    else {
      const s = sums[r];
      out[r] = s > 0 ? (kind === 'lse' ? mx + Math.log(s) : Math.log(s)) : 0;
    }
  }
  return out;
}

/** The next float32 above the float32 value t (t finite). */
function nextFloat32Up(t: number): number {
  const f = new Float32Array([t]);
  const u = new Int32Array(f.buffer);
  if (t === 0) u[0] = 1;
  else u[0] += t > 0 ? 1 : -1;
  return f[0];
}

/** rowDotKernel on the host: Σ over each row of a·b. */
function rowDotHost(p: RowParams, a: Float32Array, b: Float32Array, outer: number, size: number): Float32Array {
  const { n, inner } = p;
  const out = allocFloat32(size);
  if (inner === 1) {
    const n4 = n - (n % 4);
    for (let o = 0, i = 0; o < outer; o++) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let k = 0;
      for (; k < n4; k += 4, i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
      }
      let s = s0 + s1 + (s2 + s3);
      for (; k < n; k++, i++) s += a[i] * b[i];
      out[o] = s;
    }
    return out;
  }
  const s = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    s.fill(0);
    for (let k = 0, r = o * n * inner; k < n; k++, r += inner) for (let e = 0; e < inner; e++) s[e] += a[r + e] * b[r + e];
    out.set(s, o * inner);
  }
  return out;
}

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
  // per row: the max and the NaN/+Infinity test in one sweep, then the sum of the live exps
  native: (p, [a], size, simd) => {
    const outer = rowBlocks(p, a, size);
    return outer === null ? null : rowStatsHost(p, a as Float32Array, outer, size, simd);
  },
});

/** Σ over the row of a·b (a and b of one shape). */
const rowDotKernel = declareKernel({
  name: 'softmax.rowDot',
  inputs: ['a', 'b'],
  body: (p: RowParams) => [rowHead(p), blockedSum('s', (k) => `${rowAt(p, 'a', k)} * ${rowAt(p, 'b', k)}`, p.n), 'return s;'],
  // per row: Σ a·b
  native: (p, [a, b], size) => {
    const outer = rowBlocks(p, a, size);
    if (outer === null || !f32(b, outer * p.n * p.inner)) return null;
    return rowDotHost(p, a as Float32Array, b, outer, size);
  },
});

/** x·y elementwise (x and y of one shape): the products a long row's dot sums. */
const rowDotMul = declareKernel({
  name: 'softmax.rowDot.mul',
  inputs: ['x', 'y'],
  body: () => ['const a = x[i];', 'const b = y[i];', 'return a * b;'],
  // elementwise x·y
  native: (_p, [x, y], size) => {
    if (!(f32(x, size) && f32(y, size))) return null;
    const out = allocFloat32(size);
    for (let i = 0; i < size; i++) out[i] = x[i] * y[i];
    return out;
  },
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
  // elementwise: NaN for NaN / +Infinity, the threshold below it, else the max
  native: (p, [mx], size) => {
    const mask = maskValue(p.maskBelow);
    if (mask === null || !f32(mx, size)) return null;
    const maxF = maxFiniteValue(p.dtype);
    const out = allocFloat32(size);
    for (let i = 0; i < size; i++) {
      const v = mx[i];
      out[i] = v !== v || v > maxF ? NaN : v < mask ? mask : v;
    }
    return out;
  },
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
  // per [outer, n, inner] block: exp(x − m) with the row's m
  native: (p, [x, rowMax], size) => {
    const bl = blocks(p, size);
    const mask = maskValue(p.maskBelow);
    if (!bl || mask === null || !f32(x, size) || !f32(rowMax, bl.outer * bl.inner)) return null;
    const { outer, n, inner } = bl;
    const out = allocFloat32(size);
    for (let o = 0, i = 0; o < outer; o++) {
      const r0 = o * inner;
      for (let k = 0; k < n; k++) {
        for (let r = r0, e = 0; e < inner; e++, r++, i++) {
          const m = rowMax[r];
          const v = x[i];
          out[i] = m !== m ? m : v < mask ? 0 : hostExp(v - m);
        }
      }
    }
    return out;
  },
});

/** ls = log s (0 when nothing is live), NaN for a NaN row; s and m of one shape. */
const longRowLog = declareKernel({
  name: 'softmax.longRows.log',
  inputs: ['rowSum', 'rowMax'],
  body: () => ['const s = rowSum[i];', 'const m = rowMax[i];', 'return (m != m ? m : (s > 0 ? Math.log(s) : 0));'],
  // elementwise: NaN rows stay NaN, log s, 0 for nothing live
  native: (_p, [rowSum, rowMax], size) => {
    if (!(f32(rowSum, size) && f32(rowMax, size))) return null;
    const out = allocFloat32(size);
    for (let i = 0; i < size; i++) {
      const s = rowSum[i];
      const m = rowMax[i];
      out[i] = m !== m ? m : s > 0 ? Math.log(s) : 0;
    }
    return out;
  },
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
  // elementwise: NaN rows stay NaN, 0 for nothing live, else m + ls
  native: (p, [rowMax, rowLogSum], size) => {
    const mask = maskValue(p.maskBelow);
    if (mask === null || !f32(rowMax, size) || !f32(rowLogSum, size)) return null;
    const out = allocFloat32(size);
    for (let i = 0; i < size; i++) {
      const m = rowMax[i];
      const ls = rowLogSum[i];
      out[i] = ls !== ls ? ls : m < mask ? 0 : m + ls;
    }
    return out;
  },
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
  // per row: exp((x − m) − ls), 0 below the mask, a NaN row all NaN
  native: (p, [x, rowMax, rowLogSum], size) => {
    const bl = blocks(p, size);
    const mask = maskValue(p.maskBelow);
    if (!bl || mask === null || !f32(x, size) || !f32(rowMax, bl.outer * bl.inner) || !f32(rowLogSum, bl.outer * bl.inner)) return null;
    const { outer, n, inner } = bl;
    const out = allocFloat32(size);
    if (inner === 1) {
      for (let o = 0, i = 0; o < outer; o++) {
        const m = rowMax[o];
        const ls = rowLogSum[o];
        if (ls !== ls) {
          out.fill(NaN, i, i + n);
          i += n;
        } else for (let k = 0; k < n; k++, i++) out[i] = x[i] < mask ? 0 : hostExp(x[i] - m - ls);
      }
      return out;
    }
    for (let o = 0, i = 0; o < outer; o++) {
      const r0 = o * inner;
      for (let k = 0; k < n; k++) {
        for (let r = r0, e = 0; e < inner; e++, r++, i++) {
          const ls = rowLogSum[r];
          const v = x[i];
          out[i] = ls !== ls ? ls : v < mask ? 0 : hostExp(v - rowMax[r] - ls);
        }
      }
    }
    return out;
  },
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
  // per row: y · (g − Σ g·y)
  native: (p, [g, y, gy], size) => {
    const bl = blocks(p, size);
    if (!bl || !f32(g, size) || !f32(y, size) || !f32(gy, bl.outer * bl.inner)) return null;
    const { outer, n, inner } = bl;
    const out = allocFloat32(size);
    if (inner === 1) {
      for (let o = 0, i = 0; o < outer; o++) {
        const s = gy[o];
        for (let k = 0; k < n; k++, i++) out[i] = y[i] * (g[i] - s);
      }
      return out;
    }
    for (let o = 0, i = 0; o < outer; o++) {
      const r0 = o * inner;
      for (let k = 0; k < n; k++) for (let r = r0, e = 0; e < inner; e++, r++, i++) out[i] = y[i] * (g[i] - gy[r]);
    }
    return out;
  },
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
  // per row: (x − m) − ls, entries below the mask kept as they are, a NaN row all NaN
  native: (p, [x, rowMax, rowLogSum], size) => {
    const bl = blocks(p, size);
    const mask = maskValue(p.maskBelow);
    if (!bl || mask === null || !f32(x, size) || !f32(rowMax, bl.outer * bl.inner) || !f32(rowLogSum, bl.outer * bl.inner)) return null;
    const { outer, n, inner } = bl;
    const out = allocFloat32(size);
    if (inner === 1) {
      for (let o = 0, i = 0; o < outer; o++) {
        const m = rowMax[o];
        const ls = rowLogSum[o];
        if (ls !== ls) {
          out.fill(NaN, i, i + n);
          i += n;
        } else
          for (let k = 0; k < n; k++, i++) {
            const v = x[i];
            out[i] = v < mask ? v : v - m - ls;
          }
      }
      return out;
    }
    for (let o = 0, i = 0; o < outer; o++) {
      const r0 = o * inner;
      for (let k = 0; k < n; k++) {
        for (let r = r0, e = 0; e < inner; e++, r++, i++) {
          const ls = rowLogSum[r];
          const v = x[i];
          out[i] = ls !== ls ? ls : v < mask ? v : v - rowMax[r] - ls;
        }
      }
    }
    return out;
  },
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
  // per row: g − exp(y) · Σ g
  native: (p, [g, y, gs], size) => {
    const bl = blocks(p, size);
    if (!bl || !f32(g, size) || !f32(y, size) || !f32(gs, bl.outer * bl.inner)) return null;
    const { outer, n, inner } = bl;
    const out = allocFloat32(size);
    if (inner === 1) {
      for (let o = 0, i = 0; o < outer; o++) {
        const s = gs[o];
        for (let k = 0; k < n; k++, i++) out[i] = g[i] - hostExp(y[i]) * s;
      }
      return out;
    }
    for (let o = 0, i = 0; o < outer; o++) {
      const r0 = o * inner;
      for (let k = 0; k < n; k++) for (let r = r0, e = 0; e < inner; e++, r++, i++) out[i] = g[i] - hostExp(y[i]) * gs[r];
    }
    return out;
  },
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
  checkTensor(op, 'input', x);
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
    // dx = y * (g - sum(g * y)), with ops
    backwardGraph: (g) => [mul(y, sub(g, sum(mul(g, y), d, true)))],
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
    // dx = g - exp(y) * sum(g), with ops
    backwardGraph: (g) => [sub(g, mul(exp(y), sum(g, d, true)))],
    saved: [y],
  });
}
