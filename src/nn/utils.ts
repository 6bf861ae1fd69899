// Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_).

import { Tensor } from '../autograd/tensor.js';
import { noGrad } from '../autograd/grad-mode.js';
import { releaseLater } from '../autograd/engine.js';
import type { DType } from '../autograd/tensor.js';
import { full, zeros } from '../ops/creation.js';
import { mapKernel } from '../ops/map.js';
import { cat } from '../ops/shape.js';
import { fmtShape } from '../helpers/shape.js';
import { checkOptions } from '../helpers/validate.js';

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
    if (p.isDisposed) throw new Error(`${fn}: parameters[${i}] (shape ${fmtShape(p.shape)}) was disposed by ${p._disposedBy}`);
    const g = p._gradInternal(); // read by gpugrad, not handed out: zeroGrad() may still free it
    if (g) grads.push(g);
  });
  return grads;
}

/** `f` of a tensor that is then disposed (composites below free their intermediates as they go). */
function then(t: Tensor, f: (x: Tensor) => Tensor): Tensor {
  const r = f(t);
  t.dispose();
  return r;
}

/** The normType-norm of a 1-D or any-shape tensor as a 0-d tensor of its dtype (PyTorch's vector_norm). */
function vectorNorm(g: Tensor, p: number): Tensor {
  if (p === Infinity) return then(g.abs(), (a) => a.amax());
  if (p === 2) return then(g.mul(g), (a) => then(a.sum(), (s) => s.sqrt()));
  if (p === 1) return then(g.abs(), (a) => a.sum());
  const e = full([], p, { dtype: g.dtype });
  const inv = full([], 1 / p, { dtype: g.dtype });
  const out = then(g.abs(), (a) => then(a.pow(e), (x) => then(x.sum(), (s) => s.pow(inv))));
  e.dispose();
  inv.dispose();
  return out;
}

const CLIP_OPTS = new Set(['errorIfNonfinite']);

/**
 * Scales the gradients of `parameters` in place so that their total normType-norm (the norm of the
 * per-gradient norms) is at most maxNorm, PyTorch's way: every gradient is multiplied by
 * min(maxNorm / (total + 1e-6), 1), computed in the gradients' dtype. A NaN total makes every gradient
 * NaN; an infinite one makes finite entries 0 (signed) and infinite ones NaN, as in PyTorch. With
 * `errorIfNonfinite: true` a NaN or infinite total throws instead, and no gradient is touched.
 * Returns the total norm before clipping as a 0-d tensor (as PyTorch; `.item()` reads it), computed
 * without reading anything back from a GL device.
 */
export function clipGradNorm(
  parameters: Tensor | Iterable<Tensor>,
  maxNorm: number,
  normType = 2,
  opts: { errorIfNonfinite?: boolean } = {},
): Tensor {
  // PyTorch accepts a negative maxNorm and flips every gradient's sign; that is never what was meant
  if (typeof maxNorm !== 'number' || !(maxNorm >= 0))
    throw new Error(`clipGradNorm: maxNorm must be a number >= 0, got ${String(maxNorm)}`);
  if (typeof normType !== 'number' || !(normType > 0))
    throw new Error(`clipGradNorm: normType must be a positive number or Infinity, got ${String(normType)}`);
  checkOptions('clipGradNorm', opts, [...CLIP_OPTS]);
  const errorIfNonfinite = opts.errorIfNonfinite ?? false;
  if (typeof errorIfNonfinite !== 'boolean')
    throw new Error(`clipGradNorm: errorIfNonfinite must be a boolean, got ${String(errorIfNonfinite)}`);
  const grads = gradsOf('clipGradNorm', parameters);
  // PyTorch stacks the per-gradient norms (promoting to float64 if any gradient is float64) and takes
  // their norm in that dtype: float32 sums overflow to Infinity where float64 ones would not. All of it
  // stays on the device (no readback on the GL modes) unless errorIfNonfinite must look at the total.
  const dtype: DType = grads.some((g) => g.dtype === 'float64') ? 'float64' : 'float32';
  if (grads.length === 0) return zeros([], { dtype });
  return noGrad(() => {
    const norms = grads.map((g) => then(vectorNorm(g, normType), (n) => then(n.to(dtype), (c) => c.reshape([1]))));
    const stacked = cat(norms, 0);
    norms.forEach((n) => n.dispose());
    const total = then(stacked, (x) => vectorNorm(x, normType));
    if (errorIfNonfinite) {
      const t = total.item();
      if (!Number.isFinite(t)) {
        total.dispose();
        throw new Error(
          `clipGradNorm: the total norm of order ${normType} for gradients from \`parameters\` is non-finite (${t}), so it cannot be clipped ` +
            `(gradient shapes: ${grads.map((g) => fmtShape(g.shape)).join(', ')}). To disable this error and scale the gradients by the non-finite norm anyway, ` +
            'pass `errorIfNonfinite: false`',
        );
      }
    }
    // clip_coef = max_norm / (total_norm + 1e-6) on a 0-d tensor (which computes it as reciprocal() * max_norm),
    // then clamp(max=1), which keeps NaN; every gradient is multiplied by it (in its own dtype)
    const eps = full([], 1e-6, { dtype });
    const max = full([], maxNorm, { dtype });
    const coef = mapKernel(
      'clipGradNorm.coef',
      '(c != c ? c : (c > 1 ? 1 : c))', // NaN stays NaN (GL compares NaN > 1 as true)
      [
        ['t', total],
        ['e', eps],
        ['m', max],
      ],
      [],
      dtype,
      { pre: ['const c = (1 / (t + e)) * m;'] },
    );
    eps.dispose();
    max.dispose();
    for (const g of grads) {
      if (g.dtype === dtype) g.mul_(coef);
      else {
        const c = coef.to(g.dtype);
        g.mul_(c);
        c.dispose();
      }
    }
    coef.dispose();
    // a loop that never disposes the result (PyTorch's garbage collector would) must not pin a texture per step
    releaseLater(total);
    return total;
  });
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
