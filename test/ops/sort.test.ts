// Sorting and sampling (src/ops/sort.ts): sort, argsort, topk against PyTorch (test/fixtures/indexing.json:
// stable sorts with ties, NaN and ±Infinity, descending, negative dims; topk with NaN, and ties, where
// PyTorch's order is unspecified and only values are compared), float32 on every mode against the float64
// path, float64 gradcheck, multinomial's seeded draws and distribution, and the errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { argsort, gradcheck, manualSeed, multinomial, randn, sort, tensor, topk, type Tensor } from '../../src/index.js';
import { MODES, expectClose, useMode } from '../support/helpers.js';
import { comparePaths, r64, vals } from '../support/check.js';
import { readFixture, type TensorJson, type GoldenCase } from '../support/fixture-io.js';
import { checkGolden, one, type Inputs } from '../support/golden.js';

type Case = GoldenCase<unknown, TensorJson> & { tieOrder?: 'unspecified' };
const CASES = (readFixture('indexing.json') as { cases: Case[] }).cases.filter((c) => ['sort', 'argsort', 'topk'].includes(c.op));

function runCase(c: Case, ins: Inputs): Tensor | Record<string, Tensor> {
  const x = one(ins, 'input');
  const a = c.args;
  if (c.op === 'sort') {
    const { values, indices } = x.sort(a.dim as number, a.descending as boolean);
    return { values, indices };
  }
  if (c.op === 'argsort') return argsort(x, a.dim as number, a.descending as boolean);
  const [values, indices] = topk(x, a.k as number, a.dim as number, a.largest as boolean);
  return { values, indices };
}

/** Where PyTorch's order among ties is unspecified, ours: lowest index first, and every index points at its value. */
function checkTieRule(out: Record<string, Tensor>, ins: Inputs): void {
  const x = one(ins, 'input');
  const xs = vals(x.detach());
  const C = x.shape[1];
  const iv = vals(out.indices);
  const k = out.indices.shape[1];
  for (let r = 0; r < x.shape[0]; r++) {
    const row = iv.slice(r * k, r * k + k);
    row.forEach((j, q) => expect(xs[r * C + j]).toBe(vals(out.values)[r * k + q]));
    for (let q = 1; q < k; q++) if (xs[r * C + row[q]] === xs[r * C + row[q - 1]]) expect(row[q]).toBeGreaterThan(row[q - 1]);
  }
}

function checkCase(c: Case, dtype: 'float32' | 'float64'): void {
  const tol = dtype === 'float64' ? 1e-12 : 1e-5;
  // the indices among ties, and so the gradient, are unspecified: only values are compared, and the tie rule checked
  const ties = c.tieOrder === 'unspecified';
  checkGolden(c, dtype, runCase, {
    atol: tol,
    rtol: tol,
    ...(ties ? { unspecified: ['indices'], verify: checkTieRule, backward: false } : {}),
  });
}

describe('sort/argsort/topk: PyTorch golden values on the float64 path', () => {
  it('has the fixture cases', () => expect(CASES.length).toBeGreaterThan(15));
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_, c) => checkCase(c, 'float64'));
});

