// Fused scaled dot product attention: the forward and its hand-written backward as a pair of functions
// over one saved-state record (SdpaSaved). The op (src/ops/sdpa.ts) validates, selects this path and
// records the tape nodes, which call sdpaFusedBackward.
// Shapes (after validation in sdpa.ts, GQA folded in as broadcasting, see there):
//   q (B..., L, E)  k (Bk..., S, E)  v (Bv..., S, Ev)  mask broadcastable to (B..., L, S)
// Forward:   S = scale·q·kᵀ (+ float mask | masked by bool mask / causal)      [sdpa.scores]
//            lse = log Σ_s exp(S)  per row (masked entries skipped)             [softmax's row kernel]
//            P = exp(S − lse) (0 where masked or the row is fully masked); Pd = P·drop/(1−p)
//            O = Pd·v                                                            [matmul]
// Backward:  dv = Pdᵀ·dO;  dPd = dO·vᵀ;  D = rowsum(dO ⊙ O);  dS = P ⊙ (dPd·drop/(1−p) − D)
//            dq = scale·dS·k;  dk = scale·dSᵀ·q;  dmask = dS (float masks)
// (drop: the dropout mask, 1 where an element survives.) The attention weights, when asked for, are Pd;
// their backward is the same with dPd = dWeights and D = rowsum(dWeights ⊙ Pd).
// Saved for backward: q, k, v, the mask, the dropout mask, O and the row log-sum-exp, and P itself
// while the weights have at most 2^22 elements (16 MB in float32). Above that P is not saved: the backward
// recomputes S and P with the same two kernels from the row log-sum-exp (O(L) per row instead of
// O(L·S)), at the cost of one extra L·S·E matmul-sized kernel, so small and medium shapes save P for speed
// and only very large ones trade speed for memory, as flash attention does.

import { needsGrad } from '../autograd/engine.js';
import { launch } from '../autograd/launch.js';
import type { Tensor } from '../autograd/tensor.js';
import { broadcastStrides, numelOf } from '../helpers/shape.js';
import { bcastIndex, dotLoop, gatherIndex, lit, unravel } from '../kernels/source.js';
import { declareKernel } from '../kernels/template.js';
import { allocFloat32 } from '../backend/storage.js';
import { mapKernel, registerMapNative } from './map.js';
import { batchOffsets, mm } from './matmul.js';
import { rowDot, rowLogSumExp, softmaxEntry } from './softmax.js';

/** One fused call, as the op hands it over. */
export interface FusedArgs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** bool (true = takes part) or float (added to the scores) */
  mask: Tensor | null;
  causal: boolean;
  scale: number;
  /** bool, of the scores' shape, true where an element survives dropout; null when dropoutP is 0 */
  dropoutMask: Tensor | null;
  dropoutP: number;
  /** the kernels' batch shape: the broadcast batch dims of q, k and v (GQA: the query heads as (H, G)) */
  batch: number[];
}

/**
 * What the fused backward reads: the call's arguments and what the forward made for the backward. Each
 * tape node gets its own record (shareSaved); the tensors in `owned(saved)` are the node's own and freed
 * with it, the others are the op's inputs and outputs, which the node saves (savedTensors).
 */
export interface SdpaSaved extends FusedArgs {
  /** the output O in the op's output shape (D = rowsum(dO ⊙ O)) */
  output: Tensor;
  /** the attention weights Pd in the op's weights shape, when asked for (D = rowsum(dWeights ⊙ Pd)) */
  weights: Tensor | null;
  /** the row log-sum-exp of the scores, (batch..., L, 1); owned */
  lse: Tensor;
  /** P before dropout when the forward saved it, else null (recomputed from lse); owned */
  probs: Tensor | null;
  /** (from FusedArgs) a view of the dropout mask; owned */
  dropoutMask: Tensor | null;
}

