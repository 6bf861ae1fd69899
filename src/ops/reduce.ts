// Reductions over any set of dims, with keepdim. One generated kernel per (kind, shape, dims): each
// output element loops over its reduced elements (loop bounds baked in).
//   sum:  dx = expand(g)            mean: dx = expand(g)/n
//   amax/amin: dx = g/count on every tied extreme, 0 elsewhere (PyTorch's even split)
//   max(dim)/min(dim): dx = g at the returned index, 0 elsewhere
//   var:  dx = g*2*(x - mean)/(n - correction)

import { needsGrad, record } from '../autograd/engine.js';
import { Tensor, type DType } from '../autograd/tensor.js';
import { fromValues } from './creation.js';
import { mapKernel } from './map.js';
import { fmtShape, gatherIndex, isFloat, launch, normDim, numelOf, sameShape, sk, stridesOf } from './util.js';

type Kind = 'sum' | 'mean' | 'amax' | 'amin' | 'argmax' | 'argmin' | 'var';

export function reduceDims(op: string, x: Tensor, dim: number | number[] | undefined): number[] {
  if (dim === undefined || (Array.isArray(dim) && dim.length === 0)) return x.shape.map((_, i) => i);
  const list = (Array.isArray(dim) ? dim : [dim]).map((d) => normDim(op, d, x.ndim, x.shape));
  if (new Set(list).size !== list.length) throw new Error(`${op}: dim ${JSON.stringify(dim)} names a dimension twice (shape ${fmtShape(x.shape)})`);
  return x.ndim === 0 ? [] : list.sort((a, b) => a - b);
}

function keptShape(shape: number[], dims: number[], keepdim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((s, d) => {
    if (!dims.includes(d)) out.push(s);
    else if (keepdim) out.push(1);
  });
  return out;
}

/** The reduction kernel: `kind` over `dims` of `x`; output has the kept dims (no keepdim 1s). */
function reduceKernel(kind: Kind, x: Tensor, dims: number[], dtype: DType, correction = 0): Tensor {
  const st = stridesOf(x.shape);
  const kept = x.shape.map((_, d) => d).filter((d) => !dims.includes(d));
  const outShape = kept.map((d) => x.shape[d]);
  const red = dims.filter((d) => x.shape[d] !== 1).map((d) => ({ size: x.shape[d], st: st[d] }));
  const n = dims.reduce((a, d) => a * x.shape[d], 1);
  const key = `reduce:${kind}:${sk(x.shape)}:${dims.join(',')}:${correction}`;
  const build = (): string => {
    const base = gatherIndex(outShape, kept.map((d) => st[d]), 0, 'i');
    const loops = (inner: string): string => {
      let code = inner;
      for (let k = red.length - 1; k >= 0; k--) code = `for (let r${k} = 0; r${k} < ${red[k].size}; r${k}++) { ${code} }`;
      return code;
    };
    const off = ['base', ...red.map((r, k) => (r.st === 1 ? `r${k}` : `r${k} * ${r.st}`))].join(' + ');
    const flat = red.map((r, k) => `r${k} * ${red.slice(k + 1).reduce((a, q) => a * q.size, 1)}`).join(' + ') || '0';
    let body: string;
    switch (kind) {
      case 'sum':
      case 'mean':
        body = `let acc = 0; ${loops(`acc += a[${off}];`)} return acc${kind === 'mean' ? ` / ${n}` : ''};`;
        break;
      case 'amax':
      case 'amin': {
        // NaN wins (as PyTorch); the explicit test also stops GL compilers from turning this into max(), which drops NaN
        const cmp = kind === 'amax' ? '>' : '<';
        body = `let acc = a[base]; ${loops(`const v = a[${off}]; if (v ${cmp} acc || (v != v && acc == acc)) { acc = v; }`)} return acc;`;
        break;
      }
      case 'argmax':
      case 'argmin': {
        const cmp = kind === 'argmax' ? '>' : '<';
        body = `let acc = a[base]; let at = 0; ${loops(`const v = a[${off}]; if (v ${cmp} acc || (v != v && acc == acc)) { acc = v; at = ${flat}; }`)} return at;`;
        break;
      }
      case 'var':
        body =
          `let s = 0; ${loops(`s += a[${off}];`)} const m = s / ${n}; ` +
          `let q = 0; ${loops(`const d = a[${off}] - m; q += d * d;`).replace(/\br(\d+)\b/g, 'u$1')} return q / ${Math.max(n - correction, 0)};`;
        break;
    }
    return `function (a) { const i = this.thread.x; const base = ${base}; ${body} }`;
  };
  return launch(key, build, [x], outShape, dtype);
}

