// Double backward (createGraph) of every differentiable op in the registry: gradgradcheck in float64 (the
// second derivatives by finite differences of the first), one case per op, and a check that no registry
// op lacks a case. Points are chosen away from kinks (abs, relu, clamp, maximum, the extremes, sort) where
// the second derivative is the derivative of a step.
import { describe, expect, it } from 'vitest';
import {
  F,
  autograd,
  abs,
  add,
  amax,
  amin,
  cat,
  chunk,
  clamp,
  clip,
  cumsum,
  div,
  einsum,
  exp,
  expand,
  flatten,
  flip,
  gather,
  gelu,
  gradgradcheck,
  index,
  indexSelect,
  log,
  manualSeed,
  matmul,
  maximum,
  mean,
  minimum,
  mul,
  narrow,
  neg,
  norm,
  outer,
  permute,
  pow,
  relu,
  repeatInterleave,
  reshape,
  roll,
  rsqrt,
  scatter,
  scatterAdd,
  select,
  sigmoid,
  silu,
  slice,
  sort,
  split,
  sqrt,
  squeeze,
  stack,
  sub,
  sum,
  tanh,
  tensor,
  topk,
  transpose,
  tril,
  triu,
  unsqueeze,
  where,
  maskedFill,
  type Tensor,
} from '../../src/index.js';
import { OPS } from '../../src/ops/registry.js';
import { r64 } from '../support/check.js';
import { MODES, expectClose, useMode } from '../support/helpers.js';
import { fixtureTensor, fixtureValues, readFixture } from '../support/fixture-io.js';

type Case = { fn: (...xs: Tensor[]) => Tensor | Tensor[]; inputs: () => Tensor[]; eps?: number };

/** float64 leaf with these values. */
const t64 = (data: number[] | number[][], requiresGrad = true): Tensor => tensor(data, { dtype: 'float64', requiresGrad });
/** randn away from 0 (|x| >= 0.3): abs, relu and friends are smooth there. */
const away = (shape: number[]): Tensor => {
  const r = r64(shape, false);
  return tensor(
    Array.from(r.toArray(), (v) => (v >= 0 ? v + 0.3 : v - 0.3)),
    { dtype: 'float64', shape, requiresGrad: true },
  );
};
const pos = (shape: number[]): Tensor => {
  const r = r64(shape, false);
  return tensor(
    Array.from(r.toArray(), (v) => Math.abs(v) + 0.5),
    { dtype: 'float64', shape, requiresGrad: true },
  );
};
const idx = (data: number[], shape?: number[]): Tensor => tensor(data, { dtype: 'int32', ...(shape ? { shape } : {}) });
const mask = (data: boolean[], shape: number[]): Tensor => tensor(data, { dtype: 'bool', shape });
/** A nonlinear tail, so the second derivative of a linear op still flows through something that bends. */
const sq = (t: Tensor): Tensor => mul(t, t);