/** The gradients of one backward: dv is null for the weights' backward (the weights do not depend on v). */
export interface SdpaGrads {
  dq: Tensor | null;
  dk: Tensor | null;
  dv: Tensor | null;
  /** the gradient of a float mask that requires grad */
  dmask: Tensor | null;
}

const MASKED = '-2e30'; // what the scores kernel writes for a masked entry
const MASK_BELOW = '-1e30'; // what the row kernels skip: the marker, and -Infinity from a float mask
const SOFTMAX_ENTRY = softmaxEntry(MASK_BELOW);

type ScoresParams = {
  /** the kernels' batch shape */
  batch: readonly number[];
  /** q's and k's element strides per batch dim (0 where they broadcast) */
  qBatchStrides: readonly number[];
  kBatchStrides: readonly number[];
  L: number;
  S: number;
  E: number;
  mask: 'none' | 'bool' | 'float';
  /** the mask's shape ([] without one), broadcast to (batch..., L, S) */
  maskShape: readonly number[];
  causal: boolean;
  scale: number;
};

/** S[b, l, s] = scale·q[b, l]·k[b, s] (+ a float mask) for the broadcast batch b; masked entries get -2e30. */
const scoresKernel = declareKernel({
  name: 'sdpa.scores',
  // each operand element is read once per row or column of the other: views come as dense copies
  denseInputs: true,
  inputs: (p: ScoresParams) => (p.mask === 'none' ? ['query', 'key'] : ['query', 'key', 'mask']),
  body: (p: ScoresParams) => {
    const { L, S, E } = p;
    const maskAt = p.mask === 'none' ? '' : `mask[${bcastIndex([...p.batch, L, S], p.maskShape)}]`;
    const masked: string[] = [];
    if (p.mask === 'bool') masked.push(`${maskAt} == 0`);
    if (p.causal) masked.push('s > l');
    const nb = numelOf(p.batch);
    // where q's row l and k's row s of batch bt start
    const start = (strides: readonly number[], row: string): string => {
      const off = gatherIndex(p.batch, strides, 0, 'bt');
      return off === '0' ? `${row} * ${E}` : `${off} + ${row} * ${E}`;
    };
    return [
      nb > 1 ? unravel('i', [nb, L, S], ['bt', 'l', 's']) : unravel('i', [L, S], ['l', 's']),
      masked.length ? [`// masked: the marker the row kernels skip`, `if (${masked.join(' || ')}) { return ${MASKED}; }`] : [],
      `const qStart = ${start(p.qBatchStrides, 'l')};`,
      `const kStart = ${start(p.kBatchStrides, 's')};`,
      dotLoop('query', 'qStart', 1, 'key', 'kStart', 1, E, 'qk'),
      `return qk * ${lit(p.scale)}${p.mask === 'float' ? ` + ${maskAt}` : ''};`,
    ];
  },
  // SIMD provider: the batched GEMM scale·q·kᵀ, then the mask and causality in one pass over the scores
  native: (p, [q, k, mask], size, simd) => {
    if (!(q instanceof Float32Array) || !(k instanceof Float32Array)) return null;
    const { L, S, E } = p;
    const out = allocFloat32(size);
    const qOffs = batchOffsets(p.batch, p.qBatchStrides);
    simd.gemmBatch(q, qOffs, false, k, batchOffsets(p.batch, p.kBatchStrides), true, L, S, E, p.scale, null, out);
    const masked = Number(MASKED);
    if (p.mask !== 'none') {
      const strides = broadcastStrides([...p.batch, L, S], p.maskShape);
      const mOffs = batchOffsets(p.batch, strides.slice(0, -2));
      const [sl, ss] = strides.slice(-2);
      const isBool = p.mask === 'bool';
      for (let bt = 0, o = 0; bt < qOffs.length; bt++)
        for (let l = 0; l < L; l++)
          for (let s = 0, m = mOffs[bt] + l * sl; s < S; s++, o++, m += ss) {
            if (isBool) {
              if (mask[m] === 0) out[o] = masked;
            } else out[o] += mask[m];
          }
    }
    if (p.causal)
      for (let bt = 0; bt < qOffs.length; bt++)
        for (let l = 0; l < L; l++) out.fill(masked, bt * L * S + l * S + Math.min(l + 1, S), bt * L * S + (l + 1) * S);
    return out;
  },
});

