import { describe, expect, it, beforeAll } from 'vitest';
import { F, gradcheck, manualSeed, randn, tensor, type Tensor } from '../../src/index.js';
import type { CrossEntropyOptions } from '../../src/nn/functional.js';
import { MODES, useMode, expectClose } from '../helpers.js';
import { comparePaths, r64, vals } from '../check.js';

const ti = (v: number | number[] | number[][] | number[][][]): Tensor => tensor(v, { dtype: 'int32' });

/**
 * JS reference for cross entropy over rows of logits (M, C) with targets (M): PyTorch's formula with
 * label smoothing, ignoreIndex, and mean over the non-ignored targets.
 */
function refCE(logits: number[], C: number, targets: number[], o: CrossEntropyOptions = {}): { per: number[]; sum: number; mean: number } {
  const ls = o.labelSmoothing ?? 0;
  const ignore = o.ignoreIndex ?? -100;
  const per: number[] = [];
  let count = 0;
  targets.forEach((t, n) => {
    const row = logits.slice(n * C, n * C + C);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
    const logp = row.map((v) => v - lse);
    if (t === ignore) return per.push(0);
    count++;
    per.push(-(1 - ls) * logp[t] - (ls / C) * logp.reduce((a, v) => a + v, 0));
  });
  const sum = per.reduce((a, v) => a + v, 0);
  return { per, sum, mean: sum / count };
}

/** (N, C, d...) logits → rows (N·d..., C) in the order of the flattened targets. */
function rowsOf(x: number[], shape: number[]): number[] {
  const [N, C] = shape;
  const D = shape.slice(2).reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) for (let c = 0; c < C; c++) out.push(x[n * C * D + c * D + d]);
  return out;
}

// [name, logits shape, targets, options]
const CE_CASES: [string, number[], number | number[] | number[][] | number[][][], CrossEntropyOptions][] = [
  ['(N,C) mean', [4, 5], [1, 0, 4, 2], {}],
  ['(N,C) sum', [4, 5], [1, 0, 4, 2], { reduction: 'sum' }],
  ['(N,C) none', [4, 5], [1, 0, 4, 2], { reduction: 'none' }],
  ['(N,C) default ignoreIndex -100', [4, 5], [1, -100, 4, -100], {}],
  ['(N,C) ignoreIndex 2', [4, 5], [1, 2, 4, 2], { ignoreIndex: 2 }],
  ['(N,C) labelSmoothing 0.1', [4, 5], [1, 0, 4, 2], { labelSmoothing: 0.1 }],
  ['(N,C) labelSmoothing 0.2 with ignoreIndex, sum', [4, 5], [1, 3, 3, 0], { labelSmoothing: 0.2, ignoreIndex: 3, reduction: 'sum' }],
  ['(N,C) labelSmoothing 0.3, none', [4, 5], [1, 3, 3, 0], { labelSmoothing: 0.3, reduction: 'none' }],
  ['(N,C,d) mean', [2, 3, 4], [[2, 0, 1, 1], [0, 0, 2, 1]], {}],
  ['(N,C,d) none with ignoreIndex', [2, 3, 4], [[2, -1, 1, 1], [0, -1, 2, 1]], { ignoreIndex: -1, reduction: 'none' }],
  ['(N,C,d1,d2) labelSmoothing', [2, 3, 2, 2], [[[2, 0], [1, 1]], [[0, 0], [2, 1]]], { labelSmoothing: 0.1 }],
  ['1-D input with a 0-d target', [5], 3, {}],
  ['1-D input, labelSmoothing, none', [5], 3, { labelSmoothing: 0.25, reduction: 'none' }],
];

