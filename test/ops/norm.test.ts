// norm, outer, F.normalize, F.rmsNorm / nn.RMSNorm (src/ops/norm.ts), F.oneHot (src/ops/onehot.ts) and
// isclose/allclose (src/ops/compare.ts): PyTorch golden values (test/fixtures/extra.json; rmsNorm's by PyTorch
// 2.4's formula, torch 1.13 having none), float32 on every mode against the float64 path, float64 gradcheck
// and the errors.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  F,
  allclose,
  gradcheck,
  isclose,
  manualSeed,
  nn,
  norm,
  outer,
  randn,
  tensor,
  zeros,
  type NormP,
  type Tensor,
} from '../../src/index.js';
import { MODES, expectClose, useMode } from '../support/helpers.js';
import { comparePaths, r64, vals } from '../support/check.js';
import { fixtureArg, goldenSuites, type Inputs } from '../support/golden.js';
import { EXTRA_TOL, extraCases, type ExtraCase } from './extra-golden.js';

const CASES = extraCases(['norm', 'normalize', 'outer', 'rmsNorm', 'oneHot', 'isclose']);
const T = (v: Tensor | Tensor[]): Tensor => v as Tensor;
const pOf = (p: unknown): NormP => (p === 'fro' ? 'fro' : (fixtureArg(p) as number));

function run(c: ExtraCase, ins: Inputs): Tensor {
  const a = c.args;
  const x = T(ins.input);
  switch (c.op) {
    case 'norm':
      return a.dim === null ? norm(x, pOf(a.p)) : x.norm(pOf(a.p), a.dim as number, a.keepdim as boolean);
    case 'normalize':
      return F.normalize(x, { p: pOf(a.p), dim: a.dim as number, eps: a.eps as number });
    case 'outer':
      return x.outer(T(ins.vec2));
    case 'rmsNorm':
      return F.rmsNorm(x, a.normalizedShape as number[], (ins.weight as Tensor) ?? null, a.eps as number | null);
    case 'oneHot':
      return F.oneHot(x, a.numClasses as number);
    case 'isclose':
      return isclose(x, T(ins.other), { rtol: a.rtol as number, atol: a.atol as number, equalNan: a.equalNan as boolean });
  }
  throw new Error(`unknown op ${c.op}`);
}

goldenSuites('norm, normalize, outer, rmsNorm, oneHot, isclose', CASES, run, {
  tol: EXTRA_TOL,
  moreThan: 20,
  // isclose's cases sit at its tolerances' edges in float64 (100 vs 100.001 with atol 1e-3): rounded to
  // float32 they fall either side, so they are checked on the float64 path only
  float32: (c) => c.op !== 'isclose',
});