// SIMD provider: P = exp(S − lse) row by row with a vector exp (the masked entries 0, a NaN row NaN)
registerMapNative('sdpa.probs', ([x, l], simd, shapes) => {
  const cols = shapes.out[shapes.out.length - 1];
  const rows = numelOf(shapes.out) / cols;
  return numelOf(shapes.inputs[0]) === rows * cols && numelOf(shapes.inputs[1]) === rows ? simd.expRows(x, l, rows, cols) : null;
});

// SIMD provider: dS = P ⊙ (g − D), D one value per row
registerMapNative('sdpa.backward.dScores', ([P, g, D], simd, shapes) => {
  const cols = shapes.out[shapes.out.length - 1];
  const rows = numelOf(shapes.out) / cols;
  const n = rows * cols;
  if (numelOf(shapes.inputs[0]) !== n || numelOf(shapes.inputs[1]) !== n || numelOf(shapes.inputs[2]) !== rows) return null;
  return simd.rowMulSub(P, g, D, rows, cols);
});

/** The scores of a call (forward, or the backward's recompute). */
function computeScores(a: FusedArgs): Tensor {
  const { q, k, mask, batch } = a;
  const L = q.shape[q.ndim - 2];
  const E = q.shape[q.ndim - 1];
  const S = k.shape[k.ndim - 2];
  const p: ScoresParams = {
    batch,
    qBatchStrides: broadcastStrides(batch, q.shape.slice(0, -2)).map((s) => s * L * E),
    kBatchStrides: broadcastStrides(batch, k.shape.slice(0, -2)).map((s) => s * S * E),
    L,
    S,
    E,
    mask: mask ? (mask.dtype === 'bool' ? 'bool' : 'float') : 'none',
    maskShape: mask ? mask.shape : [],
    causal: a.causal,
    scale: a.scale,
  };
  return launch(scoresKernel, p, mask ? [q, k, mask] : [q, k], [...batch, L, S], q.dtype);
}

/** The factor that scales the elements surviving dropout. */
const survivorScale = (p: number): number => (p >= 1 ? 0 : 1 / (1 - p));

/** P from the scores and the row log-sum-exp, and with `dropoutMask` Pd = P·drop/(1−p) instead. */
function probsOf(scores: Tensor, lse: Tensor, dropoutMask: Tensor | null, dropoutP: number): Tensor {
  const { shape, dtype } = scores;
  if (!dropoutMask)
    return mapKernel(
      'sdpa.probs',
      SOFTMAX_ENTRY,
      [
        ['x', scores],
        ['l', lse],
      ],
      shape,
      dtype,
    );
  const expr = `(survives != 0 ? (${SOFTMAX_ENTRY}) * ${lit(survivorScale(dropoutP))} : 0)`;
  return mapKernel(
    'sdpa.probs.dropout',
    expr,
    [
      ['x', scores],
      ['l', lse],
      ['survives', dropoutMask],
    ],
    shape,
    dtype,
  );
}

/** Pd = P·drop/(1−p). */
function dropout(P: Tensor, dropoutMask: Tensor, dropoutP: number): Tensor {
  const expr = `(survives != 0 ? P * ${lit(survivorScale(dropoutP))} : 0)`;
  return mapKernel(
    'sdpa.dropout',
    expr,
    [
      ['P', P],
      ['survives', dropoutMask],
    ],
    P.shape,
    P.dtype,
  );
}

