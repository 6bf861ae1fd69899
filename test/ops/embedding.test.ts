import { describe, expect, it, beforeAll } from 'vitest';
import { F, gradcheck, manualSeed, randn, tensor } from '../../src/index.js';
import { MODES, useMode } from '../support/helpers.js';
import { comparePaths, r64, vals } from '../support/check.js';

const idx = (v: number[] | number[][]): ReturnType<typeof tensor> => tensor(v, { dtype: 'int32' });
/** A float64 table of `rows` rows of 2: row i is [10i, 10i + 1]. */
const table = (rows: number, requiresGrad = false): ReturnType<typeof tensor> =>
  tensor(
    Array.from({ length: rows }, (_, i) => [10 * i, 10 * i + 1]),
    { dtype: 'float64', requiresGrad },
  );

describe('embedding: float64 values and gradients', () => {
  it('rows of the table, for 1-D and 2-D indices', () => {
    const w = table(3);
    expect(F.embedding(idx([2, 0, 2]), w).tolist()).toEqual([
      [20, 21],
      [0, 1],
      [20, 21],
    ]);
    const y = F.embedding(
      idx([
        [1, 1],
        [0, 2],
      ]),
      w,
    );
    expect(y.shape).toEqual([2, 2, 2]);
    expect(y.tolist()).toEqual([
      [
        [10, 11],
        [10, 11],
      ],
      [
        [0, 1],
        [20, 21],
      ],
    ]);
    expect(F.embedding(tensor(1, { dtype: 'int32' }), w).tolist()).toEqual([10, 11]);
  });
  it('repeated indices accumulate their gradients; unused rows get 0', () => {
    const w = table(4, true);
    const y = F.embedding(idx([2, 0, 2, 2]), w);
    y.backward(
      tensor(
        [
          [1, 2],
          [3, 4],
          [5, 6],
          [7, 8],
        ],
        { dtype: 'float64' },
      ),
    );
    expect(w.grad!.tolist()).toEqual([
      [3, 4],
      [0, 0],
      [13, 16],
      [0, 0],
    ]);
  });
  it('paddingIdx gets a zero gradient even where it is used (also as a negative index)', () => {
    for (const pad of [1, -3]) {
      const w = table(4, true);
      const y = F.embedding(
        idx([
          [1, 3],
          [1, 0],
        ]),
        w,
        pad,
      );
      expect(y.tolist()).toEqual([
        [
          [10, 11],
          [30, 31],
        ],
        [
          [10, 11],
          [0, 1],
        ],
      ]); // the padding row is still read
      y.sum().backward();
      expect(w.grad!.tolist()).toEqual([
        [1, 1],
        [0, 0],
        [0, 0],
        [1, 1],
      ]);
    }
  });
  it('gradcheck on the weight', () => {
    manualSeed(71);
    const i = idx([
      [3, 0, 3],
      [1, 4, 3],
    ]);
    expect(gradcheck((w) => F.embedding(i, w), [r64([5, 3])])).toBe(true);
    // (paddingIdx zeroes a true derivative on purpose, so it is checked by value above, not by gradcheck)
    expect(gradcheck((w) => F.embedding(i, w, 2), [r64([5, 3])])).toBe(true); // padding row unused: same Jacobian
  });
});

describe.each(MODES)('embedding on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  it('forward and weight gradient with repeats and a padding row', () => {
    manualSeed(72);
    const i = idx([
      [3, 0, 3, 6],
      [1, 4, 3, 3],
    ]);
    comparePaths('embedding', (w) => F.embedding(i, w), [r64([7, 5])], { atol: 0, rtol: 1e-7 });
    const { g32 } = comparePaths('embedding paddingIdx 3', (w) => F.embedding(i, w, 3), [r64([7, 5])], { atol: 0, rtol: 1e-7 });
    expect(vals(g32[0]!).slice(15, 20)).toEqual([0, 0, 0, 0, 0]);
  });
  it('a larger table: 300 indices into 50 rows', () => {
    manualSeed(73);
    const i = tensor(
      Array.from({ length: 300 }, (_, k) => (k * 7) % 50),
      { dtype: 'int32' },
    ).reshape(30, 10);
    comparePaths('embedding 300', (w) => F.embedding(i, w), [r64([50, 4])], { atol: 0, rtol: 1e-7, gatol: 1e-4, grtol: 1e-5 });
  });
});

describe('embedding: errors', () => {
  it('index out of range names the op, the index and the table shape', () => {
    expect(() => F.embedding(idx([0, 5]), randn([5, 2]))).toThrow(
      /embedding: index 5 is out of range for an embedding table of shape \[5, 2\] of size 5/,
    );
    expect(() => F.embedding(idx([-1]), randn([5, 2]))).toThrow(/embedding: index -1 is out of range/);
  });
  it('float indices, a 1-D weight, an int weight, a bad paddingIdx', () => {
    expect(() => F.embedding(tensor([0, 1], { dtype: 'float32' }), randn([5, 2]))).toThrow(
      /embedding: index must be an int32 tensor, got float32 \(shape \[2\]\)/,
    );
    expect(() => F.embedding(idx([0]), randn([5]))).toThrow(
      /embedding: weight must be 2-D \(numEmbeddings, embeddingDim\), got shape \[5\]/,
    );
    expect(() => F.embedding(idx([0]), tensor([[1]], { dtype: 'int32' }))).toThrow(
      /embedding: weight must be floating point, got int32 \(shape \[1, 1\]\)/,
    );
    expect(() => F.embedding(idx([0]), randn([5, 2]), 5)).toThrow(
      /embedding: paddingIdx 5 is out of range for 5 embeddings \(weight shape \[5, 2\]\)/,
    );
  });
});
