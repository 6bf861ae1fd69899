// A readable repr in PyTorch's style: `tensor([[ 0.1234, -1.0000], ...], requires_grad=True)`.
// Tensors of more than 1000 elements are summarised with the first and last 3 entries of each dim.

import type { Tensor } from './tensor.js';

const THRESHOLD = 1000;
const EDGE = 3;

function formatter(values: number[], dtype: string): (v: number) => string {
  if (dtype === 'bool') return (v) => (v ? 'True' : 'False');
  if (dtype === 'int32') return (v) => String(v);
  const finite = values.filter((v) => Number.isFinite(v));
  const special = (v: number): string | null => (Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : null);
  if (finite.every((v) => Number.isInteger(v)) && finite.every((v) => Math.abs(v) < 1e8)) {
    return (v) => special(v) ?? `${v.toFixed(0)}.`;
  }
  const abs = finite.map(Math.abs).filter((v) => v > 0);
  const mx = abs.length ? Math.max(...abs) : 0;
  const mn = abs.length ? Math.min(...abs) : 0;
  if (mx >= 1e8 || mn < 1e-4 || mx / Math.max(mn, 1e-300) > 1000) {
    return (v) => special(v) ?? v.toExponential(4);
  }
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
    const parts = idx.map((i) => (i < 0 ? '...' : render(dim + 1, off + i * strides[dim], indent + 1)));
    if (dim === t.ndim - 1) return `[${parts.join(', ')}]`;
    const sep = ',' + '\n'.repeat(t.ndim - dim - 1) + ' '.repeat(indent + 1);
    return `[${parts.join(sep)}]`;
  };
  const body = t.ndim === 0 ? cell(data[0]) : render(0, 0, prefix.length);
  return `${prefix}${body}${extras.length ? ', ' + extras.join(', ') : ''})`;
}

function range(a: number, b: number): number[] {
  const r: number[] = [];
  for (let i = a; i < b; i++) r.push(i);
  return r;
}
