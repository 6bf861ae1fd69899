// F.scaledDotProductAttention, the op: validation, backend selection (like torch.nn.attention.sdpa_kernel),
// the math path, and the tape nodes of the fused path (its kernels and backward: sdpa-fused.ts).
// PyTorch 2.7 semantics, JS names:
//   query (N,...,Hq,L,E), key (N,...,H,S,E), value (N,...,H,S,Ev) -> (N,...,Hq,L,Ev)
// Fully masked rows give 0 (and zero gradients), as PyTorch 2.5+ really does; the documented reference
// formula would give NaN there (softmax of a row of -inf).
// GQA (enableGqa): query head hq uses key/value head floor(hq / (Hq/H)), as repeat_interleave does.
// The fused path folds that in as broadcasting: query heads are viewed as (H, Hq/H) and key/value heads
// as (H, 1), so nothing is copied and key/value gradients sum over their group by broadcasting.

import { checkTensor } from '../autograd/check.js';
import { record, viaComposite } from '../autograd/engine.js';
import { Tensor } from '../autograd/tensor.js';
import { isFloat } from '../helpers/dtype.js';
import { broadcastShapes, fmtShape, numelOf } from '../helpers/shape.js';
import { add, mul } from './binary.js';
import { maskedFill, logicalNot } from './compare.js';
import { fromValues } from './creation.js';
import { dropoutMask as drawDropoutMask, checkP } from './dropout.js';
import { matmul } from './matmul.js';
import { sdpaFusedBackward, sdpaFusedForward, owned, savedTensors, shareSaved, type FusedArgs } from './sdpa-fused.js';
import { repeatInterleave, reshape, transpose } from './shape.js';
import { softmax } from './softmax.js';
import { checkBoolean, checkOptions, describeValue } from '../helpers/validate.js';

export enum SDPBackend {
  FUSED = 'fused',
  MATH = 'math',
}

export interface SdpaOptions {
  attnMask?: Tensor | null;
  dropoutP?: number;
  isCausal?: boolean;
  scale?: number | null;
  enableGqa?: boolean;
}

const globalEnabled = new Set<SDPBackend>([SDPBackend.FUSED, SDPBackend.MATH]);
const contextStack: Set<SDPBackend>[] = [];
const warned = new Set<string>();
let lastBackend: SDPBackend | null = null;

function enabled(): Set<SDPBackend> {
  return contextStack.length ? contextStack[contextStack.length - 1] : globalEnabled;
}

/** Runs `fn` with only `backends` enabled (like `torch.nn.attention.sdpa_kernel`). */
export function sdpaKernel<T>(backends: SDPBackend | SDPBackend[], fn: () => T): T {
  const list = Array.isArray(backends) ? backends : [backends];
  for (const b of list) {
    if (b !== SDPBackend.FUSED && b !== SDPBackend.MATH)
      throw new Error(`sdpaKernel: unknown backend '${String(b)}'; expected SDPBackend.FUSED or SDPBackend.MATH`);
  }
  contextStack.push(new Set(list));
  try {
    return fn();
  } finally {
    contextStack.pop();
  }
}

export function enableFusedSdp(on: boolean): void {
  if (on) globalEnabled.add(SDPBackend.FUSED);
  else globalEnabled.delete(SDPBackend.FUSED);
}
export function enableMathSdp(on: boolean): void {
  if (on) globalEnabled.add(SDPBackend.MATH);
  else globalEnabled.delete(SDPBackend.MATH);
}
export const fusedSdpEnabled = (): boolean => globalEnabled.has(SDPBackend.FUSED);
export const mathSdpEnabled = (): boolean => globalEnabled.has(SDPBackend.MATH);
/** The backend the last call ran on (for tests and benchmarks). */
export const lastSdpBackend = (): SDPBackend | null => lastBackend;

/** The validated call: the fused kernels' operands (as FusedArgs names them) and the shapes around them. */
interface Checked extends Pick<FusedArgs, 'q' | 'k' | 'v' | 'mask' | 'causal' | 'scale' | 'dropoutP'> {
  gqa: boolean;
  groups: number; // Hq / H under GQA, else 1
  batch: number[]; // output batch dims (all but L, Ev)
  L: number;
  S: number;
}

const SDPA_OPTIONS = ['attnMask', 'dropoutP', 'isCausal', 'scale', 'enableGqa'] as const;

