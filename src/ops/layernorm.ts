// layerNorm, fused: one statistics kernel (mean and 1/std per row, two-pass for accuracy) and one
// normalise kernel forward; backward with x̂ = (x-mean)·rstd and gw = g·w:
//   dx = rstd · (gw − mean(gw) − x̂ · mean(gw·x̂))     dw = Σrows g·x̂     db = Σrows g
// The statistics are packed per row r: mean at 2r, 1/sqrt(var + eps) at 2r+1 (biased variance, as PyTorch).

import { checkTensor } from '../autograd/check.js';
import { record, viaComposite } from '../autograd/engine.js';
import { launch } from '../autograd/launch.js';
import type { Tensor } from '../autograd/tensor.js';
import { allocFloat32, type HostArray } from '../backend/storage.js';
import type { SimdProvider } from '../backend/index.js';
import type { DType } from '../helpers/dtype.js';
import { fmtShape, numelOf, sameShape } from '../helpers/shape.js';
import { blockedSum, floorDiv, lit } from '../kernels/source.js';
import { declareKernel } from '../kernels/template.js';
import { floatDType } from './checks.js';
import { mean, sum } from './reduce.js';
import { add, mul, sub } from './binary.js';
import { rsqrt } from './unary.js';
import { ROW_FUSED } from './softmax.js';

// The natives (the 'simd' backend's float32 runs) are plain loops over the host arrays: sums in JS numbers
// (float64) as the host executor's source does, one float32 rounding on the store; the same formulas, in
// the same operand order, as the kernel sources. Each declines (null) when its arguments do not have the
// layout its parameters promise.

/** A baked constant as the kernel source reads it (lit bakes ±Infinity as ±1e39). */
const baked = (x: number): number => (x === Infinity ? 1e39 : x === -Infinity ? -1e39 : x);

/** Whether `a` is a float32 host array of at least `n` elements. */
const f32 = (a: HostArray | undefined, n: number): a is Float32Array => a instanceof Float32Array && a.length >= n;

/** Σ a[b..b+len) with blockedSum's four interleaved accumulators (the same order as the source's sum). */
function blockSum(a: Float32Array, b: number, len: number): number {
  if (len < 8) {
    let s = 0;
    for (let k = b; k < b + len; k++) s += a[k];
    return s;
  }
  const e4 = b + len - (len % 4);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let k = b; k < e4; k += 4) {
    s0 += a[k];
    s1 += a[k + 1];
    s2 += a[k + 2];
    s3 += a[k + 3];
  }
  let s = s0 + s1 + (s2 + s3);
  for (let k = e4; k < b + len; k++) s += a[k];
  return s;
}

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
  // per row: the mean, then the squares about it (two passes, as the source)
  native: (p, [a], size, simd) => {
    const { D } = p;
    const rows = size / 2;
    if (!(Number.isInteger(rows) && D >= 1 && f32(a, rows * D))) return null;
    const eps = baked(p.eps);
    if (D % 4 === 0) return simd.layerNormStats(a, rows, D, eps);
    const out = allocFloat32(size);
    for (let r = 0, b = 0; r < rows; r++, b += D) {
      const m = blockSum(a, b, D) / D;
      let q0 = 0;
      let q1 = 0;
      let k = b;
      for (; k + 1 < b + D; k += 2) {
        const d0 = a[k] - m;
        const d1 = a[k + 1] - m;
        q0 += d0 * d0;
        q1 += d1 * d1;
      }
      if (k < b + D) q0 += (a[k] - m) * (a[k] - m);
      out[2 * r] = m;
      out[2 * r + 1] = 1 / Math.sqrt((q0 + q1) / D + eps);
    }
    return out;
  },
});

/** The long rows' mean s / D from the row sums s. */
const longMean = declareKernel({
  name: 'layerNorm.stats.mean',
  inputs: ['rowSum'],
  body: (p: { D: number }) => ['const s = rowSum[i];', `return s / ${p.D};`],
  // elementwise s / D
  native: (p, [s], size) => {
    if (!f32(s, size)) return null;
    const out = allocFloat32(size);
    for (let i = 0; i < size; i++) out[i] = s[i] / p.D;
    return out;
  },
});