/** dS = P ⊙ (g·drop/(1−p) − D), g the gradient of Pd: the softmax backward shared by the output and the weights. */
function scoresGrad(P: Tensor, g: Tensor, D: Tensor, dropoutMask: Tensor | null, dropoutP: number): Tensor {
  if (!dropoutMask)
    return mapKernel(
      'sdpa.backward.dScores',
      'P * (g - D)',
      [
        ['P', P],
        ['g', g],
        ['D', D],
      ],
      P.shape,
      P.dtype,
    );
  const expr = `P * ((survives != 0 ? g * ${lit(survivorScale(dropoutP))} : 0) - D)`;
  const inputs: [string, Tensor][] = [
    ['P', P],
    ['g', g],
    ['survives', dropoutMask],
    ['D', D],
  ];
  return mapKernel('sdpa.backward.dScores.dropout', expr, inputs, P.shape, P.dtype);
}

/**
 * Attention weights of at most this many elements are saved from the forward for the backward (saving
 * the scores and exp kernels there); larger ones are recomputed from the row log-sum-exp.
 */
let saveProbsLimit = 1 << 22;

/** Sets the limit on saved attention weights (elements) and returns the previous one; 0 always recomputes. */
export function setSdpaKeepProbsLimit(elements: number): number {
  const prev = saveProbsLimit;
  saveProbsLimit = elements;
  return prev;
}

/**
 * The fused forward: the output in `outShape` (the kernels' batch layout, e.g. GQA's (..., H, G, L, Ev)
 * seen as (..., Hq, L, Ev)) and, with `weightsShape`, the attention weights (after dropout, as PyTorch's
 * MultiheadAttention returns them) from the same kernels, so the output is the same whether or not the
 * weights are asked for. `saved` is null when no input needs a gradient; otherwise it owns the statistics
 * (and a view of the dropout mask) for a tape node.
 */
export function sdpaFusedForward(
  args: FusedArgs,
  outShape: number[],
  weightsShape: number[] | null = null,
): { output: Tensor; weights: Tensor | null; saved: SdpaSaved | null } {
  const { q, k, v, mask, dropoutMask, dropoutP } = args;
  const floatMask = mask && mask.dtype !== 'bool' ? mask : null;
  const scores = computeScores(args);
  const lse = rowLogSumExp(scores, scores.ndim - 1, MASK_BELOW);
  const grad = needsGrad(q, k, v, floatMask);
  // probs: P before dropout, saved for the backward; Pd: what multiplies v (P itself without dropout)
  const probs = grad && scores.numel() <= saveProbsLimit ? probsOf(scores, lse, null, dropoutP) : null;
  const Pd = probs ? (dropoutMask ? dropout(probs, dropoutMask, dropoutP) : probs) : probsOf(scores, lse, dropoutMask, dropoutP);
  scores.dispose();
  const output = reshaped(mm(Pd, v), outShape); // O = Pd·v
  const weights = weightsShape ? Pd._view(weightsShape) : null;
  if (Pd !== probs) Pd.dispose();
  if (!grad) {
    lse.dispose();
    return { output, weights, saved: null };
  }
  const saved: SdpaSaved = { ...args, output, weights, lse, probs, dropoutMask: viewOf(dropoutMask) };
  return { output, weights, saved };
}

/**
 * The fused backward from the gradient of the output or of the weights (one tape node each). Reads
 * `saved` and frees nothing of it; what it makes for itself it frees.
 */
