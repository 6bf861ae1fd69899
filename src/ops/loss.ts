// Losses. nllLoss is a kernel pair; crossEntropy = logSoftmax + nllLoss for class-index targets and a
// composite of existing ops for class-probability targets; mseLoss is composite.
//
// Class-index targets, per sample n (after flattening (N, C, d1, ...) to rows) with target t, log-
// probabilities a = logp[n, :], class weights w (all 1 without `weight`), label smoothing ls, C classes:
//     l_n = -(1-ls)·w[t]·a[t] - (ls/C)·Σc w[c]·a[c]                        (0 where t == ignoreIndex)
//     dl/da[n,c] = g_n · w[c] · (-(1-ls)·[c == t] - ls/C)                  (0 where t == ignoreIndex)
//   reduction 'sum' = Σn l_n; 'mean' = Σn l_n / Σ{n not ignored} w[t_n] (the smoothing term too, as
//   PyTorch: NaN when every target is ignored, gradient 0 then). Σc w[c]·a[c] runs through sum() over the
//   class dim (chunked); the per-row gather and its gradient are the kernels below. `weight` gets no
//   gradient here (PyTorch's nll_loss is not differentiable w.r.t. weight either: it refuses one that
//   requires grad).
// Class-probability targets q (float, the input's shape; crossEntropy only), q' = (1-ls)·q + ls/C:
//     l_n = -Σc w[c]·q'[n,c]·logp[n,c];  'mean' = Σn l_n / (numel/C)  (the sample count, NOT Σ weights)
//     dl/dlogp = -g_n·w[c]·q'[n,c]   dl/dq[n,c] = -(1-ls)·g_n·w[c]·logp[n,c]   dl/dw[c] = -Σn g_n·q'[n,c]·logp[n,c]
//   built from logSoftmax, mul, add and sum, whose backward kernels give these gradients.

import { checkTensor } from '../autograd/check.js';
import { needsGrad, record } from '../autograd/engine.js';
import { launch } from '../autograd/launch.js';
import { Tensor } from '../autograd/tensor.js';
import { onesLike } from '../autograd/creation.js';
import { allocFloat32, type HostArray } from '../backend/storage.js';
import { isFloat } from '../helpers/dtype.js';
import { fmtShape } from '../helpers/shape.js';
import { floorDiv, lit } from '../kernels/source.js';
import { declareKernel } from '../kernels/template.js';
import { add, div, mul, sub } from './binary.js';
import { floatDType } from './checks.js';
import { mean, sum } from './reduce.js';
import { permute, reshape } from './shape.js';
import { logSoftmax } from './softmax.js';
import { neg } from './unary.js';
import { checkOptions } from '../helpers/validate.js';

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyOptions {
  /** Class weights: a 1-D floating tensor of C elements with the input's dtype (PyTorch's `weight`). */
  weight?: Tensor | null;
  /** Targets equal to this are ignored (class-index targets only; default -100). */
  ignoreIndex?: number;
  /** In [0, 1]; mixes the target with the uniform distribution over the C classes. */
  labelSmoothing?: number;
  reduction?: Reduction;
}

/** nllLoss takes the same options (labelSmoothing is a gpugrad extension: torch's nll_loss has none). */
export type NllLossOptions = CrossEntropyOptions;

const KNOWN_OPTIONS = ['weight', 'ignoreIndex', 'labelSmoothing', 'reduction'];

/** Rejects anything but a plain options object with known keys (snake_case keys get their camelCase name). */
function checkLossOptions(op: string, opts: unknown): CrossEntropyOptions {
  if (opts === undefined || opts === null) return {};
  if (opts instanceof Tensor) {
    throw new Error(
      `${op}: the third argument is an options object; pass class weights as { weight } (got a Tensor of shape ${fmtShape(opts.shape)})`,
    );
  }
  for (const key of typeof opts === 'object' ? Object.keys(opts) : [])
    if (key === 'size_average' || key === 'sizeAverage' || key === 'reduce')
      throw new Error(
        `${op}: unknown option '${key}'; PyTorch's deprecated '${key}' is not supported, use reduction: 'mean' | 'sum' | 'none'`,
      );
  checkOptions(op, opts, KNOWN_OPTIONS);
  return opts as CrossEntropyOptions;
}

