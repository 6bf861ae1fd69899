import { describe, expect, it, beforeAll } from 'vitest';
import { arange, cat, gradcheck, manualSeed, randn, stack, tensor, type Tensor } from '../../src/index.js';
import { MODES, useMode, expectClose } from '../support/helpers.js';
import { comparePaths, r64, vals } from '../support/check.js';

const numel = (s: number[]): number => s.reduce((a, b) => a * b, 1);
const stridesOf = (s: number[]): number[] => s.map((_, d) => numel(s.slice(d + 1)));
/** JS reference gather: out[idx] = src[map(idx)] over every multi-index of `outShape`. */
function gather(src: number[], srcShape: number[], outShape: number[], map: (idx: number[]) => number[]): number[] {
  const so = stridesOf(outShape);
  const ss = stridesOf(srcShape);
  return Array.from({ length: numel(outShape) }, (_, flat) => {
    const idx = outShape.map((s, d) => Math.floor(flat / so[d]) % s);
    return src[map(idx).reduce((a, v, d) => a + v * ss[d], 0)];
  });
}

type F = (...xs: Tensor[]) => Tensor | Tensor[];
const idx = (v: number[]): Tensor => tensor(v, { dtype: 'int32' });

// [name, input shapes, f, reference for the first input (data, shape) → [values, shape]]
const CASES: [string, number[][], F, ((d: number[]) => [number[], number[]]) | null][] = [
  ['reshape to [4, -1]', [[2, 3, 4]], (x) => x.reshape(4, -1), (d) => [d, [4, 6]]],
  ['view([6, 4])', [[2, 3, 4]], (x) => x.view([6, 4]), (d) => [d, [6, 4]]],
  ['flatten()', [[2, 3, 4]], (x) => x.flatten(), (d) => [d, [24]]],
  ['flatten(1)', [[2, 3, 4]], (x) => x.flatten(1), (d) => [d, [2, 12]]],
  ['flatten(0, 1)', [[2, 3, 4]], (x) => x.flatten(0, 1), (d) => [d, [6, 4]]],
  ['flatten(-2, -1)', [[2, 3, 4]], (x) => x.flatten(-2, -1), (d) => [d, [2, 12]]],
  [
    'permute(2, 0, 1)',
    [[2, 3, 4]],
    (x) => x.permute(2, 0, 1),
    (d) => [gather(d, [2, 3, 4], [4, 2, 3], ([a, b, c]) => [b, c, a]), [4, 2, 3]],
  ],
  [
    'permute([-1, 0, 1])',
    [[2, 3, 4]],
    (x) => x.permute([-1, 0, 1]),
    (d) => [gather(d, [2, 3, 4], [4, 2, 3], ([a, b, c]) => [b, c, a]), [4, 2, 3]],
  ],
  [
    'permute(1, 0, 2)',
    [[2, 3, 4]],
    (x) => x.permute(1, 0, 2),
    (d) => [gather(d, [2, 3, 4], [3, 2, 4], ([a, b, c]) => [b, a, c]), [3, 2, 4]],
  ],
  ['transpose(0, 2)', [[2, 3, 4]], (x) => x.transpose(0, 2), (d) => [gather(d, [2, 3, 4], [4, 3, 2], ([a, b, c]) => [c, b, a]), [4, 3, 2]]],
  [
    'transpose(-1, -2)',
    [[2, 3, 4]],
    (x) => x.transpose(-1, -2),
    (d) => [gather(d, [2, 3, 4], [2, 4, 3], ([a, b, c]) => [a, c, b]), [2, 4, 3]],
  ],
  ['t() of 2-D', [[3, 4]], (x) => x.t(), (d) => [gather(d, [3, 4], [4, 3], ([a, b]) => [b, a]), [4, 3]]],
  ['t() of 1-D', [[5]], (x) => x.t(), (d) => [d, [5]]],
  ['unsqueeze(0)', [[3, 4]], (x) => x.unsqueeze(0), (d) => [d, [1, 3, 4]]],
  ['unsqueeze(-1)', [[3, 4]], (x) => x.unsqueeze(-1), (d) => [d, [3, 4, 1]]],
  ['unsqueeze(1)', [[3, 4]], (x) => x.unsqueeze(1), (d) => [d, [3, 1, 4]]],
  ['squeeze()', [[2, 1, 3, 1]], (x) => x.squeeze(), (d) => [d, [2, 3]]],
  ['squeeze(1)', [[2, 1, 3, 1]], (x) => x.squeeze(1), (d) => [d, [2, 3, 1]]],
  ['squeeze(-1)', [[2, 1, 3, 1]], (x) => x.squeeze(-1), (d) => [d, [2, 1, 3]]],
  ['squeeze(0) of a non-1 dim is a no-op', [[2, 1, 3, 1]], (x) => x.squeeze(0), (d) => [d, [2, 1, 3, 1]]],
  ['squeeze([1, 3])', [[2, 1, 3, 1]], (x) => x.squeeze([1, 3]), (d) => [d, [2, 3]]],
  ['expand(2, 3, 4) of [3, 1]', [[3, 1]], (x) => x.expand(2, 3, 4), (d) => [gather(d, [3, 1], [2, 3, 4], ([, b]) => [b, 0]), [2, 3, 4]]],
  ['expand([-1, 5]) of [3, 1]', [[3, 1]], (x) => x.expand([-1, 5]), (d) => [gather(d, [3, 1], [3, 5], ([a]) => [a, 0]), [3, 5]]],
  [
    'expandAs',
    [[1, 4]],
    (x) =>
      x.expandAs(
        tensor([
          [0, 0, 0, 0],
          [0, 0, 0, 0],
        ]),
      ),
    (d) => [
      [...d, ...d],
      [2, 4],
    ],
  ],
  ['contiguous of a permuted tensor', [[3, 4]], (x) => x.t().contiguous(), (d) => [gather(d, [3, 4], [4, 3], ([a, b]) => [b, a]), [4, 3]]],
  [
    'narrow(1, 1, 2)',
    [[2, 4, 3]],
    (x) => x.narrow(1, 1, 2),
    (d) => [gather(d, [2, 4, 3], [2, 2, 3], ([a, b, c]) => [a, b + 1, c]), [2, 2, 3]],
  ],
  [
    'narrow(-1, -2, 2)',
    [[2, 4, 3]],
    (x) => x.narrow(-1, -2, 2),
    (d) => [gather(d, [2, 4, 3], [2, 4, 2], ([a, b, c]) => [a, b, c + 1]), [2, 4, 2]],
  ],
  ['slice(1, 1)', [[2, 7, 3]], (x) => x.slice(1, 1), (d) => [gather(d, [2, 7, 3], [2, 6, 3], ([a, b, c]) => [a, b + 1, c]), [2, 6, 3]]],
  [
    'slice(1, 0, 7, 2)',
    [[2, 7, 3]],
    (x) => x.slice(1, 0, 7, 2),
    (d) => [gather(d, [2, 7, 3], [2, 4, 3], ([a, b, c]) => [a, 2 * b, c]), [2, 4, 3]],
  ],
  [
    'slice(1, -5, -1, 3)',
    [[2, 7, 3]],
    (x) => x.slice(1, -5, -1, 3),
    (d) => [gather(d, [2, 7, 3], [2, 2, 3], ([a, b, c]) => [a, 2 + 3 * b, c]), [2, 2, 3]],
  ],
  [
    'slice(-1, 1, 100)',
    [[2, 7, 3]],
    (x) => x.slice(-1, 1, 100),
    (d) => [gather(d, [2, 7, 3], [2, 7, 2], ([a, b, c]) => [a, b, c + 1]), [2, 7, 2]],
  ],
  ['slice(0, 1, 2)', [[2, 7, 3]], (x) => x.slice(0, 1, 2), (d) => [d.slice(21), [1, 7, 3]]],
  [
    'indexSelect(0, [2, 0, 2, 1])',
    [[3, 4]],
    (x) => x.indexSelect(0, idx([2, 0, 2, 1])),
    (d) => [gather(d, [3, 4], [4, 4], ([a, b]) => [[2, 0, 2, 1][a], b]), [4, 4]],
  ],
  [
    'indexSelect(-1, [3, 3, 0])',
    [[2, 3, 4]],
    (x) => x.indexSelect(-1, idx([3, 3, 0])),
    (d) => [gather(d, [2, 3, 4], [2, 3, 3], ([a, b, c]) => [a, b, [3, 3, 0][c]]), [2, 3, 3]],
  ],
  [
    'indexSelect(1, 0-d index)',
    [[2, 3, 4]],
    (x) => x.indexSelect(1, tensor(2, { dtype: 'int32' })),
    (d) => [gather(d, [2, 3, 4], [2, 1, 4], ([a, , c]) => [a, 2, c]), [2, 1, 4]],
  ],
  [
    'repeatInterleave(2, 1)',
    [[2, 3]],
    (x) => x.repeatInterleave(2, 1),
    (d) => [gather(d, [2, 3], [2, 6], ([a, b]) => [a, Math.floor(b / 2)]), [2, 6]],
  ],
  [
    'repeatInterleave(3, -2)',
    [[2, 3]],
    (x) => x.repeatInterleave(3, -2),
    (d) => [gather(d, [2, 3], [6, 3], ([a, b]) => [Math.floor(a / 3), b]), [6, 3]],
  ],
  [
    'cat dim 0',
    [
      [2, 3],
      [1, 3],
      [3, 3],
    ],
    (a, b, c) => cat([a, b, c], 0),
    null,
  ],
  [
    'cat dim 1',
    [
      [2, 3],
      [2, 1],
      [2, 2],
    ],
    (a, b, c) => cat([a, b, c], 1),
    null,
  ],
  [
    'cat dim -1 of 3-D',
    [
      [2, 2, 3],
      [2, 2, 1],
    ],
    (a, b) => cat([a, b], -1),
    null,
  ],
  [
    'stack dim 0',
    [
      [2, 3],
      [2, 3],
      [2, 3],
    ],
    (a, b, c) => stack([a, b, c]),
    null,
  ],
  [
    'stack dim -1',
    [
      [2, 3],
      [2, 3],
    ],
    (a, b) => stack([a, b], -1),
    null,
  ],
  [
    'stack dim 1',
    [
      [2, 3],
      [2, 3],
    ],
    (a, b) => stack([a, b], 1),
    null,
  ],
  ['split(2, 1) uneven', [[2, 5]], (x) => x.split(2, 1), null],
  ['split([1, 3, 1], -1)', [[2, 5]], (x) => x.split([1, 3, 1], -1), null],
  ['chunk(3, 0)', [[7, 2]], (x) => x.chunk(3, 0), null],
];

