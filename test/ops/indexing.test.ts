// Indexing ops (src/ops/indexing.ts): tril/triu, gather/scatter/scatterAdd, flip, roll, cumsum. Values
// against hand-worked results and PyTorch's (test/fixtures/indexing.json, scripts/make_fixtures.py), float32
// on every mode against the float64 path, float64 gradcheck, and the errors.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  arange,
  cumsum,
  flip,
  gather,
  gradcheck,
  manualSeed,
  randn,
  roll,
  scatter,
  scatterAdd,
  tensor,
  tril,
  triu,
  type Tensor,
} from '../../src/index.js';
import { MODES, useMode } from '../support/helpers.js';
import { comparePaths, r64, vals } from '../support/check.js';
import { decodeNum, readFixture, type TensorJson, type GoldenCase } from '../support/fixture-io.js';
import { checkGolden, one, optional, type Inputs } from '../support/golden.js';

const idx = (v: number[] | number[][] | number[][][]): Tensor => tensor(v, { dtype: 'int32' });
const m3 = (dtype: 'float32' | 'float64' = 'float64'): Tensor => arange(1, 10, 1, { dtype }).reshape(3, 3);

// ---- PyTorch golden cases ---------------------------------------------------------------------------

type Case = GoldenCase<unknown, TensorJson>;
const OPS = ['tril', 'triu', 'gather', 'scatter', 'scatterAdd', 'flip', 'roll', 'cumsum'];
const CASES = (readFixture('indexing.json') as { cases: Case[] }).cases.filter((c) => OPS.includes(c.op));

function runCase(c: Case, ins: Inputs): Tensor {
  const a = c.args;
  const x = one(ins, 'input');
  switch (c.op) {
    case 'tril':
      return tril(x, a.diagonal as number);
    case 'triu':
      return x.triu(a.diagonal as number);
    case 'gather':
      return x.gather(a.dim as number, one(ins, 'index'));
    case 'scatter':
      return scatter(x, a.dim as number, one(ins, 'index'), optional(ins, 'src') ?? decodeNum(a.value));
    case 'scatterAdd':
      return x.scatterAdd(a.dim as number, one(ins, 'index'), one(ins, 'src'));
    case 'flip':
      return x.flip(a.dims as number[]);
    case 'roll':
      return a.dims === null ? roll(x, a.shifts as number) : x.roll(a.shifts as number[], a.dims as number[]);
    case 'cumsum':
      return x.cumsum(a.dim as number);
  }
  throw new Error(`unknown op ${c.op}`);
}

const checkCase = (c: Case, dtype: 'float32' | 'float64'): void => {
  const tol = dtype === 'float64' ? 1e-12 : 1e-5;
  checkGolden(c, dtype, runCase, { atol: tol, rtol: tol });
};

describe('indexing: PyTorch golden values on the float64 path', () => {
  it('has the fixture cases', () => expect(CASES.length).toBeGreaterThan(30));
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_, c) => checkCase(c, 'float64'));
});

// ---- hand-worked values ------------------------------------------------------------------------------

