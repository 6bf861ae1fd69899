import { describe, expect, it, beforeAll } from 'vitest';
import { gradcheck, manualSeed, randn, tensor, where, type Tensor } from '../../src/index.js';
import { MODES, useMode, expectClose } from '../support/helpers.js';
import { comparePaths, r64, vals } from '../support/check.js';

type Cmp = (a: Tensor, b: Tensor | number) => Tensor;
const CMPS: [string, Cmp, (a: number, b: number) => boolean][] = [
  ['eq', (a, b) => a.eq(b), (a, b) => a === b],
  ['ne', (a, b) => a.ne(b), (a, b) => a !== b],
  ['lt', (a, b) => a.lt(b), (a, b) => a < b],
  ['le', (a, b) => a.le(b), (a, b) => a <= b],
  ['gt', (a, b) => a.gt(b), (a, b) => a > b],
  ['ge', (a, b) => a.ge(b), (a, b) => a >= b],
];

// A [3, 4] and a [4] operand with ties, and the JS result of broadcasting them.
const A = [
  [1, 2, 3, 4],
  [-1, 0.5, 3, -2],
  [4, 4, 4, 4],
];
const B = [1, 0.5, 3, 4];
const bcast = (f: (a: number, b: number) => boolean): number[] => A.flatMap((row) => row.map((v, j) => (f(v, B[j]) ? 1 : 0)));

function checkComparisons(dtype: 'float32' | 'float64'): void {
  const a = tensor(A, { dtype });
  const b = tensor(B, { dtype });
  for (const [name, op, ref] of CMPS) {
    const r = op(a, b);
    expect(r.dtype, name).toBe('bool');
    expect(r.shape, name).toEqual([3, 4]);
    expect(Array.from(r.toArray()), `${name} ${dtype}`).toEqual(bcast(ref));
    // scalar operand and reversed broadcast order
    expect(Array.from(op(a, 3).toArray()), `${name} with scalar`).toEqual(A.flat().map((v) => (ref(v, 3) ? 1 : 0)));
    const rev = op(b, a);
    expect(rev.shape).toEqual([3, 4]);
    expect(Array.from(rev.toArray()), `${name} reversed`).toEqual(A.flatMap((row) => row.map((v, j) => (ref(B[j], v) ? 1 : 0))));
  }
}

describe('comparisons and logical ops', () => {
  it('eq ne lt le gt ge on float64 give bool results with broadcasting and scalars', () => checkComparisons('float64'));
  it('int and bool operands compare too', () => {
    const i = tensor([1, 2, 3], { dtype: 'int32' });
    expect(i.eq(2).tolist()).toEqual([false, true, false]);
    expect(i.ge(tensor([1.5, 2, 2.5])).tolist()).toEqual([false, true, true]);
    const m = tensor([true, false]);
    expect(m.eq(tensor([true, true])).tolist()).toEqual([true, false]);
  });
  it('logicalNot / logicalAnd / logicalOr on bool and on numbers (non-zero is true), broadcasting', () => {
    const p = tensor([[true], [false]]);
    const q = tensor([true, false, true]);
    expect(p.logicalNot().tolist()).toEqual([[false], [true]]);
    expect(p.logicalAnd(q).tolist()).toEqual([
      [true, false, true],
      [false, false, false],
    ]);
    expect(p.logicalOr(q).tolist()).toEqual([
      [true, true, true],
      [true, false, true],
    ]);
    const n = tensor([0, -2, 0.5]);
    expect(n.logicalNot().tolist()).toEqual([true, false, false]);
    expect(n.logicalAnd(tensor([1, 1, 0])).tolist()).toEqual([false, true, false]);
    expect(n.logicalOr(tensor([0, 0, 0], { dtype: 'int32' })).tolist()).toEqual([false, true, true]);
    expect(p.logicalAnd(q).dtype).toBe('bool');
  });
  it('comparisons carry no gradient', () => {
    const x = r64([3]);
    const c = x.gt(0);
    expect(c.requiresGrad).toBe(false);
    expect(c.gradFn).toBeNull();
  });
});

describe('where and maskedFill: values and float64 gradcheck', () => {
  it('where picks elementwise with broadcasting and sends gradients to both branches, none to the condition', () => {
    const c = tensor([[true], [false], [true]]); // [3, 1]
    const a = tensor([[1, 2, 3, 4]], { dtype: 'float64', requiresGrad: true }); // [1, 4]
    const b = tensor(-1, { dtype: 'float64', requiresGrad: true }); // []
    const y = where(c, a, b);
    expect(y.shape).toEqual([3, 4]);
    expect(y.tolist()).toEqual([
      [1, 2, 3, 4],
      [-1, -1, -1, -1],
      [1, 2, 3, 4],
    ]);
    y.backward(
      tensor(
        [
          [1, 1, 1, 1],
          [2, 2, 2, 2],
          [3, 3, 3, 3],
        ],
        { dtype: 'float64' },
      ),
    );
    expect(a.grad!.tolist()).toEqual([[4, 4, 4, 4]]);
    expect(b.grad!.item()).toBe(8);
    expect(c.grad).toBeNull();
    // method form: x.where(cond, other) and a number as the other branch
    expect(
      tensor([5, 6])
        .where(tensor([false, true]), 0)
        .tolist(),
    ).toEqual([0, 6]);
  });
  it('where gradcheck with broadcasting', () => {
    manualSeed(4);
    const c = randn([2, 3, 1]).gt(0);
    expect(gradcheck((a, b) => where(c, a, b), [r64([3, 4]), r64([2, 1, 4])])).toBe(true);
    expect(gradcheck((a) => where(c, a, 2.5), [r64([4])])).toBe(true);
  });
  it('maskedFill writes the value (also -Infinity) where the mask is true; no gradient there', () => {
    const x = tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    const m = tensor([[true, false, true]]);
    const y = x.maskedFill(m, -Infinity);
    expect(y.tolist()).toEqual([
      [-Infinity, 2, -Infinity],
      [-Infinity, 5, -Infinity],
    ]);
    y.maskedFill(m, 0).sum().backward();
    expect(x.grad!.tolist()).toEqual([
      [0, 1, 0],
      [0, 1, 0],
    ]);
    manualSeed(5);
    const mask = randn([3, 1, 4]).gt(0);
    expect(gradcheck((t) => t.maskedFill(mask, 7.5), [r64([3, 2, 4])])).toBe(true);
  });
});

