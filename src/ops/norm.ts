// Norms and the functions built on them:
//   norm(x, p, dim, keepdim):  p = 2 / 'fro': n = √Σx²;  dx = g·x/n, 0 where n = 0 (PyTorch's subgradient)
//                              p = 1: Σ|x|;  p = Infinity: max|x|;  p = -Infinity: min|x| (composites of
//                              abs, sum and amax/amin: dx = g·sign(x), split evenly over tied extremes)
//   normalize(x, p, dim, eps): y = x / max(norm(x, p, dim, keepdim), eps)    (through norm, clamp, div)
//   rmsNorm(x, shape, w, eps): y = x · rsqrt(mean(x², last dims) + eps) · w  (through mul, mean, add, rsqrt)
//   outer(a, b):               out[i, j] = a[i]·b[j]                          (through mul)

import { record } from '../autograd/engine.js';
import { noGrad } from '../autograd/grad-mode.js';
import { Tensor } from '../autograd/tensor.js';
import { isFloat } from '../helpers/dtype.js';
import { fmtShape } from '../helpers/shape.js';
import { checkOptions, describeValue } from '../helpers/validate.js';
import { add, mul, div } from './binary.js';
import { clamp } from './clamp.js';
import { checkTensor } from './indexing.js';
import { mapKernel } from './map.js';
import { amax, amin, mean, reduceDims, sum } from './reduce.js';
import { reshape } from './shape.js';
import { abs, rsqrt, sqrt } from './unary.js';

/** The orders of `norm`: PyTorch's vector norms that a transformer script uses. */
export type NormP = number | 'fro';

function checkFloat(fn: string, name: string, t: Tensor): void {
  if (!isFloat(t.dtype))
    throw new Error(
      `${fn}: ${name} must be a floating point tensor, got ${t.dtype} (shape ${fmtShape(t.shape)}); convert it with .float()`,
    );
}

/** The 2-norm over `dims` with PyTorch's gradient at 0 (0, not NaN). */
function norm2(x: Tensor, dims: number[], keepdim: boolean): Tensor {
  const n = noGrad(() => {
    const sq = mul(x, x);
    const s = sum(sq, dims, keepdim);
    sq.dispose();
    const r = sqrt(s);
    s.dispose();
    return r;
  });
  const kept = x.shape.map((s, d) => (dims.includes(d) ? 1 : s));
  return record(n, {
    name: 'Norm',
    inputs: [x],
    saved: [x, n],
    backward: (g) => {
      const gk = g._view(kept);
      const nk = n._view(kept);
      const dx = mapKernel(
        'norm2.bwd',
        '(n == 0 ? 0 : g * x / n)',
        [
          ['g', gk],
          ['x', x],
          ['n', nk],
        ],
        x.shape,
        x.dtype,
      );
      gk.dispose();
      nk.dispose();
      return [dx];
    },
    // dx = expand(g) · x / n, 0 where n = 0: with ops, n made safe by a constant where it is 0
    backwardGraph: (g) => {
      const nk = reshape(n, kept);
      const zero = mapKernel('norm2.zero', '(n == 0 ? 1 : 0)', [['n', nk]], kept, x.dtype);
      const keep = mapKernel('norm2.keep', '(n == 0 ? 0 : 1)', [['n', nk]], kept, x.dtype);
      return [mul(mul(reshape(g, kept), div(x, add(nk, zero))), keep)];
    },
  });
}

/**
 * The vector p-norm over `dim` (all dims when omitted): p = 2 or 'fro' (√Σx²), 1 (Σ|x|), Infinity (max|x|),
 * -Infinity (min|x|).
 */
export function norm(input: Tensor, p: NormP = 2, dim?: number | number[] | null, keepdim = false): Tensor {
  return normOf('norm', input, p, dim, keepdim);
}