export function sdpaFusedBackward(saved: SdpaSaved, grad: { dOutput: Tensor } | { dWeights: Tensor }): SdpaGrads {
  const { q, k, v, batch, dropoutMask, dropoutP } = saved;
  const L = q.shape[q.ndim - 2];
  const S = k.shape[k.ndim - 2];
  const Ev = v.shape[v.ndim - 1];
  let dv: Tensor | null = null;
  let dS: Tensor;
  if ('dOutput' in grad) {
    const P = probsFor(saved);
    const dO = grad.dOutput._view([...batch, L, Ev]); // the kernels' batch shape (GQA: heads as (H, G))
    if (v.requiresGrad) {
      const Pd = dropoutMask ? dropout(P, dropoutMask, dropoutP) : P;
      dv = mm(Pd, dO, { transA: true }); // dv = Pdᵀ·dO
      if (Pd !== P) Pd.dispose();
    }
    const dPd = mm(dO, v, { transB: true }); // dPd = dO·vᵀ
    const D = rowDotIn(dO, saved.output, batch); // D = rowsum(dO ⊙ O)
    dS = scoresGrad(P, dPd, D, dropoutMask, dropoutP);
    if (P !== saved.probs) P.dispose();
    for (const t of [dPd, D, dO]) t.dispose();
  } else {
    const dW = grad.dWeights._view([...batch, L, S]); // the kernels' batch shape
    const P = probsFor(saved);
    const D = rowDotIn(dW, saved.weights!, batch); // D = rowsum(dWeights ⊙ Pd)
    dS = scoresGrad(P, dW, D, dropoutMask, dropoutP);
    if (P !== saved.probs) P.dispose();
    D.dispose();
    dW.dispose();
  }
  const dq = q.requiresGrad ? mm(dS, k, { alpha: saved.scale }) : null; // dq = scale·dS·k
  const dk = k.requiresGrad ? mm(dS, q, { transA: true, alpha: saved.scale }) : null; // dk = scale·dSᵀ·q
  const dmask = saved.mask && saved.mask.dtype !== 'bool' && saved.mask.requiresGrad ? dS : null; // dmask = dS
  if (!dmask) dS.dispose();
  return { dq, dk, dv, dmask };
}

/** The tensors a tape node holding `saved` owns (frees with itself). */
export function owned(saved: SdpaSaved): Tensor[] {
  return [saved.lse, saved.probs, saved.dropoutMask].filter((t): t is Tensor => t !== null);
}

/** The tensors a tape node holding `saved` saves (version-checked, not owned): the inputs, and `out` (the node's output). */
export function savedTensors(saved: SdpaSaved, out: Tensor): Tensor[] {
  return [saved.q, saved.k, saved.v, ...(saved.mask ? [saved.mask] : []), out];
}

/** A record for a second tape node: the same data, with its own views of the owned tensors. */
export function shareSaved(saved: SdpaSaved): SdpaSaved {
  return { ...saved, lse: viewOf(saved.lse)!, probs: viewOf(saved.probs), dropoutMask: viewOf(saved.dropoutMask) };
}

/** P: the saved one, or recomputed from the row log-sum-exp (the scores kernel, then exp). */
function probsFor(saved: SdpaSaved): Tensor {
  if (saved.probs) return saved.probs;
  const scores = computeScores(saved);
  const P = probsOf(scores, saved.lse, null, saved.dropoutP);
  scores.dispose();
  return P;
}

/** D[b, l] = Σ_e a[b, l, e]·o[b, l, e] with a and o seen in the kernels' batch shape: (...batch, L, 1). */
function rowDotIn(a: Tensor, o: Tensor, batch: number[]): Tensor {
  const last = o.shape[o.ndim - 1];
  const shape = [
    ...batch,
    o.numel() /
      last /
      Math.max(
        1,
        batch.reduce((x, y) => x * y, 1),
      ),
    last,
  ];
  const av = a._view(shape);
  const ov = o._view(shape);
  const d = rowDot(av, ov, shape.length - 1);
  av.dispose();
  ov.dispose();
  return d;
}

const viewOf = (t: Tensor | null): Tensor | null => (t ? t._view([...t.shape]) : null);

/** `t`'s data in another shape of the same size; `t` itself is released. */
function reshaped(t: Tensor, shape: readonly number[]): Tensor {
  const v = t._view([...shape]);
  t.dispose();
  return v;
}