describe.each(MODES)('comparisons, where and maskedFill on %s', (mode) => {
  beforeAll(() => useMode(mode));
  it('comparisons on float32 match the exact results', () => checkComparisons('float32'));
  it('comparisons of random float32 data match the float64 path exactly', () => {
    manualSeed(6);
    const a = randn([4, 5], { dtype: 'float64' });
    const b = randn([5], { dtype: 'float64' });
    const a32 = a.float().double();
    const b32 = b.float().double(); // identical values in both precisions
    for (const [name, op] of CMPS) comparePaths(name, op, [a32, b32], { atol: 0, rtol: 0 });
  });
  it('logical ops on float32 and bool inputs', () => {
    const n = tensor([[0, -2, 0.5]]);
    expect(n.logicalNot().tolist()).toEqual([[true, false, false]]);
    expect(n.logicalAnd(tensor([[1], [0]])).tolist()).toEqual([
      [false, true, true],
      [false, false, false],
    ]);
    expect(n.logicalOr(tensor([false, false, true])).tolist()).toEqual([[false, true, true]]);
  });
  it('where forward and gradients vs float64, with broadcasting', () => {
    manualSeed(8);
    const c = randn([2, 3, 1]).gt(0);
    comparePaths('where', (a, b) => where(c, a, b), [r64([3, 4]), r64([2, 1, 4])]);
    comparePaths('where scalar other', (a) => a.where(c, -3), [r64([2, 3, 4])]);
  });
  it('maskedFill forward (incl. -Infinity) and gradients vs float64', () => {
    manualSeed(9);
    const mask = randn([3, 1, 4]).gt(0);
    const { y32, g32 } = comparePaths('maskedFill -inf', (x) => x.maskedFill(mask, -Infinity), [r64([3, 2, 4])]);
    const mv = vals(mask.expand(3, 2, 4));
    const yv = vals(y32[0]);
    const gv = vals(g32[0]!);
    mv.forEach((m, k) => {
      if (m) {
        expect(yv[k]).toBe(-Infinity);
        expect(gv[k]).toBe(0);
      } else {
        expect(Number.isFinite(yv[k])).toBe(true);
      }
    });
    comparePaths('maskedFill 2.5', (x) => x.maskedFill(mask, 2.5), [r64([3, 2, 4])]);
    // -Infinity then softmax: masked entries get exactly 0 probability
    const p = tensor([[1, 2, 3, 4]], { dtype: 'float32' })
      .maskedFill(tensor([false, true, false, true]), -Infinity)
      .softmax(-1);
    expectClose(p, [1 / (1 + Math.E ** 2), 0, Math.E ** 2 / (1 + Math.E ** 2), 0], 1e-6, 1e-5, 'masked softmax');
  });
});

describe('comparisons, where and maskedFill: errors', () => {
  it('non-broadcastable shapes name the op and both shapes', () => {
    expect(() => randn([2, 3]).lt(randn([4]))).toThrow(
      /lt: shapes are not broadcastable: input \(shape \[2, 3\]\) and other \(shape \[4\]\)/,
    );
    expect(() => randn([2]).logicalAnd(randn([3]))).toThrow(
      /logicalAnd: shapes are not broadcastable: input \(shape \[2\]\) and other \(shape \[3\]\)/,
    );
    expect(() => where(tensor([true, false]), randn([3]), randn([3]))).toThrow(
      /where: shapes are not broadcastable: condition \(shape \[2\]\) and input \(shape \[3\]\) and other \(shape \[3\]\)/,
    );
  });
  it('dtype mismatch between float32 and float64', () => {
    expect(() => randn([2]).eq(randn([2], { dtype: 'float64' }))).toThrow(
      /eq: dtype mismatch: input is float32 but other is float64 \(shapes \[2\] and \[2\]\)/,
    );
    expect(() => where(tensor([true]), randn([1]), randn([1], { dtype: 'float64' }))).toThrow(
      /where: dtype mismatch: input is float32 but other is float64/,
    );
  });
  it('where and maskedFill need a bool mask', () => {
    expect(() => where(tensor([1, 0], { dtype: 'float32' }), randn([2]), randn([2]))).toThrow(
      /where: condition must be a bool tensor, got float32 \(shape \[2\]\)/,
    );
    expect(() => randn([2]).maskedFill(tensor([1, 0], { dtype: 'int32' }), 0)).toThrow(
      /maskedFill: mask must be a bool tensor, got int32 \(shape \[2\]\)/,
    );
  });
  it('maskedFill: a mask that does not broadcast to the input shape', () => {
    expect(() => randn([2, 3]).maskedFill(tensor([true, false]), 0)).toThrow(
      /maskedFill: shapes are not broadcastable: input \(shape \[2, 3\]\) and mask \(shape \[2\]\)/,
    );
    expect(() => randn([3]).maskedFill(tensor([[true], [false]]), 0)).toThrow(
      /maskedFill: mask of shape \[2, 1\] must broadcast to the input's shape \[3\]/,
    );
  });
});
