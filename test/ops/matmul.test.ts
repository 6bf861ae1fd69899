import { describe, expect, it, beforeAll } from 'vitest';
import { gradcheck, manualSeed, matmul, randn, tensor } from '../../src/index.js';
import { MODES, useMode, expectClose } from '../support/helpers.js';
import { comparePaths, r64, vals } from '../support/check.js';

// [a shape, b shape, expected output shape] with torch.matmul semantics
const CASES: [number[], number[], number[]][] = [
  [[4], [4], []],
  [[4], [4, 3], [3]],
  [[3, 4], [4], [3]],
  [
    [3, 4],
    [4, 2],
    [3, 2],
  ],
  [
    [2, 3, 4],
    [2, 4, 5],
    [2, 3, 5],
  ],
  [
    [2, 1, 3, 4],
    [5, 4, 2],
    [2, 5, 3, 2],
  ],
  [
    [3, 4],
    [2, 4, 5],
    [2, 3, 5],
  ],
  [[2, 3, 4], [4], [2, 3]],
  [[4], [2, 4, 3], [2, 3]],
];

/** JS reference for batched matmul of row-major data with broadcast batch dims (2-D operands and up). */
function refMatmul(a: number[], as: number[], b: number[], bs: number[]): number[] {
  const [M, K] = as.slice(-2);
  const N = bs[bs.length - 1];
  const ab = as.slice(0, -2);
  const bb = bs.slice(0, -2);
  const nd = Math.max(ab.length, bb.length);
  const pa = [...Array(nd - ab.length).fill(1), ...ab];
  const pb = [...Array(nd - bb.length).fill(1), ...bb];
  const ob = pa.map((s, k) => Math.max(s, pb[k]));
  const nb = ob.reduce((x, y) => x * y, 1);
  const out: number[] = [];
  for (let t = 0; t < nb; t++) {
    let rem = t;
    let ao = 0;
    let bo = 0;
    let sa = 1;
    let sb = 1;
    const idx: number[] = [];
    for (let k = nd - 1; k >= 0; k--) {
      idx[k] = rem % ob[k];
      rem = Math.floor(rem / ob[k]);
    }
    for (let k = nd - 1; k >= 0; k--) {
      ao += (pa[k] === 1 ? 0 : idx[k]) * sa;
      bo += (pb[k] === 1 ? 0 : idx[k]) * sb;
      sa *= pa[k];
      sb *= pb[k];
    }
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[ao * M * K + m * K + k] * b[bo * K * N + k * N + n];
        out.push(s);
      }
    }
  }
  return out;
}

const fmt = (s: number[]): string => JSON.stringify(s);

describe('matmul: float64 values and gradcheck', () => {
  it('hand-computed 2-D and 1-D products', () => {
    const a = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { dtype: 'float64' },
    );
    const b = tensor(
      [
        [5, 6],
        [7, 8],
      ],
      { dtype: 'float64' },
    );
    expect(a.matmul(b).tolist()).toEqual([
      [19, 22],
      [43, 50],
    ]);
    const v = tensor([1, -1], { dtype: 'float64' });
    expect(v.matmul(v).item()).toBe(2);
    expect(v.matmul(v).shape).toEqual([]);
    expect(a.matmul(v).tolist()).toEqual([-1, -1]);
    expect(v.matmul(a).tolist()).toEqual([-2, -2]);
  });
  for (const [sa, sb, so] of CASES) {
    it(`${fmt(sa)} · ${fmt(sb)} → ${fmt(so)}: values and gradcheck`, () => {
      manualSeed(31);
      const a = r64(sa);
      const b = r64(sb);
      const y = matmul(a, b);
      expect(y.shape).toEqual(so);
      const a2 = sa.length === 1 ? [1, ...sa] : sa;
      const b2 = sb.length === 1 ? [...sb, 1] : sb;
      expectClose(y, refMatmul(vals(a), a2, vals(b), b2), 1e-12, 1e-10, 'matmul values');
      expect(gradcheck((x, w) => x.matmul(w), [a, b])).toBe(true);
    });
  }
  it('gradient with only one operand requiring grad', () => {
    manualSeed(32);
    const a = r64([3, 4]);
    const b = r64([4, 2], false);
    a.matmul(b).sum().backward();
    expect(a.grad!.shape).toEqual([3, 4]);
    expect(b.grad).toBeNull();
    // d/da sum(a·b) = 1·bᵀ: every row is the row sums of b
    const rs = b.sum(1);
    expectClose(
      a.grad!,
      [0, 1, 2].flatMap(() => vals(rs)),
      1e-12,
      0,
    );
  });
});

describe.each(MODES)('matmul on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  it('every case: forward and both gradients', () => {
    for (const [sa, sb] of CASES) {
      manualSeed(33);
      comparePaths(`matmul ${fmt(sa)}·${fmt(sb)}`, (x, w) => x.matmul(w), [r64(sa), r64(sb)]);
    }
  });
  it('an empty inner dimension gives zeros; empty outer dimensions give empty results', () => {
    const a = randn([2, 0], { requiresGrad: true });
    const b = randn([0, 3], { requiresGrad: true });
    const y = a.matmul(b);
    expect(y.tolist()).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    y.sum().backward();
    expect(a.grad!.shape).toEqual([2, 0]);
    expect(b.grad!.shape).toEqual([0, 3]);
    expect(randn([0, 4]).matmul(randn([4, 3])).shape).toEqual([0, 3]);
  });
  it('a larger product (K = 70) stays within float32 rounding', () => {
    manualSeed(34);
    comparePaths('matmul 9x70 · 70x11', (x, w) => x.matmul(w), [r64([9, 70]), r64([70, 11])], { atol: 1e-4, rtol: 1e-4 });
  });
});

describe('matmul: errors', () => {
  it('inner-dim mismatch names both shapes', () => {
    expect(() => randn([3, 4]).matmul(randn([5, 2]))).toThrow(
      /matmul: inner dimensions do not match: input has shape \[3, 4\] \(4 columns\), other has shape \[5, 2\] \(5 rows\)/,
    );
    // 1-D operands: the message names the shapes the caller passed, not the promoted ones
    expect(() => randn([4]).matmul(randn([3]))).toThrow(
      /matmul: inner dimensions do not match: input has shape \[4\] \(4 columns\), other has shape \[3\] \(3 rows\)/,
    );
    expect(() => randn([2, 4]).matmul(randn([3]))).toThrow(
      /matmul: inner dimensions do not match: input has shape \[2, 4\] \(4 columns\), other has shape \[3\] \(3 rows\)/,
    );
  });
  it('batch dims that do not broadcast', () => {
    expect(() => randn([2, 3, 4]).matmul(randn([3, 4, 5]))).toThrow(
      /matmul: shapes are not broadcastable: input batch dims \(shape \[2\]\) and other batch dims \(shape \[3\]\)/,
    );
  });
  it('0-d operands, dtype mismatch and int operands', () => {
    expect(() => randn([]).matmul(randn([3]))).toThrow(/matmul: both arguments need at least 1 dimension, got shapes \[\] and \[3\]/);
    expect(() => randn([2, 2]).matmul(randn([2, 2], { dtype: 'float64' }))).toThrow(
      /matmul: dtype mismatch: input is float32 but other is float64 \(shapes \[2, 2\] and \[2, 2\]\)/,
    );
    expect(() => tensor([[1]], { dtype: 'int32' }).matmul(tensor([[1]], { dtype: 'int32' }))).toThrow(
      /matmul: expects floating point tensors of one dtype, got input int32 \(shape \[1, 1\]\) and other int32 \(shape \[1, 1\]\)/,
    );
  });
});
