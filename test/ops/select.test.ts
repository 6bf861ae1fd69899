// select and basic indexing (src/ops/select.ts): PyTorch golden values (test/fixtures/extra.json), float32 on
// every mode against the float64 path, float64 gradcheck and the errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { arange, gradcheck, index, manualSeed, randn, select, type IndexEntry, type Tensor } from '../../src/index.js';
import { MODES, useMode } from '../support/helpers.js';
import { comparePaths, r64, vals } from '../support/check.js';
import { goldenSuites, type Inputs } from '../support/golden.js';
import { EXTRA_TOL, extraCases, type ExtraCase } from './extra-golden.js';

const CASES = extraCases(['select', 'index']);

function run(c: ExtraCase, ins: Inputs): Tensor {
  const x = ins.input as Tensor;
  if (c.op === 'select')
    return c.args.dim === 0 ? select(x, 0, c.args.index as number) : x.select(c.args.dim as number, c.args.index as number);
  return x.index(...(c.args.indices as IndexEntry[]));
}

const m = (): Tensor => arange(0, 24, 1, { dtype: 'float64' }).reshape(2, 3, 4);

goldenSuites('select/index', CASES, run, { tol: EXTRA_TOL, count: 9 });

describe('select/index: values and gradients (float64)', () => {
  it('x[:, -1, :], x[1], x[..., 1:3], x[0, 2, 3] and negative indices', () => {
    expect(m().index(null, -1).tolist()).toEqual([
      [8, 9, 10, 11],
      [20, 21, 22, 23],
    ]);
    expect(m().index(null, -1).shape).toEqual([2, 4]);
    expect(m().index(1).shape).toEqual([3, 4]);
    expect(vals(m().index(null, null, [1, 3]))).toEqual([1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22]);
    expect(m().index(0, 2, 3).shape).toEqual([]);
    expect(m().index(0, 2, 3).item()).toBe(11);
    expect(m().index(-2, -3, -4).item()).toBe(0);
    expect(select(m(), -1, -1).tolist()).toEqual([
      [3, 7, 11],
      [15, 19, 23],
    ]);
    expect(m().index().shape).toEqual([2, 3, 4]);
    expect(m().index(null, [null, null, 2]).shape).toEqual([2, 2, 4]);
    expect(m().index(null, [5, 10]).shape).toEqual([2, 0, 4]);
  });
  it('the gradient lands at the selected positions only', () => {
    const x = m().requiresGrad_();
    x.index(null, -1, [0, 4, 3]).sum().backward();
    const g = vals(x.grad!);
    expect(g.filter((v) => v === 1).length).toBe(4);
    expect([g[8], g[11], g[20], g[23]]).toEqual([1, 1, 1, 1]);
  });
  it('gradcheck (float64)', () => {
    manualSeed(93);
    const opts = { atol: 1e-6, rtol: 1e-4 };
    expect(gradcheck((x) => select(x, 1, -1), [r64([2, 3, 4])], opts)).toBe(true);
    expect(gradcheck((x) => x.index(null, 1, [1, null, 2]), [r64([2, 3, 4])], opts)).toBe(true);
    expect(gradcheck((x) => index(x, -1), [r64([3, 2])], opts)).toBe(true);
  });
});

describe.each(MODES)('select/index on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  it('forward and backward', () => {
    manualSeed(94);
    const tol = { atol: 1e-6, rtol: 1e-5 };
    comparePaths('select', (x) => select(x, 1, -2), [r64([3, 4, 5])], tol);
    comparePaths('index [:, -1, :]', (x) => x.index(null, -1), [r64([2, 5, 3])], tol);
    comparePaths('index [1, ::2, 1:]', (x) => x.index(1, [null, null, 2], [1]), [r64([2, 5, 3])], tol);
  });
});

describe('select/index: errors name the function, the argument and what was given', () => {
  it('select', () => {
    const x = randn([3, 4]);
    expect(() => select(x, 0, 3)).toThrow(
      /select: index 3 is out of range for dim 0 of size 3 \(input shape \[3, 4\]\); valid indices are -3 to 2/,
    );
    expect(() => x.select(1, -5)).toThrow(/select: index -5 is out of range for dim 1 of size 4/);
    expect(() => select(x, 2, 0)).toThrow(/select: dim 2 is out of range \[-2, 1\] for a tensor of shape \[3, 4\]/);
    expect(() => select(x, 0, 1.5)).toThrow(/select: index must be an integer, got 1.5/);
    expect(() => select(randn([]), 0, 0)).toThrow(/select: cannot select on a 0-d tensor/);
    expect(() => select('x' as unknown as Tensor, 0, 0)).toThrow(/select: input must be a Tensor, got "x"/);
  });
  it('index', () => {
    const x = randn([2, 3]);
    expect(() => x.index(0, 0, 0)).toThrow(/index: too many indices for a tensor of shape \[2, 3\]: 2 dims, 3 indices given/);
    expect(() => x.index(null, 3)).toThrow(
      /index: indices\[1\] = 3 is out of range for dim 1 of size 3 \(input shape \[2, 3\]\); valid indices are -3 to 2/,
    );
    expect(() => x.index(-3)).toThrow(/index: indices\[0\] = -3 is out of range for dim 0 of size 2/);
    expect(() => x.index([0, 2, 0])).toThrow(/index: indices\[0\] step must be a positive integer, got 0/);
    expect(() => x.index([0, 2, 1, 1] as unknown as IndexEntry)).toThrow(
      /index: indices\[0\] must be a range \[start, end, step\] of at most 3 entries, got 4/,
    );
    expect(() => x.index(['a'] as unknown as IndexEntry)).toThrow(/index: indices\[0\] start must be an integer or null, got "a"/);
    expect(() => x.index('a' as unknown as IndexEntry)).toThrow(
      /index: indices\[0\] must be an integer, null or a range \[start, end, step\], got "a"/,
    );
    expect(() => x.index(0.5)).toThrow(/index: indices\[0\] must be an integer, null or a range \[start, end, step\], got 0.5/);
  });
});