describe('norms and friends: values and gradients (float64)', () => {
  it("the 2-norm's gradient at 0 is 0, not NaN; the infinity norm splits ties evenly", () => {
    const x = tensor(
      [
        [0, 0],
        [3, -4],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    const n = norm(x, 2, 1);
    expect(vals(n)).toEqual([0, 5]);
    n.sum().backward();
    expectClose(x.grad!, [0, 0, 0.6, -0.8], 1e-15, 1e-15);
    const y = tensor([2, -2, 1], { dtype: 'float64', requiresGrad: true });
    norm(y, Infinity).backward();
    expect(vals(y.grad!)).toEqual([0.5, -0.5, 0]);
    expect(norm(tensor([3, -4, 0.5], { dtype: 'float64' }), -Infinity).item()).toBe(0.5);
    expect(norm(tensor([3, -4, 0.5], { dtype: 'float64' }), 1).item()).toBe(7.5);
    expect(norm(tensor([[3, 4]], { dtype: 'float64' }), 'fro', null, true).shape).toEqual([1, 1]);
  });
  it('normalize of a zero row is 0; rmsNorm matches its formula; nn.RMSNorm has PyTorch 2.4 names and repr', () => {
    expect(
      vals(
        F.normalize(
          tensor(
            [
              [0, 0],
              [3, 4],
            ],
            { dtype: 'float64' },
          ),
        ),
      ),
    ).toEqual([0, 0, 0.6, 0.8]);
    const x = tensor([[1, 2, 3, 4]], { dtype: 'float64' });
    const rms = Math.sqrt((1 + 4 + 9 + 16) / 4 + 2.220446049250313e-16);
    expectClose(F.rmsNorm(x, [4]), [1 / rms, 2 / rms, 3 / rms, 4 / rms], 1e-15, 1e-15);
    const m = new nn.RMSNorm(8);
    expect(m.toString()).toBe('RMSNorm((8,), eps=None, elementwise_affine=True)');
    expect(Object.keys(m.stateDict())).toEqual(['weight']);
    expect(vals(m.weight!)).toEqual(new Array(8).fill(1));
    expect(new nn.RMSNorm([2, 3], { eps: 1e-6, elementwiseAffine: false }).toString()).toBe(
      'RMSNorm((2, 3), eps=1e-06, elementwise_affine=False)',
    );
    expect(new nn.RMSNorm([2, 3], { elementwiseAffine: false }).weight).toBeNull();
    const m64 = new nn.RMSNorm(4, { dtype: 'float64' });
    expectClose(m64.forward(x), F.rmsNorm(x, [4]), 1e-15, 1e-15);
  });
  it("rmsNorm's default eps is finfo(dtype).eps: measurable on an input whose mean square is of eps's order", () => {
    const formula = (xs: number[], eps: number): number[] => {
      const r = Math.sqrt(xs.reduce((s, v) => s + v * v, 0) / xs.length + eps);
      return xs.map((v) => v / r);
    };
    const rows: ['float32' | 'float64', number, number[], number][] = [
      ['float32', 2 ** -23, [1e-4, -2e-4, 3e-4, 4e-4], 1e-5], // mean square 7.5e-8, eps 1.19e-7
      ['float64', 2 ** -52, [1e-8, -2e-8, 3e-8, 4e-8], 1e-13], // mean square 7.5e-16, eps 2.22e-16
    ];
    for (const [dtype, eps, xs, rtol] of rows) {
      const want = formula(xs, eps);
      // the input is one where eps shows: leaving it out, or taking the other dtype's, is off by far more than rtol
      for (const other of [0, dtype === 'float32' ? 2 ** -52 : 2 ** -23])
        expect(Math.abs(formula(xs, other)[3] / want[3] - 1), `${dtype}: eps ${other} vs ${eps}`).toBeGreaterThan(100 * rtol);
      const y = F.rmsNorm(tensor([xs], { dtype }), 4);
      expect(y.dtype).toBe(dtype);
      expectClose(y, want, 0, rtol, `rmsNorm default eps (${dtype})`);
      // and a zero row stays 0, not NaN
      expect(vals(F.rmsNorm(zeros([1, 4], { dtype }), 4))).toEqual([0, 0, 0, 0]);
    }
  });
  it('oneHot, isclose and allclose', () => {
    const o = F.oneHot(tensor([2, 0]));
    expect(o.dtype).toBe('int32');
    expect(o.tolist()).toEqual([
      [0, 0, 1],
      [1, 0, 0],
    ]);
    expect(F.oneHot(tensor([1]), 4).tolist()).toEqual([[0, 1, 0, 0]]);
    expect(isclose(tensor([1, NaN, Infinity]), tensor([1 + 1e-6, NaN, Infinity])).tolist()).toEqual([true, false, true]);
    expect(
      tensor([NaN])
        .isclose(tensor([NaN]), { equalNan: true })
        .tolist(),
    ).toEqual([true]);
    expect(allclose(tensor([1, 2.5]), tensor([1, 2.5 + 1e-6]))).toBe(true);
    expect(tensor([1, 2.5]).allclose(tensor([1, 2.6]))).toBe(false);
    expect(allclose(tensor([1, 2.5]), tensor([1, 2.6]), { atol: 0.2 })).toBe(true);
    expect(allclose(tensor([1.5, 2.5]), tensor([1.5]))).toBe(false);
  });
  it('gradcheck (float64)', () => {
    manualSeed(95);
    const opts = { atol: 1e-6, rtol: 1e-4 };
    expect(gradcheck((x) => norm(x, 2, 1), [r64([3, 4])], opts)).toBe(true);
    expect(gradcheck((x) => norm(x), [r64([3, 4])], opts)).toBe(true);
    expect(gradcheck((x) => norm(x, 1, 0, true), [r64([3, 4])], opts)).toBe(true);
    expect(gradcheck((x) => norm(x, Infinity, -1), [r64([3, 4])], opts)).toBe(true);
    expect(gradcheck((x) => norm(x, -Infinity, -1), [r64([3, 4])], opts)).toBe(true);
    expect(gradcheck((x) => F.normalize(x), [r64([3, 4])], opts)).toBe(true);
    expect(gradcheck((x) => F.normalize(x, { p: 1, dim: -1 }), [r64([3, 4])], opts)).toBe(true);
    expect(gradcheck((a, b) => outer(a, b), [r64([3]), r64([4])], opts)).toBe(true);
    expect(gradcheck((x, w) => F.rmsNorm(x, [5], w, 1e-5), [r64([2, 3, 5]), r64([5])], opts)).toBe(true);
    expect(gradcheck((x) => F.rmsNorm(x, [2, 3]), [r64([4, 2, 3])], opts)).toBe(true);
  });
});

describe.each(MODES)('norms and friends on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  it('forward and backward', () => {
    manualSeed(96);
    const tol = { atol: 1e-5, rtol: 1e-5 };
    comparePaths('norm 2', (x) => norm(x, 2, -1), [r64([4, 6])], tol);
    comparePaths('norm 1', (x) => x.norm(1, [0, 1]), [r64([4, 6])], tol);
    comparePaths('norm inf', (x) => x.norm(Infinity, 0, true), [r64([4, 6])], tol);
    comparePaths('normalize', (x) => F.normalize(x, { dim: -1 }), [r64([3, 5])], tol);
    comparePaths('outer', (a, b) => outer(a, b), [r64([4]), r64([3])], tol);
    comparePaths('rmsNorm', (x, w) => F.rmsNorm(x, [8], w), [r64([2, 3, 8]), r64([8])], tol);
    comparePaths(
      'nn.RMSNorm',
      (x) => new nn.RMSNorm(6, { dtype: x.dtype === 'float64' ? 'float64' : 'float32' }).forward(x),
      [r64([3, 6])],
      tol,
    );
    expect(F.oneHot(tensor([3, 1, 0]), 5).tolist()).toEqual([
      [0, 0, 0, 1, 0],
      [0, 1, 0, 0, 0],
      [1, 0, 0, 0, 0],
    ]);
    expect(allclose(tensor([1, 2.5]).mul(2), tensor([2, 5.000001]))).toBe(true);
  });
});

