// Fused scaled dot product attention: forward and hand-written backward as GPU.js kernels.
// Shapes (after validation in sdpa-backend.ts, GQA folded in as broadcasting, see there):
//   q (B..., L, E)  k (Bk..., S, E)  v (Bv..., S, Ev)  mask broadcastable to (B..., L, S)
// Forward:   S = scale·q·kᵀ (+ float mask | masked by bool mask / causal)      [scores kernel]
//            lse = log Σ_s exp(S)  per row (masked entries skipped)             [row kernel, shared]
//            P = exp(S − lse) (0 where masked or the row is fully masked); Pd = P·drop/(1−p)
//            O = Pd·v                                                            [bmm kernel, shared]
// Backward:  dv = Pdᵀ·dO;  dPd = dO·vᵀ;  D = rowsum(dO ⊙ O);  dS = P ⊙ (dPd·drop/(1−p) − D)
//            dq = scale·dS·k;  dk = scale·dSᵀ·q;  dmask = dS (float masks)
// Saved for backward: q, k, v, the mask, the dropout mask, O and the row log-sum-exp, and P itself
// while the weights have at most 2^22 elements (16 MB in float32). Above that P is not kept: the backward
// recomputes S and P with the same two kernels from the row log-sum-exp (O(L) per row instead of
// O(L·S)). Measured on this 2-core CPU machine, the recompute costs one extra L·S·E matmul-sized kernel
// (fwd+bwd 3.0 s against 2.4 s for the math path at B=1, H=8, L=S=512, E=64 on cpu mode), so small and
// medium shapes keep P for speed and only very large ones trade speed for memory, as flash attention does.

import { needsGrad, record } from '../autograd/engine.js';
import type { Tensor } from '../autograd/tensor.js';
import { mapKernel } from './map.js';
import { bmmKernel, dotLoop } from './matmul.js';
import { rowDot, rowLogSumExp, softmaxEntry } from './softmax.js';
import { bcastIndex, broadcastStrides, gatherIndex, launch, lit, sk } from './util.js';

export interface FusedArgs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  mask: Tensor | null; // bool (true = takes part) or float (added)
  causal: boolean;
  scale: number;
  drop: Tensor | null; // bool keep-mask of the scores' shape, when dropout_p > 0
  p: number;
  batch: number[]; // broadcast batch shape of the output
}

const MASKED = '-2e30'; // what the scores kernel writes for a masked entry
const MASK_BELOW = '-1e30'; // what the row kernels skip: the marker, and -Infinity from a float mask
const SOFTMAX_ENTRY = softmaxEntry(MASK_BELOW);

/** S[b, l, s] for the broadcast batch b; masked entries get -2e30. */
function scoresKernel(a: FusedArgs): Tensor {
  const { q, k, mask, causal, scale, batch } = a;
  const L = q.shape[q.ndim - 2];
  const E = q.shape[q.ndim - 1];
  const S = k.shape[k.ndim - 2];
  const qStr = broadcastStrides(batch, q.shape.slice(0, -2)).map((s) => s * L * E);
  const kStr = broadcastStrides(batch, k.shape.slice(0, -2)).map((s) => s * S * E);
  const shape = [...batch, L, S];
  const maskKind = mask ? (mask.dtype === 'bool' ? 'b' : 'f') : 'n';
  const key = `sdpa.scores:${sk(q.shape)}:${sk(k.shape)}:${sk(batch)}:${maskKind}${mask ? sk(mask.shape) : ''}:${causal}:${scale}`;
  const build = (): string => {
    const params = mask ? 'qa, ka, ma' : 'qa, ka';
    let val = `s0 * ${lit(scale)}`;
    if (maskKind === 'f') val = `${val} + ma[${bcastIndex(shape, mask!.shape)}]`;
    let cond = '';
    if (maskKind === 'b') cond = `ma[${bcastIndex(shape, mask!.shape)}] == 0`;
    if (causal) cond = cond ? `${cond} || s > l` : 's > l';
    return (
      `function (${params}) { const i = this.thread.x; const bt = Math.floor((i + 0.5) / ${L * S}); const r = i - bt * ${L * S}; ` +
      `const l = Math.floor((r + 0.5) / ${S}); const s = r - l * ${S}; ` +
      (cond ? `if (${cond}) { return ${MASKED}; } ` : '') +
      `const qo = ${gatherIndex(batch, qStr, 0, 'bt')} + l * ${E}; const ko = ${gatherIndex(batch, kStr, 0, 'bt')} + s * ${E}; ` +
      `${dotLoop('qa', 'qo', 1, 'ka', 'ko', 1, E, 's0')} return ${val}; }`
    );
  };
  return launch(key, build, mask ? [q, k, mask] : [q, k], shape, q.dtype);
}

