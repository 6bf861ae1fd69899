// einsum (src/ops/einsum.ts): PyTorch golden values (test/fixtures/extra.json) for the contractions a
// transformer uses, float32 on every mode against the float64 path, float64 gradcheck and the errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { allclose, einsum, gradcheck, manualSeed, randn, type Tensor } from '../../src/index.js';
import { MODES, useMode } from '../support/helpers.js';
import { comparePaths, r64 } from '../support/check.js';
import { goldenSuites, type Inputs } from '../support/golden.js';
import { EXTRA_TOL, extraCases, type ExtraCase } from './extra-golden.js';

const CASES = extraCases(['einsum']);
const run = (c: ExtraCase, ins: Inputs): Tensor => einsum(c.args.equation as string, ...(ins.operands as Tensor[]));

goldenSuites('einsum', CASES, run, { tol: EXTRA_TOL, count: 14 });

describe('einsum: against matmul, and gradcheck (float64)', () => {
  it('attention scores and values, batched matmul, implicit output, operands as one array', () => {
    manualSeed(97);
    const q = randn([2, 3, 4, 5], { dtype: 'float64' });
    const k = randn([2, 3, 6, 5], { dtype: 'float64' });
    const v = randn([2, 3, 6, 5], { dtype: 'float64' });
    const s = einsum('bhqd,bhkd->bhqk', q, k);
    expect(s.shape).toEqual([2, 3, 4, 6]);
    expect(allclose(s, q.matmul(k.transpose(-1, -2)), { atol: 1e-12 })).toBe(true);
    expect(allclose(einsum('bhqk,bhkd->bhqd', s, v), s.matmul(v), { atol: 1e-12 })).toBe(true);
    const a = randn([3, 4], { dtype: 'float64' });
    const b = randn([4, 2], { dtype: 'float64' });
    expect(allclose(einsum('ij,jk', [a, b]), a.matmul(b), { atol: 1e-12 })).toBe(true);
    expect(einsum('ba', a).shape).toEqual([4, 3]); // implicit: alphabetical order, a transpose
    expect(einsum(' i j , j k -> i k ', a, b).shape).toEqual([3, 2]);
  });
  it('gradcheck (float64)', () => {
    manualSeed(98);
    const opts = { atol: 1e-6, rtol: 1e-4 };
    expect(gradcheck((a, b) => einsum('ij,jk->ik', a, b), [r64([3, 4]), r64([4, 2])], opts)).toBe(true);
    expect(gradcheck((a, b) => einsum('bhqd,bhkd->bhqk', a, b), [r64([1, 2, 3, 4]), r64([1, 2, 2, 4])], opts)).toBe(true);
    expect(gradcheck((a, b) => einsum('i,j->ij', a, b), [r64([3]), r64([2])], opts)).toBe(true);
    expect(gradcheck((a, b, c) => einsum('bn,anm,bm->ba', a, b, c), [r64([2, 3]), r64([2, 3, 2]), r64([2, 2])], opts)).toBe(true);
    expect(gradcheck((a) => einsum('ijk->j', a), [r64([2, 3, 2])], opts)).toBe(true);
  });
});

describe.each(MODES)('einsum on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  it('forward and backward', () => {
    manualSeed(99);
    const tol = { atol: 1e-5, rtol: 1e-5 };
    comparePaths('ij,jk->ik', (a, b) => einsum('ij,jk->ik', a, b), [r64([3, 5]), r64([5, 4])], tol);
    comparePaths('bij,bjk->bik', (a, b) => einsum('bij,bjk->bik', a, b), [r64([2, 3, 5]), r64([2, 5, 4])], tol);
    comparePaths('bhqd,bhkd->bhqk', (a, b) => einsum('bhqd,bhkd->bhqk', a, b), [r64([2, 2, 3, 4]), r64([2, 2, 5, 4])], tol);
    comparePaths('bhqk,bhkd->bhqd', (a, b) => einsum('bhqk,bhkd->bhqd', a, b), [r64([2, 2, 3, 5]), r64([2, 2, 5, 4])], tol);
    comparePaths('i,j->ij', (a, b) => einsum('i,j->ij', a, b), [r64([3]), r64([4])], tol);
  });
});

describe('einsum: errors name what is wrong with the equation', () => {
  it('malformed equations and operands', () => {
    const a = randn([2, 3]);
    const b = randn([3, 4]);
    expect(() => einsum('ij,jk->ik', a)).toThrow(/einsum: equation 'ij,jk->ik' has 2 operand subscripts but 1 operand was given/);
    expect(() => einsum('ijk,jk->ik', a, b)).toThrow(/einsum: operand 0 has 2 dims \(shape \[2, 3\]\) but its subscripts 'ijk' name 3/);
    expect(() => einsum('ij,kl->ik', a, b)).not.toThrow();
    expect(() => einsum('ij,ik->jk', a, b)).toThrow(
      /einsum: subscript 'i' has size 2 in operand 0 but size 3 in operand 1 \(shape \[3, 4\]\)/,
    );
    expect(() => einsum('ij,jk->iz', a, b)).toThrow(/einsum: output subscript 'z' does not appear in any operand of 'ij,jk->iz'/);
    expect(() => einsum('ij,jk->ii', a, b)).toThrow(/einsum: output subscript 'i' appears more than once in 'ii'/);
    expect(() => einsum('ij,jk->ik->i', a, b)).toThrow(/einsum: equation 'ij,jk->ik->i' has more than one '->'/);
    expect(() => einsum('i1,jk->ik', a, b)).toThrow(/einsum: invalid character '1' in equation 'i1,jk->ik'/);
    expect(() => einsum('...j,jk->...k', a, b)).toThrow(/einsum: ellipsis \('...'\) is not supported/);
    expect(() => einsum('ii->i', randn([3, 3]))).toThrow(
      /einsum: subscript 'i' repeats in operand 0 \('ii'\): diagonals are not supported/,
    );
    expect(() => einsum('ij', 'a' as unknown as Tensor)).toThrow(/einsum: operand 0 must be a Tensor, got "a"/);
    expect(() => einsum(1 as unknown as string, a)).toThrow(/einsum: equation must be a string, got 1/);
    expect(() => einsum('ij')).toThrow(/einsum: at least one operand is needed/);
  });
});
