// layerNorm, fused: one statistics kernel (mean and 1/std per row, two-pass for accuracy) and one
// normalise kernel forward; backward with x̂ = (x-mean)·rstd and gw = g·w:
//   dx = rstd · (gw − mean(gw) − x̂ · mean(gw·x̂))     dw = Σrows g·x̂     db = Σrows g

import { needsGrad, record } from '../autograd/engine.js';
import type { Tensor } from '../autograd/tensor.js';
import { mapKernel } from './map.js';
import { blockedSum, sum } from './reduce.js';
import { ROW_FUSED } from './softmax.js';
import { floatDType, fmtShape, launch, lit, numelOf, sameShape, sk } from './util.js';

/** [rows*2]: mean at 2r, 1/sqrt(var + eps) at 2r+1 (biased variance, as PyTorch). */
function statsKernel(x: Tensor, rows: number, D: number, eps: number): Tensor {
  if (D > ROW_FUSED) return longStats(x, rows, D, eps);
  const key = `ln.stats:${rows}:${D}:${eps}`;
  const build = (): string =>
    `function (a) { const i = this.thread.x; const r = Math.floor((i + 0.5) / 2); const w = i - r * 2; const base = r * ${D}; ` +
    `${blockedSum('s', (c) => `a[base + ${c}]`, D)}const m = s / ${D}; ` +
    `if (w < 0.5) { return m; } ${blockedSum('q', (k) => `(a[base + ${k}] - m) * (a[base + ${k}] - m)`, D)}` +
    `return 1 / Math.sqrt(q / ${D} + ${lit(eps)}); }`;
  return launch(key, build, [x], [rows * 2], x.dtype);
}

/** The same statistics for rows past ROW_FUSED, by the chunked reductions. */
function longStats(x: Tensor, rows: number, D: number, eps: number): Tensor {
  const x2 = x._view([rows, D]);
  const s = sum(x2, 1, true);
  const m = mapKernel('ln.mean', `s / ${D}`, [['s', s]], [rows, 1], x.dtype);
  const sq = mapKernel('ln.sq', '(a - m) * (a - m)', [['a', x2], ['m', m]], [rows, D], x.dtype);
  const q = sum(sq, 1, true);
  const rs = mapKernel('ln.rstd', `1 / Math.sqrt(q / ${D} + ${lit(eps)})`, [['q', q]], [rows, 1], x.dtype);
  const out = interleave(m, rs, rows, x.dtype);
  for (const t of [x2, s, m, sq, q, rs]) t.dispose();
  return out;
}

/** v · x̂ elementwise over [rows, D], x̂ = (x − mean)·rstd from the packed statistics. */
function timesXhat(v: Tensor, x: Tensor, stats: Tensor, rows: number, D: number): Tensor {
  const build = (): string => `function (v, a, s) { const i = this.thread.x; const r = Math.floor((i + 0.5) / ${D}); return v[i] * (a[i] - s[r * 2]) * s[r * 2 + 1]; }`;
  return launch(`ln.timesXhat:${rows}:${D}`, build, [v, x, stats], [rows, D], x.dtype);
}

/** [rows*2] with a[r] at 2r and b[r] at 2r+1. */
function interleave(a: Tensor, b: Tensor, rows: number, dtype: Tensor['dtype']): Tensor {
  return launch(`ln.interleave:${rows}`, () => 'function (a, b) { const i = this.thread.x; const r = Math.floor((i + 0.5) / 2); return i - r * 2 < 0.5 ? a[r] : b[r]; }', [a, b], [rows * 2], dtype);
}

function normKernel(x: Tensor, stats: Tensor, D: number, w?: Tensor, b?: Tensor): Tensor {
  const key = `ln.fwd:${x.numel}:${D}:${w ? 'w' : ''}${b ? 'b' : ''}`;
  const args = [x, stats, ...(w ? [w] : []), ...(b ? [b] : [])];
  const params = ['a', 's', ...(w ? ['w'] : []), ...(b ? ['b'] : [])];
  const build = (): string =>
    `function (${params.join(', ')}) { const i = this.thread.x; const r = Math.floor((i + 0.5) / ${D}); const c = i - r * ${D}; ` +
    `const xh = (a[i] - s[r * 2]) * s[r * 2 + 1]; return xh${w ? ' * w[c]' : ''}${b ? ' + b[c]' : ''}; }`;
  return launch(key, build, args, x.shape, x.dtype);
}