describe('norms and friends: errors name the function, the argument and what was given', () => {
  it('norm, normalize, outer', () => {
    const x = randn([2, 3]);
    expect(() => norm(x, 3)).toThrow(/norm: p must be 2, 1, Infinity, -Infinity or 'fro', got 3/);
    expect(() => norm(tensor([1, 2]))).toThrow(/norm: input must be a floating point tensor, got int32 \(shape \[2\]\)/);
    expect(() => norm(x, 2, 2)).toThrow(/norm: .*2.*\[2, 3\]/);
    expect(() => norm(x, 2, 1, 'yes' as unknown as boolean)).toThrow(/norm: keepdim must be a boolean \(true or false\), got "yes"/);
    expect(() => F.normalize(x, { axis: 1 } as unknown as object)).toThrow(/normalize: unknown option 'axis'/);
    expect(() => F.normalize(x, { eps: -1 })).toThrow(/normalize: eps must be a non-negative number, got -1/);
    expect(() => outer(x, randn([3]))).toThrow(/outer: input and vec2 must be 1-D, got shapes \[2, 3\] and \[3\]/);
  });
  it('rmsNorm and nn.RMSNorm', () => {
    const x = randn([2, 3]);
    expect(() => F.rmsNorm(x, [4])).toThrow(
      /rmsNorm: normalizedShape \[4\] must match the last dims of input, got input of shape \[2, 3\]/,
    );
    expect(() => F.rmsNorm(x, [3], randn([2]))).toThrow(/rmsNorm: weight must have shape normalizedShape \[3\], got \[2\]/);
    expect(() => F.rmsNorm(x, [3], null, -1)).toThrow(/rmsNorm: eps must be a non-negative number or null, got -1/);
    expect(() => new nn.RMSNorm(8, { elementwise_affine: false } as unknown as object)).toThrow(
      /RMSNorm: unknown option 'elementwise_affine'; did you mean 'elementwiseAffine'\?/,
    );
    expect(() => new nn.RMSNorm(8, { elementwiseAffine: 'no' as unknown as boolean })).toThrow(
      /RMSNorm: elementwiseAffine must be a boolean/,
    );
    expect(() => new nn.RMSNorm(-1)).toThrow(
      /RMSNorm: normalizedShape must be a non-negative integer or a non-empty array of them, got -1/,
    );
    expect(() => new nn.RMSNorm(4, { eps: 'x' as unknown as number })).toThrow(
      /RMSNorm: eps must be a non-negative number or null, got "x"/,
    );
  });
  it('oneHot, isclose, allclose', () => {
    expect(() => F.oneHot(tensor([0, -1]))).toThrow(/oneHot: class values must be non-negative, got -1 \(input shape \[2\]\)/);
    expect(() => F.oneHot(tensor([0, 3]), 3)).toThrow(/oneHot: class values must be smaller than numClasses \(3\), got 3/);
    expect(() => F.oneHot(tensor([0.5]))).toThrow(/oneHot: input must be an int32 tensor of class indices, got float32/);
    expect(() => F.oneHot(tensor([1]), -2)).toThrow(/oneHot: numClasses must be -1 or a non-negative integer, got -2/);
    expect(() => F.oneHot(zeros([0], { dtype: 'int32' }))).toThrow(/oneHot: cannot infer numClasses from an empty tensor/);
    expect(() => isclose(tensor([1.5]), tensor([1]))).toThrow(
      /isclose: input and other must have the same dtype, got float32 \(shape \[1\]\) and int32/,
    );
    expect(() => isclose(tensor([1.5]), tensor([1.5]), { rtol: -1 })).toThrow(/isclose: rtol must be a non-negative number, got -1/);
    expect(() => allclose(tensor([1.5]), tensor([1.5]), { equal_nan: true } as unknown as object)).toThrow(
      /allclose: unknown option 'equal_nan'; did you mean 'equalNan'\?/,
    );
    expect(() => allclose(tensor([1.5]), 1.5 as unknown as Tensor)).toThrow(/allclose: other must be a Tensor, got 1.5/);
  });
});