function validate(query: Tensor, key: Tensor, value: Tensor, opts: SdpaOptions): Checked {
  const op = 'scaledDotProductAttention';
  checkOptions(op, opts, SDPA_OPTIONS);
  for (const [n, t] of [
    ['query', query],
    ['key', key],
    ['value', value],
  ] as const) {
    checkTensor(op, n, t);
    if (!isFloat(t.dtype)) throw new Error(`${op}: ${n} must be float32 or float64, got ${t.dtype}`);
    if (t.ndim < 2) throw new Error(`${op}: ${n} needs at least 2 dims (..., seq, features), got shape ${fmtShape(t.shape)}`);
  }
  const shapes = `query ${fmtShape(query.shape)}, key ${fmtShape(key.shape)}, value ${fmtShape(value.shape)}`;
  if (query.dtype !== key.dtype || query.dtype !== value.dtype) {
    throw new Error(`${op}: query, key and value must share a dtype, got ${query.dtype}, ${key.dtype}, ${value.dtype}`);
  }
  const [L, E] = query.shape.slice(-2);
  const [S, Ek] = key.shape.slice(-2);
  const Sv = value.shape[value.ndim - 2];
  if (E !== Ek) throw new Error(`${op}: the last dim (E) of query and key must match: ${shapes}`);
  if (S !== Sv) throw new Error(`${op}: key and value must have the same sequence length S (dim -2): ${shapes}`);
  const isCausal = checkBoolean(op, 'isCausal', opts.isCausal, false);
  const mask = opts.attnMask ?? null;
  if (mask !== null && !(mask instanceof Tensor)) throw new Error(`${op}: attnMask must be a Tensor or null, got ${describeValue(mask)}`);
  if (isCausal && mask) throw new Error(`${op}: pass either attnMask or isCausal, not both (attnMask shape ${fmtShape(mask.shape)})`);
  const p = opts.dropoutP ?? 0;
  checkP(op, p);
  let scale = 1 / Math.sqrt(E);
  if (opts.scale !== undefined && opts.scale !== null) {
    if (typeof opts.scale !== 'number' || !Number.isFinite(opts.scale))
      throw new Error(`${op}: scale must be a finite number, got ${opts.scale}`);
    scale = opts.scale;
  }
  const gqa = checkBoolean(op, 'enableGqa', opts.enableGqa, false);
  let groups = 1;
  const qB = query.shape.slice(0, -2);
  const kB = key.shape.slice(0, -2);
  const vB = value.shape.slice(0, -2);
  if (gqa) {
    if (query.ndim < 3 || key.ndim < 3 || value.ndim < 3)
      throw new Error(`${op}: enableGqa needs a head dim (-3) on query, key and value: ${shapes}`);
    const Hq = query.shape[query.ndim - 3];
    const H = key.shape[key.ndim - 3];
    const Hv = value.shape[value.ndim - 3];
    if (H !== Hv)
      throw new Error(`${op}: with enableGqa the number of key heads (${H}) must equal the number of value heads (${Hv}): ${shapes}`);
    if (Hq % H !== 0)
      throw new Error(
        `${op}: with enableGqa the number of query heads (${Hq}) must be a multiple of the key/value heads (${H}): ${shapes}`,
      );
    groups = Hq / H;
    kB[kB.length - 1] = Hq;
    vB[vB.length - 1] = Hq;
  } else if (query.ndim >= 3 && key.ndim >= 3 && value.ndim >= 3) {
    const Hq = query.shape[query.ndim - 3];
    const H = key.shape[key.ndim - 3];
    const Hv = value.shape[value.ndim - 3];
    if ((H !== Hq && H !== 1 && Hq !== 1) || (Hv !== Hq && Hv !== 1 && Hq !== 1)) {
      throw new Error(
        `${op}: query has ${Hq} heads but key has ${H} and value ${Hv}; head counts must match (pass enableGqa: true for grouped-query attention): ${shapes}`,
      );
    }
  }
  let batch: number[];
  try {
    batch = broadcastShapes(op, [qB, kB, vB], ['query batch dims', 'key batch dims', 'value batch dims']);
  } catch (e) {
    throw new Error(`${(e as Error).message} (${shapes})`);
  }
  if (mask) {
    if (!(mask instanceof Tensor)) throw new Error(`${op}: attnMask must be a Tensor, got ${mask === null ? 'null' : typeof mask}`);
    if (mask.dtype !== 'bool' && mask.dtype !== query.dtype) {
      throw new Error(`${op}: attnMask must be bool or of the query's dtype (${query.dtype}), got ${mask.dtype}`);
    }
    const target = [...batch, L, S];
    let ok = true;
    try {
      ok = broadcastShapes(op, [mask.shape, target], ['attnMask', 'attention weights']).join() === target.join();
    } catch {
      ok = false;
    }
    if (!ok)
      throw new Error(
        `${op}: attnMask of shape ${fmtShape(mask.shape)} is not broadcastable to the attention weights' shape ${fmtShape(target)}`,
      );
  }
  return { q: query, k: key, v: value, mask, causal: isCausal, scale, dropoutP: p, gqa, groups, batch, L, S };
}

