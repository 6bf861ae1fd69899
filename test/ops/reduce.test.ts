import { describe, expect, it, beforeAll } from 'vitest';
import { gradcheck, manualSeed, randn, tensor, zeros, MaxResult, type Tensor } from '../../src/index.js';
import { MODES, useMode, expectClose } from '../support/helpers.js';
import { comparePaths, r64, vals } from '../support/check.js';

type Red = (x: Tensor, dim: number | number[] | undefined, keepdim: boolean) => Tensor;
const REDS: [string, Red][] = [
  ['sum', (x, d, k) => x.sum(d, k)],
  ['mean', (x, d, k) => x.mean(d, k)],
  ['amax', (x, d, k) => x.amax(d, k)],
  ['amin', (x, d, k) => x.amin(d, k)],
  ['var(correction=1)', (x, d, k) => x.var(d, { keepdim: k })],
  ['var(correction=0)', (x, d, k) => x.var(d, { correction: 0, keepdim: k })],
];
const DIMS: (number | number[] | undefined)[] = [undefined, 0, -1, 1, [0, 2], [-1, 0], [0, 1, 2]];
const SHAPE = [2, 3, 4];

/** JS reference: reduce `data` of `shape` over `dims` with `f` (applied to the list of reduced values). */
function refReduce(data: number[], shape: number[], dims: number[], f: (xs: number[]) => number): { values: number[]; shape: number[] } {
  const st = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const kept = shape.map((_, d) => d).filter((d) => !dims.includes(d));
  const outShape = kept.map((d) => shape[d]);
  const groups = new Map<number, number[]>();
  data.forEach((v, flat) => {
    const idx = shape.map((s, d) => Math.floor(flat / st[d]) % s);
    let key = 0;
    for (const d of kept) key = key * shape[d] + idx[d];
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(v);
  });
  const n = outShape.reduce((a, b) => a * b, 1);
  return { values: Array.from({ length: n }, (_, k) => f(groups.get(k)!)), shape: outShape };
}
const sumOf = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const REFS: Record<string, (xs: number[]) => number> = {
  sum: sumOf,
  mean: (xs) => sumOf(xs) / xs.length,
  amax: (xs) => Math.max(...xs),
  amin: (xs) => Math.min(...xs),
  'var(correction=1)': (xs) => {
    const m = sumOf(xs) / xs.length;
    return sumOf(xs.map((v) => (v - m) ** 2)) / (xs.length - 1);
  },
  'var(correction=0)': (xs) => {
    const m = sumOf(xs) / xs.length;
    return sumOf(xs.map((v) => (v - m) ** 2)) / xs.length;
  },
};
const normDims = (d: number | number[] | undefined): number[] =>
  d === undefined ? [0, 1, 2] : (Array.isArray(d) ? d : [d]).map((k) => (k < 0 ? k + 3 : k));

