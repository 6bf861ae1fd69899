// layerNorm, fused: one statistics kernel (mean and 1/std per row, two-pass for accuracy) and one
// normalise kernel forward; backward with x̂ = (x-mean)·rstd and gw = g·w:
//   dx = rstd · (gw − mean(gw) − x̂ · mean(gw·x̂))     dw = Σrows g·x̂     db = Σrows g

import { needsGrad, record } from '../autograd/engine.js';
import type { Tensor } from '../autograd/tensor.js';
import { floatDType, fmtShape, launch, lit, numelOf, sameShape, sk } from './util.js';

/** [rows*2]: mean at 2r, 1/sqrt(var + eps) at 2r+1 (biased variance, as PyTorch). */
function statsKernel(x: Tensor, rows: number, D: number, eps: number): Tensor {
  const key = `ln.stats:${rows}:${D}:${eps}`;
  const build = (): string =>
    `function (a) { const i = this.thread.x; const r = Math.floor((i + 0.5) / 2); const w = i - r * 2; const base = r * ${D}; ` +
    `let s = 0; for (let c = 0; c < ${D}; c++) { s += a[base + c]; } const m = s / ${D}; ` +
    `if (w < 0.5) { return m; } let q = 0; for (let k = 0; k < ${D}; k++) { const d = a[base + k] - m; q += d * d; } ` +
    `return 1 / Math.sqrt(q / ${D} + ${lit(eps)}); }`;
  return launch(key, build, [x], [rows * 2], x.dtype);
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
      const rowKey = `ln.bwdrow:${rows}:${D}:${w ? 'w' : ''}`;
      const rowSums = launch(
        rowKey,
        () =>
          `function (g, a, s${w ? ', w' : ''}) { const j = this.thread.x; const r = Math.floor((j + 0.5) / 2); const which = j - r * 2; ` +
          `const m = s[r * 2]; const rs = s[r * 2 + 1]; let acc = 0; for (let c = 0; c < ${D}; c++) { const i = r * ${D} + c; ` +
          `const v = ${gw}; acc += which < 0.5 ? v : v * (a[i] - m) * rs; } return acc; }`,
        [g, x, stats, ...(w ? [w] : [])],
        [rows * 2],
        x.dtype,
      );
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
      const col = (which: 'w' | 'b'): Tensor =>
        launch(
          `ln.d${which}:${sk(x.shape)}:${D}`,
          () =>
            `function (g, a, s) { const c = this.thread.x; let acc = 0; for (let r = 0; r < ${rows}; r++) { const i = r * ${D} + c; ` +
            `acc += g[i]${which === 'w' ? ' * (a[i] - s[r * 2]) * s[r * 2 + 1]' : ''}; } return acc; }`,
          [g, x, stats],
          ns,
          x.dtype,
        );
      return [dx, w?.requiresGrad ? col('w') : null, b?.requiresGrad ? col('b') : null];
    },
    [x, ...(w ? [w] : [])],
    [stats],
  );
}