describe('indexing: values and gradients (float64)', () => {
  it('tril/triu with diagonal offsets, batch dims and int/bool inputs', () => {
    expect(tril(m3()).tolist()).toEqual([
      [1, 0, 0],
      [4, 5, 0],
      [7, 8, 9],
    ]);
    expect(triu(m3(), 1).tolist()).toEqual([
      [0, 2, 3],
      [0, 0, 6],
      [0, 0, 0],
    ]);
    expect(m3().tril(-1).tolist()).toEqual([
      [0, 0, 0],
      [4, 0, 0],
      [7, 8, 0],
    ]);
    const b = arange(0, 12, 1, { dtype: 'int32' }).reshape(2, 2, 3);
    expect(b.triu().tolist()).toEqual([
      [
        [0, 1, 2],
        [0, 4, 5],
      ],
      [
        [6, 7, 8],
        [0, 10, 11],
      ],
    ]);
    expect(b.triu().dtype).toBe('int32');
    const causal = tril(
      tensor(
        [
          [true, true],
          [true, true],
        ],
        { dtype: 'bool' },
      ),
    );
    expect(causal.dtype).toBe('bool');
    expect(causal.tolist()).toEqual([
      [true, false],
      [true, true],
    ]);
  });
  it('tril backward masks the gradient', () => {
    const x = m3().requiresGrad_();
    tril(x, 0).mul(m3()).sum().backward();
    expect(x.grad!.tolist()).toEqual([
      [1, 0, 0],
      [4, 5, 0],
      [7, 8, 9],
    ]);
  });
  it('gather along each dim, with repeats; its gradient accumulates repeats', () => {
    const x = m3().requiresGrad_();
    const y = gather(
      x,
      1,
      idx([
        [2, 2],
        [0, 1],
      ]),
    );
    expect(y.tolist()).toEqual([
      [3, 3],
      [4, 5],
    ]);
    y.backward(
      tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { dtype: 'float64' },
      ),
    );
    expect(x.grad!.tolist()).toEqual([
      [0, 0, 3],
      [3, 4, 0],
      [0, 0, 0],
    ]);
    expect(
      m3()
        .gather(-2, idx([[2, 0, 1]]))
        .tolist(),
    ).toEqual([[7, 2, 6]]);
    expect(gather(tensor(5, { dtype: 'float64' }), 0, tensor(0, { dtype: 'int32' })).tolist()).toBe(5);
  });
  it('scatter: src tensor, number, repeated targets (the last in index order wins), gradients', () => {
    const x = m3().requiresGrad_();
    const src = tensor(
      [
        [10, 20, 30],
        [40, 50, 60],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    const y = scatter(
      x,
      0,
      idx([
        [2, 0],
        [2, 1],
      ]),
      src,
    );
    // index [[2, 0], [2, 1]]: (0,0)→row 2, (0,1)→row 0, (1,0)→row 2 (wins), (1,1)→row 1; src is larger than index
    expect(y.tolist()).toEqual([
      [1, 20, 3],
      [4, 50, 6],
      [40, 8, 9],
    ]);
    y.backward(m3().mul(10));
    expect(x.grad!.tolist()).toEqual([
      [10, 0, 30],
      [40, 0, 60],
      [0, 80, 90],
    ]);
    // dsrc = gather(g, 0, index), 0 outside the index's extent
    expect(src.grad!.tolist()).toEqual([
      [70, 20, 0],
      [70, 50, 0],
    ]);
    expect(
      m3()
        .scatter(1, idx([[0], [2]]), -1)
        .tolist(),
    ).toEqual([
      [-1, 2, 3],
      [4, 5, -1],
      [7, 8, 9],
    ]);
    expect(
      arange(0, 4, 1, { dtype: 'int32' })
        .scatter(0, idx([1, 3]), 7.9)
        .tolist(),
    ).toEqual([0, 7, 2, 7]);
  });
  it('scatterAdd accumulates repeats; dx = g, dsrc = gather(g)', () => {
    const x = tensor([0, 0, 0, 0], { dtype: 'float64', requiresGrad: true });
    const src = tensor([1, 2, 3, 4, 5], { dtype: 'float64', requiresGrad: true });
    const y = scatterAdd(x, 0, idx([3, 0, 3, 3, 1]), src);
    expect(y.tolist()).toEqual([2, 5, 0, 8]);
    y.backward(tensor([1, 10, 100, 1000], { dtype: 'float64' }));
    expect(x.grad!.tolist()).toEqual([1, 10, 100, 1000]);
    expect(src.grad!.tolist()).toEqual([1000, 1, 1000, 1000, 10]);
  });
  it('flip, roll (with and without dims, repeated dims) and cumsum', () => {
    expect(flip(m3(), [0, 1]).tolist()).toEqual([
      [9, 8, 7],
      [6, 5, 4],
      [3, 2, 1],
    ]);
    expect(m3().flip(-1).tolist()).toEqual([
      [3, 2, 1],
      [6, 5, 4],
      [9, 8, 7],
    ]);
    expect(m3().flip(0, 1).tolist()).toEqual(flip(m3(), [1, 0]).tolist());
    expect(roll(m3(), 1).tolist()).toEqual([
      [9, 1, 2],
      [3, 4, 5],
      [6, 7, 8],
    ]);
    expect(roll(m3(), [1, -1], [0, 1]).tolist()).toEqual([
      [8, 9, 7],
      [2, 3, 1],
      [5, 6, 4],
    ]);
    expect(roll(m3(), [1, 1], [1, 1]).tolist()).toEqual(roll(m3(), 2, 1).tolist());
    expect(roll(m3(), 3, 0).tolist()).toEqual(m3().tolist());
    expect(cumsum(m3(), 1).tolist()).toEqual([
      [1, 3, 6],
      [4, 9, 15],
      [7, 15, 24],
    ]);
    expect(m3().cumsum(-2).tolist()).toEqual([
      [1, 2, 3],
      [5, 7, 9],
      [12, 15, 18],
    ]);
    const ci = cumsum(tensor([true, false, true, true], { dtype: 'bool' }), 0);
    expect(ci.dtype).toBe('int32');
    expect(ci.tolist()).toEqual([1, 1, 2, 3]);
  });
  it('backwards of flip, roll and cumsum', () => {
    const g = tensor([1, 2, 3, 4], { dtype: 'float64' });
    const x = tensor([0, 0, 0, 0], { dtype: 'float64', requiresGrad: true });
    flip(x, 0).backward(g);
    expect(x.grad!.tolist()).toEqual([4, 3, 2, 1]);
    x.zeroGrad();
    roll(x, 1).backward(g);
    expect(x.grad!.tolist()).toEqual([2, 3, 4, 1]);
    x.zeroGrad();
    cumsum(x, 0).backward(g);
    expect(x.grad!.tolist()).toEqual([10, 9, 7, 4]);
  });
  it('gradcheck (float64)', () => {
    manualSeed(81);
    const opts = { atol: 1e-6, rtol: 1e-4 };
    expect(gradcheck((x) => tril(x, -1), [r64([2, 3, 4])], opts)).toBe(true);
    expect(gradcheck((x) => triu(x, 1), [r64([4, 3])], opts)).toBe(true);
    const gi = idx([
      [0, 2, 2],
      [1, 1, 0],
    ]);
    expect(gradcheck((x) => gather(x, 1, gi), [r64([3, 4])], opts)).toBe(true);
    const si = idx([
      [0, 2, 1],
      [2, 0, 0],
    ]);
    expect(gradcheck((x, s) => scatter(x, 0, si, s), [r64([3, 4]), r64([2, 3])], opts)).toBe(true);
    expect(gradcheck((x) => scatter(x, 0, si, 1.5), [r64([3, 3])], opts)).toBe(true);
    expect(gradcheck((x, s) => scatterAdd(x, 0, si, s), [r64([3, 3]), r64([2, 3])], opts)).toBe(true);
    expect(gradcheck((x) => flip(x, [0, 2]), [r64([2, 3, 2])], opts)).toBe(true);
    expect(gradcheck((x) => roll(x, [2, -1], [1, 0]), [r64([3, 4])], opts)).toBe(true);
    expect(gradcheck((x) => roll(x, -5), [r64([3, 4])], opts)).toBe(true);
    expect(gradcheck((x) => cumsum(x, -1), [r64([3, 5])], opts)).toBe(true);
  });
});

// ---- every mode: float32 against the float64 path -----------------------------------------------------

describe.each(MODES)('indexing on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  it('every op, forward and backward', () => {
    manualSeed(82);
    const tol = { atol: 1e-6, rtol: 1e-5 };
    comparePaths('tril', (x) => tril(x, 1), [r64([2, 5, 4])], tol);
    comparePaths('triu', (x) => triu(x, -2), [r64([3, 6, 6])], tol);
    const gi = tensor(
      Array.from({ length: 4 * 9 }, (_, k) => (k * 7) % 6),
      { dtype: 'int32', shape: [4, 9] },
    );
    comparePaths('gather', (x) => gather(x, 1, gi), [r64([5, 6])], tol);
    const si = tensor(
      Array.from({ length: 3 * 4 }, (_, k) => (k * 5) % 7),
      { dtype: 'int32', shape: [3, 4] },
    );
    comparePaths('scatterAdd', (x, s) => scatterAdd(x, 0, si, s), [r64([7, 4]), r64([3, 5])], tol);
    const ui = idx([
      [0, 3, 1, 2],
      [2, 0, 3, 1],
    ]);
    comparePaths('scatter', (x, s) => scatter(x, 1, ui, s), [r64([2, 5]), r64([3, 4])], tol);
    comparePaths('flip', (x) => flip(x, [0, -1]), [r64([3, 4, 5])], tol);
    comparePaths('roll', (x) => roll(x, [3, -2], [0, 2]), [r64([3, 4, 5])], tol);
    comparePaths('roll flat', (x) => roll(x, 17), [r64([3, 4, 5])], tol);
    comparePaths('cumsum', (x) => cumsum(x, 1), [r64([3, 40, 2])], { atol: 1e-5, rtol: 1e-5 });
  });
  it('a larger gather backward: 2000 positions into 50 rows (repeats summed per target)', () => {
    manualSeed(83);
    const index = tensor(
      Array.from({ length: 2000 }, (_, k) => (k * 13) % 50),
      { dtype: 'int32', shape: [2000, 1] },
    ).expand(2000, 3);
    comparePaths('gather 2000', (x) => gather(x, 0, index), [r64([50, 3])], { atol: 1e-6, rtol: 1e-5, gatol: 1e-4, grtol: 1e-5 });
  });
  it('PyTorch golden values in float32', () => {
    for (const c of CASES) checkCase(c, 'float32');
  });
  it('int32 data stays exact', () => {
    const x = arange(0, 12, 1, { dtype: 'int32' }).reshape(3, 4);
    expect(vals(x.flip(1).roll(1, 0).cumsum(1))).toEqual([11, 21, 30, 38, 3, 5, 6, 6, 7, 13, 18, 22]);
    expect(x.gather(1, idx([[3], [0], [1]])).tolist()).toEqual([[3], [4], [9]]);
    expect(x.tril().dtype).toBe('int32');
  });
});

