// layerNorm, fused: one statistics kernel (mean and 1/std per row, two-pass for accuracy) and one
// normalise kernel forward; backward with x̂ = (x-mean)·rstd and gw = g·w:
//   dx = rstd · (gw − mean(gw) − x̂ · mean(gw·x̂))     dw = Σrows g·x̂     db = Σrows g
// The statistics are packed per row r: mean at 2r, 1/sqrt(var + eps) at 2r+1 (biased variance, as PyTorch).

import { record } from '../autograd/engine.js';
import { launch } from '../autograd/launch.js';
import type { Tensor } from '../autograd/tensor.js';
import type { DType } from '../helpers/dtype.js';
import { fmtShape, numelOf, sameShape } from '../helpers/shape.js';
import { blockedSum, floorDiv, lit } from '../kernels/source.js';
import { declareKernel } from '../kernels/template.js';
import { floatDType } from './checks.js';
import { sum } from './reduce.js';
import { ROW_FUSED } from './softmax.js';

// ---- forward ----

/** [rows*2]: the packed statistics of rows of D elements (D ≤ ROW_FUSED: one loop per row). */
const statsKernel = declareKernel({
  name: 'layerNorm.stats',
  inputs: ['a'],
  body: (p: { D: number; eps: number }) => [
    "// thread 2r gives row r's mean, thread 2r+1 its 1/std",
    `const r = ${floorDiv('i', 2)};`,
    'const w = i - r * 2;',
    `const base = r * ${p.D};`,
    blockedSum('s', (c) => `a[base + ${c}]`, p.D),
    `const m = s / ${p.D};`,
    'if (w < 0.5) { return m; }',
    '// the variance about the mean (two passes, for accuracy)',
    blockedSum('q', (k) => `(a[base + ${k}] - m) * (a[base + ${k}] - m)`, p.D),
    `return 1 / Math.sqrt(q / ${p.D} + ${lit(p.eps)});`,
  ],
});

/** The long rows' mean s / D from the row sums s. */
const longMean = declareKernel({
  name: 'layerNorm.stats.mean',
  inputs: ['rowSum'],
  body: (p: { D: number }) => ['const s = rowSum[i];', `return s / ${p.D};`],
});

/** (a − m)² over [rows, D], the row mean m broadcast over the row. */
const longSquares = declareKernel({
  name: 'layerNorm.stats.squares',
  inputs: ['x', 'mean'],
  body: (p: { D: number }) => ['const a = x[i];', `const m = mean[${floorDiv('i', p.D)}];`, 'return (a - m) * (a - m);'],
});

/** The long rows' 1/sqrt(var + eps) from the summed squares q. */
const longRstd = declareKernel({
  name: 'layerNorm.stats.rstd',
  inputs: ['sq'],
  body: (p: { D: number; eps: number }) => ['const q = sq[i];', `return 1 / Math.sqrt(q / ${p.D} + ${lit(p.eps)});`],
});

/** [rows*2] with a[r] at 2r and b[r] at 2r+1 (the packed layout from two per-row results). */
const interleaveKernel = declareKernel({
  name: 'layerNorm.interleave',
  inputs: ['a', 'b'],
  body: () => [`const r = ${floorDiv('i', 2)};`, 'return i - r * 2 < 0.5 ? a[r] : b[r];'],
});

/** y = x̂ (· w[c]) (+ b[c]) over rows of D. */
const forwardKernel = declareKernel({
  name: 'layerNorm.forward',
  inputs: (p: { D: number; weight: boolean; bias: boolean }) => ['a', 's', ...(p.weight ? ['w'] : []), ...(p.bias ? ['b'] : [])],
  body: (p: { D: number; weight: boolean; bias: boolean }) => [
    `const r = ${floorDiv('i', p.D)};`,
    `const c = i - r * ${p.D};`,
    'const xh = (a[i] - s[r * 2]) * s[r * 2 + 1];',
    `return xh${p.weight ? ' * w[c]' : ''}${p.bias ? ' + b[c]' : ''};`,
  ],
});

// ---- backward ----

/** v · x̂ elementwise over [rows, D], x̂ = (x − mean)·rstd from the packed statistics. */
const timesXhatKernel = declareKernel({
  name: 'layerNorm.backward.timesXhat',
  inputs: ['v', 'a', 's'],
  body: (p: { D: number }) => [`const r = ${floorDiv('i', p.D)};`, 'return v[i] * (a[i] - s[r * 2]) * s[r * 2 + 1];'],
});

