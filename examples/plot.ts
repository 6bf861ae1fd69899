// The loss plot of the main job: an SVG line chart with axes, ticks, axis labels, the training loss and
// the validation loss (points where it was measured) and a legend. No Node module: the page can use it.

export interface LossPoint {
  step: number;
  loss: number;
  /** The validation loss, where it was measured at this step. */
  val?: number | null;
}

/** Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten, about `n` of them. */
export function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** The SVG text of the plot. */
export function lossPlotSvg(points: readonly LossPoint[], title = 'training'): string {
  const W = 720;
  const H = 400;
  const m = { left: 60, right: 20, top: 36, bottom: 50 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const vals = points.flatMap((p) => [p.loss, ...(p.val != null ? [p.val] : [])]).filter(Number.isFinite);
  const steps = points.map((p) => p.step);
  const x0 = Math.min(...steps, 0);
  const x1 = Math.max(...steps, 1);
  const yLo = vals.length ? Math.min(...vals) : 0;
  const yHi = vals.length ? Math.max(...vals) : 1;
  const pad = (yHi - yLo) * 0.05 || 0.5;
  const [y0, y1] = [Math.max(0, yLo - pad), yHi + pad];
  const sx = (v: number): number => m.left + ((v - x0) / (x1 - x0 || 1)) * pw;
  const sy = (v: number): number => m.top + ph - ((v - y0) / (y1 - y0 || 1)) * ph;
  const f = (v: number): string => v.toFixed(1);
  const line = (pts: [number, number][]): string => pts.map(([a, b]) => `${f(sx(a))},${f(sy(b))}`).join(' ');
  const train = points.filter((p) => Number.isFinite(p.loss)).map((p) => [p.step, p.loss] as [number, number]);
  const val = points.filter((p) => p.val != null && Number.isFinite(p.val)).map((p) => [p.step, p.val!] as [number, number]);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}: loss over ${train.length} steps</text>`,
  ];
  for (const t of ticks(y0, y1)) {
    const y = f(sy(t));
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${t}</text>`);
  }
  for (const t of ticks(x0, x1)) {
    const x = f(sx(t));
    out.push(`<line x1="${x}" x2="${x}" y1="${m.top + ph}" y2="${m.top + ph + 5}" stroke="black"/>`);
    out.push(`<text x="${x}" y="${m.top + ph + 18}" text-anchor="middle">${t}</text>`);
  }
  out.push(
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + ph}" stroke="black"/>`,
    `<line x1="${m.left}" x2="${m.left + pw}" y1="${m.top + ph}" y2="${m.top + ph}" stroke="black"/>`,
    `<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle">step</text>`,
    `<text x="16" y="${m.top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${m.top + ph / 2})">cross-entropy loss (nats)</text>`,
  );
  if (train.length) out.push(`<polyline fill="none" stroke="steelblue" stroke-width="1.5" points="${line(train)}"/>`);
  if (val.length) {
    out.push(`<polyline fill="none" stroke="darkorange" stroke-width="2" points="${line(val)}"/>`);
    for (const [a, b] of val) out.push(`<circle cx="${f(sx(a))}" cy="${f(sy(b))}" r="3" fill="darkorange"/>`);
  }
  const lx = m.left + pw - 150;
  out.push(
    `<rect x="${lx}" y="${m.top + 8}" width="140" height="44" fill="white" stroke="#999"/>`,
    `<line x1="${lx + 10}" x2="${lx + 34}" y1="${m.top + 22}" y2="${m.top + 22}" stroke="steelblue" stroke-width="2"/>`,
    `<text x="${lx + 40}" y="${m.top + 22}" dominant-baseline="middle">train</text>`,
    `<line x1="${lx + 10}" x2="${lx + 34}" y1="${m.top + 40}" y2="${m.top + 40}" stroke="darkorange" stroke-width="2"/>`,
    `<text x="${lx + 40}" y="${m.top + 40}" dominant-baseline="middle">validation</text>`,
    '</svg>',
  );
  return out.join('\n') + '\n';
}
