// gradcheck with PyTorch's semantics: the numerical Jacobian by central differences on float64
// inputs against the analytical Jacobian from one backward per output element (one-hot gradients).
// fastMode compares one random projection uᵀJv instead of the whole Jacobian.

import { enableGrad, noGrad } from './grad-mode.js';
import { grad } from './grad.js';
import { checkTensor } from './check.js';
import { Tensor } from './tensor.js';
import { uniform } from './random.js';
import { fromValues } from './creation.js';
import { checkBoolean, checkOptions, describeValue } from '../helpers/validate.js';

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  raiseException?: boolean;
  fastMode?: boolean;
}

type Fn = (...inputs: Tensor[]) => Tensor | Tensor[];

const asList = (r: Tensor | Tensor[]): Tensor[] => (Array.isArray(r) ? r : [r]);

function evalOutputs(fn: Fn, inputs: Tensor[]): Float64Array[] {
  return noGrad(() => asList(fn(...inputs)).map((o) => Float64Array.from(o.toArray() as ArrayLike<number>)));
}

function withValues(t: Tensor, values: Float64Array): Tensor {
  return fromValues(values, [...t.shape], t.dtype);
}

export function gradcheck(fn: Fn, inputs: Tensor[], opts: GradcheckOptions = {}): boolean {
  checkOptions('gradcheck', opts, ['eps', 'atol', 'rtol', 'raiseException', 'fastMode']);
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3, raiseException = true, fastMode = false } = opts;
  for (const [k, v] of [
    ['eps', eps],
    ['atol', atol],
    ['rtol', rtol],
  ] as const)
    if (typeof v !== 'number' || !(v >= 0)) throw new Error(`gradcheck: ${k} must be a number >= 0, got ${describeValue(v)}`);
  checkBoolean('gradcheck', 'raiseException', raiseException, true);
  checkBoolean('gradcheck', 'fastMode', fastMode, false);
  if (typeof fn !== 'function') throw new Error(`gradcheck: fn must be a function, got ${describeValue(fn)}`);
  if (!Array.isArray(inputs)) throw new Error(`gradcheck: inputs must be an array of Tensors, got ${describeValue(inputs)}`);
  const diff = inputs.map((t, j) => {
    checkTensor('gradcheck', `inputs[${j}]`, t);
    return t.dtype === 'float32' || t.dtype === 'float64';
  });
  inputs.forEach((t, j) => {
    if (t.dtype === 'float32') {
      console.warn(`gradcheck: inputs[${j}] is float32, not float64; the check is likely to fail from rounding. Use .double().`);
    }
  });
  if (!diff.some((d) => d)) throw new Error('gradcheck: no floating point input to check');
  const leaves = inputs.map((t, j) => (diff[j] ? t.detach().requiresGrad_(true) : t));
  const base = evalOutputs(fn, leaves);
  const outsMeta = asList(fn(...leaves)).map((o) => ({ shape: o.shape, op: o.gradFn ? o.gradFn.name : 'no op' }));
  const fail = (msg: string): boolean => {
    if (raiseException) throw new Error(msg);
    return false;
  };

  // numerical d out_i / d in_j as columns: numeric[i][j][inElem] = Float64Array over out elements
  const numericColumn = (j: number, dir: Float64Array): Float64Array[] => {
    const x0 = Float64Array.from(leaves[j].toArray() as ArrayLike<number>);
    const plus = x0.map((v, k) => v + eps * dir[k]);
    const minus = x0.map((v, k) => v - eps * dir[k]);
    const args = (vals: Float64Array): Tensor[] => leaves.map((t, q) => (q === j ? withValues(t, vals) : t));
    const fp = evalOutputs(fn, args(plus));
    const fm = evalOutputs(fn, args(minus));
    return fp.map((p, i) => p.map((v, k) => (v - fm[i][k]) / (2 * eps)));
  };

  const analyticVJP = (i: number, gOut: Float64Array): (Float64Array | null)[] => {
    leaves.forEach((t) => {
      if (t.requiresGrad) t.grad = null;
    });
    const outs = asList(fn(...leaves));
    const o = outs[i];
    if (!o.requiresGrad) return leaves.map(() => null);
    o.backward(fromValues(gOut, [...o.shape], o.dtype));
    return leaves.map((t) => (t.requiresGrad && t.grad ? Float64Array.from(t.grad.toArray() as ArrayLike<number>) : null));
  };

  if (fastMode) {
    for (let j = 0; j < leaves.length; j++) {
      if (!diff[j]) continue;
      const v = Float64Array.from({ length: leaves[j].numel() }, () => uniform() * 2 - 1);
      const num = numericColumn(j, v);
      for (let i = 0; i < base.length; i++) {
        const u = Float64Array.from({ length: base[i].length }, () => uniform() * 2 - 1);
        const n = num[i].reduce((a, x, k) => a + x * u[k], 0);
        const gj = analyticVJP(i, u)[j];
        const a = gj ? gj.reduce((acc, x, k) => acc + x * v[k], 0) : 0;
        if (Math.abs(a - n) > atol + rtol * Math.abs(n)) {
          return fail(
            `gradcheck (fastMode): Jacobian mismatch for output ${i} (made by ${outsMeta[i].op}) with respect to input ${j}: ` +
              `uᵀJv numerical ${n}, analytical ${a}`,
          );
        }
      }
    }
    return true;
  }

  for (let j = 0; j < leaves.length; j++) {
    if (!diff[j]) continue;
    const nIn = leaves[j].numel();
    // numerical Jacobian columns, one per input element
    const cols: Float64Array[][] = [];
    for (let k = 0; k < nIn; k++) {
      const dir = new Float64Array(nIn);
      dir[k] = 1;
      cols.push(numericColumn(j, dir));
    }
    for (let i = 0; i < base.length; i++) {
      const nOut = base[i].length;
      for (let r = 0; r < nOut; r++) {
        const onehot = new Float64Array(nOut);
        onehot[r] = 1;
        const row = analyticVJP(i, onehot)[j];
        let worst = -1;
        let worstErr = 0;
        for (let k = 0; k < nIn; k++) {
          const n = cols[k][i][r];
          const a = row ? row[k] : 0;
          const err = Math.abs(a - n) - (atol + rtol * Math.abs(n));
          if (err > worstErr || Number.isNaN(a) !== Number.isNaN(n)) {
            worstErr = Number.isNaN(err) ? Infinity : err;
            worst = k;
          }
        }
        if (worst >= 0) {
          const n = cols[worst][i][r];
          const a = row ? row[worst] : 0;
          return fail(
            `gradcheck: Jacobian mismatch for output ${i} (shape [${outsMeta[i].shape.join(', ')}], made by ${outsMeta[i].op}) ` +
              `with respect to input ${j} ` +
              `(shape [${leaves[j].shape.join(', ')}]): d out[${r}] / d in[${worst}] numerical ${n}, analytical ${a} ` +
              `(atol ${atol}, rtol ${rtol})`,
          );
        }
      }
    }
  }
  return true;
}