/** The reference formula composed from autograd ops (float64-capable; differentiated by the tape). */
function mathPath(c: Checked, dropoutMask: Tensor | null): { out: Tensor; weights: Tensor } {
  let { k, v } = c;
  if (c.gqa && c.groups > 1) {
    k = repeatInterleave(k, c.groups, -3);
    v = repeatInterleave(v, c.groups, -3);
  }
  let attn = mul(matmul(c.q, transpose(k, -2, -1)), c.scale);
  if (c.causal) {
    const allowed = fromValues(
      Array.from({ length: c.L * c.S }, (_, i) => (i % c.S <= Math.floor(i / c.S) ? 1 : 0)),
      [c.L, c.S],
      'bool',
    );
    attn = maskedFill(attn, logicalNot(allowed), -Infinity);
  } else if (c.mask) {
    attn = c.mask.dtype === 'bool' ? maskedFill(attn, logicalNot(c.mask), -Infinity) : add(attn, c.mask);
  }
  attn = softmax(attn, -1);
  if (dropoutMask) {
    // dropout as F.dropout applies it, with the dropout mask drawn once for whichever path runs
    const f = c.dropoutP >= 1 ? 0 : 1 / (1 - c.dropoutP);
    attn = maskedFill(mul(attn, f), logicalNot(dropoutMask), 0);
  }
  return { out: matmul(attn, v), weights: attn };
}

/**
 * The fused kernels' forward, and its tape nodes: one for the output and, with `withWeights`, one for the
 * weights, each calling the fused backward with its own saved-state record.
 */
function fusedPath(c: Checked, dropoutMask: Tensor | null, withWeights: boolean): { out: Tensor; weights: Tensor | null } {
  let { q, k, v, mask } = c;
  let batch = c.batch;
  const outShape = [...c.batch, c.L, c.v.shape[c.v.ndim - 1]];
  const views: Tensor[] = [];
  if (c.gqa && c.groups > 1) {
    // query heads (H·G) -> (H, G); key/value heads H -> (H, 1); masks and dropout follow the query.
    const split = (t: Tensor, at: number, into: number[]): Tensor => {
      const r = reshape(t, [...t.shape.slice(0, at), ...into, ...t.shape.slice(at + 1)]);
      views.push(r);
      return r;
    };
    const Hq = q.shape[q.ndim - 3];
    const H = Hq / c.groups;
    q = split(q, q.ndim - 3, [H, c.groups]);
    k = split(k, k.ndim - 3, [k.shape[k.ndim - 3], 1]);
    v = split(v, v.ndim - 3, [v.shape[v.ndim - 3], 1]);
    if (mask && mask.ndim >= 3) {
      const mh = mask.shape[mask.ndim - 3];
      mask = split(mask, mask.ndim - 3, mh === 1 ? [1, 1] : [H, c.groups]);
    }
    batch = [...batch.slice(0, -1), H, c.groups];
    if (dropoutMask) {
      dropoutMask = dropoutMask._view([...batch, c.L, c.S]);
      views.push(dropoutMask);
    }
  }
  const args = { q, k, v, mask, causal: c.causal, scale: c.scale, dropoutMask, dropoutP: c.dropoutP, batch };
  const { output, weights, saved } = sdpaFusedForward(args, outShape, withWeights ? [...c.batch, c.L, c.S] : null);
  if (saved) {
    const floatMask = mask && mask.dtype !== 'bool' ? mask : null;
    const forWeights = weights ? shareSaved(saved) : null; // the weights' node holds its own views
    // double backward (createGraph) through the math path on the same (head-split) operands, as PyTorch
    // routes its fused kernels' double backward; not with dropout, whose mask the fused state keeps
    const boolMask = floatMask ? null : mask;
    const math = (qq: Tensor | null, kk: Tensor | null, vv: Tensor | null, mm: Tensor | null) =>
      mathPath({ ...c, q: qq!, k: kk!, v: vv ?? c.v, mask: floatMask ? mm : boolMask, gqa: false, groups: 1 }, null);
    const noDropout = dropoutMask === null;
    record(output, {
      name: 'ScaledDotProductAttention',
      inputs: [q, k, v, floatMask],
      backward: (dO) => {
        const g = sdpaFusedBackward(saved, { dOutput: dO });
        return [g.dq, g.dk, g.dv, g.dmask];
      },
      ...(noDropout ? { backwardGraph: viaComposite([q, k, v, floatMask], (qq, kk, vv, mm) => math(qq, kk, vv, mm).out) } : {}),
      saved: savedTensors(saved, output),
      owns: owned(saved),
    });
    if (weights && forWeights) {
      record(weights, {
        name: 'ScaledDotProductAttentionWeights',
        inputs: [q, k, floatMask],
        backward: (dWeights) => {
          const g = sdpaFusedBackward(forWeights, { dWeights });
          return [g.dq, g.dk, g.dmask];
        },
        ...(noDropout ? { backwardGraph: viaComposite([q, k, floatMask], (qq, kk, mm) => math(qq, kk, v, mm).weights) } : {}),
        saved: savedTensors(forWeights, weights),
        owns: owned(forWeights),
      });
    }
  }
  // the head-split views are graph inputs while a backward is pending; without one they can go now
  if (!output.gradFn) for (const t of views) t.dispose();
  else if (dropoutMask) dropoutMask.dispose();
  return { out: output, weights };
}