describe('shape ops: values against a JS reference, and float64 gradcheck', () => {
  for (const [name, shapes, f, ref] of CASES) {
    it(`${name}`, () => {
      manualSeed(41);
      const xs = shapes.map((s) => r64(s));
      const y = f(...xs);
      if (ref) {
        const [v, s] = ref(vals(xs[0]));
        const t = y as Tensor;
        expect(t.shape).toEqual(s);
        expect(vals(t)).toEqual(v);
      }
      expect(gradcheck(f, xs)).toBe(true);
    });
  }
  it('cat and stack values, and cat of more than 8 tensors (grouped kernels)', () => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    const b = tensor([[5, 6]]);
    expect(cat([a, b]).tolist()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(cat([a, tensor([[7], [8]])], 1).tolist()).toEqual([
      [1, 2, 7],
      [3, 4, 8],
    ]);
    expect(stack([tensor([1, 2]), tensor([3, 4])], 1).tolist()).toEqual([
      [1, 3],
      [2, 4],
    ]);
    manualSeed(42);
    const parts = Array.from({ length: 11 }, (_, k) => r64([2, 1 + (k % 3)]));
    const y = cat(parts, 1);
    expect(y.shape).toEqual([2, parts.reduce((s, p) => s + p.shape[1], 0)]);
    const rows = [0, 1].map((r) => parts.flatMap((p) => vals(p).slice(r * p.shape[1], (r + 1) * p.shape[1])));
    expect(vals(y)).toEqual([...rows[0], ...rows[1]]);
    expect(gradcheck((...ts) => cat(ts, 1), parts)).toBe(true);
    const many = Array.from({ length: 10 }, (_, k) => tensor([k, -k], { dtype: 'float64' }));
    expect(stack(many).shape).toEqual([10, 2]);
    expect(vals(stack(many))).toEqual(many.flatMap((t) => vals(t)));
  });
  it('split / chunk pieces and sizes', () => {
    const x = arange(10).reshape(5, 2);
    expect(x.split(2).map((t) => t.shape)).toEqual([
      [2, 2],
      [2, 2],
      [1, 2],
    ]);
    expect(x.split([3, 2]).map((t) => t.tolist())).toEqual([
      [
        [0, 1],
        [2, 3],
        [4, 5],
      ],
      [
        [6, 7],
        [8, 9],
      ],
    ]);
    expect(x.chunk(2).map((t) => t.shape)).toEqual([
      [3, 2],
      [2, 2],
    ]);
    expect(x.chunk(5, 1).map((t) => t.shape)).toEqual([
      [5, 1],
      [5, 1],
    ]);
    expect(
      arange(6)
        .chunk(4)
        .map((t) => t.tolist()),
    ).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
  });
  it('slices: empty and clamped ranges, int data', () => {
    const x = arange(6);
    expect(x.slice(0, 4, 2).shape).toEqual([0]);
    expect(x.slice(0, -100, 100).tolist()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(x.slice(0, 1, undefined, 4).tolist()).toEqual([1, 5]);
    expect(x.slice(0, -3).tolist()).toEqual([3, 4, 5]);
    expect(x.dtype).toBe('int32');
    expect(x.slice(0, 1, 3).dtype).toBe('int32');
  });
  it('view shares the gradient path; a gradient through several shape ops', () => {
    const x = r64([2, 3, 4]);
    const f = (t: Tensor): Tensor => t.permute(1, 2, 0).reshape(3, 8).slice(1, 1, 8, 3).unsqueeze(0).expand(2, 3, 3).sum(0).t();
    expect(gradcheck(f, [x])).toBe(true);
  });
});

describe.each(MODES)('shape ops on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  it('every case: forward and gradients', () => {
    for (const [name, shapes, f] of CASES) {
      manualSeed(43);
      const xs = shapes.map((s) => r64(s));
      const { y32 } = comparePaths(name, f, xs, { atol: 0, rtol: 1e-7, gatol: 1e-6, grtol: 1e-6 });
      expect(y32.length).toBeGreaterThan(0);
    }
  });
  it('cat of 11 tensors and stack, with some inputs not requiring grad', () => {
    manualSeed(44);
    const parts = Array.from({ length: 11 }, (_, k) => r64([2, 1 + (k % 3)], k % 4 !== 0));
    const { g32 } = comparePaths('cat 11', (...ts) => cat(ts, 1), parts, { atol: 0, rtol: 1e-7 });
    g32.forEach((g, k) => expect(g === null, `grad ${k}`).toBe(k % 4 === 0));
    comparePaths('stack 3', (...ts) => stack(ts, 1), [r64([3, 2]), r64([3, 2], false), r64([3, 2])], { atol: 0, rtol: 1e-7 });
  });
  it('empty slices and empty pieces: values and gradients', () => {
    const x = tensor([1, 2, 3, 4], { requiresGrad: true });
    const y = cat([x.slice(0, 4, 2), x.slice(0, 1, 3), x.narrow(0, 2, 0)]);
    expect(y.tolist()).toEqual([2, 3]);
    y.sum().backward();
    expect(x.grad!.tolist()).toEqual([0, 1, 1, 0]);
    expect(cat([tensor([[1, 2]], { dtype: 'float32' }), randn([0, 2])]).tolist()).toEqual([[1, 2]]);
    expect(randn([3, 0]).t().shape).toEqual([0, 3]);
  });
  it('int and bool tensors through gather kernels keep their values', () => {
    const x = arange(12).reshape(3, 4);
    expect(x.t().tolist()).toEqual([
      [0, 4, 8],
      [1, 5, 9],
      [2, 6, 10],
      [3, 7, 11],
    ]);
    expect(x.indexSelect(1, idx([3, 0])).tolist()).toEqual([
      [3, 0],
      [7, 4],
      [11, 8],
    ]);
    expect(cat([x, x], 0).dtype).toBe('int32');
    const b = tensor([
      [true, false],
      [false, true],
    ]);
    expect(b.t().tolist()).toEqual([
      [true, false],
      [false, true],
    ]);
    expect(b.expand(2, 2, 2).dtype).toBe('bool');
    const big = arange(30000).reshape(3, 10000);
    expectClose(
      big.t().sum(1),
      vals(arange(10000)).map((k) => 3 * k + 30000),
      0,
      0,
      'int transpose',
    );
  });
});

