// softmax / logSoftmax along any dim. A row-statistics kernel computes the log-sum-exp of each row
// (max first, so exp never overflows), then one elementwise kernel gives the output.
//   softmax:    y = exp(x - lse)   dx = y * (g - sum(g*y))
//   logSoftmax: y = x - lse        dx = g - exp(y) * sum(g)
// Entries <= -1e30 (-Infinity, or GL's -3.4e38) are masked: softmax gives them 0, logSoftmax -Infinity.
// A row masked everywhere gives softmax 0 (never NaN), as PyTorch's fused attention does. A NaN input
// makes its row NaN (it is never mistaken for a masked entry).

import { needsGrad, record } from '../autograd/engine.js';
import type { Tensor } from '../autograd/tensor.js';
import { mapKernel } from './map.js';
import { sum } from './reduce.js';
import { fmtShape, isFloat, launch, normDim, sk, stridesOf } from './util.js';

/** exp(x − lse) for live entries, 0 for masked ones; NaN stays NaN (and a NaN in a row makes lse NaN). */
export const SOFTMAX_ENTRY = 'x > -1e30 ? Math.exp(x - l) : (x != x ? x : 0)';

/** Per-row kernel over `dim`: `lse` (log-sum-exp of x) or `dot` (sum of x*y). Output drops `dim`. */
function rowKernel(kind: 'lse' | 'dot', x: Tensor, d: number, y?: Tensor): Tensor {
  const n = x.shape[d];
  const inner = stridesOf(x.shape)[d];
  const outShape = x.shape.filter((_, k) => k !== d);
  const key = `row:${kind}:${sk(x.shape)}:${d}`;
  const build = (): string => {
    const head = `const i = this.thread.x; const o = Math.floor((i + 0.5) / ${inner}); const e = i - o * ${inner}; const base = o * ${n * inner} + e;`;
    if (kind === 'dot') {
      return `function (a, b) { ${head} let s = 0; for (let k = 0; k < ${n}; k++) { s += a[base + k * ${inner}] * b[base + k * ${inner}]; } return s; }`;
    }
    return (
      `function (a) { ${head} let m = -1e30; for (let k = 0; k < ${n}; k++) { const v = a[base + k * ${inner}]; if (v > m) { m = v; } } ` +
      `let s = 0; let bad = 0; let nan = 0; for (let j = 0; j < ${n}; j++) { const w = a[base + j * ${inner}]; if (w > -1e30) { s += Math.exp(w - m); } else if (w != w) { bad = w; nan = 1; } } ` +
      `if (nan > 0) { return bad; } return s > 0 ? m + Math.log(s) : 0; }`
    );
  };
  return launch(key, build, y ? [x, y] : [x], outShape, x.dtype);
}

function keep(t: Tensor, shape: number[], d: number): Tensor {
  return t._view(shape.map((s, k) => (k === d ? 1 : s)));
}

function check(op: string, x: Tensor, dim: number): number {
  if (!isFloat(x.dtype)) throw new Error(`${op}: expects a floating point tensor, got ${x.dtype} (shape ${fmtShape(x.shape)})`);
  if (x.ndim === 0) throw new Error(`${op}: expects at least 1 dimension, got a 0-d tensor`);
  return normDim(op, dim, x.ndim, x.shape);
}

/** Σ over `dim` of x·y, kept as a broadcastable tensor (softmax's backward and the attention op's). */
export function rowDot(x: Tensor, y: Tensor, d: number): Tensor {
  const r = rowKernel('dot', x, d, y);
  const k = keep(r, x.shape, d);
  r.dispose();
  return k;
}

/** The row log-sum-exp kept as a broadcastable tensor (shared with the attention op). */
export function rowLogSumExp(x: Tensor, d: number): Tensor {
  const l = rowKernel('lse', x, d);
  const k = keep(l, x.shape, d);
  l.dispose();
  return k;
}

export function softmax(x: Tensor, dim: number): Tensor {
  const d = check('softmax', x, dim);
  const lse = rowLogSumExp(x, d);
  const y = mapKernel('softmax', `(${SOFTMAX_ENTRY})`, [['x', x], ['l', lse]], x.shape, x.dtype);
  lse.dispose();
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
  const lse = rowLogSumExp(x, d);
  const y = mapKernel('logSoftmax', 'x - l', [['x', x], ['l', lse]], x.shape, x.dtype);
  lse.dispose();
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