describe('crossEntropy / nllLoss / mseLoss: float64 values against a JS reference, and gradcheck', () => {
  for (const [name, shape, target, opts] of CE_CASES) {
    it(`crossEntropy ${name}`, () => {
      manualSeed(81);
      const x = r64(shape);
      const t = ti(target);
      const y = F.crossEntropy(x, t, opts);
      const tv = vals(t);
      const ref = refCE(shape.length === 1 ? vals(x) : rowsOf(vals(x), shape), shape.length === 1 ? shape[0] : shape[1], tv, opts);
      const red = opts.reduction ?? 'mean';
      if (red === 'none') {
        expect(y.shape).toEqual(t.shape);
        expectClose(y, ref.per, 1e-12, 1e-10, 'per-sample loss');
      } else {
        expect(y.shape).toEqual([]);
        expect(y.item()).toBeCloseTo(red === 'sum' ? ref.sum : ref.mean, 12);
      }
      expect(gradcheck((z) => F.crossEntropy(z, t, opts), [x])).toBe(true);
    });
  }
  it('hand-computed: uniform logits give log(C); a confident right answer gives ~0', () => {
    expect(F.crossEntropy(tensor([[0, 0, 0, 0]], { dtype: 'float64' }), ti([2])).item()).toBeCloseTo(Math.log(4), 14);
    expect(F.crossEntropy(tensor([[50, 0, 0]], { dtype: 'float64' }), ti([0])).item()).toBeLessThan(1e-20);
    expect(F.crossEntropy(tensor([[0, 0]], { dtype: 'float64' }), ti([0]), { labelSmoothing: 1 }).item()).toBeCloseTo(Math.log(2), 14);
  });
  it('every target ignored: mean is NaN (as PyTorch), sum is 0', () => {
    const x = r64([2, 3]);
    expect(Number.isNaN(F.crossEntropy(x, ti([-100, -100])).item())).toBe(true);
    expect(F.crossEntropy(x, ti([-100, -100]), { reduction: 'sum' }).item()).toBe(0);
  });
  it('ignored rows get a zero gradient', () => {
    const x = r64([3, 4]);
    F.crossEntropy(x, ti([1, -100, 2]), { labelSmoothing: 0.1 }).backward();
    expect(vals(x.grad!).slice(4, 8)).toEqual([0, 0, 0, 0]);
    expectClose(x.grad!.sum(1), [0, 0, 0], 1e-12, 0, 'gradient rows sum to 0');
  });
  it('nllLoss of logSoftmax equals crossEntropy; nllLoss on given log-probabilities', () => {
    manualSeed(82);
    const x = r64([4, 5]);
    const t = ti([1, 0, 4, 2]);
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      expectClose(F.nllLoss(x.logSoftmax(1), t, { reduction }), F.crossEntropy(x, t, { reduction }), 1e-14, 0, reduction);
    }
    const lp = tensor([[-1, -2, -3], [-0.5, -4, -6]], { dtype: 'float64', requiresGrad: true });
    expect(F.nllLoss(lp, ti([2, 0])).item()).toBeCloseTo(1.75, 14);
    expect(F.nllLoss(lp, ti([2, 0]), { reduction: 'none' }).tolist()).toEqual([3, 0.5]);
    F.nllLoss(lp, ti([2, 0])).backward();
    expect(lp.grad!.tolist()).toEqual([[0, 0, -0.5], [-0.5, 0, 0]]);
    expect(gradcheck((z) => F.nllLoss(z, ti([[2, 0], [1, 1]]), { ignoreIndex: 1 }), [r64([2, 3, 2])])).toBe(true);
  });
  it('mseLoss: mean / sum / none, gradcheck in both arguments', () => {
    const a = tensor([1, 2, 3], { dtype: 'float64' });
    const b = tensor([1, 0, 6], { dtype: 'float64' });
    expect(F.mseLoss(a, b).item()).toBeCloseTo(13 / 3, 14);
    expect(F.mseLoss(a, b, { reduction: 'sum' }).item()).toBe(13);
    expect(F.mseLoss(a, b, { reduction: 'none' }).tolist()).toEqual([0, 4, 9]);
    manualSeed(83);
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      expect(gradcheck((p, q) => F.mseLoss(p, q, { reduction }), [r64([3, 4]), r64([3, 4])])).toBe(true);
    }
  });
});

describe.each(MODES)('losses on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  it('crossEntropy: every case, forward and gradient', () => {
    for (const [name, shape, target, opts] of CE_CASES) {
      manualSeed(84);
      const t = ti(target);
      comparePaths(`crossEntropy ${name}`, (z) => F.crossEntropy(z, t, opts), [r64(shape)]);
    }
  });
  it('nllLoss and mseLoss', () => {
    manualSeed(85);
    const t = ti([1, 0, 4, 2]);
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      comparePaths(`nllLoss ${reduction}`, (z) => F.nllLoss(z.logSoftmax(-1), t, { reduction, ignoreIndex: 0 }), [r64([4, 5])]);
      comparePaths(`mseLoss ${reduction}`, (p, q) => F.mseLoss(p, q, { reduction }), [r64([3, 4]), r64([3, 4])]);
    }
  });
  it('crossEntropy with extreme logits stays finite', () => {
    const x = tensor([[100, -100, 0], [-100, 100, 0]], { dtype: 'float64', requiresGrad: true });
    const { y32, g32 } = comparePaths('extreme logits', (z) => F.crossEntropy(z, ti([1, 1])), [x], { atol: 1e-3, rtol: 1e-5 });
    expect(y32[0].item()).toBeCloseTo(100, 3);
    expect(vals(g32[0]!).every(Number.isFinite)).toBe(true);
  });
});

