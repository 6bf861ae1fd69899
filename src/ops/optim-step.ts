// Fused multi-tensor optimizer steps (PyTorch's foreach/fused optimizers): one call updates every
// parameter of a group in place, instead of three element-wise kernels per parameter. It runs where the
// tensors are host arrays on the SIMD provider's backend; elsewhere it declines and the optimizer runs its
// per-parameter kernels (GPU.js writes one output per launch, so a fused step there would need a flat
// parameter buffer). The arithmetic is the per-parameter kernels' (nn/optimizers.ts), in doubles, each
// hyperparameter rounded to the parameters' float32 as the kernels' scalar inputs are.
//   gg = ±g (+ wd·p for Adam's L2)     m ← m + (gg − m)·(1 − β1)     v ← v·β2 + gg²·(1 − β2)
//   v̂ = max(v̂, v) with amsgrad        p ← p·(1 − lr·wd for AdamW) − (lr/bc1)·m / (√v̂/√bc2 + eps)

import type { Tensor } from '../autograd/tensor.js';
import { simdProvider } from '../backend/index.js';

export interface AdamItem {
  p: Tensor;
  g: Tensor;
  m: Tensor;
  v: Tensor;
  /** the running max of v (amsgrad), else null */
  vmax: Tensor | null;
  /** this parameter's step count, this step included */
  step: number;
}

export interface AdamHyper {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
  /** AdamW's decay of the parameter (true) or Adam's L2 term in the gradient (false) */
  decoupled: boolean;
  maximize: boolean;
  amsgrad: boolean;
}

/** The float32 host array of `t` when it is a whole float32 host storage, else null. */
function hostF32(t: Tensor): Float32Array | null {
  // only a dense tensor's storage is its own data: a view's storage for kernels is a copy
  if (t.dtype !== 'float32' || !t._isDense()) return null;
  const st = t._storageForKernel();
  if (st.texture !== null || st.size !== t.numel()) return null;
  const h = st.host();
  return h instanceof Float32Array ? h : null;
}

/**
 * One fused Adam/AdamW step over all `items`, in place; false (and nothing changed) when it cannot run
 * here (not the SIMD provider's backend, or a tensor that is not a whole float32 host array).
 */
export function fusedAdamStep(items: readonly AdamItem[], h: AdamHyper): boolean {
  if (!simdProvider()) return false;
  const arrays = items.map((it) => [it.p, it.g, it.m, it.v, ...(it.vmax ? [it.vmax] : [])].map(hostF32));
  if (arrays.some((a) => a.some((x) => x === null))) return false;
  const f = Math.fround;
  const [b1, b2] = h.betas;
  const c1 = f(1 - b1);
  const fb2 = f(b2);
  const c2 = f(1 - b2);
  const l2 = !h.decoupled && h.weightDecay !== 0;
  const wd = f(h.weightDecay);
  const eps = f(h.eps);
  const sign = h.maximize ? -1 : 1;
  const dec = h.decoupled && h.weightDecay !== 0 ? f(1 - h.lr * h.weightDecay) : 1;
  items.forEach((it, k) => {
    const [p, g, m, v, vmaxArr] = arrays[k] as Float32Array[];
    const vhat = h.amsgrad ? vmaxArr : v;
    const ss = f(h.lr / (1 - b1 ** it.step));
    const bc2s = f(Math.sqrt(1 - b2 ** it.step));
    for (let i = 0; i < p.length; i++) {
      const pi = p[i];
      const gg = sign * g[i] + (l2 ? wd * pi : 0);
      // each state is stored (rounded to float32) before it is read, as the kernels do
      m[i] = m[i] + (gg - m[i]) * c1;
      v[i] = v[i] * fb2 + gg * gg * c2;
      const mi = m[i];
      const vi = v[i];
      let vh = vi;
      if (h.amsgrad) {
        const a = vhat[i];
        vhat[i] = a >= vi ? a : vi;
        vh = vhat[i];
      }
      p[i] = pi * dec - (ss * mi) / (Math.sqrt(vh) / bc2s + eps);
    }
    // in-place writes: the version every saved view checks
    for (const t of [it.p, it.m, it.v, ...(it.vmax ? [it.vmax] : [])]) t._bumpVersion();
  });
  return true;
}
