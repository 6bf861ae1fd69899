import { describe, expect, it, beforeAll } from 'vitest';
import { gradcheck, manualSeed, randn, tensor, type Tensor } from '../../src/index.js';
import { MODES, useMode, expectClose } from '../support/helpers.js';
import { comparePaths, noNaN, r64, vals } from '../support/check.js';

const DIMS = [0, 1, -1, 2, -3];
const SHAPE = [3, 4, 5];

/** JS softmax of one row (skipping -Infinity entries), and its log. */
function softmaxRow(xs: number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

// A [4, 5] input with -Infinity entries: row 1 partly masked, row 2 masked everywhere.
const MASK = [
  [false, false, false, false, false],
  [true, false, true, false, false],
  [true, true, true, true, true],
  [false, false, false, false, true],
];
const maskT = (): Tensor => tensor(MASK);

describe('softmax / logSoftmax: float64 values and gradcheck', () => {
  it('hand-computed softmax and logSoftmax of [1, 2, 3]', () => {
    const x = tensor([1, 2, 3], { dtype: 'float64' });
    const z = Math.E ** -2 + Math.E ** -1 + 1;
    expectClose(x.softmax(0), [Math.E ** -2 / z, Math.E ** -1 / z, 1 / z], 1e-15, 0);
    expectClose(x.logSoftmax(-1), [-2 - Math.log(z), -1 - Math.log(z), -Math.log(z)], 1e-15, 0);
    // shift invariance and no overflow for large logits
    expectClose(tensor([1001, 1002, 1003], { dtype: 'float64' }).softmax(0), vals(x.softmax(0)), 1e-12, 0);
  });
  for (const d of DIMS) {
    it(`dim ${d}: rows sum to 1, logSoftmax = log(softmax), gradcheck`, () => {
      manualSeed(51);
      const x = r64(SHAPE);
      const y = x.softmax(d);
      expect(y.shape).toEqual(SHAPE);
      expectClose(y.sum(d), new Array(60 / SHAPE[(d + 3) % 3]).fill(1), 1e-14, 0, 'row sums');
      expectClose(x.logSoftmax(d), vals(y).map(Math.log), 1e-14, 1e-13, 'logSoftmax');
      expect(gradcheck((t) => t.softmax(d), [x])).toBe(true);
      expect(gradcheck((t) => t.logSoftmax(d), [x])).toBe(true);
    });
  }
  it('-Infinity entries get probability 0; a fully masked row gives 0 and no NaN; gradients through maskedFill', () => {
    manualSeed(52);
    const x = r64([4, 5]);
    const y = x.maskedFill(maskT(), -Infinity).softmax(-1);
    const xv = vals(x);
    const expected = MASK.flatMap((row, r) => {
      const keep = row.map((m, c) => (m ? null : xv[r * 5 + c]));
      const live = keep.filter((v): v is number => v !== null);
      const sm = live.length ? softmaxRow(live) : [];
      let k = 0;
      return keep.map((v) => (v === null ? 0 : sm[k++]));
    });
    expectClose(y, expected, 1e-14, 0, 'masked softmax');
    const g = randn([4, 5], { dtype: 'float64' });
    y.backward(g);
    expect(noNaN(x.grad!)).toBe(true);
    vals(x.grad!).forEach((v, k) => {
      if (MASK.flat()[k]) expect(v).toBe(0);
    });
    expect(gradcheck((t) => t.maskedFill(maskT(), -Infinity).softmax(-1), [x])).toBe(true);
    // logSoftmax keeps -Infinity where the input is -Infinity; rows with live entries stay finite there
    const ls = vals(x.detach().maskedFill(maskT(), -Infinity).logSoftmax(1));
    ls.forEach((v, k) => expect(MASK.flat()[k] ? v === -Infinity : Number.isFinite(v)).toBe(true));
    // (finite differences of a -Infinity output are NaN, so the check zeroes those outputs afterwards)
    const partly = tensor([[true, false, true, false, false]]);
    expect(gradcheck((t) => t.maskedFill(partly, -Infinity).logSoftmax(1).maskedFill(partly, 0), [r64([2, 5])])).toBe(true);
  });
  it('softmax along dim 0 with -Infinity entries', () => {
    const x = tensor(
      [
        [0, -Infinity],
        [Math.log(3), -Infinity],
      ],
      { dtype: 'float64' },
    );
    expect(x.softmax(0).tolist()).toEqual([
      [0.25, 0],
      [0.75, 0],
    ]);
  });
});

describe.each(MODES)('softmax / logSoftmax on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  it('several dims: forward and gradients', () => {
    for (const d of DIMS) {
      manualSeed(53);
      comparePaths(`softmax dim ${d}`, (t) => t.softmax(d), [r64(SHAPE)]);
      manualSeed(53);
      comparePaths(`logSoftmax dim ${d}`, (t) => t.logSoftmax(d), [r64(SHAPE)]);
    }
  });
  it('large logits do not overflow', () => {
    const { y32 } = comparePaths('softmax of large logits', (t) => t.softmax(-1), [
      tensor(
        [
          [1000, 1001, 999],
          [-1000, -1001, -999],
        ],
        { dtype: 'float64', requiresGrad: true },
      ),
    ]);
    expect(noNaN(y32[0])).toBe(true);
  });
  it('rows with -Infinity, and a fully -Infinity row: softmax 0, no NaN forward or backward', () => {
    manualSeed(54);
    for (const [name, f] of [
      ['softmax', (t: Tensor) => t.maskedFill(maskT(), -Infinity).softmax(-1)],
      ['logSoftmax', (t: Tensor) => t.maskedFill(maskT(), -Infinity).logSoftmax(-1)],
    ] as const) {
      const { y32, g32 } = comparePaths(`masked ${name}`, f, [r64([4, 5])]);
      expect(noNaN(y32[0]), `${name} forward`).toBe(true);
      expect(noNaN(g32[0]!), `${name} backward`).toBe(true);
      if (name === 'softmax') expect(vals(y32[0]).slice(10, 15)).toEqual([0, 0, 0, 0, 0]);
    }
    // -Infinity given directly as data (not through maskedFill), gradient w.r.t. that input
    const x = tensor(
      [
        [-Infinity, -Infinity, -Infinity],
        [1, -Infinity, 2],
      ],
      { requiresGrad: true },
    );
    const y = x.softmax(1);
    expectClose(y, [0, 0, 0, 1 / (1 + Math.E), 0, Math.E / (1 + Math.E)], 1e-6, 1e-5, 'softmax of -inf data');
    y.backward(
      tensor(
        [
          [1, 2, 3],
          [1, 2, 3],
        ],
        { dtype: 'float32' },
      ),
    );
    expect(noNaN(x.grad!)).toBe(true);
    expect(vals(x.grad!).slice(0, 3)).toEqual([0, 0, 0]);
    // dim 0, with the -Infinity column
    const z = tensor(
      [
        [0, -Infinity],
        [Math.log(3), -Infinity],
      ],
      { requiresGrad: true },
    );
    const sz = z.softmax(0);
    expectClose(sz, [0.25, 0, 0.75, 0], 1e-6, 1e-5, 'softmax dim 0');
    sz.backward(
      tensor(
        [
          [1, 1],
          [2, 2],
        ],
        { dtype: 'float32' },
      ),
    );
    expect(noNaN(z.grad!)).toBe(true);
  });
});

describe('softmax / logSoftmax: errors', () => {
  it('a bad dim names the op, the dim and the shape', () => {
    expect(() => randn([2, 3]).softmax(2)).toThrow(/softmax: dim 2 is out of range \[-2, 1\] of a tensor of shape \[2, 3\]/);
    expect(() => randn([2, 3]).logSoftmax(-3)).toThrow(/logSoftmax: dim -3 is out of range \[-2, 1\] of a tensor of shape \[2, 3\]/);
  });
  it('int input and 0-d input', () => {
    expect(() => tensor([1, 2], { dtype: 'int32' }).softmax(0)).toThrow(
      /softmax: expects a floating point tensor, got int32 \(shape \[2\]\)/,
    );
    expect(() => tensor(1.5).logSoftmax(0)).toThrow(/logSoftmax: expects at least 1 dimension, got a 0-d tensor/);
  });
});