describe('shape ops: errors name the op, the argument and the shapes', () => {
  it('reshape / view to the wrong size', () => {
    expect(() => randn([2, 3]).reshape(4, 2)).toThrow(/reshape: shape \[4, 2\] is invalid for input of size 6 \(shape \[2, 3\]\)/);
    expect(() => randn([2, 3]).view(-1, 4)).toThrow(/view: shape \[-1, 4\] is invalid for input of size 6 \(shape \[2, 3\]\)/);
    expect(() => randn([2, 3]).reshape(-1, -1)).toThrow(/reshape: invalid shape \[-1, -1\]/);
    expect(() => randn([2, 3]).flatten(2, 1)).toThrow(/flatten: dim 2 is out of range \[-2, 1\] of a tensor of shape \[2, 3\]/);
    expect(() => randn([2, 3, 4]).flatten(2, 1)).toThrow(/flatten: startDim 2 comes after endDim 1 \(shape \[2, 3, 4\]\)/);
  });
  it('permute / transpose / t / unsqueeze / squeeze', () => {
    expect(() => randn([2, 3]).permute(0)).toThrow(/permute: got 1 dims \[0\] for a tensor of shape \[2, 3\]/);
    expect(() => randn([2, 3]).permute(0, 0)).toThrow(/permute: dims \[0, 0\] repeat a dimension/);
    expect(() => randn([2, 3]).transpose(0, 2)).toThrow(/transpose: dim 2 is out of range \[-2, 1\] of a tensor of shape \[2, 3\]/);
    expect(() => randn([2, 3, 4]).t()).toThrow(/t: expects a tensor with at most 2 dims, got shape \[2, 3, 4\]/);
    expect(() => randn([2, 3]).unsqueeze(3)).toThrow(/unsqueeze: dim 3 is out of range \[-3, 2\] of a tensor of shape \[2, 3\]/);
    expect(() => randn([2, 3]).squeeze(-3)).toThrow(/squeeze: dim -3 is out of range \[-2, 1\] of a tensor of shape \[2, 3\]/);
  });
  it('expand', () => {
    expect(() => randn([3, 2]).expand(3, 4)).toThrow(
      /expand: the expanded size \(4\) must match the existing size \(2\) at non-singleton dimension 1; target \[3, 4\], input \[3, 2\]/,
    );
    expect(() => randn([3]).expand(4)).toThrow(/expand: the expanded size \(4\) must match the existing size \(3\)/);
    expect(() => randn([2, 3]).expand(3)).toThrow(/expand: the target shape \[3\] has fewer dims than the input's \[2, 3\]/);
    expect(() => randn([3]).expand(-1, 3)).toThrow(/expand: -1 is not allowed for the new leading dim 0 \(target \[-1, 3\]\)/);
  });
  it('cat / stack', () => {
    expect(() => cat([randn([2, 3]), randn([2, 4])], 0)).toThrow(
      /cat: sizes must match except in dimension 0: tensors\[0\] has shape \[2, 3\], tensors\[1\] has shape \[2, 4\]/,
    );
    expect(() => cat([randn([2, 3]), randn([2, 3], { dtype: 'float64' })])).toThrow(
      /cat: tensors\[1\] is float64 \(shape \[2, 3\]\) but tensors\[0\] is float32 \(shape \[2, 3\]\)/,
    );
    expect(() => cat([])).toThrow('cat: tensors must hold at least one Tensor, got an empty list');
    expect(() => cat([randn([2]), randn([2])], 1)).toThrow(/cat: dim 1 is out of range \[-1, 0\] of a tensor of shape \[2\]/);
    expect(() => stack([randn([2, 3]), randn([2, 3])], 3)).toThrow(/stack: dim 3 is out of range \[-3, 2\] of a tensor of shape \[2, 3\]/);
    expect(() => stack([randn([2, 3]), randn([3, 2])])).toThrow(
      /stack: all tensors must have one shape: tensors\[0\] has \[2, 3\], tensors\[1\] has \[3, 2\]/,
    );
  });
  it('split / chunk / narrow / slice', () => {
    expect(() => randn([5, 2]).split([2, 2])).toThrow(/split: sizes \[2, 2\] do not add up to 5, the size of dim 0 \(shape \[5, 2\]\)/);
    expect(() => randn([5, 2]).split(0)).toThrow(/split: splitSize must be a positive integer, got 0/);
    expect(() => randn([5, 2]).chunk(0)).toThrow(/chunk: chunks must be a positive integer, got 0/);
    expect(() => randn([5, 2]).narrow(0, 3, 3)).toThrow(
      /narrow: start \(3\) \+ length \(3\) exceeds dimension 0 of size 5 \(shape \[5, 2\]\)/,
    );
    expect(() => randn([5, 2]).slice(0, 0, 5, 0)).toThrow(/slice: step must be a positive integer, got 0/);
    expect(() => randn([5, 2]).slice(2)).toThrow(/slice: dim 2 is out of range \[-2, 1\] of a tensor of shape \[5, 2\]/);
  });
  it('indexSelect / repeatInterleave', () => {
    expect(() => randn([3, 4]).indexSelect(0, idx([0, 3]))).toThrow(
      /indexSelect: index 3 is out of range for dim 0 of a tensor of shape \[3, 4\] of size 3/,
    );
    expect(() => randn([3, 4]).indexSelect(1, idx([-1]))).toThrow(
      /indexSelect: index -1 is out of range for dim 1 of a tensor of shape \[3, 4\] of size 4/,
    );
    expect(() => randn([3, 4]).indexSelect(0, tensor([0, 1], { dtype: 'float32' }))).toThrow(
      /indexSelect: index must be an int32 tensor, got float32 \(shape \[2\]\)/,
    );
    expect(() => randn([3, 4]).indexSelect(0, idx([0, 1]).reshape(1, 2))).toThrow(
      /indexSelect: index must be 0-D or 1-D, got shape \[1, 2\]/,
    );
    expect(() => randn([3, 4]).repeatInterleave(0, 0)).toThrow(/repeatInterleave: repeats must be a positive integer, got 0/);
  });
});