function checkReduction(op: string, r: string): Reduction {
  if (r !== 'mean' && r !== 'sum' && r !== 'none') throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got '${r}'`);
  return r;
}

interface Parsed {
  reduction: Reduction;
  ignore: number;
  ls: number;
  weight: Tensor | null;
}

/** Validates the options against the input (C = the class dim's size). */
function parseOptions(op: string, input: Tensor, rawOpts: unknown): Parsed {
  const opts = checkLossOptions(op, rawOpts);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const ignore = opts.ignoreIndex ?? -100;
  if (!Number.isInteger(ignore)) throw new Error(`${op}: ignoreIndex must be an integer, got ${String(ignore)}`);
  const ls = opts.labelSmoothing ?? 0;
  if (typeof ls !== 'number' || !(ls >= 0 && ls <= 1)) throw new Error(`${op}: labelSmoothing must be in [0, 1], got ${String(ls)}`);
  const weight = opts.weight ?? null;
  if (weight !== null) {
    const C = input.ndim === 1 ? input.shape[0] : input.shape[1];
    const want = `a 1-D floating point Tensor of ${C} elements (one per class of the input of shape ${fmtShape(input.shape)}) with the input's dtype ${input.dtype}`;
    if (!(weight instanceof Tensor)) throw new Error(`${op}: weight must be ${want}, got ${typeof weight}`);
    if (weight.ndim !== 1 || weight.shape[0] !== C || !isFloat(weight.dtype) || weight.dtype !== input.dtype) {
      throw new Error(`${op}: weight must be ${want}, got shape ${fmtShape(weight.shape)} and dtype ${weight.dtype}`);
    }
  }
  return { reduction, ignore, ls, weight };
}