export interface GradgradcheckOptions extends GradcheckOptions {
  /** The gradients of fn's outputs to differentiate with (random in [-1, 1) when omitted, as PyTorch's). */
  gradOutputs?: Tensor | Tensor[] | null;
}

/**
 * gradgradcheck with PyTorch's semantics: checks the second derivatives of `fn` by running gradcheck on
 * `(inputs, gradOutputs) -> autograd.grad(fn(inputs), inputs, gradOutputs, { createGraph: true })`, i.e.
 * numerical against analytical derivatives of the vector-Jacobian product (in float64).
 */
export function gradgradcheck(fn: Fn, inputs: Tensor[], opts: GradgradcheckOptions = {}): boolean {
  checkOptions('gradgradcheck', opts, ['gradOutputs', 'eps', 'atol', 'rtol', 'raiseException', 'fastMode']);
  if (typeof fn !== 'function') throw new Error(`gradgradcheck: fn must be a function, got ${describeValue(fn)}`);
  if (!Array.isArray(inputs)) throw new Error(`gradgradcheck: inputs must be an array of Tensors, got ${describeValue(inputs)}`);
  inputs.forEach((t, j) => checkTensor('gradgradcheck', `inputs[${j}]`, t));
  const { gradOutputs, ...rest } = opts;
  const isDiff = (t: Tensor): boolean => t.dtype === 'float32' || t.dtype === 'float64';
  const probe = inputs.map((t) => (isDiff(t) ? t.detach().requiresGrad_(true) : t));
  const outs = asList(fn(...probe));
  const diffOuts = outs.map((o) => o.requiresGrad);
  let vs: Tensor[];
  if (gradOutputs === undefined || gradOutputs === null) {
    vs = outs
      .filter((_, i) => diffOuts[i])
      .map((o) =>
        fromValues(
          Float64Array.from({ length: o.numel() }, () => uniform() * 2 - 1),
          [...o.shape],
          o.dtype,
        ),
      );
  } else {
    vs = gradOutputs instanceof Tensor ? [gradOutputs] : gradOutputs;
    if (!Array.isArray(vs))
      throw new Error(`gradgradcheck: gradOutputs must be a Tensor or an array of Tensors, got ${describeValue(gradOutputs)}`);
    vs.forEach((t, j) => checkTensor('gradgradcheck', `gradOutputs[${j}]`, t));
    const n = diffOuts.filter(Boolean).length;
    if (vs.length !== n)
      throw new Error(`gradgradcheck: gradOutputs has ${vs.length} tensors but fn has ${n} differentiable outputs; pass one per output`);
  }
  const nIn = inputs.length;
  // the vector-Jacobian product as a function of the inputs and the gradients; under gradcheck's numerical
  // evaluations (noGrad, fresh tensors) it still needs a graph, so it records with grad enabled
  const vjpFn = (...args: Tensor[]): Tensor[] =>
    enableGrad(() => {
      const xs = args.slice(0, nIn).map((t) => (isDiff(t) && !t.requiresGrad ? t.detach().requiresGrad_(true) : t));
      const gs = args.slice(nIn);
      const os = asList(fn(...xs)).filter((o) => o.requiresGrad);
      const wrt = xs.filter(isDiff);
      const got = grad(os, wrt, { gradOutputs: gs, createGraph: true, allowUnused: true });
      return got.filter((g): g is Tensor => g !== null);
    });
  return gradcheck(vjpFn, [...inputs, ...vs], rest);
}