const CASES: Record<string, Case> = {
  // through float32: a wide step, so float32 rounding (1e-7) stays below the tolerance (sq is quadratic: no truncation error)
  cast: { fn: (x) => sq(x.to('float32').to('float64')), inputs: () => [r64([3])], eps: 1e-2 },
  clone: { fn: (x) => sq(x.clone()), inputs: () => [r64([3])] },
  neg: { fn: (x) => sq(neg(x)), inputs: () => [r64([3])] },
  exp: { fn: (x) => exp(x), inputs: () => [r64([4])] },
  log: { fn: (x) => log(x), inputs: () => [pos([4])] },
  sqrt: { fn: (x) => sqrt(x), inputs: () => [pos([4])] },
  rsqrt: { fn: (x) => rsqrt(x), inputs: () => [pos([4])] },
  abs: { fn: (x) => sq(abs(x)), inputs: () => [away([4])] },
  tanh: { fn: (x) => tanh(x), inputs: () => [r64([4])] },
  sigmoid: { fn: (x) => sigmoid(x), inputs: () => [r64([4])] },
  relu: { fn: (x) => sq(relu(x)), inputs: () => [away([5])] },
  gelu: { fn: (x) => [gelu(x), gelu(x, 'tanh')], inputs: () => [r64([5])] },
  silu: { fn: (x) => silu(x), inputs: () => [r64([4])] },
  clamp: { fn: (x, lo, hi) => sq(clamp(x, lo, hi)), inputs: () => [t64([-2, -0.2, 0.4, 2]), t64([-1, -1, -1, -1]), t64([1, 1, 1, 1])] },
  clip: { fn: (x) => sq(clip(x, -1, 1)), inputs: () => [t64([-2, -0.2, 0.4, 2])] },
  add: { fn: (a, b) => sq(add(a, b)), inputs: () => [r64([2, 3]), r64([3])] },
  sub: { fn: (a, b) => sq(sub(a, b)), inputs: () => [r64([2, 3]), r64([3])] },
  mul: { fn: (a, b) => mul(a, b), inputs: () => [r64([2, 3]), r64([3])] },
  div: { fn: (a, b) => div(a, b), inputs: () => [r64([2, 3]), pos([3])] },
  pow: { fn: (a, b) => pow(a, b), inputs: () => [pos([3]), r64([3])] },
  maximum: { fn: (a, b) => sq(maximum(a, b)), inputs: () => [t64([1, -2, 0.5]), t64([-1, 2, 0.1])] },
  minimum: { fn: (a, b) => sq(minimum(a, b)), inputs: () => [t64([1, -2, 0.5]), t64([-1, 2, 0.1])] },
  where: { fn: (a, b) => sq(where(mask([true, false, true], [3]), a, b)), inputs: () => [r64([2, 3]), r64([3])] },
  maskedFill: { fn: (a) => sq(maskedFill(a, mask([true, false, true], [3]), 2)), inputs: () => [r64([2, 3])] },
  sum: { fn: (x) => sq(sum(x, 1, true)), inputs: () => [r64([2, 3])] },
  mean: { fn: (x) => sq(mean(x, [0])), inputs: () => [r64([2, 3])] },
  amax: {
    fn: (x) => sq(amax(x, 1)),
    inputs: () => [
      t64([
        [1, 3, 2],
        [-1, -4, 0.5],
      ]),
    ],
  },
  amin: {
    fn: (x) => sq(amin(x, 1)),
    inputs: () => [
      t64([
        [1, 3, 2],
        [-1, -4, 0.5],
      ]),
    ],
  },
  maxDim: {
    fn: (x) => [sq(x.max(1).values), sq(x.min(0, true).values)],
    inputs: () => [
      t64([
        [1, 3, 2],
        [-1, -4, 0.5],
      ]),
    ],
  },
  variance: { fn: (x) => [x.var(1), x.var(undefined, { correction: 0 })], inputs: () => [r64([2, 4])] },
  norm: { fn: (x) => [norm(x), norm(x, 2, 1), sq(norm(x, 1, 0)), sq(norm(x, Infinity, 1))], inputs: () => [away([2, 3])] },
  matmul: { fn: (a, b) => sq(matmul(a, b)), inputs: () => [r64([2, 2, 3]), r64([3, 2])] },
  outer: { fn: (a, b) => sq(outer(a, b)), inputs: () => [r64([2]), r64([3])] },
  einsum: { fn: (a, b) => sq(einsum('ij,jk->ik', a, b)), inputs: () => [r64([2, 3]), r64([3, 2])] },
  reshape: { fn: (x) => sq(reshape(transpose(x, 0, 1), [6])), inputs: () => [r64([2, 3])] },
  flatten: { fn: (x) => sq(flatten(x)), inputs: () => [r64([2, 3])] },
  unsqueeze: { fn: (x) => sq(unsqueeze(x, 0)), inputs: () => [r64([3])] },
  squeeze: { fn: (x) => sq(squeeze(x)), inputs: () => [r64([1, 3])] },
  permute: { fn: (x) => sq(permute(x, [2, 0, 1])), inputs: () => [r64([2, 3, 2])] },
  transpose: { fn: (x) => sq(transpose(x, 0, 1)), inputs: () => [r64([2, 3])] },
  expand: { fn: (x) => sq(expand(x, [2, 3])), inputs: () => [r64([1, 3])] },
  slice: { fn: (x) => sq(slice(x, 1, 0, 3, 2)), inputs: () => [r64([2, 4])] },
  narrow: { fn: (x) => sq(narrow(x, 0, 1, 2)), inputs: () => [r64([3, 2])] },
  split: { fn: (x) => split(x, [1, 2], 0).map(sq), inputs: () => [r64([3, 2])] },
  chunk: { fn: (x) => chunk(x, 2, 1).map(sq), inputs: () => [r64([2, 4])] },
  cat: { fn: (a, b) => sq(cat([a, b], 1)), inputs: () => [r64([2, 1]), r64([2, 2])] },
  stack: { fn: (a, b) => sq(stack([a, b], 0)), inputs: () => [r64([3]), r64([3])] },
  indexSelect: { fn: (x) => sq(indexSelect(x, 0, idx([2, 0, 2]))), inputs: () => [r64([3, 2])] },
  repeatInterleave: { fn: (x) => sq(repeatInterleave(x, 2, 0)), inputs: () => [r64([2, 2])] },
  tril: { fn: (x) => sq(tril(x)), inputs: () => [r64([3, 3])] },
  triu: { fn: (x) => sq(triu(x, 1)), inputs: () => [r64([3, 3])] },
  gather: { fn: (x) => sq(gather(x, 1, idx([0, 0, 2, 1], [2, 2]))), inputs: () => [r64([2, 3])] },
  scatter: { fn: (x, s) => sq(scatter(x, 1, idx([0, 2], [1, 2]), s)), inputs: () => [r64([2, 3]), r64([1, 2])] },
  scatterAdd: { fn: (x, s) => sq(scatterAdd(x, 1, idx([0, 0, 2, 1], [2, 2]), s)), inputs: () => [r64([2, 3]), r64([2, 2])] },
  flip: { fn: (x) => sq(flip(x, [0, 1])), inputs: () => [r64([2, 3])] },
  roll: { fn: (x) => sq(roll(x, [1, -1], [0, 1])), inputs: () => [r64([2, 3])] },
  cumsum: { fn: (x) => sq(cumsum(x, 1)), inputs: () => [r64([2, 3])] },
  select: { fn: (x) => sq(select(x, 1, -1)), inputs: () => [r64([2, 3])] },
  index: { fn: (x) => sq(index(x, -1, [0, 3, 2])), inputs: () => [r64([2, 3])] },
  sort: {
    fn: (x) => sq(sort(x, 1, true).values),
    inputs: () => [
      t64([
        [0.3, -1, 2],
        [1.5, 0.2, -0.7],
      ]),
    ],
  },
  topk: {
    fn: (x) => sq(topk(x, 2, 1).values),
    inputs: () => [
      t64([
        [0.3, -1, 2],
        [1.5, 0.2, -0.7],
      ]),
    ],
  },
  softmax: { fn: (x) => F.softmax(x, -1), inputs: () => [r64([2, 3])] },
  logSoftmax: { fn: (x) => F.logSoftmax(x, 0), inputs: () => [r64([3, 2])] },
  layerNorm: { fn: (x, w, b) => F.layerNorm(x, [3], w, b), inputs: () => [r64([2, 3]), r64([3]), r64([3])] },
  rmsNorm: { fn: (x, w) => F.rmsNorm(x, [3], w), inputs: () => [r64([2, 3]), r64([3])] },
  normalize: { fn: (x) => F.normalize(x, { dim: 1 }), inputs: () => [r64([2, 3])] },
  linear: { fn: (x, w, b) => sq(F.linear(x, w, b)), inputs: () => [r64([2, 3]), r64([2, 3]), r64([2])] },
  // one mask for every evaluation: the generator is reseeded before the draw
  dropout: {
    fn: (x) => {
      manualSeed(7);
      return sq(F.dropout(x, 0.4));
    },
    inputs: () => [r64([6])],
  },
  embedding: { fn: (w) => sq(F.embedding(idx([1, 0, 1, 2]), w, 2)), inputs: () => [r64([3, 2])] },
  crossEntropy: { fn: (x) => F.crossEntropy(x, idx([2, 0]), { labelSmoothing: 0.1 }), inputs: () => [r64([2, 3])] },
  nllLoss: { fn: (x) => F.nllLoss(F.logSoftmax(x, 1), idx([2, 0]), { weight: t64([1, 2, 0.5], false) }), inputs: () => [r64([2, 3])] },
  mseLoss: { fn: (a, b) => F.mseLoss(a, b), inputs: () => [r64([2, 3]), r64([2, 3])] },
  scaledDotProductAttention: {
    fn: (q, k, v) => F.scaledDotProductAttention(q, k, v, { isCausal: true }),
    inputs: () => [r64([1, 2, 3, 2]), r64([1, 2, 3, 2]), r64([1, 2, 3, 2])],
  },
};