/** P (and Pd = P·drop/(1−p) when `withDrop`) from the scores and the row log-sum-exp. */
function probsKernel(scores: Tensor, lse: Tensor, a: FusedArgs, withDrop: boolean): Tensor {
  if (withDrop && a.drop) {
    const f = a.p >= 1 ? 0 : 1 / (1 - a.p);
    return mapKernel('sdpa.probsDrop', `(d != 0 ? (${SOFTMAX_ENTRY}) * ${lit(f)} : 0)`, [['x', scores], ['l', lse], ['d', a.drop]], scores.shape, scores.dtype);
  }
  return mapKernel('sdpa.probs', `(${SOFTMAX_ENTRY})`, [['x', scores], ['l', lse]], scores.shape, scores.dtype);
}

/** Pd = P·drop/(1−p). */
function applyDrop(p: number, P: Tensor, drop: Tensor): Tensor {
  return mapKernel('sdpa.applyDrop', `(d != 0 ? P * ${lit(p >= 1 ? 0 : 1 / (1 - p))} : 0)`, [['P', P], ['d', drop]], P.shape, P.dtype);
}

/** dS = P ⊙ (g·drop/(1−p) − D): the softmax backward shared by the output and the weights. */
function scoresGrad(p: number, P: Tensor, g: Tensor, D: Tensor, drop: Tensor | null): Tensor {
  if (!drop) return mapKernel('sdpa.dS', 'P * (g - D)', [['P', P], ['g', g], ['D', D]], P.shape, P.dtype);
  const f = p >= 1 ? 0 : 1 / (1 - p);
  return mapKernel('sdpa.dS.drop', `P * ((d != 0 ? g * ${lit(f)} : 0) - D)`, [['P', P], ['g', g], ['d', drop], ['D', D]], P.shape, P.dtype);
}

/** From dS: [dq, dk, dmask] (scale folded into the two matmuls). */
function inputGrads(a: FusedArgs, dS: Tensor, floatMask: Tensor | null): (Tensor | null)[] {
  const { q, k, batch } = a;
  const L = q.shape[q.ndim - 2];
  const E = q.shape[q.ndim - 1];
  const S = k.shape[k.ndim - 2];
  const dq = q.requiresGrad ? bmmKernel({ t: dS, batch, rows: L, cols: S, trans: false }, { t: k, batch: k.shape.slice(0, -2), rows: S, cols: E, trans: false }, batch, a.scale) : null;
  const dk = k.requiresGrad ? bmmKernel({ t: dS, batch, rows: L, cols: S, trans: true }, { t: q, batch: q.shape.slice(0, -2), rows: L, cols: E, trans: false }, batch, a.scale) : null;
  const dmask = floatMask?.requiresGrad ? dS : null;
  if (!dmask) dS.dispose();
  return [dq, dk, dmask];
}

/** What one backward reads besides its saved inputs; each graph node holds its own views and owns them. */
interface Held {
  lse: Tensor;
  kept: Tensor | null;
  drop: Tensor | null;
}

/**
 * Runs the fused forward and records its backward; the output comes back in `outShape` (the same
 * layout as the kernels' batch shape, e.g. GQA's (..., H, G, L, Ev) seen as (..., Hq, L, Ev)). With
 * `weightsShape` it also returns the attention weights (after dropout, as PyTorch's MultiheadAttention
 * returns them) as a differentiable tensor from the same kernels, so the output is identical whether or
 * not weights are asked for.
 */