/** gw = g · w over [rows, D] (long rows), w broadcast over the rows. */
const gwKernel = declareKernel({
  name: 'layerNorm.backward.gw',
  inputs: ['grad', 'weight'],
  body: (p: { D: number }) => [
    'const g = grad[i];',
    '// w is read at the column of i',
    `const r = ${floorDiv('i', p.D)};`,
    `const w = weight[i - r * ${p.D}];`,
    'return g * w;',
  ],
});

type BackwardParams = { D: number; weight: boolean };

/** gw's element c of row b0 (the upstream gradient, times the weight when there is one). */
const gwAt = (p: BackwardParams, c: string): string => (p.weight ? `g[b0 + ${c}] * w[${c}]` : `g[b0 + ${c}]`);

/** Per row (D ≤ ROW_FUSED): Σ gw at 2r, Σ gw·x̂ at 2r+1. */
const rowSumsKernel = declareKernel({
  name: 'layerNorm.backward.rowSums',
  inputs: (p: BackwardParams) => ['g', 'a', 's', ...(p.weight ? ['w'] : [])],
  body: (p: BackwardParams) => [
    `const r = ${floorDiv('i', 2)};`,
    'const which = i - r * 2;',
    'const m = s[r * 2];',
    'const rs = s[r * 2 + 1];',
    `const b0 = r * ${p.D};`,
    `if (which < 0.5) { ${blockedSum('p', (c) => gwAt(p, c), p.D)}return p; }`,
    blockedSum('q', (c) => `${gwAt(p, c)} * (a[b0 + ${c}] - m) * rs`, p.D),
    'return q;',
  ],
});

/** dx = rstd · (gw − Σgw / D − x̂ · Σ(gw·x̂) / D), the row sums q packed as the statistics are. */
const dxKernel = declareKernel({
  name: 'layerNorm.backward.dx',
  inputs: (p: BackwardParams) => ['g', 'a', 's', 'q', ...(p.weight ? ['w'] : [])],
  body: (p: BackwardParams) => [
    `const r = ${floorDiv('i', p.D)};`,
    `const c = i - r * ${p.D};`,
    'const rs = s[r * 2 + 1];',
    'const xh = (a[i] - s[r * 2]) * rs;',
    `return rs * (${p.weight ? '(g[i] * w[c])' : 'g[i]'} - q[r * 2] / ${p.D} - xh * q[r * 2 + 1] / ${p.D});`,
  ],
});

type ColParams = { rows: number; D: number };

/** Column c's sum over the rows (rows ≤ ROW_FUSED) of g·x̂ (`xhat`) or of g. */
function colSum(p: ColParams, xhat: boolean): string[] {
  const xh = (r: string): string => ` * (a[(${r}) * ${p.D} + c] - s[(${r}) * 2]) * s[(${r}) * 2 + 1]`;
  const term = (r: string): string => `g[(${r}) * ${p.D} + c]${xhat ? xh(r) : ''}`;
  return ['const c = i;', blockedSum('acc', term, p.rows), 'return acc;'];
}

/** dw = Σrows g·x̂ (rows ≤ ROW_FUSED). */
const dweightKernel = declareKernel({
  name: 'layerNorm.backward.dweight',
  inputs: ['g', 'a', 's'],
  body: (p: ColParams) => colSum(p, true),
});

/** db = Σrows g (rows ≤ ROW_FUSED). */
const dbiasKernel = declareKernel({
  name: 'layerNorm.backward.dbias',
  inputs: ['g'],
  body: (p: ColParams) => colSum(p, false),
});

/** The packed statistics [rows*2] of x's rows of D. */
function stats(x: Tensor, rows: number, D: number, eps: number): Tensor {
  if (D > ROW_FUSED) return longStats(x, rows, D, eps);
  return launch(statsKernel, { D, eps }, [x], [rows * 2], x.dtype);
}

/** The same statistics for rows past ROW_FUSED, by the chunked reductions. */
function longStats(x: Tensor, rows: number, D: number, eps: number): Tensor {
  const x2 = x._view([rows, D]);
  const s = sum(x2, 1, true);
  const m = launch(longMean, { D }, [s], [rows, 1], x.dtype);
  const sq = launch(longSquares, { D }, [x2, m], [rows, D], x.dtype);
  const q = sum(sq, 1, true);
  const rs = launch(longRstd, { D, eps }, [q], [rows, 1], x.dtype);
  const out = interleave(m, rs, rows, x.dtype);
  for (const t of [x2, s, m, sq, q, rs]) t.dispose();
  return out;
}