describe('sort/argsort/topk: values and gradients (float64)', () => {
  it('stable, NaN largest, descending puts NaN first', () => {
    const x = tensor([2, NaN, 1, NaN, 2, -Infinity, Infinity, 1], { dtype: 'float64' });
    const r = sort(x);
    expect(vals(r.values)).toEqual([-Infinity, 1, 1, 2, 2, Infinity, NaN, NaN]);
    expect(r.indices.tolist()).toEqual([5, 2, 7, 0, 4, 6, 1, 3]);
    const d = x.sort(0, true);
    expect(vals(d.values)).toEqual([NaN, NaN, Infinity, 2, 2, 1, 1, -Infinity]);
    expect(d.indices.tolist()).toEqual([1, 3, 6, 0, 4, 2, 7, 5]);
    expect(argsort(x, -1, true).tolist()).toEqual([1, 3, 6, 0, 4, 2, 7, 5]);
    expect(x.argsort().dtype).toBe('int32');
  });
  it('int32 and bool inputs, a 0-d input, sorting along dim 0', () => {
    const i = tensor(
      [
        [3, 1],
        [1, 1],
        [2, 0],
      ],
      { dtype: 'int32' },
    );
    const [v, ix] = sort(i, 0);
    expect(v.dtype).toBe('int32');
    expect(v.tolist()).toEqual([
      [1, 0],
      [2, 1],
      [3, 1],
    ]);
    expect(ix.tolist()).toEqual([
      [1, 2],
      [2, 0],
      [0, 1],
    ]);
    expect(sort(tensor([true, false, true], { dtype: 'bool' })).indices.tolist()).toEqual([1, 0, 2]);
    const s = sort(tensor(4, { dtype: 'float64' }));
    expect(s.values.tolist()).toBe(4);
    expect(s.indices.tolist()).toBe(0);
  });
  it('topk: largest and smallest, ties lowest index first, k = 0', () => {
    const x = tensor([1, 3, 3, 2, 3, 1], { dtype: 'float64' });
    const t = topk(x, 3);
    expect(t.values.tolist()).toEqual([3, 3, 3]);
    expect(t.indices.tolist()).toEqual([1, 2, 4]);
    expect(x.topk(4, 0, false).indices.tolist()).toEqual([0, 5, 3, 1]);
    expect(topk(x, 0).values.shape).toEqual([0]);
  });
  it('backward scatters g through the indices', () => {
    const x = tensor([[0.5, -1, 2, 0]], { dtype: 'float64', requiresGrad: true });
    sort(x, 1, true).values.backward(tensor([[1, 2, 3, 4]], { dtype: 'float64' }));
    expect(x.grad!.tolist()).toEqual([[2, 4, 1, 3]]);
    const y = tensor([[0.5, -1, 2, 0]], { dtype: 'float64', requiresGrad: true });
    topk(y, 2).values.backward(tensor([[10, 20]], { dtype: 'float64' }));
    expect(y.grad!.tolist()).toEqual([[20, 0, 10, 0]]);
  });
  it('gradcheck (float64)', () => {
    manualSeed(91);
    const opts = { atol: 1e-6, rtol: 1e-4 };
    expect(gradcheck((x) => sort(x, 1).values, [r64([3, 6])], opts)).toBe(true);
    expect(gradcheck((x) => sort(x, 0, true).values, [r64([5, 2, 3])], opts)).toBe(true);
    expect(gradcheck((x) => topk(x, 3, -1).values, [r64([4, 7])], opts)).toBe(true);
    expect(gradcheck((x) => topk(x, 2, 0, false).values, [r64([5, 3])], opts)).toBe(true);
  });
});

describe.each(MODES)('sort/topk on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  it('sort and topk, forward and backward, along inner and outer dims', () => {
    manualSeed(92);
    const tol = { atol: 1e-6, rtol: 1e-6 };
    comparePaths('sort', (x) => sort(x, -1).values, [r64([4, 9])], tol);
    comparePaths('sort descending dim 0', (x) => sort(x, 0, true).values, [r64([7, 3, 2])], tol);
    comparePaths('topk', (x) => topk(x, 4, 1).values, [r64([3, 11, 2])], tol);
    comparePaths('topk smallest', (x) => topk(x, 2, -1, false).values, [r64([5, 6])], tol);
  });
  it('a 500-long row (vocab-size) sorts like the float64 path, indices included', () => {
    manualSeed(93);
    const x = r64([2, 500], false);
    const r64s = sort(x, -1, true);
    const r32 = sort(x.float(), -1, true);
    expect(vals(r32.indices)).toEqual(vals(r64s.indices));
    expectClose(r32.values, r64s.values, 1e-6, 1e-6, 'values');
    expect(vals(topk(x.float(), 50).indices)).toEqual(vals(r64s.indices).filter((_, k) => k % 500 < 50));
  });
  it('PyTorch golden values in float32', () => {
    for (const c of CASES) checkCase(c, 'float32');
  });
});