/** norm for `fn` (norm, normalize): its errors name the function the user called. */
function normOf(fn: string, input: Tensor, p: NormP, dim: number | number[] | null | undefined, keepdim: boolean): Tensor {
  const x = checkTensor(fn, 'input', input);
  checkFloat(fn, 'input', x);
  if (p !== 'fro' && p !== 2 && p !== 1 && p !== Infinity && p !== -Infinity)
    throw new Error(`${fn}: p must be 2, 1, Infinity, -Infinity or 'fro', got ${describeValue(p)}`);
  if (typeof keepdim !== 'boolean') throw new Error(`${fn}: keepdim must be a boolean (true or false), got ${describeValue(keepdim)}`);
  if (dim !== undefined && dim !== null && typeof dim !== 'number' && !Array.isArray(dim))
    throw new Error(`${fn}: dim must be an integer, an array of integers or null, got ${describeValue(dim)}`);
  const dims = reduceDims(fn, x, dim ?? undefined);
  if (p === 2 || p === 'fro') return norm2(x, dims, keepdim);
  const a = abs(x);
  if (p === 1) return sum(a, dims, keepdim);
  return p === Infinity ? amax(a, dims, keepdim) : amin(a, dims, keepdim);
}

/** normalize's options (PyTorch's F.normalize keywords). */
export interface NormalizeOptions {
  p?: NormP;
  dim?: number | number[];
  eps?: number;
}

/** x / max(‖x‖_p over dim, eps), as F.normalize (p = 2, dim = 1, eps = 1e-12). */
export function normalize(input: Tensor, opts: NormalizeOptions = {}): Tensor {
  checkOptions('normalize', opts, ['p', 'dim', 'eps']);
  const x = checkTensor('normalize', 'input', input);
  const eps = opts.eps ?? 1e-12;
  if (typeof eps !== 'number' || !(eps >= 0)) throw new Error(`normalize: eps must be a non-negative number, got ${describeValue(eps)}`);
  const n = normOf('normalize', x, opts.p ?? 2, opts.dim ?? 1, true);
  const denom = clamp(n, eps);
  return div(x, denom);
}

/** Machine epsilon of a float dtype (torch.finfo(dtype).eps). */
export function finfoEps(dtype: string): number {
  return dtype === 'float64' ? 2.220446049250313e-16 : 1.1920928955078125e-7;
}

/**
 * RMS normalization over the last dims given by normalizedShape (PyTorch 2.4's F.rms_norm):
 * x / √(mean(x²) + eps) · weight; eps null or undefined is the dtype's machine epsilon.
 */
export function rmsNorm(input: Tensor, normalizedShape: number | number[], weight?: Tensor | null, eps?: number | null): Tensor {
  const x = checkTensor('rmsNorm', 'input', input);
  checkFloat('rmsNorm', 'input', x);
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
  if (!Array.isArray(ns) || ns.some((d) => !Number.isInteger(d) || d < 0))
    throw new Error(`rmsNorm: normalizedShape must be an integer or an array of integers, got ${describeValue(normalizedShape)}`);
  const tail = x.shape.slice(x.ndim - ns.length);
  if (ns.length > x.ndim || tail.join() !== ns.join())
    throw new Error(`rmsNorm: normalizedShape ${fmtShape(ns)} must match the last dims of input, got input of shape ${fmtShape(x.shape)}`);
  if (weight !== undefined && weight !== null) {
    checkTensor('rmsNorm', 'weight', weight);
    if (weight.shape.join() !== ns.join())
      throw new Error(`rmsNorm: weight must have shape normalizedShape ${fmtShape(ns)}, got ${fmtShape(weight.shape)}`);
  }
  if (eps !== undefined && eps !== null && (typeof eps !== 'number' || !(eps >= 0)))
    throw new Error(`rmsNorm: eps must be a non-negative number or null, got ${describeValue(eps)}`);
  const e = eps ?? finfoEps(x.dtype);
  const dims = ns.map((_, k) => x.ndim - ns.length + k);
  const sq = mul(x, x);
  const ms = mean(sq, dims, true);
  const r = rsqrt(add(ms, e));
  const y = mul(x, r);
  return weight ? mul(y, weight) : y;
}

/** out[i, j] = input[i]·vec2[j] of two 1-D tensors (torch.outer). */
export function outer(input: Tensor, vec2: Tensor): Tensor {
  const a = checkTensor('outer', 'input', input);
  const b = checkTensor('outer', 'vec2', vec2);
  if (a.ndim !== 1 || b.ndim !== 1)
    throw new Error(`outer: input and vec2 must be 1-D, got shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  return mul(reshape(a, [a.shape[0], 1], 'outer'), reshape(b, [1, b.shape[0]], 'outer'));
}