describe('double backward (createGraph) of every registry op, float64', () => {
  it('every differentiable op in the registry has a case here', () => {
    const missing = OPS.filter((r) => r.derivatives.length && !CASES[r.name]).map((r) => r.name);
    expect(missing).toEqual([]);
  });

  it.each(Object.keys(CASES))('%s: gradgradcheck', (name) => {
    useMode('cpu');
    manualSeed(1);
    const c = CASES[name];
    expect(gradgradcheck(c.fn, c.inputs(), { atol: 1e-5, rtol: 1e-3, eps: c.eps ?? 1e-6 })).toBe(true);
  });
});

describe('createGraph keeps the first derivatives the kernels compute', () => {
  it.each(Object.keys(CASES))('%s: grad with createGraph equals grad without', (name) => {
    useMode('cpu');
    manualSeed(3);
    const c = CASES[name];
    const xs = c.inputs();
    const outs = () => {
      const o = c.fn(...xs);
      return Array.isArray(o) ? o : [o];
    };
    const o1 = outs();
    const vs = o1.map((o) => r64(o.shape, false));
    const plain = autograd.grad(o1, xs, { gradOutputs: vs, allowUnused: true });
    const graphed = autograd.grad(outs(), xs, { gradOutputs: vs, allowUnused: true, createGraph: true });
    plain.forEach((g, j) => {
      expect(graphed[j] === null, `input ${j} used`).toBe(g === null);
      if (g) expectClose(graphed[j]!, g, 1e-12, 1e-10, `${name}: gradient of input ${j}`);
    });
  });
});