describe('multinomial', () => {
  it('a seed gives the same draws; another seed other draws', () => {
    const w = tensor(
      [
        [1, 2, 3, 4, 0],
        [0, 0, 5, 1, 1],
      ],
      { dtype: 'float32' },
    );
    manualSeed(5);
    const a = multinomial(w, 30, true).tolist();
    manualSeed(5);
    const b = w.multinomial(30, true).tolist();
    manualSeed(6);
    const c = multinomial(w, 30, true).tolist();
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    manualSeed(5);
    expect(multinomial(w.double(), 30, true).tolist()).toEqual(a);
  });
  it('20,000 draws follow the weights (with replacement), zero weights are never drawn', () => {
    manualSeed(7);
    const weights = [0.5, 2, 0, 1, 0.5];
    const s = multinomial(tensor(weights, { dtype: 'float64' }), 20000, true);
    expect(s.shape).toEqual([20000]);
    expect(s.dtype).toBe('int32');
    const counts = new Array(5).fill(0);
    for (const v of vals(s)) counts[v]++;
    const total = weights.reduce((x, y) => x + y, 0);
    weights.forEach((wt, c) => {
      const p = wt / total;
      // within 4.5 standard deviations of the binomial count
      expect(Math.abs(counts[c] - 20000 * p)).toBeLessThanOrEqual(4.5 * Math.sqrt(20000 * p * (1 - p)) + (p === 0 ? 0 : 1));
    });
    expect(counts[2]).toBe(0);
  });
  it('without replacement: distinct categories per row; the first draw follows the weights', () => {
    manualSeed(8);
    const w = tensor(
      [
        [1, 1, 1, 1, 1, 1],
        [0, 3, 0, 1, 2, 0],
      ],
      { dtype: 'float64' },
    );
    const s = multinomial(w, 3);
    expect(s.shape).toEqual([2, 3]);
    const rows = s.tolist() as number[][];
    expect(new Set(rows[0]).size).toBe(3);
    expect([...rows[1]].sort()).toEqual([1, 3, 4]);
    const first = new Array(4).fill(0);
    for (let k = 0; k < 4000; k++) first[vals(multinomial(tensor([1, 2, 3, 4], { dtype: 'float64' }), 2))[0]]++;
    [0.1, 0.2, 0.3, 0.4].forEach((p, c) => expect(Math.abs(first[c] - 4000 * p)).toBeLessThan(4.5 * Math.sqrt(4000 * p * (1 - p))));
  });
  it('errors like PyTorch', () => {
    const w = tensor([1, 2, 0], { dtype: 'float32' });
    expect(() => multinomial(tensor([1, -1], { dtype: 'float32' }), 1)).toThrow(
      /multinomial: probability tensor contains either inf, nan or element < 0: input\[1\] is -1/,
    );
    expect(() => multinomial(tensor([NaN, 1]), 1)).toThrow(
      /multinomial: probability tensor contains either inf, nan or element < 0: input\[0\] is NaN/,
    );
    expect(() => multinomial(tensor([[1, Infinity]], { dtype: 'float32' }), 1)).toThrow(/element < 0: input\[0, 1\] is Infinity/);
    expect(() =>
      multinomial(
        tensor(
          [
            [1, 1],
            [0, 0],
          ],
          { dtype: 'float32' },
        ),
        1,
        true,
      ),
    ).toThrow(/multinomial: invalid distribution: the weights of row 1 of input sum to 0/);
    expect(() => multinomial(w, 4)).toThrow(
      /multinomial: cannot sample numSamples 4 > 3 categories \(input shape \[3\]\) without replacement/,
    );
    expect(() => multinomial(w, 3)).toThrow(
      /multinomial: cannot sample numSamples 3 without replacement from input, which has 2 non-zero categories/,
    );
    expect(() => multinomial(w, 0)).toThrow(/multinomial: cannot sample numSamples <= 0 samples \(got 0\)/);
    expect(() => multinomial(w, 1.5)).toThrow(/multinomial: numSamples must be an integer, got 1.5/);
    expect(() => multinomial(w, 1, 'yes' as unknown as boolean)).toThrow(
      /multinomial: replacement must be a boolean \(true or false\), got "yes"/,
    );
    expect(() => multinomial(randn([2, 2, 2]), 1)).toThrow(/multinomial: input must be 1-D or 2-D, got shape \[2, 2, 2\]/);
    expect(() => multinomial(tensor([1, 2], { dtype: 'int32' }), 1)).toThrow(
      /multinomial: input must be floating point \(weights\), got int32/,
    );
  });
});

describe('sort/argsort/topk: errors', () => {
  it('name the function, the argument and what was given', () => {
    const x = randn([3, 4]);
    expect(() => sort(x, 2)).toThrow(/sort: dim 2 is out of range \[-2, 1\] for a tensor of shape \[3, 4\]/);
    expect(() => sort(x, -1, 1 as unknown as boolean)).toThrow(/sort: descending must be a boolean \(true or false\), got 1/);
    expect(() => argsort(null as unknown as Tensor)).toThrow(/argsort: input must be a Tensor, got null/);
    expect(() => topk(x, 5)).toThrow(/topk: k 5 is out of range \[0, 4\] for dim -1 \(size 4\) of a tensor of shape \[3, 4\]/);
    expect(() => topk(x, 1.5)).toThrow(/topk: k must be an integer, got 1.5/);
    expect(() => topk(x, 1, 0, 'no' as unknown as boolean)).toThrow(/topk: largest must be a boolean \(true or false\), got "no"/);
  });
});