// ---- errors -----------------------------------------------------------------------------------------

describe('indexing: errors name the function, the argument and what was given', () => {
  it('tril/triu', () => {
    expect(() => tril(randn([3]))).toThrow(/tril: input must have at least 2 dims, got shape \[3\]/);
    expect(() => triu(randn([3, 3]), 1.5)).toThrow(/triu: diagonal must be an integer, got 1.5/);
    expect(() => tril([[1]] as unknown as Tensor)).toThrow(/tril: input must be a Tensor, got an array of length 1/);
  });
  it('gather: index dtype, rank, shape and values', () => {
    const x = randn([3, 4]);
    expect(() => gather(x, 0, tensor([[0]], { dtype: 'float32' }))).toThrow(
      /gather: index must be an int32 tensor, got float32 \(shape \[1, 1\]\)/,
    );
    expect(() => gather(x, 0, idx([0, 1]))).toThrow(
      /gather: index must have as many dims as input: index has shape \[2\], input has shape \[3, 4\]/,
    );
    expect(() => gather(x, 0, idx([[0, 0, 0, 0, 0]]))).toThrow(
      /gather: index \(shape \[1, 5\]\) must not be larger than input \(shape \[3, 4\]\) in any dim but dim 0; dim 1 has 5 > 4/,
    );
    expect(() => gather(x, 0, idx([[0, 3]]))).toThrow(
      /gather: index value 3 at position \[0, 1\] is out of range for dim 0 of input \(shape \[3, 4\]\): valid values are 0 to 2/,
    );
    expect(() => gather(x, 1, idx([[-1]]))).toThrow(
      /gather: index value -1 at position \[0, 0\] is out of range for dim 1 .*valid values are 0 to 3/,
    );
    expect(() => gather(x, 2, idx([[0]]))).toThrow(/gather: dim 2 is out of range \[-2, 1\] for a tensor of shape \[3, 4\]/);
    expect(() => gather(x, '1' as unknown as number, idx([[0]]))).toThrow(/gather: dim must be an integer, got "1"/);
  });
  it('scatter/scatterAdd: src dtype and shape, index values', () => {
    const x = randn([3, 4]);
    expect(() => scatter(x, 0, idx([[0]]), randn([1, 1], { dtype: 'float64' }))).toThrow(
      /scatter: src must have input's dtype: input is float32 \(shape \[3, 4\]\), src is float64 \(shape \[1, 1\]\)/,
    );
    expect(() => scatter(x, 0, idx([[0, 1]]), randn([1, 1]))).toThrow(
      /scatter: index \(shape \[1, 2\]\) must not be larger than src \(shape \[1, 1\]\) in any dim; dim 1 has 2 > 1/,
    );
    expect(() => scatterAdd(x, 0, idx([[0]]), 1 as unknown as Tensor)).toThrow(/scatterAdd: src must be a Tensor, got 1/);
    expect(() => scatter(x, 0, idx([[0]]), 'a' as unknown as number)).toThrow(/scatter: src must be a Tensor or a number, got "a"/);
    expect(() => scatterAdd(x, 1, idx([[4]]), randn([1, 1]))).toThrow(
      /scatterAdd: index value 4 at position \[0, 0\] is out of range for dim 1 of input \(shape \[3, 4\]\): valid values are 0 to 3/,
    );
  });
  it('flip, roll, cumsum', () => {
    const x = randn([2, 3]);
    expect(() => flip(x, [0, 0])).toThrow(/flip: dims \[0,0\] names a dim twice/);
    expect(() => flip(x, [2])).toThrow(/flip: dims\[0\] 2 is out of range \[-2, 1\]/);
    expect(() => flip(x, 'a' as unknown as number)).toThrow(/flip: dims must be an integer or an array of integers, got "a"/);
    expect(() => roll(x, [1, 2])).toThrow(/roll: with dims omitted, shifts must be one integer .* got 2 shifts/);
    expect(() => roll(x, [1, 2], [0])).toThrow(/roll: shifts and dims must have the same length, got 2 shifts and 1 dims/);
    expect(() => roll(x, 0.5, 0)).toThrow(/roll: shifts must be an integer, got 0.5/);
    expect(() => cumsum(x, -3)).toThrow(/cumsum: dim -3 is out of range \[-2, 1\]/);
    expect(() => cumsum(x, undefined as unknown as number)).toThrow(/cumsum: dim must be an integer, got undefined/);
  });
});