/** (a − m)² over [rows, D], the row mean m broadcast over the row. */
const longSquares = declareKernel({
  name: 'layerNorm.stats.squares',
  inputs: ['x', 'mean'],
  body: (p: { D: number }) => ['const a = x[i];', `const m = mean[${floorDiv('i', p.D)}];`, 'return (a - m) * (a - m);'],
  // per row r: (x − mean[r])², the row's mean read once
  native: (p, [x, mean], size) => {
    const { D } = p;
    const rows = size / D;
    if (!(Number.isInteger(rows) && f32(x, size) && f32(mean, rows))) return null;
    const out = allocFloat32(size);
    for (let r = 0, i = 0; r < rows; r++) {
      const m = mean[r];
      for (let c = 0; c < D; c++, i++) {
        const d = x[i] - m;
        out[i] = d * d;
      }
    }
    return out;
  },
});

/** The long rows' 1/sqrt(var + eps) from the summed squares q. */
const longRstd = declareKernel({
  name: 'layerNorm.stats.rstd',
  inputs: ['sq'],
  body: (p: { D: number; eps: number }) => ['const q = sq[i];', `return 1 / Math.sqrt(q / ${p.D} + ${lit(p.eps)});`],
  // elementwise 1 / sqrt(q / D + eps)
  native: (p, [sq], size) => {
    if (!f32(sq, size)) return null;
    const eps = baked(p.eps);
    const out = allocFloat32(size);
    for (let i = 0; i < size; i++) out[i] = 1 / Math.sqrt(sq[i] / p.D + eps);
    return out;
  },
});

/** [rows*2] with a[r] at 2r and b[r] at 2r+1 (the packed layout from two per-row results). */
const interleaveKernel = declareKernel({
  name: 'layerNorm.interleave',
  inputs: ['a', 'b'],
  body: () => [`const r = ${floorDiv('i', 2)};`, 'return i - r * 2 < 0.5 ? a[r] : b[r];'],
  // out[2r] = a[r], out[2r + 1] = b[r]
  native: (_p, [a, b], size) => {
    const rows = size / 2;
    if (!(Number.isInteger(rows) && f32(a, rows) && f32(b, rows))) return null;
    const out = allocFloat32(size);
    for (let r = 0; r < rows; r++) {
      out[2 * r] = a[r];
      out[2 * r + 1] = b[r];
    }
    return out;
  },
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
  // per row: x̂ from the row's statistics, then the affine map; one loop per weight/bias combination
  native: (p, args, size, simd) => {
    const { D } = p;
    const rows = size / D;
    const [a, s] = args;
    const w = p.weight ? args[2] : undefined;
    const b = p.bias ? args[p.weight ? 3 : 2] : undefined;
    if (!(Number.isInteger(rows) && f32(a, size) && f32(s, 2 * rows))) return null;
    if ((p.weight && !f32(w, D)) || (p.bias && !f32(b, D))) return null;
    if (D % 4 === 0) return simd.layerNormForward(a, s, f32(w, D) ? w : null, f32(b, D) ? b : null, rows, D);
    const out = allocFloat32(size);
    // (the counters c and i side by side: V8 runs these loops about twice as fast as with a[i + c])
    for (let r = 0, i = 0; r < rows; r++) {
      const m = s[2 * r];
      const rs = s[2 * r + 1];
      if (w && b) for (let c = 0; c < D; c++, i++) out[i] = (a[i] - m) * rs * w[c] + b[c];
      else if (w) for (let c = 0; c < D; c++, i++) out[i] = (a[i] - m) * rs * w[c];
      else if (b) for (let c = 0; c < D; c++, i++) out[i] = (a[i] - m) * rs + b[c];
      else for (let c = 0; c < D; c++, i++) out[i] = (a[i] - m) * rs;
    }
    return out;
  },
});

// ---- backward ----