function interleave(a: Tensor, b: Tensor, rows: number, dtype: DType): Tensor {
  return launch(interleaveKernel, {}, [a, b], [rows * 2], dtype);
}

function timesXhat(v: Tensor, x: Tensor, st: Tensor, rows: number, D: number): Tensor {
  return launch(timesXhatKernel, { D }, [v, x, st], [rows, D], x.dtype);
}

/** The backward's per-row sums, packed: Σ gw at 2r, Σ gw·x̂ at 2r+1. */
function rowSums(g: Tensor, x: Tensor, st: Tensor, rows: number, D: number, w: Tensor | undefined): Tensor {
  if (D <= ROW_FUSED) return launch(rowSumsKernel, { D, weight: !!w }, [g, x, st, ...(w ? [w] : [])], [rows * 2], x.dtype);
  const g2 = g._view([rows, D]);
  const w2 = w ? w._view([1, D]) : null;
  const gw2 = w2 ? launch(gwKernel, { D }, [g2, w2], [rows, D], x.dtype) : g2;
  w2?.dispose();
  const s = sum(gw2, 1, true);
  const gx = timesXhat(gw2, x, st, rows, D);
  const q = sum(gx, 1, true);
  const out = interleave(s, q, rows, x.dtype);
  for (const t of [g2, gw2, s, gx, q]) t.dispose();
  return out;
}

/** dw (`which` 'w') or db ('b'): the column sums over the rows, in the normalised shape `ns`. */
function colGrad(which: 'w' | 'b', g: Tensor, x: Tensor, st: Tensor, rows: number, D: number, ns: number[]): Tensor {
  if (rows <= ROW_FUSED) {
    return which === 'w' ? launch(dweightKernel, { rows, D }, [g, x, st], ns, x.dtype) : launch(dbiasKernel, { rows, D }, [g], ns, x.dtype);
  }
  // many rows: the per-element products, then the chunked column sums
  const g2 = g._view([rows, D]);
  const terms = which === 'w' ? timesXhat(g2, x, st, rows, D) : g2;
  const c = sum(terms, 0);
  if (terms !== g2) terms.dispose();
  g2.dispose();
  const out = c._view([...ns]);
  c.dispose();
  return out;
}

export function layerNorm(x: Tensor, normalizedShape: number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const ns = Array.isArray(normalizedShape) ? normalizedShape : [normalizedShape as unknown as number];
  if (ns.length === 0 || ns.length > x.ndim || !sameShape(x.shape.slice(x.ndim - ns.length), ns)) {
    throw new Error(`layerNorm: input of shape ${fmtShape(x.shape)} does not end with normalizedShape ${fmtShape(ns)}`);
  }
  const named: [string, Tensor][] = [['input', x]];
  for (const [n, t] of [
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (t == null) continue;
    if (!sameShape(t.shape, ns)) throw new Error(`layerNorm: ${n} has shape ${fmtShape(t.shape)} but normalizedShape is ${fmtShape(ns)}`);
    named.push([n, t]);
  }
  const dtype = floatDType('layerNorm', named);
  if (named.some(([, t]) => t.dtype !== dtype)) {
    const got = named.map(([n, t]) => `${n} ${t.dtype} (shape ${fmtShape(t.shape)})`).join(', ');
    throw new Error(`layerNorm: input, weight and bias must share one floating dtype, got ${got}`);
  }
  const D = numelOf(ns);
  const rows = x.numel / D;
  const w = weight ?? undefined;
  const b = bias ?? undefined;
  const st = stats(x, rows, D, eps);
  const y = launch(forwardKernel, { D, weight: !!w, bias: !!b }, [x, st, ...(w ? [w] : []), ...(b ? [b] : [])], x.shape, x.dtype);
  return record(y, {
    name: 'LayerNorm',
    inputs: [x, w ?? null, b ?? null],
    backward: (g) => {
      const sums = rowSums(g, x, st, rows, D, w);
      const dx = x.requiresGrad ? launch(dxKernel, { D, weight: !!w }, [g, x, st, sums, ...(w ? [w] : [])], x.shape, x.dtype) : null;
      sums.dispose();
      const dw = w?.requiresGrad ? colGrad('w', g, x, st, rows, D, ns) : null;
      const db = b?.requiresGrad ? colGrad('b', g, x, st, rows, D, ns) : null;
      return [dx, dw, db];
    },
    saved: [x, ...(w ? [w] : [])],
    // the statistics live as long as the backward needs them (record disposes them at once when nothing is recorded)
    owns: [st],
  });
}