/** Why the fused kernels cannot take this call (null when they can). */
function fusedUnavailable(c: Checked, mathOn: boolean): string | null {
  const scores = numelOf([...c.batch, c.L, c.S]);
  if (scores >= 1 << 24) return `the attention weights have ${scores} elements, over the 2^24 that flat kernel indices address exactly`;
  if (c.q.dtype === 'float64' && mathOn) return 'float64 inputs run on the math path (the precise C++-style path)';
  return null;
}

export function scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, opts: SdpaOptions = {}): Tensor {
  return attention(query, key, value, opts, false).out;
}

/**
 * The attention output and its weights (softmax after masking and dropout, shape (N,...,Hq,L,S)) from one
 * call of the same kernels, so asking for the weights never changes the output. Used by MultiheadAttention.
 */
export function scaledDotProductAttentionWithWeights(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  opts: SdpaOptions = {},
): { out: Tensor; weights: Tensor } {
  const r = attention(query, key, value, opts, true);
  return { out: r.out, weights: r.weights! };
}

function attention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  opts: SdpaOptions,
  withWeights: boolean,
): { out: Tensor; weights: Tensor | null } {
  const c = validate(query, key, value, opts);
  const on = enabled();
  const reasons: string[] = [];
  let use: SDPBackend | null = null;
  if (on.has(SDPBackend.FUSED)) {
    const why = fusedUnavailable(c, on.has(SDPBackend.MATH));
    if (why === null) use = SDPBackend.FUSED;
    else {
      reasons.push(`fused: ${why}`);
      // float64 routing to math is the documented default, not a failure worth a warning
      if (!(c.q.dtype === 'float64' && on.has(SDPBackend.MATH)) && !warned.has(why)) {
        warned.add(why);
        console.warn(`scaledDotProductAttention: the fused kernels cannot run: ${why}`);
      }
    }
  } else reasons.push('fused: disabled');
  if (!use) {
    if (on.has(SDPBackend.MATH)) use = SDPBackend.MATH;
    else reasons.push('math: disabled');
  }
  if (!use)
    throw new Error(
      `scaledDotProductAttention: no enabled backend can run this call (${reasons.join('; ')}); ${`query ${fmtShape(query.shape)}, key ${fmtShape(key.shape)}, value ${fmtShape(value.shape)}`}`,
    );
  lastBackend = use;
  // One dropout-mask draw (true where an element survives) of the weights' shape, in the same order on
  // both paths, so a seed gives the same dropout whichever backend runs.
  const dropoutMask = c.dropoutP > 0 ? drawDropoutMask([...c.batch, c.L, c.S], c.dropoutP) : null;
  const r = use === SDPBackend.FUSED ? fusedPath(c, dropoutMask, withWeights) : mathPath(c, dropoutMask);
  dropoutMask?.dispose(); // the graph keeps what it needs
  return r;
}