describe('reductions: float64 values against a JS reference, and gradcheck', () => {
  for (const [name, f] of REDS) {
    it(`${name} over dims ${DIMS.map((d) => JSON.stringify(d) ?? 'all').join(' ')}, keepdim false/true`, () => {
      manualSeed(21);
      const x = r64(SHAPE);
      for (const d of DIMS) {
        const ref = refReduce(vals(x), SHAPE, normDims(d), REFS[name]);
        for (const keepdim of [false, true]) {
          const y = f(x, d, keepdim);
          const expShape = keepdim ? SHAPE.map((s, k) => (normDims(d).includes(k) ? 1 : s)) : ref.shape;
          expect(y.shape, `${name} dim ${JSON.stringify(d)} keepdim ${keepdim}`).toEqual(expShape);
          expectClose(y, ref.values, 1e-12, 1e-10, `${name} dim ${JSON.stringify(d)}`);
          expect(gradcheck((t) => f(t, d, keepdim), [x])).toBe(true);
        }
      }
    });
  }
  it('size-1 dims: values and gradcheck', () => {
    manualSeed(27);
    const x = r64([3, 1, 4]);
    for (const [name, f] of REDS) {
      for (const d of [1, [0, 1], [1, 2]] as (number | number[])[]) {
        const dims = Array.isArray(d) ? d : [d];
        const ref = refReduce(vals(x), [3, 1, 4], dims, REFS[name]);
        const y = f(x, d, false);
        expect(y.shape).toEqual(ref.shape);
        // var over only the size-1 dim with correction 1 divides 0 by 0, as PyTorch
        expectClose(y, ref.values, 1e-12, 1e-10, `${name} over ${JSON.stringify(d)}`);
        if (ref.values.every(Number.isFinite)) expect(gradcheck((t) => f(t, d, true), [x])).toBe(true);
      }
    }
  });
  it('hand-computed values', () => {
    const x = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { dtype: 'float64' },
    );
    expect(x.sum().item()).toBe(10);
    expect(x.sum(0).tolist()).toEqual([4, 6]);
    expect(x.sum(1, true).tolist()).toEqual([[3], [7]]);
    expect(x.mean().item()).toBe(2.5);
    expect(x.amax(0).tolist()).toEqual([3, 4]);
    expect(x.amin(1).tolist()).toEqual([1, 3]);
    expect(x.var().item()).toBeCloseTo(5 / 3, 14);
    expect(x.var(undefined, { correction: 0 }).item()).toBeCloseTo(1.25, 14);
    expect(x.var(1, { keepdim: true }).tolist()).toEqual([[0.5], [0.5]]);
  });
  it('a 0-d input reduces to itself; sum of int and bool gives int32', () => {
    const s = tensor(3, { dtype: 'float64', requiresGrad: true });
    expect(s.sum().item()).toBe(3);
    expect(s.sum(0).shape).toEqual([]);
    expect(gradcheck((t) => t.mean(), [s])).toBe(true);
    const i = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { dtype: 'int32' },
    );
    expect(i.sum(1).dtype).toBe('int32');
    expect(i.sum(1).tolist()).toEqual([3, 7]);
    expect(tensor([true, false, true]).sum().item()).toBe(2);
    expect(i.amax().item()).toBe(4);
  });
  it('amax / amin split the gradient evenly between ties (as PyTorch)', () => {
    const x = tensor(
      [
        [1, 3, 3],
        [2, 2, 2],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    x.amax(1).backward(tensor([6, 3], { dtype: 'float64' }));
    expect(x.grad!.tolist()).toEqual([
      [0, 3, 3],
      [1, 1, 1],
    ]);
    const z = tensor(
      [
        [1, 3, 3],
        [3, 0, 1],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    z.amax().backward();
    expect(z.grad!.tolist()).toEqual([
      [0, 1 / 3, 1 / 3],
      [1 / 3, 0, 0],
    ]);
    const w = tensor(
      [
        [1, 0, 0],
        [0, 5, 0],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    w.amin(0).sum().backward();
    expect(w.grad!.tolist()).toEqual([
      [0, 1, 0.5],
      [1, 0, 0.5],
    ]);
  });
  it('max(dim) / min(dim) return {values, indices}, destructurable as [values, indices]', () => {
    const x = tensor(
      [
        [1, 5, 3],
        [7, -1, 7],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    const r = x.max(1);
    expect(r).toBeInstanceOf(MaxResult);
    expect(r.values.tolist()).toEqual([5, 7]);
    expect(r.indices.tolist()).toEqual([1, 0]);
    expect(r.indices.dtype).toBe('int32');
    const [v, i] = x.min(0, true);
    expect(v.tolist()).toEqual([[1, -1, 3]]);
    expect(i.tolist()).toEqual([[0, 1, 0]]);
    expect(i.shape).toEqual([1, 3]);
    // the gradient goes to the returned index only
    x.max(-1).values.backward(tensor([10, 20], { dtype: 'float64' }));
    expect(x.grad!.tolist()).toEqual([
      [0, 10, 0],
      [20, 0, 0],
    ]);
    expect(x.max().item()).toBe(7);
    expect(x.min().item()).toBe(-1);
    manualSeed(22);
    expect(gradcheck((t) => t.max(1).values, [r64([3, 4])])).toBe(true);
    expect(gradcheck((t) => t.min(0, true).values, [r64([3, 4])])).toBe(true);
  });
  it('argmax: flat index without dim, along a dim with and without keepdim; first index on ties', () => {
    const x = tensor([
      [1, 9, 3],
      [9, 2, 9],
    ]);
    expect(x.argmax().item()).toBe(1);
    expect(x.argmax(1).tolist()).toEqual([1, 0]);
    expect(x.argmax(0, true).tolist()).toEqual([[1, 0, 1]]);
    expect(x.argmax(-1).dtype).toBe('int32');
  });
});

describe.each(MODES)('reductions on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  for (const [name, f] of REDS) {
    it(`${name} forward and gradients over several dims`, () => {
      for (const d of DIMS) {
        for (const keepdim of [false, true]) {
          manualSeed(23);
          comparePaths(`${name} dim ${JSON.stringify(d)} keepdim ${keepdim}`, (t) => f(t, d, keepdim), [r64(SHAPE)]);
        }
      }
    });
  }
  it('reductions over size-1 dims (keepdim and not)', () => {
    for (const [name, f] of REDS) {
      for (const d of [1, [0, 1], [1, 2]] as (number | number[])[]) {
        manualSeed(26);
        comparePaths(`${name} of [3, 1, 4] over ${JSON.stringify(d)}`, (t) => f(t, d, true), [r64([3, 1, 4])]);
        manualSeed(26);
        comparePaths(`${name} of [3, 1, 4] over ${JSON.stringify(d)}`, (t) => f(t, d, false), [r64([3, 1, 4])]);
      }
    }
  });
  it('var without degrees of freedom: NaN for one element, Infinity for correction > n - 1 (as PyTorch)', () => {
    expect(Number.isNaN(tensor([5.5]).var().item())).toBe(true);
    expect(tensor([1.5, 2]).var(0, { correction: 2 }).item()).toBe(Infinity);
    expect(
      tensor(
        [
          [1, 2],
          [3, 3],
        ],
        { dtype: 'float32' },
      )
        .var(1, { correction: 3 })
        .tolist(),
    ).toEqual([Infinity, NaN]);
  });
  it('NaN propagates through amax / amin / max(dim); argmax points at the first NaN (as PyTorch)', () => {
    const n = tensor([
      [1, NaN, 3],
      [2, 5, 4],
      [NaN, NaN, 0],
    ]);
    expect(vals(n.amax(1))).toEqual([NaN, 5, NaN]);
    expect(vals(n.amin(1))).toEqual([NaN, 2, NaN]);
    expect(vals(n.argmax(1))).toEqual([1, 1, 0]);
    const [v, i] = n.max(1);
    expect(vals(v)).toEqual([NaN, 5, NaN]);
    expect(vals(i)).toEqual([1, 1, 0]);
    expect(vals(n.amax())).toEqual([NaN]);
  });
  it('empty inputs: sum is 0, mean is NaN (as PyTorch)', () => {
    expect(vals(zeros([0]).sum())).toEqual([0]);
    expect(vals(zeros([0]).mean())).toEqual([NaN]);
    expect(zeros([2, 0]).sum(1).tolist()).toEqual([0, 0]);
    expect(vals(zeros([2, 0]).mean(1))).toEqual([NaN, NaN]);
    expect(zeros([0, 3]).sum(0, true).tolist()).toEqual([[0, 0, 0]]);
  });
  it('tie gradients of amax/amin on float32', () => {
    const x = tensor(
      [
        [1, 3, 3],
        [2, 2, 2],
      ],
      { requiresGrad: true },
    );
    x.amax(1).backward(tensor([6, 3], { dtype: 'float32' }));
    expect(x.grad!.tolist()).toEqual([
      [0, 3, 3],
      [1, 1, 1],
    ]);
    const w = tensor(
      [
        [1, 0, 0],
        [0, 5, 0],
      ],
      { requiresGrad: true },
    );
    w.amin().backward();
    expect(vals(w.grad!)).toEqual([0, 0.25, 0.25, 0.25, 0, 0.25]);
  });
  it('max(dim)/min(dim) and argmax vs float64', () => {
    manualSeed(24);
    const x64 = r64([3, 4, 5]);
    for (const d of [0, 1, -1]) {
      const { y32, y64 } = comparePaths(`max dim ${d}`, (t) => [t.max(d).values], [x64]);
      expect(y32[0].shape).toEqual(y64[0].shape);
      comparePaths(`max/min/argmax indices dim ${d}`, (t) => [t.max(d).indices, t.min(d, true).indices, t.argmax(d)], [x64], {
        atol: 0,
        rtol: 0,
      });
      x64.grad = null;
    }
    comparePaths('min dim 1 keepdim', (t) => t.min(1, true).values, [r64([3, 4, 5])]);
    manualSeed(25);
    const z = r64([3, 4, 5], false);
    comparePaths('argmax of all', (t) => t.argmax(), [z], { atol: 0, rtol: 0 });
    expect(z.float().argmax().item()).toBe(vals(z).indexOf(Math.max(...vals(z))));
  });
});

describe('reductions: errors', () => {
  it('a dim out of range names the op, the dim and the shape', () => {
    expect(() => randn([2, 3, 4]).sum(3)).toThrow(/sum: dim 3 is out of range \[-3, 2\] of a tensor of shape \[2, 3, 4\]/);
    expect(() => randn([2, 3]).mean([0, -3])).toThrow(/mean: dim -3 is out of range \[-2, 1\] of a tensor of shape \[2, 3\]/);
    expect(() => randn([2, 3]).amax(2)).toThrow(/amax: dim 2 is out of range \[-2, 1\] of a tensor of shape \[2, 3\]/);
    expect(() => randn([2, 3]).var(5)).toThrow(/var: dim 5 is out of range \[-2, 1\] of a tensor of shape \[2, 3\]/);
    expect(() => randn([2, 3]).max(2)).toThrow(/max: dim 2 is out of range \[-2, 1\] of a tensor of shape \[2, 3\]/);
    expect(() => randn([2, 3]).argmax(-3)).toThrow(/argmax: dim -3 is out of range \[-2, 1\] of a tensor of shape \[2, 3\]/);
  });
  it('a dim named twice', () => {
    expect(() => randn([2, 3]).sum([1, -1])).toThrow(/sum: dim \[1,-1\] names a dimension twice \(shape \[2, 3\]\)/);
  });
  it('mean / var of an int tensor, amax of an empty tensor', () => {
    expect(() => tensor([1, 2], { dtype: 'int32' }).mean()).toThrow(/mean: expects a floating point tensor, got int32 \(shape \[2\]\)/);
    expect(() => tensor([1, 2], { dtype: 'int32' }).var()).toThrow(/var: expects a floating point tensor, got int32 \(shape \[2\]\)/);
    expect(() => randn([2, 0]).amax(1)).toThrow(/amax: cannot reduce over an empty dimension \(shape \[2, 0\]\)/);
    expect(() => randn([0]).argmax()).toThrow(/argmax: the input is empty \(shape \[0\]\)/);
  });
});