function expandGrad(op: string, g: Tensor, x: Tensor, dims: number[], scale?: number): Tensor {
  const gk = g._view(keptShape(x.shape, dims, true));
  const out = mapKernel(op, scale === undefined ? 'g' : `g * ${scale}`, [['g', gk]], x.shape, g.dtype);
  gk.dispose();
  return out;
}

function finish(y: Tensor, x: Tensor, dims: number[], keepdim: boolean): Tensor {
  if (!keepdim) return y;
  const v = y._view(keptShape(x.shape, dims, true));
  y.dispose();
  return v;
}

export function sum(x: Tensor, dim?: number | number[], keepdim = false): Tensor {
  const dims = reduceDims('sum', x, dim);
  const dtype: DType = isFloat(x.dtype) ? x.dtype : 'int32';
  const y = finish(reduceKernel('sum', x, dims, dtype), x, dims, keepdim);
  if (!needsGrad(x)) return y;
  return record(y, 'Sum', [x], (g) => [expandGrad('sum.bwd', g, x, dims)]);
}

export function mean(x: Tensor, dim?: number | number[], keepdim = false): Tensor {
  if (!isFloat(x.dtype)) throw new Error(`mean: expects a floating point tensor, got ${x.dtype} (shape ${fmtShape(x.shape)}); convert it with .float()`);
  const dims = reduceDims('mean', x, dim);
  const n = dims.reduce((a, d) => a * x.shape[d], 1);
  const y = finish(reduceKernel('mean', x, dims, x.dtype), x, dims, keepdim);
  if (!needsGrad(x)) return y;
  return record(y, 'Mean', [x], (g) => [expandGrad('mean.bwd', g, x, dims, 1 / n)]);
}

function extreme(kind: 'amax' | 'amin', x: Tensor, dim?: number | number[], keepdim = false): Tensor {
  const dims = reduceDims(kind, x, dim);
  if (dims.some((d) => x.shape[d] === 0) || x.numel === 0) throw new Error(`${kind}: cannot reduce over an empty dimension (shape ${fmtShape(x.shape)})`);
  const y = finish(reduceKernel(kind, x, dims, x.dtype), x, dims, keepdim);
  if (!needsGrad(x)) return y;
  return record(
    y,
    kind === 'amax' ? 'Amax' : 'Amin',
    [x],
    (g) => {
      const yk = y._view(keptShape(x.shape, dims, true));
      const gk = g._view(yk.shape);
      const ties = mapKernel(`${kind}.ties`, '(x == y ? 1 : 0)', [['x', x], ['y', yk]], x.shape, x.dtype);
      const count = reduceKernel('sum', ties, dims, x.dtype);
      const ck = count._view(yk.shape);
      const dx = mapKernel(`${kind}.bwd`, '(t != 0 ? g / c : 0)', [['g', gk], ['t', ties], ['c', ck]], x.shape, x.dtype);
      for (const t of [yk, gk, ties, count, ck]) t.dispose();
      return [dx];
    },
    [x, y],
  );
}

export const amax = (x: Tensor, dim?: number | number[], keepdim = false): Tensor => extreme('amax', x, dim, keepdim);
export const amin = (x: Tensor, dim?: number | number[], keepdim = false): Tensor => extreme('amin', x, dim, keepdim);

/** `max(dim)` / `min(dim)` result: destructure `[values, indices]` or read `.values` / `.indices`. */
export class MaxResult {
  constructor(
    readonly values: Tensor,
    readonly indices: Tensor,
  ) {}
  *[Symbol.iterator](): Iterator<Tensor> {
    yield this.values;
    yield this.indices;
  }
}

export function argmax(x: Tensor, dim?: number, keepdim = false, kind: 'argmax' | 'argmin' = 'argmax'): Tensor {
  if (x.numel === 0) throw new Error(`${kind}: the input is empty (shape ${fmtShape(x.shape)})`);
  if (dim === undefined) {
    const flat = x._view([x.numel]);
    const r = reduceKernel(kind, flat, [0], 'int32');
    flat.dispose();
    return r;
  }
  const d = normDim(kind, dim, x.ndim, x.shape);
  return finish(reduceKernel(kind, x, x.ndim ? [d] : [], 'int32'), x, [d], keepdim);
}