// ---- PyTorch's second derivatives (test/fixtures/double.json) ------------------------------------------

const DOUBLE = readFixture('double.json').cases as any[];

/** f of each fixture case, by name, as scripts/make_fixtures.py writes it; `dtype` for the fixed tensors. */
function fixtureFn(c: any, dtype: 'float32' | 'float64'): (...xs: Tensor[]) => Tensor {
  const fixed = (t: any): Tensor => fixtureTensor(t, dtype);
  const w = c.w ? fixed(c.w) : null;
  switch (c.name) {
    case 'pow negative bases, integer exponent':
      return (x) => sum(mul(pow(x, 3), w!));
    case 'gelu':
      return (x) => sum(mul(gelu(x), w!));
    case 'gelu tanh':
      return (x) => sum(mul(gelu(x, 'tanh'), w!));
    case 'abs through zero':
      return (x) => sum(mul(pow(abs(x), 3), w!));
    case 'softmax with a masked entry': {
      const bias = tensor([0, -Infinity, 0, 0, 0, 0], { dtype, shape: [2, 3] });
      return (x) => sum(mul(F.softmax(add(x, bias), -1), w!));
    }
    case 'logSoftmax':
      return (x) => sum(mul(F.logSoftmax(x, -1), w!));
    case 'maximum with ties':
      return (a, b) => sum(pow(maximum(a, b), 2));
    case 'amax with ties':
      return (x) => sum(pow(amax(x, 1), 3));
    case 'norm of a zero row':
      return (x) => add(sum(pow(norm(x, 2, 1), 3)), sum(norm(x, 2, 1)));
    case 'layerNorm':
      return (x, g, b) => sum(pow(mul(F.layerNorm(x, [4], g, b), w!), 2));
    case 'crossEntropy with label smoothing':
      return (x) => F.crossEntropy(x, idx([2, 0]), { labelSmoothing: 0.1 });
    case 'scaledDotProductAttention causal':
      return (q, k, v) => sum(mul(F.scaledDotProductAttention(q, k, v, { isCausal: true }), w!));
    case 'mlp loss':
    case 'mlp loss hessian': {
      const x = fixed(c.x);
      const y = fixed(c.y);
      return (w1, b1, w2) => F.mseLoss(F.linear(tanh(F.linear(x, w1, b1)), w2), y);
    }
    default:
      throw new Error(`double.json: no function for case '${c.name}'`);
  }
}