export function sdpaFused(a: FusedArgs, outShape: number[], weightsShape: number[] | null = null): { out: Tensor; weights: Tensor | null } {
  const { q, k, v, batch } = a;
  const L = q.shape[q.ndim - 2];
  const S = k.shape[k.ndim - 2];
  const Ev = v.shape[v.ndim - 1];
  const floatMask = a.mask && a.mask.dtype !== 'bool' ? a.mask : null;
  const scores = scoresKernel(a);
  const lse = rowLogSumExp(scores, scores.ndim - 1, MASK_BELOW);
  const grad = needsGrad(q, k, v, floatMask);
  const keep = grad && scores.numel <= keepProbsLimit;
  // kept: P (pre-dropout) for the backward; pd: what multiplies v (P itself without dropout)
  const kept = keep ? probsKernel(scores, lse, a, false) : null;
  const pd = kept ? (a.drop ? applyDrop(a.p, kept, a.drop) : kept) : probsKernel(scores, lse, a, true);
  scores.dispose();
  const out0 = bmmKernel({ t: pd, batch, rows: L, cols: S, trans: false }, { t: v, batch: v.shape.slice(0, -2), rows: S, cols: Ev, trans: false }, batch);
  const out = out0._view(outShape);
  out0.dispose();
  const weights = weightsShape ? pd._view(weightsShape) : null;
  const view = (t: Tensor | null): Tensor | null => (t ? t._view([...t.shape]) : null);
  const hold = (): Held => ({ lse: view(lse)!, kept: view(kept), drop: view(a.drop) });
  const owned = (h: Held): Tensor[] => [h.lse, h.kept, h.drop].filter((t): t is Tensor => t !== null);
  /** P: the kept one, or recomputed from the row log-sum-exp (scores kernel + exp). */
  const probs = (h: Held): Tensor => {
    if (h.kept) return h.kept;
    const sc = scoresKernel(a);
    const P = probsKernel(sc, h.lse, a, false);
    sc.dispose();
    return P;
  };
  const release = (h: Held, P: Tensor): void => {
    if (P !== h.kept) P.dispose();
  };
  const saved = [q, k, v, ...(a.mask ? [a.mask] : [])];
  if (grad) {
    const h = hold();
    record(
      out,
      'ScaledDotProductAttention',
      [q, k, v, floatMask],
      (dO) => {
        const P = probs(h);
        const Pd = h.drop ? applyDrop(a.p, P, h.drop) : P;
        const dv = v.requiresGrad ? bmmKernel({ t: Pd, batch, rows: L, cols: S, trans: true }, { t: dO, batch, rows: L, cols: Ev, trans: false }, batch) : null;
        if (Pd !== P) Pd.dispose();
        const dPd = bmmKernel({ t: dO, batch, rows: L, cols: Ev, trans: false }, { t: v, batch: v.shape.slice(0, -2), rows: S, cols: Ev, trans: true }, batch);
        const D = rowDotIn(dO, out, batch);
        const dS = scoresGrad(a.p, P, dPd, D, h.drop);
        release(h, P);
        dPd.dispose();
        D.dispose();
        const [dq, dk, dmask] = inputGrads(a, dS, floatMask);
        return [dq, dk, dv, dmask];
      },
      [...saved, out],
      owned(h),
    );
  }
  if (grad && weights) {
    const h = hold();
    record(
      weights,
      'ScaledDotProductAttentionWeights',
      [q, k, floatMask],
      (dWeights) => {
        const dW = dWeights._view([...batch, L, S]); // the kernels' batch shape (GQA: heads as (H, G))
        const P = probs(h);
        const D = rowDotIn(dW, weights, batch);
        const dS = scoresGrad(a.p, P, dW, D, h.drop);
        release(h, P);
        D.dispose();
        dW.dispose();
        return inputGrads(a, dS, floatMask);
      },
      [...saved, weights],
      owned(h),
    );
  }
  // the nodes hold views of what they need; these originals can go
  lse.dispose();
  kept?.dispose();
  if (pd !== kept) pd.dispose();
  return { out, weights };
}

/**
 * Attention weights of at most this many elements are kept from the forward for the backward
 * (saving the scores and exp kernels there); larger ones are recomputed from the row log-sum-exp.
 * Returns the previous limit; 0 always recomputes.
 */
export function setSdpaKeepProbsLimit(elements: number): number {
  const prev = keepProbsLimit;
  keepProbsLimit = elements;
  return prev;
}
let keepProbsLimit = 1 << 22;

/** D[b, l] = Σ_e a[b, l, e]·o[b, l, e] with a and o seen in the kernels' batch shape: (...batch, L, 1). */
function rowDotIn(a: Tensor, o: Tensor, batch: number[]): Tensor {
  const last = o.shape[o.ndim - 1];
  const shape = [...batch, o.numel / last / Math.max(1, batch.reduce((x, y) => x * y, 1)), last];
  const av = a._view(shape);
  const ov = o._view(shape);
  const d = rowDot(av, ov, shape.length - 1);
  av.dispose();
  ov.dispose();
  return d;
}
