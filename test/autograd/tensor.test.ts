import { describe, expect, it, beforeAll } from 'vitest';
import {
  arange,
  full,
  fullLike,
  getRngState,
  gradcheck,
  manualSeed,
  ones,
  onesLike,
  rand,
  randint,
  randn,
  setRngState,
  tensor,
  zeros,
  zerosLike,
  Tensor,
} from '../../src/index.js';
import { MODES, useMode, expectClose } from '../support/helpers.js';
import { vals } from '../support/check.js';

describe('tensor creation', () => {
  it('from a number, nested arrays and booleans', () => {
    const s = tensor(2.5);
    expect(s.shape).toEqual([]);
    expect(s.dtype).toBe('float32');
    expect(s.item()).toBe(2.5);
    const m = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(m.shape).toEqual([2, 3]);
    expect(m.ndim).toBe(2);
    expect(m.numel()).toBe(6);
    expect(m.size()).toEqual([2, 3]);
    expect(m.size(-1)).toBe(3);
    expect(vals(m)).toEqual([1, 2, 3, 4, 5, 6]);
    const b = tensor([[true, false]]);
    expect(b.dtype).toBe('bool');
    expect(b.tolist()).toEqual([[true, false]]);
    expect(tensor([]).shape).toEqual([0]);
    expect(tensor([[[]]]).shape).toEqual([1, 1, 0]);
  });
  it('from typed arrays: dtype follows the array type; shape, dtype and requiresGrad options', () => {
    expect(tensor(new Float32Array([1, 2])).dtype).toBe('float32');
    expect(tensor(new Float64Array([1, 2])).dtype).toBe('float64');
    expect(tensor(new Int32Array([1, 2])).dtype).toBe('int32');
    expect(tensor(new Uint8Array([1, 0])).dtype).toBe('bool');
    const t = tensor(new Float64Array([1, 2, 3, 4, 5, 6]), { shape: [3, 2], requiresGrad: true });
    expect(t.shape).toEqual([3, 2]);
    expect(t.requiresGrad).toBe(true);
    expect(t.isLeaf).toBe(true);
    expect(t.tolist()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const i = tensor([1.9, -1.9, 3], { dtype: 'int32' });
    expect(i.tolist()).toEqual([1, -1, 3]); // truncation toward zero
    const src = new Float32Array([1, 2]);
    const c = tensor(src);
    src[0] = 99;
    expect(c.tolist()).toEqual([1, 2]); // data is copied
    expect(tensor([0.1], { dtype: 'float64' }).item()).toBe(0.1);
    expect(tensor([0.1]).item()).toBe(Math.fround(0.1));
  });
  it('ragged arrays, bad elements, a wrong shape option and unknown dtypes throw naming the op', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(
      /tensor: ragged nested array: data\[1\] has 1 elements where 2 were expected \(shape \[2, 2\]\)/,
    );
    expect(() => tensor([[1, 2], 3] as unknown as number[][])).toThrow(
      /tensor: ragged nested array: data\[1\] has no elements where 2 were expected/,
    );
    expect(() => tensor([1, [2]] as unknown as number[])).toThrow(
      /tensor: ragged nested array: data\[1\] has more levels than its siblings \(shape so far \[2\]\)/,
    );
    expect(() => tensor(['a'] as unknown as number[])).toThrow(/tensor: data\[0\] is string, expected a number or boolean/);
    expect(() => tensor([1, 2, 3], { shape: [2, 2] })).toThrow(/tensor: shape \[2, 2\] needs 4 values but data has 3/);
    expect(() => tensor([1], { dtype: 'float16' as 'float32' })).toThrow(/tensor: unknown dtype 'float16'/);
    expect(() => tensor([1], { dtype: 'int32', requiresGrad: true })).toThrow(
      /requiresGrad: only floating point tensors can require gradients, this one is int32 \(shape \[1\]\)/,
    );
  });
  it('zeros, ones, full, zerosLike, onesLike, fullLike', () => {
    expect(zeros([2, 3]).tolist()).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(ones([2], { dtype: 'int32' }).dtype).toBe('int32');
    const f = full([2, 2], 7, { dtype: 'float64', requiresGrad: true });
    expect(f.tolist()).toEqual([
      [7, 7],
      [7, 7],
    ]);
    expect(f.requiresGrad).toBe(true);
    expect(full([3], 2.7, { dtype: 'int32' }).tolist()).toEqual([2, 2, 2]);
    expect(full([2], 3, { dtype: 'bool' }).tolist()).toEqual([true, true]);
    const like = tensor([[1, 2]], { dtype: 'float64' });
    expect(zerosLike(like).dtype).toBe('float64');
    expect(zerosLike(like).shape).toEqual([1, 2]);
    expect(onesLike(like, { dtype: 'int32' }).tolist()).toEqual([[1, 1]]);
    expect(fullLike(like, -1).tolist()).toEqual([[-1, -1]]);
    expect(zeros([]).shape).toEqual([]);
    expect(() => zeros([2, -1])).toThrow(/zeros: shape must be an array of non-negative integers, got \[2,-1\]/);
    expect(() => ones([1.5])).toThrow(/ones: shape must be an array of non-negative integers, got \[1.5\]/);
  });
  it('arange: int when every argument is an integer, float otherwise; negative steps', () => {
    expect(arange(5).tolist()).toEqual([0, 1, 2, 3, 4]);
    expect(arange(5).dtype).toBe('int32');
    expect(arange(2, 8, 3).tolist()).toEqual([2, 5]);
    expect(arange(5, 0, -2).tolist()).toEqual([5, 3, 1]);
    expect(arange(0, 1, 0.25).tolist()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(arange(0, 1, 0.25).dtype).toBe('float32');
    expect(arange(3, undefined, 1, { dtype: 'float64' }).dtype).toBe('float64');
    expect(arange(3, 3).shape).toEqual([0]);
    expect(() => arange(0, 5, 0)).toThrow(/arange: step must be a non-zero finite number, got 0/);
  });
  it('rand, randn, randint: ranges, moments, dtypes and errors', () => {
    manualSeed(101);
    const u = vals(rand([10000]));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(Math.abs(u.reduce((a, v) => a + v, 0) / u.length - 0.5)).toBeLessThan(0.015);
    const n = vals(randn([10000], { dtype: 'float64' }));
    const mean = n.reduce((a, v) => a + v, 0) / n.length;
    const sd = Math.sqrt(n.reduce((a, v) => a + (v - mean) ** 2, 0) / n.length);
    expect(Math.abs(mean)).toBeLessThan(0.04);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
    const r = randint(-3, 4, [5000]);
    expect(r.dtype).toBe('int32');
    const rv = vals(r);
    expect(new Set(rv)).toEqual(new Set([-3, -2, -1, 0, 1, 2, 3]));
    expect(randint(0, 2, [3], { dtype: 'float32' }).dtype).toBe('float32');
    expect(randn([2, 3], { requiresGrad: true }).requiresGrad).toBe(true);
    expect(() => rand([2], { dtype: 'int32' })).toThrow(/rand: dtype must be float32 or float64, got int32/);
    expect(() => randn([-1])).toThrow(/randn: shape must be an array of non-negative integers/);
    expect(() => randint(3, 3, [2])).toThrow(/randint: expects integers low < high, got low=3, high=3/);
  });
  it('manualSeed: same seed same values; float32 draws are the float64 draws rounded; state save/restore', () => {
    manualSeed(7);
    const a = vals(randn([100], { dtype: 'float64' }));
    const u = vals(rand([10], { dtype: 'float64' }));
    manualSeed(7);
    const b = vals(randn([100]));
    const v = vals(rand([10]));
    expect(b).toEqual(a.map(Math.fround));
    expect(v).toEqual(u.map(Math.fround));
    manualSeed(7);
    expect(vals(randn([100], { dtype: 'float64' }))).toEqual(a);
    manualSeed(8);
    expect(vals(randn([100], { dtype: 'float64' }))).not.toEqual(a);
    manualSeed(9);
    randn([3]); // leaves a Box-Muller spare behind
    const state = getRngState();
    const next = vals(randn([5], { dtype: 'float64' }));
    randint(0, 10, [7]);
    setRngState(state);
    expect(vals(randn([5], { dtype: 'float64' }))).toEqual(next);
    expect(() => manualSeed(NaN)).toThrow(/manualSeed: seed must be a finite number, got NaN/);
    expect(() => setRngState([1, 2])).toThrow(/setRngState: expected the 5-number array that getRngState\(\) returned/);
  });
});

describe('reading data: toArray, tolist, item', () => {
  it("toArray returns a copy in the dtype's typed array", () => {
    expect(tensor([1.5, 2]).toArray()).toBeInstanceOf(Float32Array);
    expect(tensor([1, 2]).toArray()).toBeInstanceOf(Int32Array);
    expect(tensor([1, 2], { dtype: 'float64' }).toArray()).toBeInstanceOf(Float64Array);
    expect(tensor([1, 2], { dtype: 'int32' }).toArray()).toBeInstanceOf(Int32Array);
    expect(tensor([true]).toArray()).toBeInstanceOf(Uint8Array);
    const t = tensor([1, 2]);
    const arr = t.toArray();
    arr[0] = 50;
    expect(t.tolist()).toEqual([1, 2]);
  });
  it('tolist nests by shape; item reads one element', async () => {
    expect(arange(6).reshape(1, 2, 3).tolist()).toEqual([
      [
        [0, 1, 2],
        [3, 4, 5],
      ],
    ]);
    expect(tensor(4).tolist()).toBe(4);
    expect(tensor(true).tolist()).toBe(true);
    expect(tensor([[3]]).item()).toBe(3);
    expect(() => tensor([1, 2]).item()).toThrow(/item: only one-element tensors can be converted to a number, this one has shape \[2\]/);
    expect(Array.from(await tensor([1, 2]).data())).toEqual([1, 2]);
    expect(() => tensor([1]).size(1)).toThrow('size: Dimension out of range (expected to be in range of [-1, 0], but got 1) (shape [1])');
    expect(() => tensor([1]).size(0.5)).toThrow('size: dim must be an integer, got 0.5 (shape [1])');
    // numel(), dim() and size() as in PyTorch, typed: size() an array, size(d) a number
    const t = tensor([[1, 2, 3]]);
    const n: number = t.numel();
    const d: number = t.dim();
    const s: number[] = t.size();
    const last: number = t.size(-1);
    expect([n, d, s, last]).toEqual([3, 2, [1, 3], 3]);
  });
});

describe('conversions and clone', () => {
  it('float / double / int / bool', () => {
    const x = tensor([-1.7, 0, 2.5], { dtype: 'float64' });
    expect(x.float().dtype).toBe('float32');
    expect(x.int().tolist()).toEqual([-1, 0, 2]);
    expect(x.bool().tolist()).toEqual([true, false, true]);
    expect(x.int().float().tolist()).toEqual([-1, 0, 2]);
    expect(x.bool().int().tolist()).toEqual([1, 0, 1]);
    expect(x.double()).toBe(x); // same dtype: no copy
    expect(x.to('float32').tolist()).toEqual([Math.fround(-1.7), 0, 2.5]);
    expect(() => x.to('half' as 'float32')).toThrow(/to: unknown dtype 'half'/);
  });
  it('gradients flow through float <-> double casts, not into int', () => {
    const x = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const y = x.float().mul(3).double();
    expect(y.dtype).toBe('float64');
    y.sum().backward();
    expect(x.grad!.dtype).toBe('float64');
    expect(x.grad!.tolist()).toEqual([3, 3]);
    expect(
      gradcheck((t) => t.float().double().mul(t), [tensor([0.5, -2], { dtype: 'float64', requiresGrad: true })], {
        atol: 1e-4,
        rtol: 1e-3,
        eps: 1e-3,
      }),
    ).toBe(true);
    expect(x.int().requiresGrad).toBe(false);
  });
  it('clone copies the data and passes gradients', () => {
    const x = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const c = x.clone();
    expect(c.gradFn!.name).toBe('Clone');
    c.mul(2).sum().backward();
    expect(x.grad!.tolist()).toEqual([2, 2]);
    const d = tensor([1, 2]);
    const e = d.clone();
    e.add_(5);
    expect(d.tolist()).toEqual([1, 2]);
    expect(e.tolist()).toEqual([6, 7]);
  });
});

describe.each(MODES)('conversions on %s', (mode) => {
  beforeAll(() => useMode(mode));
  it('double → float rounds like Math.fround; int / bool data through float kernels', () => {
    manualSeed(102);
    const x = randn([50], { dtype: 'float64' }).mul(100);
    expect(vals(x.float())).toEqual(vals(x).map(Math.fround));
    const i = arange(-5, 5);
    expect(vals(i.float())).toEqual(vals(i));
    expect(vals(i.float().mul(1.5).int())).toEqual(vals(i).map((v) => Math.trunc(v * 1.5)));
    expect(tensor([0.5, 0, -2]).bool().tolist()).toEqual([true, false, true]);
    const y = tensor([1.25, -3], { requiresGrad: true });
    const z = y.double().mul(2).float();
    z.sum().backward();
    expect(y.grad!.tolist()).toEqual([2, 2]);
    expectClose(tensor([1, 2]).clone(), [1, 2], 0, 0);
  });
});

describe('toString: PyTorch-style repr', () => {
  it('scalars, vectors, matrices, 3-D, dtypes and autograd suffixes', () => {
    expect(String(tensor(3, { dtype: 'float32' }))).toBe('tensor(3.)');
    expect(String(tensor(3))).toBe('tensor(3, dtype=int32)');
    expect(String(tensor([1, 2, 3], { dtype: 'float32' }))).toBe('tensor([1., 2., 3.])');
    expect(
      String(
        tensor([
          [1.5, -2],
          [3, 4],
        ]),
      ),
    ).toBe('tensor([[ 1.5000, -2.0000],\n        [ 3.0000,  4.0000]])');
    expect(String(arange(8).float().reshape(2, 2, 2))).toBe(
      'tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])',
    );
    expect(String(tensor([1, 2], { dtype: 'int32' }))).toBe('tensor([1, 2], dtype=int32)');
    expect(String(tensor([1.5], { dtype: 'float64' }))).toBe('tensor([1.5000], dtype=float64)');
    expect(String(tensor([true, false]))).toBe('tensor([ True, False])');
    expect(String(tensor([1, 2], { requiresGrad: true }))).toBe('tensor([1., 2.], requires_grad=True)');
    expect(String(tensor([1, 2], { requiresGrad: true }).mul(2))).toBe('tensor([2., 4.], grad_fn=<MulBackward>)');
    expect(String(tensor([])).toString()).toBe('tensor([])');
    expect(String(zeros([2, 0]))).toBe('tensor([], size=(2, 0))');
  });
  it('scientific notation with two-digit exponents; nan and inf', () => {
    expect(String(tensor([1e-5, 1]))).toBe('tensor([1.0000e-05, 1.0000e+00])');
    expect(String(tensor([0.1, 123.456]))).toBe('tensor([1.0000e-01, 1.2346e+02])');
    expect(String(tensor([1, 2000], { dtype: 'float32' }))).toBe('tensor([1.0000e+00, 2.0000e+03])');
    expect(String(tensor([NaN, Infinity, -Infinity, 1]))).toBe('tensor([ nan,  inf, -inf,   1.])');
  });
  it('long rows wrap at 80 columns', () => {
    expect(String(arange(30).float())).toBe(
      'tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n' +
        '        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n' +
        '        28., 29.])',
    );
  });
  it('more than 1000 elements are summarised with ...', () => {
    const s = String(arange(2000).float());
    expect(s).toBe('tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])');
    const m = String(arange(1100).float().reshape(1100, 1).mul(0.5));
    expect(m).toBe(
      'tensor([[0.0000e+00],\n        [5.0000e-01],\n        [1.0000e+00],\n        ...,\n        [5.4850e+02],\n        [5.4900e+02],\n        [5.4950e+02]])',
    );
    expect(String(arange(1000).float())).not.toContain('...');
    expect(String(arange(1001).float()).split('...').length).toBe(2);
  });
  it('a disposed tensor says so; util.inspect uses the repr', async () => {
    const t = tensor([1], { dtype: 'float32' });
    const { inspect } = await import('node:util');
    expect(inspect(t)).toBe('tensor([1.])');
    t.dispose();
    expect(String(t)).toBe('tensor(<disposed>, shape=[1])');
    expect(t).toBeInstanceOf(Tensor);
  });
});
