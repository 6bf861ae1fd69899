// Inline pictures for the notebooks (Deno's Jupyter kernel): a value whose Symbol.for('Jupyter.display')
// method returns a MIME bundle is shown as that bundle. SVG goes out as image/svg+xml and as text/html
// (Debian's nbconvert 6.5 strips inline SVG from HTML exports unless text/html is there too).
import type { Tensor } from '../../src/index.js';
import { lossPlotSvg, type LossPoint } from '../plot.js';

/** Shows an SVG document inline. */
export function svg(text: string): { [k: symbol]: () => Record<string, string> } {
  return { [Symbol.for('Jupyter.display')]: () => ({ 'image/svg+xml': text, 'text/html': text }) };
}

/** The loss curves (train and validation) as an inline plot. */
export const lossPlot = (points: readonly LossPoint[], title = 'training'): ReturnType<typeof svg> => svg(lossPlotSvg(points, title));

/** A matrix as a heatmap (white 0 to dark blue at the maximum), one cell per entry, values written in. */
export function heatmap(t: Tensor, title = ''): ReturnType<typeof svg> {
  const m = t.tolist() as number[][];
  const rows = m.length;
  const cols = m[0]?.length ?? 0;
  const cell = 44;
  const top = title ? 28 : 8;
  const max = Math.max(...m.flat().map(Math.abs), 1e-12);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${cols * cell + 16}" height="${rows * cell + top + 8}" font-family="sans-serif" font-size="11">`,
  ];
  if (title) out.push(`<text x="8" y="18" font-size="13">${title.replace(/</g, '&lt;')}</text>`);
  m.forEach((r, i) =>
    r.forEach((v, j) => {
      const a = Math.abs(v) / max;
      const shade = Math.round(255 * (1 - a));
      out.push(
        `<rect x="${8 + j * cell}" y="${top + i * cell}" width="${cell - 2}" height="${cell - 2}" fill="rgb(${shade},${shade},255)"/>`,
        `<text x="${8 + j * cell + cell / 2 - 1}" y="${top + i * cell + cell / 2}" text-anchor="middle" dominant-baseline="middle" fill="${a > 0.6 ? 'white' : 'black'}">${v.toFixed(2)}</text>`,
      );
    }),
  );
  out.push('</svg>');
  return svg(out.join(''));
}

/** The graph behind `t`, as text: each node's name, then the nodes its gradients flow to (gradFn.nextFunctions). */
export function graphText(t: Tensor): string {
  const lines: string[] = [];
  const seen = new Set<unknown>();
  const walk = (node: { name: string; nextFunctions?: [unknown, number][] } | null, depth: number): void => {
    if (!node) return;
    const again = seen.has(node);
    lines.push(`${'  '.repeat(depth)}${node.name}${again ? ' (again)' : ''}`);
    if (again) return;
    seen.add(node);
    for (const [next] of node.nextFunctions ?? []) walk(next as typeof node, depth + 1);
  };
  walk(t.gradFn as unknown as { name: string; nextFunctions: [unknown, number][] }, 0);
  return lines.join('\n');
}
