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

import { needsGrad, record } from '../autograd/engine.js';
import type { Tensor, DType } from '../autograd/tensor.js';
import { mapKernel } from './map.js';
import { REDUCE_CHUNK, amax, blockedSum, sum } from './reduce.js';
import { fmtShape, isFloat, launch, normDim, sk, stridesOf } from './util.js';

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

/**
 * Per-row kernel over `dim`, entries below `maskBelow` skipped: `max` (the largest live entry, or
 * `maskBelow` when none is live), `logsum` (log Σ exp(x − max); 0 when none is live, NaN when the row holds
 * NaN or +Infinity), `lse` (max + logsum in one kernel), or `dot` (Σ x·y). Output drops `dim`.
 */
function rowKernel(kind: 'max' | 'logsum' | 'lse' | 'dot', x: Tensor, d: number, maskBelow: string, y?: Tensor): Tensor {
  const n = x.shape[d];
  const inner = stridesOf(x.shape)[d];
  const outShape = x.shape.filter((_, k) => k !== d);
  const key = `row:${kind}:${sk(x.shape)}:${d}:${kind === 'dot' ? '' : `${maskBelow}:${x.dtype}`}`;
  const build = (): string => {
    const head = `const i = this.thread.x; const o = Math.floor((i + 0.5) / ${inner}); const e = i - o * ${inner}; const base = o * ${n * inner} + e;`;
    const at = (arr: string, k: string): string => (inner === 1 ? `${arr}[base + ${k}]` : `${arr}[base + (${k}) * ${inner}]`);
    if (kind === 'dot') {
      return `function (a, b) { ${head} ${blockedSum('s', (k) => `${at('a', k)} * ${at('b', k)}`, n)}return s; }`;
    }
    // m: the largest live entry; a NaN or +Infinity anywhere makes the row NaN, tested explicitly (no
    // Infinity arithmetic in kernels, and GL's exp(NaN) is not always NaN)
    const max =
      `let m = ${maskBelow}; let bad = 0; for (let k = 0; k < ${n}; k++) { const v = ${at('a', 'k')}; if (v > m) { m = v; } if (v != v || v > ${maxFinite(x.dtype)}) { bad = 1; } } ` +
      `if (bad > 0) { return ${NAN_FROM(at('a', '0'))}; } `;
    if (kind === 'max') return `function (a) { ${head} ${max}return m; }`;
    const tail = kind === 'lse' ? 'm + Math.log(s)' : 'Math.log(s)';
    return (
      `function (a) { ${head} ${max}${blockedSum('s', (k) => `(${at('a', k)} < ${maskBelow} ? 0 : Math.exp(${at('a', k)} - m))`, n)}` +
      `return s > 0 ? ${tail} : 0; }`
    );
  };
  return launch(key, build, y ? [x, y] : [x], outShape, x.dtype);
}

function keepDim(t: Tensor, shape: number[], d: number): Tensor {
  return t._view(shape.map((s, k) => (k === d ? 1 : s)));
}

function check(op: string, x: Tensor, dim: number): number {
  if (!isFloat(x.dtype)) throw new Error(`${op}: expects a floating point tensor, got ${x.dtype} (shape ${fmtShape(x.shape)})`);
  if (x.ndim === 0) throw new Error(`${op}: expects at least 1 dimension, got a 0-d tensor`);
  return normDim(op, dim, x.ndim, x.shape);
}

/** Σ over `dim` of x·y, kept as a broadcastable tensor (softmax's backward and the attention op's). */
export function rowDot(x: Tensor, y: Tensor, d: number): Tensor {
  if (x.shape[d] > ROW_FUSED) {
    const xy = mapKernel('rowDot.mul', 'a * b', [['a', x], ['b', y]], x.shape, x.dtype);
    const r = sum(xy, d, true);
    xy.dispose();
    return r;
  }
  const r = rowKernel('dot', x, d, '', y);
  const k = keepDim(r, x.shape, d);
  r.dispose();
  return k;
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
    const m = mapKernel('rowStats.max', `(v != v || v > ${maxFinite(x.dtype)} ? ${NAN_FROM('v')} : (v < ${maskBelow} ? ${maskBelow} : v))`, [['v', mx]], mx.shape, x.dtype);
    const e = mapKernel('rowStats.exp', `(m != m ? m : (x < ${maskBelow} ? 0 : Math.exp(x - m)))`, [['x', x], ['m', m]], x.shape, x.dtype);
    const s = sum(e, d, true);
    const ls = mapKernel('rowStats.log', '(m != m ? m : (s > 0 ? Math.log(s) : 0))', [['s', s], ['m', m]], s.shape, x.dtype);
    for (const t of [mx, e, s]) t.dispose();
    return { m, ls };
  }
  const kept = (t: Tensor): Tensor => {
    const k = keepDim(t, x.shape, d);
    t.dispose();
    return k;
  };
  return { m: kept(rowKernel('max', x, d, maskBelow)), ls: kept(rowKernel('logsum', x, d, maskBelow)) };
}

/**
 * The row log-sum-exp kept as a broadcastable tensor (the attention op's saved statistic); entries below
 * `maskBelow` are skipped, a row with none left gives 0.
 */
export function rowLogSumExp(x: Tensor, d: number, maskBelow: string): Tensor {
  if (x.shape[d] > ROW_FUSED) {
    const { m, ls } = rowStats(x, d, maskBelow);
    const l = mapKernel('lse.combine', `(ls != ls ? ls : (m < ${maskBelow} ? 0 : m + ls))`, [['m', m], ['ls', ls]], m.shape, x.dtype);
    m.dispose();
    ls.dispose();
    return l;
  }
  const l = rowKernel('lse', x, d, maskBelow);
  const k = keepDim(l, x.shape, d);
  l.dispose();
  return k;
}

export function softmax(x: Tensor, dim: number): Tensor {
  const d = check('softmax', x, dim);
  const T = minusInfBelow(x.dtype);
  const { m, ls } = rowStats(x, d, T);
  const y = mapKernel('softmax', `(ls != ls ? ls : (x < ${T} ? 0 : Math.exp((x - m) - ls)))`, [['x', x], ['m', m], ['ls', ls]], x.shape, x.dtype);
  m.dispose();
  ls.dispose();
  if (!needsGrad(x)) return y;
  return record(
    y,
    'Softmax',
    [x],
    (g) => {
      const dk = rowDot(g, y, d);
      const dx = mapKernel('softmax.bwd', 'y * (g - s)', [['g', g], ['y', y], ['s', dk]], x.shape, x.dtype);
      dk.dispose();
      return [dx];
    },
    [y],
  );
}

export function logSoftmax(x: Tensor, dim: number): Tensor {
  const d = check('logSoftmax', x, dim);
  const T = minusInfBelow(x.dtype);
  const { m, ls } = rowStats(x, d, T);
  // -Infinity entries stay -Infinity without arithmetic on them (NaN when the row is NaN)
  const y = mapKernel('logSoftmax', `(ls != ls ? ls : (x < ${T} ? x : (x - m) - ls))`, [['x', x], ['m', m], ['ls', ls]], x.shape, x.dtype);
  m.dispose();
  ls.dispose();
  if (!needsGrad(x)) return y;
  return record(
    y,
    'LogSoftmax',
    [x],
    (g) => {
      const s = sum(g, d, true);
      const dx = mapKernel('logSoftmax.bwd', 'g - Math.exp(y) * s', [['g', g], ['y', y], ['s', s]], x.shape, x.dtype);
      s.dispose();
      return [dx];
    },
    [y],
  );
}
