// A readable repr in PyTorch's style: `tensor([[ 0.1234, -1.0000], ...], requires_grad=True)`.
// Tensors of more than 1000 elements are summarised with the first and last 3 entries of each dim.
// As PyTorch's _tensor_str: one width for every entry, scientific notation (e-05) when the nonzero
// magnitudes span more than 1000x (also for integer-valued floats), rows wrapped at 80 columns.

import type { Tensor } from './tensor.js';

const THRESHOLD = 1000;
const EDGE = 3;
const LINE_WIDTH = 80;

/** `v.toExponential(4)` with Python's two-digit exponent: 1.0000e-05, 1.2340e+03. */
function sci(v: number): string {
  return v.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2');
}

function formatter(values: number[], dtype: string): (v: number) => string {
  if (dtype === 'bool') return (v) => (v ? 'True' : 'False');
  if (dtype === 'int32') return (v) => String(v);
  const finite = values.filter((v) => Number.isFinite(v));
  const special = (v: number): string | null => (Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : null);
  const abs = finite.map(Math.abs).filter((v) => v > 0);
  const mx = abs.length ? Math.max(...abs) : 0;
  const mn = abs.length ? Math.min(...abs) : 0;
  const spread = abs.length > 0 && (mx / mn > 1000 || mx > 1e8);
  if (finite.every((v) => Number.isInteger(v))) {
    return spread ? (v) => special(v) ?? sci(v) : (v) => special(v) ?? `${v.toFixed(0)}.`;
  }
  if (spread || mn < 1e-4) return (v) => special(v) ?? sci(v);
  return (v) => special(v) ?? v.toFixed(4);
}

export function formatTensor(t: Tensor): string {
  const extras: string[] = [];
  if (t.isDisposed) return `tensor(<disposed>, shape=[${t.shape.join(', ')}])`;
  const data = Array.from(t.toArray() as ArrayLike<number>);
  const summarize = data.length > THRESHOLD;
  if (t.dtype !== 'float32' && t.dtype !== 'bool') extras.push(`dtype=${t.dtype}`);
  if (t.gradFn) extras.push(`grad_fn=<${t.gradFn.name}Backward>`);
  else if (t.requiresGrad) extras.push('requires_grad=True');
  const shown: number[] = [];
  const strides = t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const collect = (dim: number, off: number): void => {
    if (dim === t.ndim) {
      shown.push(data[off]);
      return;
    }
    const n = t.shape[dim];
    const idx = summarize && n > 2 * EDGE ? [...range(0, EDGE), ...range(n - EDGE, n)] : range(0, n);
    for (const i of idx) collect(dim + 1, off + i * strides[dim]);
  };
  collect(0, 0);
  const f = formatter(shown, t.dtype);
  const width = Math.max(1, ...shown.map((v) => f(v).length));
  const cell = (v: number): string => f(v).padStart(width);
  const prefix = 'tensor(';
  const render = (dim: number, off: number, indent: number): string => {
    if (dim === t.ndim) return cell(data[off]);
    const n = t.shape[dim];
    const cut = summarize && n > 2 * EDGE;
    const idx = cut ? [...range(0, EDGE), -1, ...range(n - EDGE, n)] : range(0, n);
    if (dim === t.ndim - 1) {
      const parts = idx.map((i) => (i < 0 ? ' ...' : cell(data[off + i * strides[dim]])));
      const perLine = Math.max(1, Math.floor((LINE_WIDTH - indent) / (width + 2)));
      const lines: string[] = [];
      for (let k = 0; k < parts.length; k += perLine) lines.push(parts.slice(k, k + perLine).join(', '));
      return `[${lines.join(',\n' + ' '.repeat(indent + 1))}]`;
    }
    const parts = idx.map((i) => (i < 0 ? '...' : render(dim + 1, off + i * strides[dim], indent + 1)));
    const sep = ',' + '\n'.repeat(t.ndim - dim - 1) + ' '.repeat(indent + 1);
    return `[${parts.join(sep)}]`;
  };
  if (t.numel() === 0 && t.ndim > 1) extras.unshift(`size=(${t.shape.join(', ')})`);
  const body = t.ndim === 0 ? cell(data[0]) : t.numel() === 0 ? '[]' : render(0, 0, prefix.length);
  return `${prefix}${body}${extras.length ? ', ' + extras.join(', ') : ''})`;
}

function range(a: number, b: number): number[] {
  const r: number[] = [];
  for (let i = a; i < b; i++) r.push(i);
  return r;
}