export function maxDim(x: Tensor, dim: number, keepdim: boolean, which: 'max' | 'min'): MaxResult {
  const d = normDim(which, dim, x.ndim, x.shape);
  const dims = x.ndim ? [d] : [];
  if (x.ndim && x.shape[d] === 0) throw new Error(`${which}: cannot reduce over an empty dimension ${dim} (shape ${fmtShape(x.shape)})`);
  const indices = argmax(x, dim, keepdim, which === 'max' ? 'argmax' : 'argmin');
  const values = finish(reduceKernel(which === 'max' ? 'amax' : 'amin', x, dims, x.dtype), x, dims, keepdim);
  if (needsGrad(x)) {
    record(values, which === 'max' ? 'Max' : 'Min', [x], (g) => {
      const kshape = keptShape(x.shape, dims, true);
      const gk = g._view(kshape);
      const ik = indices._view(kshape);
      const posShape = x.shape.map((s, k) => (k === d ? s : 1));
      const pos = fromValues(Array.from({ length: x.shape[d] ?? 1 }, (_, k) => k), posShape, 'int32');
      const dx = mapKernel(`${which}.bwd`, '(p == j ? g : 0)', [['g', gk], ['p', pos], ['j', ik]], x.shape, g.dtype, { precision: g.dtype === 'float64' ? 'float64' : 'float32' });
      for (const t of [gk, ik, pos]) t.dispose();
      return [dx];
    });
  }
  return new MaxResult(values, indices);
}

export function variance(x: Tensor, dim?: number | number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
  if (!isFloat(x.dtype)) throw new Error(`var: expects a floating point tensor, got ${x.dtype} (shape ${fmtShape(x.shape)})`);
  const correction = opts.correction ?? 1;
  const dims = reduceDims('var', x, dim);
  const n = dims.reduce((a, d) => a * x.shape[d], 1);
  const denom = Math.max(n - correction, 0);
  // No degrees of freedom left: PyTorch divides by 0 (inf, or nan for 0/0). A kernel's x / 0 is not
  // reliable on GL (var of one element gave 0 there, not NaN), so that division happens on the host.
  const y = finish(denom === 0 ? divideByZero(reduceKernel('var', x, dims, x.dtype, 0)) : reduceKernel('var', x, dims, x.dtype, correction), x, dims, opts.keepdim ?? false);
  if (!needsGrad(x)) return y;
  return record(y, 'Var', [x], (g) => {
    const m = reduceKernel('mean', x, dims, x.dtype);
    const mk = m._view(keptShape(x.shape, dims, true));
    const gk = g._view(mk.shape);
    const num = mapKernel('var.bwd', `g * 2 * (x - m) / ${denom === 0 ? 1 : denom}`, [['g', gk], ['x', x], ['m', mk]], x.shape, x.dtype);
    for (const t of [m, mk, gk]) t.dispose();
    return [denom === 0 ? divideByZero(num) : num];
  });
}

/** v / 0 for every element, on the host (Infinity with v's sign, NaN for 0); disposes `t`. */
function divideByZero(t: Tensor): Tensor {
  const out = fromValues(Array.from(t.toArray() as ArrayLike<number>, (v) => v / 0), [...t.shape], t.dtype);
  t.dispose();
  return out;
}

/** Sums a broadcast gradient back to `shape` (the engine's one place for broadcasting). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  if (lead < 0) throw new Error(`cannot sum shape ${fmtShape(g.shape)} to the larger shape ${fmtShape(shape)}`);
  const dims: number[] = [];
  g.shape.forEach((s, d) => {
    if (d < lead) dims.push(d);
    else if (shape[d - lead] === 1 && s !== 1) dims.push(d);
    else if (shape[d - lead] !== s) throw new Error(`cannot sum shape ${fmtShape(g.shape)} to shape ${fmtShape(shape)}`);
  });
  const r = reduceKernel('sum', g, dims, g.dtype);
  if (numelOf(shape) !== r.numel) throw new Error(`gpugrad internal: sumToShape produced ${r.numel} elements for ${fmtShape(shape)}`);
  const v = r._view([...shape]);
  r.dispose();
  return v;
}