describe('losses: errors name the op, the argument and the shapes', () => {
  it('target of the wrong shape', () => {
    expect(() => F.crossEntropy(randn([4, 5]), ti([1, 2, 3]))).toThrow(/crossEntropy: expected target of shape \[4\] for input of shape \[4, 5\], got \[3\]/);
    expect(() => F.crossEntropy(randn([2, 3, 4]), ti([1, 2]))).toThrow(/crossEntropy: expected target of shape \[2, 4\] for input of shape \[2, 3, 4\], got \[2\]/);
    expect(() => F.crossEntropy(randn([5]), ti([1]))).toThrow(/crossEntropy: for input of shape \[5\] the target must be 0-d, got shape \[1\]/);
  });
  it('target out of range, or not int32', () => {
    expect(() => F.crossEntropy(randn([2, 3]), ti([1, 3]))).toThrow(/crossEntropy: target 3 is out of bounds for 3 classes \(input shape \[2, 3\]\)/);
    expect(() => F.crossEntropy(randn([2, 3]), ti([-2, 0]))).toThrow(/crossEntropy: target -2 is out of bounds for 3 classes/);
    expect(() => F.crossEntropy(randn([2, 3]), tensor([1, 0]))).toThrow(/crossEntropy: target must hold int32 class indices, got float32 \(shape \[2\]\)/);
  });
  it('bad options and inputs', () => {
    expect(() => F.crossEntropy(randn([2, 3]), ti([1, 0]), { reduction: 'avg' as 'mean' })).toThrow(/crossEntropy: reduction must be 'mean', 'sum' or 'none', got 'avg'/);
    expect(() => F.crossEntropy(randn([2, 3]), ti([1, 0]), { labelSmoothing: 1.5 })).toThrow(/crossEntropy: labelSmoothing must be in \[0, 1\], got 1.5/);
    expect(() => F.crossEntropy(randn([]), ti(0))).toThrow(/crossEntropy: input must have a class dim, got a 0-d tensor/);
    expect(() => F.crossEntropy(ti([[1, 2]]), ti([0]))).toThrow(/crossEntropy: input must be floating point logits, got int32 \(shape \[1, 2\]\)/);
  });
  it('nllLoss names itself', () => {
    expect(() => F.nllLoss(randn([4, 5]), ti([1, 2, 3]))).toThrow(/nllLoss: expected target of shape \[4\] for input of shape \[4, 5\], got \[3\]/);
    expect(() => F.nllLoss(randn([2, 3]), ti([1, 3]))).toThrow(/nllLoss: target 3 is out of bounds for 3 classes \(input shape \[2, 3\]\)/);
    expect(() => F.nllLoss(ti([[1, 2]]), ti([0]))).toThrow(/nllLoss: input must be floating point, got int32 \(shape \[1, 2\]\)/);
  });
  it('mseLoss: shape and dtype mismatch', () => {
    expect(() => F.mseLoss(randn([2, 3]), randn([3, 2]))).toThrow(/mseLoss: input has shape \[2, 3\] but target has shape \[3, 2\]; they must match/);
    expect(() => F.mseLoss(randn([2]), randn([2], { dtype: 'float64' }))).toThrow(/mseLoss: dtype mismatch: input is float32 but target is float64 \(shapes \[2\] and \[2\]\)/);
    expect(() => F.mseLoss(randn([2]), ti([1, 2]))).toThrow(/mseLoss: target must be floating point, got int32 \(shape \[2\]\)/);
    expect(() => F.mseLoss(randn([2]), randn([2]), { reduction: 'mean ' as 'mean' })).toThrow(/mseLoss: reduction must be 'mean', 'sum' or 'none'/);
  });
});
