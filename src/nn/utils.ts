// Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_).

import { Tensor } from '../autograd/tensor.js';
import { noGrad } from '../autograd/grad-mode.js';
import { full } from '../ops/creation.js';
import { fmtShape } from '../ops/util.js';

function gradsOf(fn: string, parameters: Tensor | Iterable<Tensor>): Tensor[] {
  const list = parameters instanceof Tensor ? [parameters] : parameters && typeof (parameters as Iterable<Tensor>)[Symbol.iterator] === 'function' ? [...parameters] : null;
  if (!list) throw new Error(`${fn}: parameters must be a Tensor or an iterable of Tensors, got ${parameters === null ? 'null' : typeof parameters}`);
  const grads: Tensor[] = [];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new Error(`${fn}: parameters[${i}] is not a Tensor`);
    if (p.grad) grads.push(p.grad);
  });
  return grads;
}

/** The normType-norm of one gradient, as a number (computed in the gradient's dtype, like PyTorch). */
function norm(g: Tensor, p: number): number {
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
    return p === 1 ? v : v ** (1 / p);
  });
}

/**
 * Scales the gradients of `parameters` in place so that their total normType-norm (the norm of the
 * per-gradient norms) is at most maxNorm, PyTorch's way: coefficient maxNorm / (total + 1e-6), applied
 * only when below 1. Returns the total norm before clipping.
 */
export function clipGradNorm(parameters: Tensor | Iterable<Tensor>, maxNorm: number, normType = 2, opts: { errorIfNonfinite?: boolean } = {}): number {
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm)) throw new Error(`clipGradNorm: maxNorm must be a number, got ${String(maxNorm)}`);
  if (typeof normType !== 'number' || !(normType > 0)) throw new Error(`clipGradNorm: normType must be a positive number or Infinity, got ${String(normType)}`);
  const grads = gradsOf('clipGradNorm', parameters);
  if (grads.length === 0) return 0;
  const norms = grads.map((g) => norm(g, normType));
  const total = normType === Infinity ? Math.max(...norms) : norms.reduce((a, n) => a + n ** normType, 0) ** (1 / normType);
  if (opts.errorIfNonfinite && !Number.isFinite(total)) {
    throw new Error(
      `clipGradNorm: the total norm of order ${normType} for gradients from \`parameters\` is non-finite (${total}), so it cannot be clipped; ` +
        `gradient shapes: ${grads.map((g) => fmtShape(g.shape)).join(', ')}`,
    );
  }
  const coef = maxNorm / (total + 1e-6);
  if (coef < 1) {
    noGrad(() => {
      for (const g of grads) {
        const c = full([], coef, { dtype: g.dtype });
        g.mul_(c);
        c.dispose();
      }
    });
  }
  return total;
}

/** Clamps every gradient of `parameters` into [-clipValue, clipValue] in place. */
export function clipGradValue(parameters: Tensor | Iterable<Tensor>, clipValue: number): void {
  if (typeof clipValue !== 'number' || !(clipValue >= 0)) throw new Error(`clipGradValue: clipValue must be a non-negative number, got ${String(clipValue)}`);
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
