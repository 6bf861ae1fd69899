import { describe, expect, it, beforeAll } from 'vitest';
import { F, gradcheck, manualSeed, randn, tensor, type Tensor } from '../../src/index.js';
import type { CrossEntropyOptions } from '../../src/nn/functional.js';
import { MODES, useMode, expectClose } from '../support/helpers.js';
import { comparePaths, r64, vals } from '../support/check.js';
import { fixtureTensor, readFixture, type TensorJson } from '../support/fixture-io.js';

const ti = (v: number | number[] | number[][] | number[][][]): Tensor => tensor(v, { dtype: 'int32' });

/**
 * JS reference for cross entropy over rows of logits (M, C) with targets (M): PyTorch's formula with
 * class weights w, label smoothing, ignoreIndex, and mean over the summed weights of the non-ignored targets:
 * l_n = -(1-ls)·w[t]·logp[t] - (ls/C)·Σc w[c]·logp[c].
 */
function refCE(
  logits: number[],
  C: number,
  targets: number[],
  o: CrossEntropyOptions = {},
  weight?: number[],
): { per: number[]; sum: number; mean: number } {
  const ls = o.labelSmoothing ?? 0;
  const ignore = o.ignoreIndex ?? -100;
  const w = weight ?? new Array<number>(C).fill(1);
  const per: number[] = [];
  let count = 0;
  targets.forEach((t, n) => {
    const row = logits.slice(n * C, n * C + C);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
    const logp = row.map((v) => v - lse);
    if (t === ignore) return per.push(0);
    count += w[t];
    per.push(-(1 - ls) * w[t] * logp[t] - (ls / C) * logp.reduce((a, v, c) => a + w[c] * v, 0));
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

// [name, logits shape, targets, options, class weights?]
const CE_CASES: [string, number[], number | number[] | number[][] | number[][][], CrossEntropyOptions, number[]?][] = [
  ['(N,C) mean', [4, 5], [1, 0, 4, 2], {}],
  ['(N,C) sum', [4, 5], [1, 0, 4, 2], { reduction: 'sum' }],
  ['(N,C) none', [4, 5], [1, 0, 4, 2], { reduction: 'none' }],
  ['(N,C) default ignoreIndex -100', [4, 5], [1, -100, 4, -100], {}],
  ['(N,C) ignoreIndex 2', [4, 5], [1, 2, 4, 2], { ignoreIndex: 2 }],
  ['(N,C) labelSmoothing 0.1', [4, 5], [1, 0, 4, 2], { labelSmoothing: 0.1 }],
  ['(N,C) labelSmoothing 0.2 with ignoreIndex, sum', [4, 5], [1, 3, 3, 0], { labelSmoothing: 0.2, ignoreIndex: 3, reduction: 'sum' }],
  ['(N,C) labelSmoothing 0.3, none', [4, 5], [1, 3, 3, 0], { labelSmoothing: 0.3, reduction: 'none' }],
  [
    '(N,C,d) mean',
    [2, 3, 4],
    [
      [2, 0, 1, 1],
      [0, 0, 2, 1],
    ],
    {},
  ],
  [
    '(N,C,d) none with ignoreIndex',
    [2, 3, 4],
    [
      [2, -1, 1, 1],
      [0, -1, 2, 1],
    ],
    { ignoreIndex: -1, reduction: 'none' },
  ],
  [
    '(N,C,d1,d2) labelSmoothing',
    [2, 3, 2, 2],
    [
      [
        [2, 0],
        [1, 1],
      ],
      [
        [0, 0],
        [2, 1],
      ],
    ],
    { labelSmoothing: 0.1 },
  ],
  ['1-D input with a 0-d target', [5], 3, {}],
  ['1-D input, labelSmoothing, none', [5], 3, { labelSmoothing: 0.25, reduction: 'none' }],
  ['(N,C) weight, mean', [4, 5], [1, 0, 4, 2], {}, [0.5, 2, 1, 0.25, 1.5]],
  ['(N,C) weight, sum', [4, 5], [1, 0, 4, 2], { reduction: 'sum' }, [0.5, 2, 1, 0.25, 1.5]],
  ['(N,C) weight, none', [4, 5], [1, 0, 4, 2], { reduction: 'none' }, [0.5, 2, 1, 0.25, 1.5]],
  ['(N,C) weight, ignoreIndex 2, mean', [4, 5], [1, 2, 4, 2], { ignoreIndex: 2 }, [0.5, 2, 1, 0.25, 1.5]],
  ['(N,C) weight, labelSmoothing 0.2, mean', [4, 5], [1, 0, 4, 2], { labelSmoothing: 0.2 }, [0.5, 2, 1, 0.25, 1.5]],
  [
    '(N,C) weight, labelSmoothing 0.2, ignoreIndex 3, mean',
    [4, 5],
    [1, 3, 3, 0],
    { labelSmoothing: 0.2, ignoreIndex: 3 },
    [0.5, 2, 1, 0.25, 1.5],
  ],
  [
    '(N,C) weight with a zero, labelSmoothing 0.3, none',
    [4, 5],
    [1, 3, 3, 0],
    { labelSmoothing: 0.3, reduction: 'none' },
    [0.5, 2, 0, 0.25, 1.5],
  ],
  [
    '(N,C,d) weight, ignoreIndex, labelSmoothing, mean',
    [2, 3, 4],
    [
      [2, -1, 1, 1],
      [0, -1, 2, 1],
    ],
    { ignoreIndex: -1, labelSmoothing: 0.1 },
    [0.3, 1.7, 1.1],
  ],
  [
    '(N,C,d1,d2) weight, sum',
    [2, 3, 2, 2],
    [
      [
        [2, 0],
        [1, 1],
      ],
      [
        [0, 0],
        [2, 1],
      ],
    ],
    { reduction: 'sum' },
    [0.3, 1.7, 1.1],
  ],
  ['1-D input, weight, labelSmoothing, mean', [5], 3, { labelSmoothing: 0.25 }, [0.5, 2, 1, 0.25, 1.5]],
];

const w64 = (w: number[] | undefined): Tensor | undefined => (w ? tensor(w, { dtype: 'float64' }) : undefined);

describe('crossEntropy / nllLoss / mseLoss: float64 values against a JS reference, and gradcheck', () => {
  for (const [name, shape, target, baseOpts, weight] of CE_CASES) {
    it(`crossEntropy ${name}`, () => {
      manualSeed(81);
      const x = r64(shape);
      const t = ti(target);
      const opts: CrossEntropyOptions = { ...baseOpts, weight: w64(weight) };
      const y = F.crossEntropy(x, t, opts);
      const tv = vals(t);
      const ref = refCE(shape.length === 1 ? vals(x) : rowsOf(vals(x), shape), shape.length === 1 ? shape[0] : shape[1], tv, opts, weight);
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
    const lp = tensor(
      [
        [-1, -2, -3],
        [-0.5, -4, -6],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    expect(F.nllLoss(lp, ti([2, 0])).item()).toBeCloseTo(1.75, 14);
    expect(F.nllLoss(lp, ti([2, 0]), { reduction: 'none' }).tolist()).toEqual([3, 0.5]);
    F.nllLoss(lp, ti([2, 0])).backward();
    expect(lp.grad!.tolist()).toEqual([
      [0, 0, -0.5],
      [-0.5, 0, 0],
    ]);
    expect(
      gradcheck(
        (z) =>
          F.nllLoss(
            z,
            ti([
              [2, 0],
              [1, 1],
            ]),
            { ignoreIndex: 1 },
          ),
        [r64([2, 3, 2])],
      ),
    ).toBe(true);
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
    for (const [name, shape, target, opts, weight] of CE_CASES) {
      manualSeed(84);
      const t = ti(target);
      if (weight) comparePaths(`crossEntropy ${name}`, (z, w) => F.crossEntropy(z, t, { ...opts, weight: w }), [r64(shape), w64(weight)!]);
      else comparePaths(`crossEntropy ${name}`, (z) => F.crossEntropy(z, t, opts), [r64(shape)]);
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
    const x = tensor(
      [
        [100, -100, 0],
        [-100, 100, 0],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    const { y32, g32 } = comparePaths('extreme logits', (z) => F.crossEntropy(z, ti([1, 1])), [x], { atol: 1e-3, rtol: 1e-5 });
    expect(y32[0].item()).toBeCloseTo(100, 3);
    expect(vals(g32[0]!).every(Number.isFinite)).toBe(true);
  });
});

describe('losses: errors name the op, the argument and the shapes', () => {
  it('target of the wrong shape', () => {
    expect(() => F.crossEntropy(randn([4, 5]), ti([1, 2, 3]))).toThrow(
      /crossEntropy: expected target of shape \[4\] for input of shape \[4, 5\], got \[3\]/,
    );
    expect(() => F.crossEntropy(randn([2, 3, 4]), ti([1, 2]))).toThrow(
      /crossEntropy: expected target of shape \[2, 4\] for input of shape \[2, 3, 4\], got \[2\]/,
    );
    expect(() => F.crossEntropy(randn([5]), ti([1]))).toThrow(
      /crossEntropy: for input of shape \[5\] the target must be 0-d, got shape \[1\]/,
    );
  });
  it('target out of range, or not int32', () => {
    expect(() => F.crossEntropy(randn([2, 3]), ti([1, 3]))).toThrow(
      /crossEntropy: target 3 is out of bounds for 3 classes \(input shape \[2, 3\]\)/,
    );
    expect(() => F.crossEntropy(randn([2, 3]), ti([-2, 0]))).toThrow(/crossEntropy: target -2 is out of bounds for 3 classes/);
    expect(() => F.crossEntropy(randn([2, 3]), tensor([1, 0], { dtype: 'float32' }))).toThrow(
      /crossEntropy: target must hold int32 class indices, got float32 \(shape \[2\]\)/,
    );
  });
  it('bad options and inputs', () => {
    expect(() => F.crossEntropy(randn([2, 3]), ti([1, 0]), { reduction: 'avg' as 'mean' })).toThrow(
      /crossEntropy: reduction must be 'mean', 'sum' or 'none', got 'avg'/,
    );
    expect(() => F.crossEntropy(randn([2, 3]), ti([1, 0]), { labelSmoothing: 1.5 })).toThrow(
      /crossEntropy: labelSmoothing must be in \[0, 1\], got 1.5/,
    );
    expect(() => F.crossEntropy(randn([]), ti(0))).toThrow(/crossEntropy: input must have a class dim, got a 0-d tensor/);
    expect(() => F.crossEntropy(ti([[1, 2]]), ti([0]))).toThrow(
      /crossEntropy: input must be floating point logits, got int32 \(shape \[1, 2\]\)/,
    );
  });
  it('nllLoss names itself', () => {
    expect(() => F.nllLoss(randn([4, 5]), ti([1, 2, 3]))).toThrow(
      /nllLoss: expected target of shape \[4\] for input of shape \[4, 5\], got \[3\]/,
    );
    expect(() => F.nllLoss(randn([2, 3]), ti([1, 3]))).toThrow(/nllLoss: target 3 is out of bounds for 3 classes \(input shape \[2, 3\]\)/);
    expect(() => F.nllLoss(ti([[1, 2]]), ti([0]))).toThrow(/nllLoss: input must be floating point, got int32 \(shape \[1, 2\]\)/);
  });
  it('mseLoss: shape and dtype mismatch', () => {
    expect(() => F.mseLoss(randn([2, 3]), randn([3, 2]))).toThrow(
      /mseLoss: input has shape \[2, 3\] but target has shape \[3, 2\]; they must match/,
    );
    expect(() => F.mseLoss(randn([2]), randn([2], { dtype: 'float64' }))).toThrow(
      /mseLoss: dtype mismatch: input is float32 but target is float64 \(shapes \[2\] and \[2\]\)/,
    );
    expect(() => F.mseLoss(randn([2]), ti([1, 2]))).toThrow(/mseLoss: target must be floating point, got int32 \(shape \[2\]\)/);
    expect(() => F.mseLoss(randn([2]), randn([2]), { reduction: 'mean ' as 'mean' })).toThrow(
      /mseLoss: reduction must be 'mean', 'sum' or 'none'/,
    );
  });
});

/** JS reference for probability targets over rows (M, C): l_n = -Σc w[c]·((1-ls)·q[n,c] + ls/C)·logp[n,c]. */
function refProbs(logits: number[], q: number[], C: number, ls: number, weight?: number[]): number[] {
  const w = weight ?? new Array<number>(C).fill(1);
  const per: number[] = [];
  for (let n = 0; n < logits.length / C; n++) {
    const row = logits.slice(n * C, n * C + C);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
    per.push(-row.reduce((a, v, c) => a + w[c] * ((1 - ls) * q[n * C + c] + ls / C) * (v - lse), 0));
  }
  return per;
}

// [name, shape, options, class weights?]
const PROB_CASES: [string, number[], CrossEntropyOptions, number[]?][] = [
  ['(N,C) mean', [4, 5], {}],
  ['(N,C) weight, mean (divides by N, not by the weights)', [4, 5], {}, [0.5, 2, 1, 0.25, 1.5]],
  ['(N,C) weight, labelSmoothing 0.2, sum', [4, 5], { labelSmoothing: 0.2, reduction: 'sum' }, [0.5, 2, 1, 0.25, 1.5]],
  ['(N,C) labelSmoothing 0.1, none', [4, 5], { labelSmoothing: 0.1, reduction: 'none' }],
  ['(N,C,d) weight, labelSmoothing 0.1, mean', [2, 3, 4], { labelSmoothing: 0.1 }, [0.3, 1.7, 1.1]],
  ['(N,C,d1,d2) weight, none', [2, 3, 2, 2], { reduction: 'none' }, [0.3, 1.7, 1.1]],
  ['(C) unbatched, weight, labelSmoothing 0.3, mean', [5], { labelSmoothing: 0.3 }, [0.5, 2, 1, 0.25, 1.5]],
  ['(N,C) negative ignoreIndex is accepted and does nothing (as PyTorch)', [3, 4], { ignoreIndex: -1 }],
];

describe('crossEntropy with class-probability targets: float64 against a JS reference, gradcheck in input, target and weight', () => {
  for (const [name, shape, opts, weight] of PROB_CASES) {
    it(name, () => {
      manualSeed(86);
      const x = r64(shape);
      const classDim = shape.length === 1 ? 0 : 1;
      const q = randn(shape, { dtype: 'float64' }).softmax(classDim).detach().requiresGrad_();
      const w = weight ? tensor(weight, { dtype: 'float64', requiresGrad: true }) : undefined;
      const y = F.crossEntropy(x, q, { ...opts, weight: w });
      const C = shape[classDim];
      const rows = (v: number[]): number[] => (shape.length === 1 ? v : rowsOf(v, shape));
      const per = refProbs(rows(vals(x)), rows(vals(q)), C, opts.labelSmoothing ?? 0, weight);
      const red = opts.reduction ?? 'mean';
      const total = per.reduce((a, v) => a + v, 0);
      if (red === 'none') {
        expect(y.shape).toEqual(shape.length === 1 ? [] : [shape[0], ...shape.slice(2)]);
        expectClose(y, per, 1e-12, 1e-10, 'per-sample loss');
      } else expect(y.item()).toBeCloseTo(red === 'sum' ? total : total / per.length, 12);
      const args = w ? [x, q, w] : [x, q];
      expect(gradcheck((z, p, ww) => F.crossEntropy(z, p, { ...opts, weight: ww }), args)).toBe(true);
    });
  }
  it('the target gradient is -(1-ls)·g·w[c]·logp', () => {
    const x = tensor([[0.2, -0.4, 1]], { dtype: 'float64' });
    const q = tensor([[0.2, 0.3, 0.5]], { dtype: 'float64', requiresGrad: true });
    const w = tensor([1, 2, 3], { dtype: 'float64' });
    F.crossEntropy(x, q, { weight: w, labelSmoothing: 0.4, reduction: 'sum' }).backward();
    const lp = vals(x.logSoftmax(1));
    expectClose(
      q.grad!,
      lp.map((v, c) => -0.6 * [1, 2, 3][c] * v),
      1e-14,
      0,
      'dq',
    );
  });
});

describe.each(MODES)('class weights and probability targets on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  it('probability targets: forward and the gradients of input, target and weight', () => {
    for (const [name, shape, opts, weight] of PROB_CASES) {
      manualSeed(87);
      const q = randn(shape, { dtype: 'float64' })
        .softmax(shape.length === 1 ? 0 : 1)
        .detach()
        .requiresGrad_();
      const ins = [r64(shape), q, ...(weight ? [tensor(weight, { dtype: 'float64', requiresGrad: true })] : [])];
      comparePaths(`probabilities ${name}`, (z, p, w) => F.crossEntropy(z, p, { ...opts, weight: w }), ins);
    }
  });
  it('nllLoss with weight, ignoreIndex and each reduction', () => {
    manualSeed(88);
    const t = ti([
      [1, 0, 3],
      [2, 3, 3],
    ]);
    const w = tensor([0.5, 2, 1, 0.25], { dtype: 'float64' });
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      comparePaths(`nllLoss weight ${reduction}`, (z, ww) => F.nllLoss(z.logSoftmax(1), t, { weight: ww, reduction, ignoreIndex: 3 }), [
        r64([2, 4, 3]),
        w,
      ]);
    }
  });
});

interface LossCase {
  name: string;
  op: 'crossEntropy' | 'nllLoss';
  targetKind: 'indices' | 'probabilities';
  options: { reduction: 'mean' | 'sum' | 'none'; ignoreIndex?: number; labelSmoothing?: number };
  inputs: { input: TensorJson; target: TensorJson; weight?: TensorJson };
  output: TensorJson;
  gradOut: TensorJson;
  grads: { input: TensorJson; target?: TensorJson; weight?: TensorJson };
}
const LOSS_CASES = (readFixture('loss.json') as { cases: LossCase[] }).cases;

/** Runs one loss.json case in `dtype`; returns the output and the gradients the fixture holds. */
function runLossCase(
  c: LossCase,
  dtype: 'float32' | 'float64',
): { y: Tensor; grads: Record<string, Tensor>; leaves: Record<string, Tensor> } {
  const leaves: Record<string, Tensor> = { input: fixtureTensor(c.inputs.input, dtype, true) };
  const target = fixtureTensor(c.inputs.target, dtype, c.grads.target !== undefined);
  if (c.grads.target) leaves.target = target;
  const weight = c.inputs.weight ? fixtureTensor(c.inputs.weight, dtype, c.grads.weight !== undefined) : undefined;
  if (weight && c.grads.weight) leaves.weight = weight;
  const fn = c.op === 'crossEntropy' ? F.crossEntropy : F.nllLoss;
  const y = fn(leaves.input, target, { ...c.options, weight });
  y.backward(fixtureTensor(c.gradOut, dtype));
  const grads: Record<string, Tensor> = {};
  for (const k of Object.keys(c.grads)) grads[k] = leaves[k].grad!;
  return { y, grads, leaves };
}

describe('losses: PyTorch golden values (test/fixtures/loss.json), float64', () => {
  it('the fixture has the cases this suite relies on', () => {
    expect(LOSS_CASES.length).toBeGreaterThanOrEqual(40);
    expect(LOSS_CASES.some((c) => c.targetKind === 'probabilities' && c.grads.weight)).toBe(true);
    expect(LOSS_CASES.some((c) => c.name.includes('every target ignored') && c.options.reduction === 'mean')).toBe(true);
  });
  for (const c of LOSS_CASES) {
    it(c.name, () => {
      const { y, grads } = runLossCase(c, 'float64');
      expect(y.shape).toEqual(c.output.shape);
      expectClose(y, fixtureTensor(c.output), 1e-12, 1e-10, 'output');
      for (const [k, g] of Object.entries(grads)) {
        expect(g.shape).toEqual(c.grads[k as keyof LossCase['grads']]!.shape);
        expectClose(g, fixtureTensor(c.grads[k as keyof LossCase['grads']]!), 1e-12, 1e-10, `grad ${k}`);
      }
      if (Number.isNaN(fixtureTensor(c.output).toArray()[0])) return; // every target ignored: no finite Jacobian to check
      const target = fixtureTensor(c.inputs.target, 'float64');
      const weight = c.inputs.weight ? fixtureTensor(c.inputs.weight, 'float64') : undefined;
      const fn = c.op === 'crossEntropy' ? F.crossEntropy : F.nllLoss;
      const x = fixtureTensor(c.inputs.input, 'float64', true);
      if (c.targetKind === 'indices') expect(gradcheck((z) => fn(z, target, { ...c.options, weight }), [x])).toBe(true);
      else {
        const args = [x, target.requiresGrad_(), ...(weight ? [weight.requiresGrad_()] : [])];
        expect(gradcheck((z, q, w) => fn(z, q, { ...c.options, weight: w }), args)).toBe(true);
      }
    });
  }
});

describe.each(MODES)('losses on %s: float32 against the PyTorch golden values', (mode) => {
  beforeAll(() => useMode(mode));
  it('every loss.json case: output and gradients', () => {
    for (const c of LOSS_CASES) {
      const { y, grads } = runLossCase(c, 'float32');
      expect(y.dtype, c.name).toBe('float32');
      expectClose(y, fixtureTensor(c.output), 1e-5, 1e-4, `${c.name}: output`);
      for (const [k, g] of Object.entries(grads))
        expectClose(g, fixtureTensor(c.grads[k as keyof LossCase['grads']]!), 1e-5, 1e-3, `${c.name}: grad ${k}`);
    }
  });
});

describe('losses: weight, probability-target and option errors', () => {
  const x = (): Tensor => randn([4, 5]);
  const t = (): Tensor => ti([1, 0, 4, 2]);
  it('weight of the wrong shape, dtype or kind', () => {
    expect(() => F.crossEntropy(x(), t(), { weight: randn([3]) })).toThrow(
      /crossEntropy: weight must be a 1-D floating point Tensor of 5 elements \(one per class of the input of shape \[4, 5\]\) with the input's dtype float32, got shape \[3\] and dtype float32/,
    );
    expect(() => F.crossEntropy(x(), t(), { weight: randn([5, 1]) })).toThrow(
      /crossEntropy: weight must be a 1-D .* got shape \[5, 1\] and dtype float32/,
    );
    expect(() => F.crossEntropy(x(), t(), { weight: randn([5], { dtype: 'float64' }) })).toThrow(
      /crossEntropy: weight must be .*the input's dtype float32, got shape \[5\] and dtype float64/,
    );
    expect(() => F.nllLoss(x(), t(), { weight: ti([1, 1, 1, 1, 1]) })).toThrow(
      /nllLoss: weight must be .* got shape \[5\] and dtype int32/,
    );
    expect(() =>
      F.crossEntropy(
        randn([2, 3, 4]),
        ti([
          [0, 1, 2, 0],
          [1, 1, 1, 1],
        ]),
        { weight: randn([4]) },
      ),
    ).toThrow(/crossEntropy: weight must be a 1-D floating point Tensor of 3 elements .*input of shape \[2, 3, 4\]/);
    expect(() => F.crossEntropy(x(), t(), { weight: [1, 2, 3, 4, 5] as unknown as Tensor })).toThrow(
      /crossEntropy: weight must be a 1-D .* got object/,
    );
  });
  it('a weight that requires grad is refused with class-index targets (as PyTorch), accepted with probabilities', () => {
    const w = tensor([1, 2, 1, 1, 1], { requiresGrad: true });
    expect(() => F.crossEntropy(x(), t(), { weight: w })).toThrow(
      /crossEntropy: weight \(shape \[5\]\) requires grad, but the loss is not differentiable w.r.t. the class weights with class-index targets/,
    );
    expect(() => F.nllLoss(x(), t(), { weight: w })).toThrow(/nllLoss: weight \(shape \[5\]\) requires grad/);
    expect(F.crossEntropy(x(), t(), { weight: w.detach() }).shape).toEqual([]);
    F.crossEntropy(x(), randn([4, 5]).softmax(1), { weight: w }).backward();
    expect(w.grad!.shape).toEqual([5]);
  });
  it('unknown option keys name the key; snake_case keys get their camelCase name', () => {
    const bad = (o: object): CrossEntropyOptions => o as CrossEntropyOptions;
    expect(() => F.crossEntropy(x(), t(), bad({ ignore_index: 1 }))).toThrow(
      /crossEntropy: unknown option 'ignore_index'; did you mean 'ignoreIndex'\?/,
    );
    expect(() => F.crossEntropy(x(), t(), bad({ label_smoothing: 0.1 }))).toThrow(
      /crossEntropy: unknown option 'label_smoothing'; did you mean 'labelSmoothing'\?/,
    );
    expect(() => F.nllLoss(x(), t(), bad({ ignore_index: 1 }))).toThrow(
      /nllLoss: unknown option 'ignore_index'; did you mean 'ignoreIndex'\?/,
    );
    expect(() => F.crossEntropy(x(), t(), bad({ size_average: true }))).toThrow(
      /crossEntropy: unknown option 'size_average'; .*use reduction/,
    );
    expect(() => F.crossEntropy(x(), t(), bad({ weights: randn([5]) }))).toThrow(
      /crossEntropy: unknown option 'weights' \(allowed: weight, ignoreIndex, labelSmoothing, reduction\)/,
    );
    expect(() => F.crossEntropy(x(), t(), randn([5]) as unknown as CrossEntropyOptions)).toThrow(
      /crossEntropy: the third argument is an options object; pass class weights as \{ weight \}/,
    );
    expect(() => F.crossEntropy(x(), t(), { ignoreIndex: 1.5 })).toThrow(/crossEntropy: ignoreIndex must be an integer, got 1.5/);
  });
  it('probability targets: shape, dtype and ignoreIndex', () => {
    expect(() => F.crossEntropy(x(), randn([4, 4]))).toThrow(
      /crossEntropy: target must hold int32 class indices, got float32 \(shape \[4, 4\]\); a float target holds class probabilities and must have the input's shape \[4, 5\]/,
    );
    expect(() => F.crossEntropy(x(), randn([4, 5], { dtype: 'float64' }))).toThrow(
      /crossEntropy: dtype mismatch: input is float32 but target \(class probabilities\) is float64/,
    );
    expect(() =>
      F.crossEntropy(
        x(),
        ti([
          [0, 1, 0, 0, 0],
          [0, 1, 0, 0, 0],
          [0, 1, 0, 0, 0],
          [0, 1, 0, 0, 0],
        ]),
      ),
    ).toThrow(
      /crossEntropy: expected target of shape \[4\] for input of shape \[4, 5\], got \[4, 5\] \(a target of the input's shape holds class probabilities and must be floating point/,
    );
    expect(() => F.crossEntropy(x(), randn([4, 5]), { ignoreIndex: 0 })).toThrow(
      /crossEntropy: ignoreIndex \(0\) is not supported with class-probability targets/,
    );
    expect(() => F.nllLoss(x(), randn([4, 5]))).toThrow(/nllLoss: target must hold int32 class indices, got float32 \(shape \[4, 5\]\)$/);
  });
});
