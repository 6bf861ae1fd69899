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
import { bmmKernel } from './matmul.js';
import { rowLogSumExp } from './softmax.js';
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

const MASKED = '-2e30'; // below the -1e30 threshold the row kernels treat as "masked"

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
      `let s0 = 0; for (let e = 0; e < ${E}; e++) { s0 += qa[qo + e] * ka[ko + e]; } return ${val}; }`
    );
  };
  return launch(key, build, mask ? [q, k, mask] : [q, k], shape, q.dtype);
}

/** P (and Pd = P·drop/(1−p) when `withDrop`) from the scores and the row log-sum-exp. */
function probsKernel(scores: Tensor, lse: Tensor, a: FusedArgs, withDrop: boolean): Tensor {
  if (withDrop && a.drop) {
    const f = a.p >= 1 ? 0 : 1 / (1 - a.p);
    return mapKernel('sdpa.probsDrop', `(x > -1e30 && d != 0 ? Math.exp(x - l) * ${lit(f)} : 0)`, [['x', scores], ['l', lse], ['d', a.drop]], scores.shape, scores.dtype);
  }
  return mapKernel('sdpa.probs', '(x > -1e30 ? Math.exp(x - l) : 0)', [['x', scores], ['l', lse]], scores.shape, scores.dtype);
}

/** dS = P ⊙ (g·drop/(1−p) − D): the softmax backward shared by the output and the weights. */
function scoresGrad(a: FusedArgs, P: Tensor, g: Tensor, D: Tensor): Tensor {
  if (!a.drop) return mapKernel('sdpa.dS', 'P * (g - D)', [['P', P], ['g', g], ['D', D]], P.shape, P.dtype);
  const f = a.p >= 1 ? 0 : 1 / (1 - a.p);
  return mapKernel('sdpa.dS.drop', `P * ((d != 0 ? g * ${lit(f)} : 0) - D)`, [['P', P], ['g', g], ['d', a.drop], ['D', D]], P.shape, P.dtype);
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

/**
 * Runs the fused forward and records its backward. With `withWeights` it also returns the attention
 * weights (after dropout, as PyTorch's MultiheadAttention returns them) as a differentiable tensor
 * from the same kernels, so the output is identical whether or not weights are asked for.
 */
export function sdpaFused(a: FusedArgs, withWeights = false): { out: Tensor; weights: Tensor | null } {
  const { q, k, v, batch } = a;
  const L = q.shape[q.ndim - 2];
  const S = k.shape[k.ndim - 2];
  const Ev = v.shape[v.ndim - 1];
  const floatMask = a.mask && a.mask.dtype !== 'bool' ? a.mask : null;
  const scores = scoresKernel(a);
  const lse = rowLogSumExp(scores, scores.ndim - 1);
  const grad = needsGrad(q, k, v, floatMask);
  const keep = grad && scores.numel <= keepProbsLimit;
  // kept: P (pre-dropout) for the backward; pd: what multiplies v (P itself without dropout)
  const kept = keep ? probsKernel(scores, lse, a, false) : null;
  const pd = kept ? (a.drop ? applyDrop(a, kept) : kept) : probsKernel(scores, lse, a, true);
  scores.dispose();
  const out = bmmKernel({ t: pd, batch, rows: L, cols: S, trans: false }, { t: v, batch: v.shape.slice(0, -2), rows: S, cols: Ev, trans: false }, batch);
  /** P: the kept one, or recomputed from the saved row log-sum-exp (scores kernel + exp). */
  const probs = (): Tensor => {
    if (kept) return kept;
    const sc = scoresKernel(a);
    const P = probsKernel(sc, lse, a, false);
    sc.dispose();
    return P;
  };
  const release = (P: Tensor): void => {
    if (P !== kept) P.dispose();
  };
  record(
    out,
    'ScaledDotProductAttention',
    [q, k, v, floatMask],
    (dO) => {
      const P = probs();
      const Pd = a.drop ? applyDrop(a, P) : P;
      const dv = v.requiresGrad ? bmmKernel({ t: Pd, batch, rows: L, cols: S, trans: true }, { t: dO, batch, rows: L, cols: Ev, trans: false }, batch) : null;
      if (Pd !== P) Pd.dispose();
      const dPd = bmmKernel({ t: dO, batch, rows: L, cols: Ev, trans: false }, { t: v, batch: v.shape.slice(0, -2), rows: S, cols: Ev, trans: true }, batch);
      const D = rowDot(dO, out);
      const dS = scoresGrad(a, P, dPd, D);
      release(P);
      dPd.dispose();
      D.dispose();
      const [dq, dk, dmask] = inputGrads(a, dS, floatMask);
      return [dq, dk, dv, dmask];
    },
    [q, k, v, out, ...(floatMask ? [floatMask] : [])],
  );
  if (!withWeights) {
    if (pd !== kept) pd.dispose();
    return { out, weights: null };
  }
  // The weights are handed out: give them their own tensor object so disposing them leaves `kept` alone.
  const weights = pd === kept ? pd._view([...pd.shape]) : pd;
  record(
    weights,
    'ScaledDotProductAttentionWeights',
    [q, k, floatMask],
    (dW) => {
      const P = probs();
      const D = rowDot(dW, weights);
      const dS = scoresGrad(a, P, dW, D);
      release(P);
      D.dispose();
      return inputGrads(a, dS, floatMask);
    },
    [q, k, weights, ...(floatMask ? [floatMask] : [])],
  );
  return { out, weights };
}

/** Pd = P·drop/(1−p). */
function applyDrop(a: FusedArgs, P: Tensor): Tensor {
  return mapKernel('sdpa.applyDrop', `(d != 0 ? P * ${lit(a.p >= 1 ? 0 : 1 / (1 - a.p))} : 0)`, [['P', P], ['d', a.drop!]], P.shape, P.dtype);
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

/** D[b, l] = Σ_e dO[b, l, e]·O[b, l, e], kept as (..., L, 1). */
function rowDot(dO: Tensor, o: Tensor): Tensor {
  const Ev = o.shape[o.ndim - 1];
  const rows = o.numel / Ev;
  const key = `sdpa.rowdot:${rows}:${Ev}`;
  const build = (): string =>
    `function (g, o) { const i = this.thread.x; let s = 0; for (let e = 0; e < ${Ev}; e++) { s += g[i * ${Ev} + e] * o[i * ${Ev} + e]; } return s; }`;
  return launch(key, build, [dO, o], [...o.shape.slice(0, -1), 1], o.dtype);
}