/** v · x̂ elementwise over [rows, D], x̂ = (x − mean)·rstd from the packed statistics. */
const timesXhatKernel = declareKernel({
  name: 'layerNorm.backward.timesXhat',
  inputs: ['v', 'a', 's'],
  body: (p: { D: number }) => [`const r = ${floorDiv('i', p.D)};`, 'return v[i] * (a[i] - s[r * 2]) * s[r * 2 + 1];'],
  // per row: v · (x − mean) · rstd
  native: (p, [v, a, s], size) => {
    const { D } = p;
    const rows = size / D;
    if (!(Number.isInteger(rows) && f32(v, size) && f32(a, size) && f32(s, 2 * rows))) return null;
    const out = allocFloat32(size);
    for (let r = 0, i = 0; r < rows; r++) {
      const m = s[2 * r];
      const rs = s[2 * r + 1];
      for (let c = 0; c < D; c++, i++) out[i] = v[i] * (a[i] - m) * rs;
    }
    return out;
  },
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
  // per row: g · w[c]
  native: (p, [g, w], size) => {
    const { D } = p;
    const rows = size / D;
    if (!(Number.isInteger(rows) && f32(g, size) && f32(w, D))) return null;
    const out = allocFloat32(size);
    for (let i = 0; i < size;) for (let c = 0; c < D; c++, i++) out[i] = g[i] * w[c];
    return out;
  },
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
  // per row, one pass: Σ gw and Σ gw·(x − mean)·rstd side by side
  native: (p, args, size, simd) => {
    const { D } = p;
    const rows = size / 2;
    const [g, a, s] = args;
    const w = p.weight ? args[3] : undefined;
    if (!(Number.isInteger(rows) && f32(g, rows * D) && f32(a, rows * D) && f32(s, size))) return null;
    if (p.weight && !f32(w, D)) return null;
    if (D % 4 === 0) return simd.layerNormRowSums(g, a, s, f32(w, D) ? w : null, rows, D);
    const out = allocFloat32(size);
    for (let r = 0, i = 0; r < rows; r++) {
      const m = s[2 * r];
      const rs = s[2 * r + 1];
      let sg = 0;
      let sx = 0;
      if (w) {
        for (let c = 0; c < D; c++, i++) {
          const gw = g[i] * w[c];
          sg += gw;
          sx += gw * (a[i] - m) * rs;
        }
      } else {
        for (let c = 0; c < D; c++, i++) {
          const gw = g[i];
          sg += gw;
          sx += gw * (a[i] - m) * rs;
        }
      }
      out[2 * r] = sg;
      out[2 * r + 1] = sx;
    }
    return out;
  },
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
  // per row: rstd · (gw − Σgw / D − x̂ · Σ(gw·x̂) / D), the row's sums read once
  native: (p, args, size, simd) => {
    const { D } = p;
    const rows = size / D;
    const [g, a, s, q] = args;
    const w = p.weight ? args[4] : undefined;
    if (!(Number.isInteger(rows) && f32(g, size) && f32(a, size) && f32(s, 2 * rows) && f32(q, 2 * rows))) return null;
    if (p.weight && !f32(w, D)) return null;
    if (D % 4 === 0) return simd.layerNormDx(g, a, s, q, f32(w, D) ? w : null, rows, D);
    const out = allocFloat32(size);
    for (let r = 0, i = 0; r < rows; r++) {
      const m = s[2 * r];
      const rs = s[2 * r + 1];
      const qg = q[2 * r] / D;
      const qx = q[2 * r + 1];
      if (w) {
        for (let c = 0; c < D; c++, i++) {
          const xh = (a[i] - m) * rs;
          out[i] = rs * (g[i] * w[c] - qg - (xh * qx) / D);
        }
      } else {
        for (let c = 0; c < D; c++, i++) {
          const xh = (a[i] - m) * rs;
          out[i] = rs * (g[i] - qg - (xh * qx) / D);
        }
      }
    }
    return out;
  },
});

type ColParams = { rows: number; D: number };

/** Column c's sum over the rows (rows ≤ ROW_FUSED) of g·x̂ (`xhat`) or of g. */
function colSum(p: ColParams, xhat: boolean): string[] {
  const xh = (r: string): string => ` * (a[(${r}) * ${p.D} + c] - s[(${r}) * 2]) * s[(${r}) * 2 + 1]`;
  const term = (r: string): string => `g[(${r}) * ${p.D} + c]${xhat ? xh(r) : ''}`;
  return ['const c = i;', blockedSum('acc', term, p.rows), 'return acc;'];
}

