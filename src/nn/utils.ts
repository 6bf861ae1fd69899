// Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_).

import { Tensor } from '../autograd/tensor.js';
import { noGrad } from '../autograd/grad-mode.js';
import { full } from '../ops/creation.js';
import { fmtShape } from '../helpers/shape.js';

function gradsOf(fn: string, parameters: Tensor | Iterable<Tensor>): Tensor[] {
  const list =
    parameters instanceof Tensor
      ? [parameters]
      : parameters && typeof (parameters as Iterable<Tensor>)[Symbol.iterator] === 'function'
        ? [...parameters]
        : null;
  if (!list)
    throw new Error(
      `${fn}: parameters must be a Tensor or an iterable of Tensors, got ${parameters === null ? 'null' : typeof parameters}`,
    );
  const grads: Tensor[] = [];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new Error(`${fn}: parameters[${i}] is not a Tensor`);
    const g = p._gradInternal(); // read by gpugrad, not handed out: zeroGrad() may still free it
    if (g) grads.push(g);
  });
  return grads;
}

/** The normType-norm of one gradient, as a number (computed in the gradient's dtype, like PyTorch). */
function norm(g: Tensor, p: number): number {
  const r = roundTo(g.dtype);
  return noGrad(() => {
    if (p === Infinity) {
      const a = g.abs();
      const m = a.amax();
      const v = m.item();
      a.dispose();
      m.dispose();
      return v;
    }
    const temps: Tensor[] = [];
    let a: Tensor;
    if (p === 2) a = g.mul(g);
    else if (p === 1) a = g.abs();
    else {
      const abs = g.abs();
      const e = full([], p, { dtype: g.dtype });
      temps.push(abs, e);
      a = abs.pow(e);
    }
    const s = a.sum();
    const v = s.item();
    for (const t of [...temps, a, s]) t.dispose();
    return p === 1 ? v : r(p === 2 ? Math.sqrt(v) : v ** (1 / p));
  });
}

/** Rounds a float64 result to the precision of `dtype` (float32 arithmetic on numbers, like a 0-d tensor). */
function roundTo(dtype: string): (v: number) => number {
  return dtype === 'float64' ? (v) => v : Math.fround;
}

const CLIP_OPTS = new Set(['errorIfNonfinite']);

/**
 * Scales the gradients of `parameters` in place so that their total normType-norm (the norm of the
 * per-gradient norms) is at most maxNorm, PyTorch's way: every gradient is multiplied by
 * min(maxNorm / (total + 1e-6), 1), computed in the gradients' dtype. A NaN total makes every gradient
 * NaN; an infinite one makes finite entries 0 (signed) and infinite ones NaN, as in PyTorch. With
 * `errorIfNonfinite: true` a NaN or infinite total throws instead, and no gradient is touched.
 * Returns the total norm before clipping.
 */
export function clipGradNorm(
  parameters: Tensor | Iterable<Tensor>,
  maxNorm: number,
  normType = 2,
  opts: { errorIfNonfinite?: boolean } = {},
): number {
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm))
    throw new Error(`clipGradNorm: maxNorm must be a number, got ${String(maxNorm)}`);
  if (typeof normType !== 'number' || !(normType > 0))
    throw new Error(`clipGradNorm: normType must be a positive number or Infinity, got ${String(normType)}`);
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts))
    throw new Error(
      `clipGradNorm: options must be an object, got ${opts === null ? 'null' : Array.isArray(opts) ? 'an array' : typeof opts}`,
    );
  for (const k of Object.keys(opts))
    if (!CLIP_OPTS.has(k)) throw new Error(`clipGradNorm: unknown option "${k}" (known: ${[...CLIP_OPTS].join(', ')})`);
  const errorIfNonfinite = opts.errorIfNonfinite ?? false;
  if (typeof errorIfNonfinite !== 'boolean')
    throw new Error(`clipGradNorm: errorIfNonfinite must be a boolean, got ${String(errorIfNonfinite)}`);
  const grads = gradsOf('clipGradNorm', parameters);
  if (grads.length === 0) return 0;
  // PyTorch stacks the per-gradient norms (promoting to float64 if any gradient is float64) and takes
  // their norm in that dtype: float32 sums overflow to Infinity where float64 ones would not.
  const r = roundTo(grads.some((g) => g.dtype === 'float64') ? 'float64' : 'float32');
  const norms = grads.map((g) => norm(g, normType));
  let total: number;
  if (normType === Infinity) total = norms.reduce((a, n) => (Number.isNaN(a) || Number.isNaN(n) ? NaN : Math.max(a, n)), -Infinity);
  else if (normType === 1) total = norms.reduce((a, n) => r(a + n), 0);
  else {
    const s = norms.reduce((a, n) => r(a + r(normType === 2 ? n * n : n ** normType)), 0);
    total = r(normType === 2 ? Math.sqrt(s) : s ** (1 / normType));
  }
  if (errorIfNonfinite && !Number.isFinite(total)) {
    throw new Error(
      `clipGradNorm: the total norm of order ${normType} for gradients from \`parameters\` is non-finite (${total}), so it cannot be clipped ` +
        `(gradient shapes: ${grads.map((g) => fmtShape(g.shape)).join(', ')}). To disable this error and scale the gradients by the non-finite norm anyway, ` +
        'pass `errorIfNonfinite: false`',
    );
  }
  // clip_coef = max_norm / (total_norm + 1e-6) on a 0-d tensor (which computes it as reciprocal() * max_norm),
  // then clamp(max=1), which keeps NaN.
  const coef = r(r(1 / r(total + r(1e-6))) * r(maxNorm));
  const clamped = coef > 1 ? 1 : coef;
  if (clamped !== 1) {
    noGrad(() => {
      for (const g of grads) {
        const c = full([], clamped, { dtype: g.dtype });
        g.mul_(c);
        c.dispose();
      }
    });
  }
  return total;
}

/** Clamps every gradient of `parameters` into [-clipValue, clipValue] in place. */
export function clipGradValue(parameters: Tensor | Iterable<Tensor>, clipValue: number): void {
  if (typeof clipValue !== 'number' || !(clipValue >= 0))
    throw new Error(`clipGradValue: clipValue must be a non-negative number, got ${String(clipValue)}`);
  noGrad(() => {
    for (const g of gradsOf('clipGradValue', parameters)) {
      const hi = full([], clipValue, { dtype: g.dtype });
      const lo = full([], -clipValue, { dtype: g.dtype });
      const a = g.minimum(hi);
      const b = a.maximum(lo);
      g._assign(b, 'clipGradValue', true);
      for (const t of [hi, lo, a, b]) t.dispose();
    }
  });
}