const HVP = DOUBLE.filter((c) => c.kind === 'hvp');

describe('second derivatives against PyTorch, float64', () => {
  it('the fixture has the cases this file knows', () => {
    expect(DOUBLE.map((c) => c.name)).toHaveLength(15);
    for (const c of DOUBLE) if (c.kind !== 'penalty') expect(() => fixtureFn(c, 'float64')).not.toThrow();
  });

  it.each(HVP.map((c) => [c.name, c]))('%s: functional.hvp', (_name, c) => {
    useMode('cpu');
    const xs = c.inputs.map((t: any) => fixtureTensor(t));
    const vs = c.v.map((t: any) => fixtureTensor(t));
    const [out, hv] = autograd.functional.hvp(fixtureFn(c, 'float64'), xs, vs);
    expectClose(out, fixtureValues(c.out), 1e-12, 1e-10, `${c.name}: output`);
    (hv as Tensor[]).forEach((h, j) => expectClose(h, fixtureValues(c.hvp[j]), 1e-10, 1e-8, `${c.name}: hvp ${j}`));
  });

  it('an MLP loss: functional.hessian with respect to the first weight', () => {
    useMode('cpu');
    const c = DOUBLE.find((k) => k.kind === 'hessian');
    const [w1, b1, w2] = c.inputs.map((t: any) => fixtureTensor(t));
    const f = fixtureFn(c, 'float64');
    const H = autograd.functional.hessian((w: Tensor) => f(w, b1, w2), w1) as Tensor;
    expect(H.shape).toEqual(c.hessian.shape);
    expectClose(H, fixtureValues(c.hessian), 1e-10, 1e-8, 'hessian');
  });

  it('a gradient penalty: ‖∂L/∂x‖² differentiated into the weights, by autograd.grad and by backward', () => {
    useMode('cpu');
    const c = DOUBLE.find((k) => k.kind === 'penalty');
    const [W, x] = c.inputs.map((t: any) => fixtureTensor(t, undefined, true));
    const [gx] = autograd.grad(sum(pow(tanh(F.linear(x, W)), 2)), x, { createGraph: true });
    const penalty = sum(pow(gx!, 2));
    expect(penalty.item()).toBeCloseTo(c.penalty, 12);
    const [gw] = autograd.grad(penalty, W, { retainGraph: true });
    expectClose(gw!, fixtureValues(c.grad), 1e-12, 1e-10, 'dpenalty/dW');
    penalty.backward();
    expectClose(W.grad!, fixtureValues(c.grad), 1e-12, 1e-10, 'W.grad after backward');
  });
});

describe.each(MODES)('second derivatives on %s, float32', (mode) => {
  it.each(HVP.map((c) => [c.name, c]))('%s: functional.hvp against PyTorch', (_name, c) => {
    useMode(mode);
    const xs = c.inputs.map((t: any) => fixtureTensor(t, 'float32'));
    const vs = c.v.map((t: any) => fixtureTensor(t, 'float32'));
    const [out, hv] = autograd.functional.hvp(fixtureFn(c, 'float32'), xs, vs);
    expect(out.dtype).toBe('float32');
    expectClose(out, fixtureValues(c.out), 1e-4, 1e-4, `${c.name}: output`);
    (hv as Tensor[]).forEach((h, j) => expectClose(h, fixtureValues(c.hvp[j]), 2e-3, 2e-3, `${c.name}: hvp ${j}`));
  });
});