/** colSum on the host: the columns side by side in float64 accumulators, four rows per sweep of them. */
function colSumHost(
  p: ColParams,
  xhat: boolean,
  g: HostArray,
  a: HostArray | undefined,
  s: HostArray | undefined,
  size: number,
  simd: SimdProvider,
): Float32Array | null {
  const { rows, D } = p;
  if (!(size === D && f32(g, rows * D))) return null;
  if (xhat && !(f32(a, rows * D) && f32(s, 2 * rows))) return null;
  if (D % 4 === 0) return simd.colSums(g, xhat ? (a as Float32Array) : null, xhat ? (s as Float32Array) : null, rows, D);
  const acc = new Float64Array(D);
  const x = a as Float32Array;
  const st = s as Float32Array;
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    const i0 = r * D;
    const i1 = i0 + D;
    const i2 = i1 + D;
    const i3 = i2 + D;
    if (xhat) {
      const m0 = st[2 * r];
      const r0 = st[2 * r + 1];
      const m1 = st[2 * r + 2];
      const r1 = st[2 * r + 3];
      const m2 = st[2 * r + 4];
      const r2 = st[2 * r + 5];
      const m3 = st[2 * r + 6];
      const r3 = st[2 * r + 7];
      for (let c = 0; c < D; c++) {
        acc[c] +=
          g[i0 + c] * (x[i0 + c] - m0) * r0 +
          g[i1 + c] * (x[i1 + c] - m1) * r1 +
          (g[i2 + c] * (x[i2 + c] - m2) * r2 + g[i3 + c] * (x[i3 + c] - m3) * r3);
      }
    } else for (let c = 0; c < D; c++) acc[c] += g[i0 + c] + g[i1 + c] + (g[i2 + c] + g[i3 + c]);
  }
  for (let i = r * D; r < rows; r++) {
    if (xhat) {
      const m = st[2 * r];
      const rs = st[2 * r + 1];
      for (let c = 0; c < D; c++, i++) acc[c] += g[i] * (x[i] - m) * rs;
    } else for (let c = 0; c < D; c++, i++) acc[c] += g[i];
  }
  const out = allocFloat32(size);
  out.set(acc);
  return out;
}

/** dw = Σrows g·x̂ (rows ≤ ROW_FUSED). */
const dweightKernel = declareKernel({
  name: 'layerNorm.backward.dweight',
  inputs: ['g', 'a', 's'],
  body: (p: ColParams) => colSum(p, true),
  // the columns' Σ g·x̂ over the rows
  native: (p, [g, a, s], size, simd) => colSumHost(p, true, g, a, s, size, simd),
});

/** db = Σrows g (rows ≤ ROW_FUSED). */
const dbiasKernel = declareKernel({
  name: 'layerNorm.backward.dbias',
  inputs: ['g'],
  body: (p: ColParams) => colSum(p, false),
  // the columns' Σ g over the rows
  native: (p, [g], size, simd) => colSumHost(p, false, g, undefined, undefined, size, simd),
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
  checkTensor('layerNorm', 'input', x);
  if (weight != null) checkTensor('layerNorm', 'weight', weight);
  if (bias != null) checkTensor('layerNorm', 'bias', bias);
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
  const rows = x.numel() / D;
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
    // double backward through the composite (mean, variance, rsqrt as ops)
    backwardGraph: viaComposite([x, w ?? null, b ?? null], (xx, ww, bb) => {
      const dims = ns.map((_, k) => x.ndim - ns.length + k);
      const xc = sub(xx!, mean(xx!, dims, true));
      const y2 = mul(xc, rsqrt(add(mean(mul(xc, xc), dims, true), eps)));
      const yw = ww ? mul(y2, ww) : y2;
      return bb ? add(yw, bb) : yw;
    }),
    saved: [x, ...(w ? [w] : [])],
    // the statistics live as long as the backward needs them (record disposes them at once when nothing is recorded)
    owns: [st],
  });
}
