// Losses. nllLoss is a kernel pair; crossEntropy = logSoftmax + nllLoss; mseLoss is composite.
//   nll (with label smoothing ls over C classes), per sample n with target t (0 where ignored):
//     l_n = -(1-ls)·logp[n,t] - (ls/C)·Σc logp[n,c]
//     dlogp[n,c] = g_n · (-(1-ls)·[c == t] - ls/C)

import { needsGrad, record } from '../autograd/engine.js';
import { Tensor } from '../autograd/tensor.js';
import { mul, sub } from './binary.js';
import { mean, sum } from './reduce.js';
import { permute, reshape } from './shape.js';
import { logSoftmax } from './softmax.js';
import { floatDType, fmtShape, isFloat, launch, lit } from './util.js';

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyOptions {
  ignoreIndex?: number;
  labelSmoothing?: number;
  reduction?: Reduction;
}

function checkReduction(op: string, r: string): Reduction {
  if (r !== 'mean' && r !== 'sum' && r !== 'none') throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got '${r}'`);
  return r;
}

/** Checks the target's dtype and shape against the input's; returns the per-sample output shape. */
function checkTarget(op: string, input: Tensor, target: Tensor): number[] {
  if (!(target instanceof Tensor)) throw new Error(`${op}: target must be an int32 Tensor of class indices`);
  if (target.dtype !== 'int32') throw new Error(`${op}: target must hold int32 class indices, got ${target.dtype} (shape ${fmtShape(target.shape)})`);
  if (input.ndim === 1) {
    if (target.ndim !== 0) throw new Error(`${op}: for input of shape ${fmtShape(input.shape)} the target must be 0-d, got shape ${fmtShape(target.shape)}`);
    return [];
  }
  if (input.ndim < 1) throw new Error(`${op}: input must have a class dim, got shape ${fmtShape(input.shape)}`);
  const expected = [input.shape[0], ...input.shape.slice(2)];
  if (target.ndim !== expected.length || target.shape.some((s, i) => s !== expected[i])) {
    throw new Error(`${op}: expected target of shape ${fmtShape(expected)} for input of shape ${fmtShape(input.shape)}, got ${fmtShape(target.shape)}`);
  }
  return expected;
}

/** Flattens (N, C, d1, ...) / (C) inputs and their targets to (M, C) / (M). */
function flattenClasses(op: string, input: Tensor, target: Tensor): { x: Tensor; t: Tensor; outShape: number[] } {
  const expected = checkTarget(op, input, target);
  if (input.ndim === 1) return { x: reshape(input, [1, input.shape[0]]), t: reshape(target, [1]), outShape: [] };
  if (input.ndim === 2) return { x: input, t: target, outShape: [input.shape[0]] };
  const perm = [0, ...input.shape.slice(2).map((_, k) => k + 2), 1];
  const x = reshape(permute(input, perm), [-1, input.shape[1]]);
  return { x, t: reshape(target, [-1]), outShape: expected };
}

/** Negative log likelihood of log-probabilities `logp` (N, C) at int targets (N). */
export function nllLoss(logp: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  return nll('nllLoss', logp, target, opts);
}

/** nllLoss; `op` is the name errors carry (crossEntropy calls it too). */
function nll(op: string, logp: Tensor, target: Tensor, opts: CrossEntropyOptions): Tensor {
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const ignore = opts.ignoreIndex ?? -100;
  const ls = opts.labelSmoothing ?? 0;
  if (!(ls >= 0 && ls <= 1)) throw new Error(`${op}: labelSmoothing must be in [0, 1], got ${ls}`);
  if (!isFloat(logp.dtype)) throw new Error(`${op}: input must be floating point, got ${logp.dtype} (shape ${fmtShape(logp.shape)})`);
  const { x, t, outShape } = flattenClasses(op, logp, target);
  const [N, C] = x.shape;
  const tv = t.toArray();
  let count = 0;
  for (let k = 0; k < tv.length; k++) {
    if (tv[k] === ignore) continue;
    if (tv[k] < 0 || tv[k] >= C) throw new Error(`${op}: target ${tv[k]} is out of bounds for ${C} classes (input shape ${fmtShape(logp.shape)})`);
    count++;
  }
  const key = `nll:${N}:${C}:${ignore}:${ls}`;
  const build = (): string =>
    `function (a, t) { const n = this.thread.x; const c = t[n]; if (c == ${lit(ignore)}) { return 0; } ` +
    `let s = 0; for (let k = 0; k < ${C}; k++) { s += a[n * ${C} + k]; } ` +
    `return -${lit(1 - ls)} * a[n * ${C} + c] - ${lit(ls / C)} * s; }`;
  const precision = x.dtype === 'float64' ? 'float64' : 'float32';
  let per = launch(key, build, [x, t], [N], x.dtype, precision);
  if (needsGrad(x)) {
    per = record(per, 'NllLoss', [x, null], (g) => [
      launch(
        `nll.bwd:${N}:${C}:${ignore}:${ls}`,
        () =>
          `function (g, t) { const i = this.thread.x; const n = Math.floor((i + 0.5) / ${C}); const c = i - n * ${C}; const tc = t[n]; ` +
          `if (tc == ${lit(ignore)}) { return 0; } return g[n] * ((c == tc ? -${lit(1 - ls)} : 0) - ${lit(ls / C)}); }`,
        [g, t],
        [N, C],
        g.dtype,
        precision,
      ),
      null,
    ]);
  }
  if (reduction === 'none') return reshape(per, outShape);
  const total = sum(per);
  if (reduction === 'sum') return total;
  // PyTorch divides by the number of non-ignored targets (NaN when every target is ignored).
  return mul(total, 1 / count);
}

export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  if (!isFloat(input.dtype)) throw new Error(`crossEntropy: input must be floating point logits, got ${input.dtype} (shape ${fmtShape(input.shape)})`);
  if (input.ndim === 0) throw new Error('crossEntropy: input must have a class dim, got a 0-d tensor');
  const classDim = input.ndim === 1 ? 0 : 1;
  checkReduction('crossEntropy', opts.reduction ?? 'mean');
  checkTarget('crossEntropy', input, target); // shape errors before any kernel runs
  return nll('crossEntropy', logSoftmax(input, classDim), target, opts);
}

export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const reduction = checkReduction('mseLoss', opts.reduction ?? 'mean');
  if (input.shape.join() !== target.shape.join() || input.ndim !== target.ndim) {
    throw new Error(`mseLoss: input has shape ${fmtShape(input.shape)} but target has shape ${fmtShape(target.shape)}; they must match`);
  }
  for (const [n, t] of [['input', input], ['target', target]] as const) {
    if (!isFloat(t.dtype)) throw new Error(`mseLoss: ${n} must be floating point, got ${t.dtype} (shape ${fmtShape(t.shape)})`);
  }
  floatDType('mseLoss', [['input', input], ['target', target]]);
  const d = sub(input, target);
  const sq = mul(d, d);
  return reduction === 'none' ? sq : reduction === 'sum' ? sum(sq) : mean(sq);
}