export function layerNorm(x: Tensor, normalizedShape: number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const ns = Array.isArray(normalizedShape) ? normalizedShape : [normalizedShape as unknown as number];
  if (ns.length === 0 || ns.length > x.ndim || !sameShape(x.shape.slice(x.ndim - ns.length), ns)) {
    throw new Error(`layerNorm: input of shape ${fmtShape(x.shape)} does not end with normalizedShape ${fmtShape(ns)}`);
  }
  const named: [string, Tensor][] = [['input', x]];
  for (const [n, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t == null) continue;
    if (!sameShape(t.shape, ns)) throw new Error(`layerNorm: ${n} has shape ${fmtShape(t.shape)} but normalizedShape is ${fmtShape(ns)}`);
    named.push([n, t]);
  }
  const dtype = floatDType('layerNorm', named);
  if (named.some(([, t]) => t.dtype !== dtype)) throw new Error(`layerNorm: input, weight and bias must share one floating dtype, got ${named.map(([n, t]) => `${n} ${t.dtype} (shape ${fmtShape(t.shape)})`).join(', ')}`);
  const D = numelOf(ns);
  const rows = x.numel / D;
  const w = weight ?? undefined;
  const b = bias ?? undefined;
  const stats = statsKernel(x, rows, D, eps);
  const y = normKernel(x, stats, D, w, b);
  if (!needsGrad(x, w, b)) {
    stats.dispose();
    return y;
  }
  return record(
    y,
    'LayerNorm',
    [x, w ?? null, b ?? null],
    (g) => {
      const gw = w ? '(g[i] * w[c])' : 'g[i]';
      // per row: sum(gw) at 2r, sum(gw * x̂) at 2r+1
      let rowSums: Tensor;
      if (D > ROW_FUSED) {
        const g2 = g._view([rows, D]);
        const w2 = w ? w._view([1, D]) : null;
        const gw2 = w2 ? mapKernel('ln.gw', 'g * w', [['g', g2], ['w', w2]], [rows, D], x.dtype) : g2;
        w2?.dispose();
        const s = sum(gw2, 1, true);
        const gx = timesXhat(gw2, x, stats, rows, D);
        const q = sum(gx, 1, true);
        rowSums = interleave(s, q, rows, x.dtype);
        for (const t of [g2, gw2, s, gx, q]) t.dispose();
      } else {
        rowSums = launch(
          `ln.bwdrow:${rows}:${D}:${w ? 'w' : ''}`,
          () =>
            `function (g, a, s${w ? ', w' : ''}) { const j = this.thread.x; const r = Math.floor((j + 0.5) / 2); const which = j - r * 2; ` +
            `const m = s[r * 2]; const rs = s[r * 2 + 1]; const b0 = r * ${D}; ` +
            `if (which < 0.5) { ${blockedSum('p', (c) => (w ? `g[b0 + ${c}] * w[${c}]` : `g[b0 + ${c}]`), D)}return p; } ` +
            `${blockedSum('q', (c) => `${w ? `g[b0 + ${c}] * w[${c}]` : `g[b0 + ${c}]`} * (a[b0 + ${c}] - m) * rs`, D)}return q; }`,
          [g, x, stats, ...(w ? [w] : [])],
          [rows * 2],
          x.dtype,
        );
      }
      const dx = x.requiresGrad
        ? launch(
            `ln.dx:${x.numel}:${D}:${w ? 'w' : ''}`,
            () =>
              `function (g, a, s, q${w ? ', w' : ''}) { const i = this.thread.x; const r = Math.floor((i + 0.5) / ${D}); const c = i - r * ${D}; ` +
              `const rs = s[r * 2 + 1]; const xh = (a[i] - s[r * 2]) * rs; ` +
              `return rs * (${gw} - q[r * 2] / ${D} - xh * q[r * 2 + 1] / ${D}); }`,
            [g, x, stats, rowSums, ...(w ? [w] : [])],
            x.shape,
            x.dtype,
          )
        : null;
      rowSums.dispose();
      const col = (which: 'w' | 'b'): Tensor => {
        if (rows > ROW_FUSED) {
          // many rows: the per-element products, then the chunked column sums
          const g2 = g._view([rows, D]);
          const terms =
            which === 'w'
              ? timesXhat(g2, x, stats, rows, D)
              : g2;
          const c = sum(terms, 0);
          if (terms !== g2) terms.dispose();
          g2.dispose();
          const out = c._view([...ns]);
          c.dispose();
          return out;
        }
        return launch(
          `ln.d${which}:${sk(x.shape)}:${D}`,
          () =>
            `function (g, a, s) { const c = this.thread.x; ` +
            `${blockedSum('acc', (r) => `g[(${r}) * ${D} + c]${which === 'w' ? ` * (a[(${r}) * ${D} + c] - s[(${r}) * 2]) * s[(${r}) * 2 + 1]` : ''}`, rows)}return acc; }`,
          [g, x, stats],
          ns,
          x.dtype,
        );
      };
      return [dx, w?.requiresGrad ? col('w') : null, b?.requiresGrad ? col('b') : null];
    },
    [x, ...(w ? [w] : [])],
    [stats],
  );
}