/** Checks the target's dtype and shape against the input's; returns the per-sample output shape. */
function checkTarget(op: string, input: Tensor, target: Tensor): number[] {
  if (!(target instanceof Tensor)) throw new Error(`${op}: target must be an int32 Tensor of class indices`);
  const probsHint =
    op === 'crossEntropy' ? `; a float target holds class probabilities and must have the input's shape ${fmtShape(input.shape)}` : '';
  if (target.dtype !== 'int32')
    throw new Error(`${op}: target must hold int32 class indices, got ${target.dtype} (shape ${fmtShape(target.shape)})${probsHint}`);
  if (input.ndim === 1) {
    if (target.ndim !== 0)
      throw new Error(`${op}: for input of shape ${fmtShape(input.shape)} the target must be 0-d, got shape ${fmtShape(target.shape)}`);
    return [];
  }
  if (input.ndim < 1) throw new Error(`${op}: input must have a class dim, got shape ${fmtShape(input.shape)}`);
  const expected = [input.shape[0], ...input.shape.slice(2)];
  if (target.ndim !== expected.length || target.shape.some((s, i) => s !== expected[i])) {
    const hint =
      op === 'crossEntropy' && target.ndim === input.ndim && target.shape.every((s, i) => s === input.shape[i])
        ? ` (a target of the input's shape holds class probabilities and must be floating point with the input's dtype ${input.dtype})`
        : '';
    throw new Error(
      `${op}: expected target of shape ${fmtShape(expected)} for input of shape ${fmtShape(input.shape)}, got ${fmtShape(target.shape)}${hint}`,
    );
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

/** The nll kernels' parameters: C classes, the ignored target, the label smoothing, whether class weights `w` come in. */
type NllParams = { C: number; ignore: number; ls: number; weight: boolean };

/**
 * The nll kernels' arguments on the host (their natives: the 'simd' backend's float32 runs, plain loops,
 * the sources' formulas in their operand order), or null when they lack the layout the parameters
 * promise. The output holds N samples of `per` elements; the first argument (float32) holds `first` per
 * sample, the targets (int32) one, the weights (float32) C, the forward's smoothing sums (float32, with
 * ls > 0; `sums`) one.
 */
function nllArgs(
  p: NllParams,
  args: HostArray[],
  size: number,
  per: number,
  first: number,
  sums: boolean,
): { N: number; x: Float32Array; t: Int32Array; w: Float32Array | null; s: Float32Array | null } | null {
  const N = size / per;
  const [x, t] = args;
  const w = p.weight ? args[2] : null;
  const s = sums && p.ls > 0 ? args[p.weight ? 3 : 2] : null;
  if (!(Number.isInteger(N) && p.C >= 1 && x instanceof Float32Array && x.length >= N * first)) return null;
  if (!(t instanceof Int32Array && t.length >= N)) return null;
  if (w !== null && !(w instanceof Float32Array && w.length >= p.C)) return null;
  if (s !== null && !(s instanceof Float32Array && s.length >= N)) return null;
  return { N, x, t, w, s };
}

/** Class c's weight in the nll kernels (1 without class weights). */
const wAt = (p: NllParams, c: string): string => (p.weight ? `w[${c}]` : '1');

/** Per sample n: -(1-ls)·w[t]·a[t] − (ls/C)·s[n] with s = Σc w[c]·a[c] (given when ls > 0); 0 where t is ignored. */
const nllForward = declareKernel({
  name: 'nllLoss.forward',
  inputs: (p: NllParams) => ['a', 't', ...(p.weight ? ['w'] : []), ...(p.ls > 0 ? ['s'] : [])],
  body: (p: NllParams) => [
    'const n = i;',
    'const c = t[n];',
    `if (c == ${lit(p.ignore)}) { return 0; }`,
    `return -${lit(1 - p.ls)} * ${wAt(p, 'c')} * a[n * ${p.C} + c]${p.ls > 0 ? ` - ${lit(p.ls / p.C)} * s[n]` : ''};`,
  ],
  // per sample: the weighted pick of the target's entry, the smoothing term, 0 for an ignored target
  native: (p, args, size) => {
    const r = nllArgs(p, args, size, 1, p.C, true);
    if (!r) return null;
    const { N, x: a, t, w, s } = r;
    const { C, ignore } = p;
    const keep = -(1 - p.ls);
    const spread = p.ls / p.C;
    const out = allocFloat32(size);
    for (let n = 0; n < N; n++) {
      const c = t[n];
      if (c === ignore) {
        out[n] = 0;
        continue;
      }
      const v = keep * (w ? w[c] : 1) * a[n * C + c];
      out[n] = s ? v - spread * s[n] : v;
    }
    return out;
  },
});

/**
 * dl/da[n,c] = g_n·w[c]·(-(1-ls)·[c == t] - ls/C), 0 on ignored rows (and off the target without
 * smoothing, so a NaN/Infinity upstream gradient reaches only the picked entries, as PyTorch).
 */
const nllBackward = declareKernel({
  name: 'nllLoss.backward',
  inputs: (p: NllParams) => ['g', 't', ...(p.weight ? ['w'] : [])],
  body: (p: NllParams) => [
    `const n = ${floorDiv('i', p.C)};`,
    `const c = i - n * ${p.C};`,
    'const tc = t[n];',
    `if (tc == ${lit(p.ignore)}) { return 0; }`,
    p.ls > 0
      ? `return g[n] * ${wAt(p, 'c')} * ((c == tc ? -${lit(1 - p.ls)} : 0) - ${lit(p.ls / p.C)});`
      : `if (c == tc) { return -g[n] * ${wAt(p, 'c')}; } return 0;`,
  ],
  // per sample's row of C: zeros on ignored rows; with smoothing g·w[c]·(−ls/C) and the target's −(1−ls)
  // added, else only the target's −g·w[t]
  native: (p, args, size) => {
    const r = nllArgs(p, args, size, p.C, 1, false);
    if (!r) return null;
    const { N, x: g, t, w } = r;
    const { C, ignore, ls } = p;
    const keep = -(1 - ls);
    const spread = ls / C;
    const out = allocFloat32(size);
    out.fill(0);
    for (let n = 0, b = 0; n < N; n++, b += C) {
      const tc = t[n];
      if (tc === ignore) continue;
      const gn = g[n];
      if (ls > 0) {
        const off = 0 - spread;
        if (w) for (let c = 0; c < C; c++) out[b + c] = gn * w[c] * off;
        else out.fill(gn * off, b, b + C);
        // (the target's own entry; a target outside [0, C) picks nothing, as in the source)
        if (tc >= 0 && tc < C) out[b + tc] = gn * (w ? w[tc] : 1) * (keep - spread);
      } else if (tc >= 0 && tc < C) out[b + tc] = -gn * (w ? w[tc] : 1);
    }
    return out;
  },
});

/** Negative log likelihood of log-probabilities `logp` (N, C) / (N, C, d...) / (C) at int targets, with optional class weights. */
export function nllLoss(logp: Tensor, target: Tensor, opts: NllLossOptions = {}): Tensor {
  checkTensor('nllLoss', 'input', logp);
  checkTensor('nllLoss', 'target', target);
  if (!isFloat(logp.dtype)) throw new Error(`nllLoss: input must be floating point, got ${logp.dtype} (shape ${fmtShape(logp.shape)})`);
  if (logp.ndim === 0) throw new Error('nllLoss: input must have a class dim, got a 0-d tensor');
  return nll('nllLoss', logp, target, parseOptions('nllLoss', logp, opts));
}

/** nllLoss on validated options; `op` is the name errors carry (crossEntropy calls it too). */
function nll(op: string, logp: Tensor, target: Tensor, o: Parsed): Tensor {
  const { reduction, ignore, ls, weight } = o;
  if (weight && needsGrad(weight)) {
    throw new Error(
      `${op}: weight (shape ${fmtShape(weight.shape)}) requires grad, but the loss is not differentiable w.r.t. the class weights ` +
        `with class-index targets (as in PyTorch); pass weight.detach()`,
    );
  }
  const { x, t, outShape } = flattenClasses(op, logp, target);
  const [N, C] = x.shape;
  const tv = t.toArray();
  const wv = weight ? weight.toArray() : null;
  let totalWeight = 0;
  for (let k = 0; k < tv.length; k++) {
    if (tv[k] === ignore) continue;
    if (tv[k] < 0 || tv[k] >= C)
      throw new Error(`${op}: target ${tv[k]} is out of bounds for ${C} classes (input shape ${fmtShape(logp.shape)})`);
    totalWeight += wv ? wv[tv[k]] : 1;
  }
  const precision = x.dtype === 'float64' ? 'float64' : 'float32';
  const W = weight !== null;
  // Σc w[c]·a[n,c] for the smoothing term: the chunked reduction over the class dim, off the tape (its
  // gradient is part of the backward kernel below).
  let s: Tensor | null = null;
  if (ls > 0) {
    const xv = x._view([N, C]);
    const xw = W ? mul(xv, weight) : xv;
    s = sum(xw, 1);
    if (xw !== xv) xw.dispose();
    xv.dispose();
  }
  // forward: the weighted pick of the target's log-probability, plus the smoothing term
  const params: NllParams = { C, ignore, ls, weight: W };
  let per = launch(nllForward, params, [x, t, ...(W ? [weight] : []), ...(s ? [s] : [])], [N], x.dtype, precision);
  s?.dispose();
  per = record(per, {
    name: 'NllLoss',
    inputs: [x, null],
    needs: { target: t, 'class weights': weight },
    backward: (g) => [launch(nllBackward, params, [g, t, ...(W ? [weight] : [])], [N, C], g.dtype, precision), null],
    // dx[n, c] = g[n] · coef[n, c] (linear in g, constant in x): coef is the backward kernel at g = 1
    backwardGraph: (g) => {
      const ones = onesLike(g);
      const coef = launch(nllBackward, params, [ones, t, ...(W ? [weight] : [])], [N, C], g.dtype, precision);
      ones.dispose();
      return [mul(reshape(g, [N, 1]), coef), null];
    },
  });
  if (reduction === 'none') return reshape(per, outShape);
  const total = sum(per);
  if (reduction === 'sum') return total;
  // PyTorch divides by the summed weights of the non-ignored targets (NaN when every target is ignored).
  return div(total, totalWeight);
}

/** Cross entropy of logits with class-index (int32) or class-probability (float, the input's shape) targets. */
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  checkTensor('crossEntropy', 'input', input);
  checkTensor('crossEntropy', 'target', target);
  if (!isFloat(input.dtype))
    throw new Error(`crossEntropy: input must be floating point logits, got ${input.dtype} (shape ${fmtShape(input.shape)})`);
  if (input.ndim === 0) throw new Error('crossEntropy: input must have a class dim, got a 0-d tensor');
  const o = parseOptions('crossEntropy', input, opts);
  const classDim = input.ndim === 1 ? 0 : 1;
  if (target instanceof Tensor && isFloat(target.dtype)) return crossEntropyProbs(input, target, o, classDim);
  checkTarget('crossEntropy', input, target); // shape errors before any kernel runs
  return nll('crossEntropy', logSoftmax(input, classDim), target, o);
}

/** crossEntropy with class-probability targets: composite, so input, target and weight all get gradients. */
function crossEntropyProbs(input: Tensor, target: Tensor, o: Parsed, classDim: number): Tensor {
  const op = 'crossEntropy';
  if (target.ndim !== input.ndim || target.shape.some((d, i) => d !== input.shape[i])) {
    const idx = input.ndim === 1 ? [] : [input.shape[0], ...input.shape.slice(2)];
    throw new Error(
      `${op}: target must hold int32 class indices, got ${target.dtype} (shape ${fmtShape(target.shape)}); a float target holds class ` +
        `probabilities and must have the input's shape ${fmtShape(input.shape)} (class indices: int32 of shape ${fmtShape(idx)})`,
    );
  }
  floatDType(op, [
    ['input', input],
    ['target (class probabilities)', target],
  ]);
  if (o.ignore >= 0) {
    // PyTorch checks ignore_index < 0: the default -100 (or any negative value) is accepted and has no effect
    throw new Error(
      `${op}: ignoreIndex (${o.ignore}) is not supported with class-probability targets (a float target of the input's shape ${fmtShape(input.shape)}), as in PyTorch`,
    );
  }
  const C = input.shape[classDim];
  const { ls, weight, reduction } = o;
  const lp = logSoftmax(input, classDim);
  const q = ls > 0 ? add(mul(target, 1 - ls), ls / C) : target;
  let prod = mul(lp, q);
  if (weight) prod = mul(prod, input.ndim <= 2 ? weight : reshape(weight, [C, ...input.shape.slice(2).map(() => 1)]));
  const per = neg(sum(prod, classDim));
  if (reduction === 'none') return per;
  const total = sum(per);
  if (reduction === 'sum') return total;
  // PyTorch divides by the number of samples (numel / C) here, whatever the weights.
  return div(total, input.numel() / C);
}

export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  checkTensor('mseLoss', 'input', input);
  checkTensor('mseLoss', 'target', target);
  checkOptions('mseLoss', opts, ['reduction']);
  const reduction = checkReduction('mseLoss', opts.reduction ?? 'mean');
  if (input.shape.join() !== target.shape.join() || input.ndim !== target.ndim) {
    throw new Error(`mseLoss: input has shape ${fmtShape(input.shape)} but target has shape ${fmtShape(target.shape)}; they must match`);
  }
  for (const [n, t] of [
    ['input', input],
    ['target', target],
  ] as const) {
    if (!isFloat(t.dtype)) throw new Error(`mseLoss: ${n} must be floating point, got ${t.dtype} (shape ${fmtShape(t.shape)})`);
  }
  floatDType('mseLoss', [
    ['input', input],
    ['target', target],
  ]);
  const d = sub(input, target);
  const sq = mul(d, d);
  return reduction === 'none' ? sq : reduction === 'sum' ? sum(sq) : mean(sq);
}
