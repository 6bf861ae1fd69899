// The host natives of the layerNorm, softmax / logSoftmax and nllLoss kernels (the 'simd' backend's
// float32 runs): every case runs on float64 (the kernel sources on the host executor) and on float32,
// outputs and input gradients compared, NaN and ±Infinity matched exactly; on 'simd' the float32 run must
// have taken the native of every such kernel it launched, and together the cases reach every one of them
// (short and long rows, rows side by side, masks, NaN and ±Infinity rows, every weight / bias / smoothing
// / ignoreIndex combination).
import { afterAll, describe, expect, it, beforeAll } from 'vitest';
import { F, manualSeed, randn, tensor, type Tensor } from '../../src/index.js';
import { _kernelProfile, _profileKernels } from '../../src/kernels/run.js';
import { hostExp, rowDot, rowLogSumExp, rowStats } from '../../src/ops/softmax.js';
import { nativeChecker } from '../support/native-check.js';
import { MODES, useMode, values } from '../support/helpers.js';
import { r64 } from '../support/check.js';

/** The kernels whose natives this file checks. */
const OWN = [
  'layerNorm.stats',
  'layerNorm.stats.mean',
  'layerNorm.stats.squares',
  'layerNorm.stats.rstd',
  'layerNorm.interleave',
  'layerNorm.forward',
  'layerNorm.backward.timesXhat',
  'layerNorm.backward.gw',
  'layerNorm.backward.rowSums',
  'layerNorm.backward.dx',
  'layerNorm.backward.dweight',
  'layerNorm.backward.dbias',
  'softmax.rowStats',
  'softmax.rowDot',
  'softmax.rowDot.mul',
  'softmax.longRows.max',
  'softmax.longRows.exp',
  'softmax.longRows.log',
  'softmax.longRows.lse',
  'softmax.forward',
  'softmax.backward',
  'logSoftmax.forward',
  'logSoftmax.backward',
  'nllLoss.forward',
  'nllLoss.backward',
];

const idx = (v: number[], shape?: number[]): Tensor => tensor(v, { dtype: 'int32', shape });
/** A float64 leaf from `data` (numbers, NaN and ±Infinity included) of `shape`, requiring grad. */
const f64 = (data: number[], shape: number[], requiresGrad = true): Tensor => tensor(data, { dtype: 'float64', shape, requiresGrad });
/** A float64 randn leaf of `shape` with some entries set: [flat index, value] pairs. */
function withValues(shape: number[], set: [number, number][], requiresGrad = true): Tensor {
  const d = values(randn(shape, { dtype: 'float64' }));
  for (const [k, v] of set) d[k] = v;
  return f64(d, shape, requiresGrad);
}

describe('hostExp (the natives exp): Math.exp rounded to float32', () => {
  it('agrees after float32 rounding over the whole range, and on the special values', () => {
    let worst = 0;
    for (let k = 0; k <= 200000; k++) {
      const x = -760 + (k / 200000) * 1480 + 1e-7 * Math.sin(k);
      expect(Math.fround(hostExp(x)), `exp(${x})`).toBe(Math.fround(Math.exp(x)));
      const e = Math.exp(x);
      if (e > 1e-300 && e < 1e300) worst = Math.max(worst, Math.abs(hostExp(x) - e) / e);
    }
    expect(worst).toBeLessThan(1e-14);
    for (const x of [0, -0, 1, -1, 1e-30, -1e-30, 88.72, 88.73, -87.3, -103.97, -103.98, -2e30, 2e30, -3.4e38])
      expect(Math.fround(hostExp(x)), `exp(${x})`).toBe(Math.fround(Math.exp(x)));
    expect(hostExp(0)).toBe(1);
    expect(hostExp(-Infinity)).toBe(0);
    expect(hostExp(Infinity)).toBe(Infinity);
    expect(hostExp(NaN)).toBeNaN();
  });
});

describe.each(MODES)('layerNorm / softmax / nllLoss natives on %s: float32 vs the float64 path', (mode) => {
  const { check, seen: seenNative } = nativeChecker(mode, OWN);
  /** Whether float32 kernels compute in JS numbers here (cpu, and simd's natives and host executor) rather
   * than in float32 arithmetic (webasm, GL): the sources' baked constants past float32's range differ then. */
  const jsNumbers = mode === 'cpu' || mode === 'simd';
  beforeAll(() => {
    useMode(mode);
    manualSeed(21);
  });
  afterAll(() => _profileKernels(false));

  const ln =
    (ns: number[], eps = 1e-5) =>
    (x: Tensor, w?: Tensor, b?: Tensor): Tensor =>
      F.layerNorm(x, ns, w ?? null, b ?? null, eps);
  const lnWB =
    (ns: number[], eps = 1e-5) =>
    (x: Tensor, b: Tensor): Tensor =>
      F.layerNorm(x, ns, null, b, eps);

  it('layerNorm: short rows, every weight / bias combination, rows of fewer than 8 and of many', () => {
    check('[4, 5, 24] over [24], weight and bias', ln([24]), [r64([4, 5, 24]), r64([24]), r64([24])]);
    check('[4, 5, 24] over [24], weight only', ln([24]), [r64([4, 5, 24]), r64([24])]);
    check('[4, 5, 24] over [24], bias only', lnWB([24]), [r64([4, 5, 24]), r64([24])]);
    check('[4, 5, 24] over [24], no affine', ln([24]), [r64([4, 5, 24])]);
    check('[6, 5] over [5], weight and bias', ln([5]), [r64([6, 5]), r64([5]), r64([5])]);
    check('[3, 5, 7] over [5, 7], weight and bias', ln([5, 7]), [r64([3, 5, 7]), r64([5, 7]), r64([5, 7])]);
    check('[1, 1] over [1]', ln([1]), [r64([1, 1]), r64([1]), r64([1])]);
    check('weight and bias that do not require grad', ln([9]), [r64([7, 9]), r64([9], false), r64([9], false)]);
    check('input that does not require grad', ln([9]), [r64([7, 9], false), r64([9]), r64([9])]);
  });

  it('layerNorm: long rows (past ROW_FUSED) and many rows (the chunked paths)', () => {
    check('[3, 4500] over [4500], weight and bias', ln([4500]), [r64([3, 4500]), r64([4500]), r64([4500])], { atol: 1e-4 });
    check('[2, 4500] over [4500], no affine', ln([4500]), [r64([2, 4500])], { atol: 1e-4 });
    check('[4200, 3] over [3], weight and bias', ln([3]), [r64([4200, 3]), r64([3]), r64([3])], { atol: 1e-4 });
    check('[4100, 2] over [2], bias only', lnWB([2]), [r64([4100, 2]), r64([2])], { atol: 1e-4 });
  });

  it('layerNorm: eps (large, 0 on constant rows, Infinity) and NaN / Infinity entries', () => {
    check('eps 0.5', ln([6], 0.5), [r64([5, 6]), r64([6]), r64([6])]);
    if (jsNumbers) {
      // eps bakes as 1e39: 1/sqrt(var + 1e39) is 3e-20 in JS numbers (float64 and here), 0 in float32 arithmetic
      check('eps Infinity (y about 3e-20)', ln([6], Infinity), [r64([5, 6]), r64([6]), r64([6])], { atol: 1e-25 });
      check('eps Infinity, rows of 8', ln([8], Infinity), [r64([5, 8]), r64([8]), r64([8])], { atol: 1e-25 });
      check('eps Infinity, long rows', ln([4500], Infinity), [r64([2, 4500])], { atol: 1e-25 });
    }
    check('eps 0, constant rows', ln([4], 0), [f64([1, 1, 1, 1, 2, 3, 4, 5, -2, -2, -2, -2], [3, 4]), r64([4]), r64([4])]);
    const bad: [number, number][] = [
      [3, NaN],
      [13, Infinity],
      [22, -Infinity],
    ];
    check('NaN and ±Infinity entries', ln([10]), [withValues([4, 10], bad), r64([10]), r64([10])]);
    // rows of a multiple of 4 (the simd backend's WebAssembly loops; the others are JS loops)
    check('NaN and ±Infinity entries, rows of 12', ln([12]), [withValues([4, 12], bad), r64([12]), r64([12])]);
    check('NaN and ±Infinity entries, rows of 12, no affine', ln([12]), [withValues([4, 12], bad)]);
    check('NaN and ±Infinity entries, long rows', ln([4500]), [withValues([2, 4500], [[10, NaN]]), r64([4500]), r64([4500])], {
      atol: 1e-4,
    });
  });

  const sm =
    (d: number) =>
    (x: Tensor): Tensor =>
      x.softmax(d);
  const lsm =
    (d: number) =>
    (x: Tensor): Tensor =>
      x.logSoftmax(d);

  it('softmax / logSoftmax: rows one at a time (last dim) and side by side (other dims), one element', () => {
    for (const [shape, d] of [
      [[5, 37], 1],
      [[6, 9, 4], 1],
      [[6, 9, 4], 0],
      [[7, 3], 0],
      [[20], 0],
      [[1], 0],
      [[3, 1], 1],
      [[1, 1, 5], 1],
    ] as [number[], number][]) {
      check(`softmax ${JSON.stringify(shape)} dim ${d}`, sm(d), [r64(shape)]);
      check(`logSoftmax ${JSON.stringify(shape)} dim ${d}`, lsm(d), [r64(shape)]);
    }
  });

  it('softmax / logSoftmax: -Infinity entries and rows, NaN and +Infinity rows, finite -2e30, large logits', () => {
    // [4, 6]: row 0 partly -Infinity, row 1 all -Infinity, row 2 with NaN, row 3 with +Infinity
    const special: [number, number][] = [
      [1, -Infinity],
      [4, -Infinity],
      ...[6, 7, 8, 9, 10, 11].map((k): [number, number] => [k, -Infinity]),
      [14, NaN],
      [21, Infinity],
    ];
    for (const [name, shape, d, set] of [
      ['last dim', [4, 6], 1, special],
      [
        'dim 0 (the same entries, transposed layout)',
        [6, 4],
        0,
        special.map(([k, v]): [number, number] => [(k % 6) * 4 + Math.floor(k / 6), v]),
      ],
      ['finite -2e30 entries (ordinary values)', [3, 5], 1, [0, 1, 2, 3, 4, 7].map((k): [number, number] => [k, -2e30])],
      ['large logits', [2, 5], 1, [0, 1, 2, 3, 4].map((k): [number, number] => [k, 1000 + k])],
    ] as [string, number[], number, [number, number][]][]) {
      check(`softmax, ${name}`, sm(d), [withValues(shape, set)]);
      check(`logSoftmax, ${name}`, lsm(d), [withValues(shape, set)]);
    }
  });

  it('softmax / logSoftmax: long rows (past ROW_FUSED), with -Infinity, NaN and all -Infinity rows', () => {
    const set: [number, number][] = [
      [5, -Infinity],
      [4500 + 7, NaN],
      ...Array.from({ length: 4500 }, (_, k): [number, number] => [2 * 4500 + k, -Infinity]),
    ];
    check('softmax [3, 4500] dim 1', sm(1), [withValues([3, 4500], set)], { atol: 1e-4 });
    check('logSoftmax [3, 4500] dim 1', lsm(1), [withValues([3, 4500], set)], { atol: 1e-4 });
    check('softmax [4200, 2] dim 0', sm(0), [r64([4200, 2])], { atol: 1e-4 });
    check('logSoftmax [4200, 2] dim 0', lsm(0), [withValues([4200, 2], [[9, -Infinity]])], { atol: 1e-4 });
  });

  it('rowLogSumExp / rowStats / rowDot with a mask threshold: skipped entries, rows with none left', () => {
    // entries below -1e30 skipped: -2e30 and -Infinity; row 1 skipped everywhere
    const set: [number, number][] = [
      [0, -2e30],
      [3, -Infinity],
      ...[8, 9, 10, 11, 12, 13, 14, 15].map((k): [number, number] => [k, -2e30]),
      [17, -1e29],
    ];
    // rows 3 and 4 where kernels compare in JS numbers: only the float32 just below -1e30 (skipped: nothing
    // left) or just above it (live). Float32 arithmetic (webasm, GL) bakes the threshold as that float32
    // itself, which then is live: the mode difference the long rows below show too.
    if (jsNumbers) {
      expect(Math.fround(-9.999999394896025e29), 'a float32').toBe(-9.999999394896025e29);
      set.push(...Array.from({ length: 15 }, (_, k): [number, number] => [k < 7 ? 24 + k : 25 + k, -2e30]));
      set.push([31, Math.fround(-1e30)], [39, -9.999999394896025e29]);
    }
    const x = (): Tensor => withValues([jsNumbers ? 5 : 3, 8], set, false);
    check('rowLogSumExp, last dim, mask -1e30', (t) => rowLogSumExp(t, 1, '-1e30'), [x()]);
    check('rowLogSumExp, dim 0, mask -1e30', (t) => rowLogSumExp(t, 0, '-1e30'), [x()]);
    check('rowStats, mask -1e30', (t) => Object.values(rowStats(t, 1, '-1e30')), [x()]);
    const bad = (): Tensor =>
      withValues(
        [5, 4],
        [
          [2, NaN],
          [7, Infinity],
          [9, -Infinity],
          [13, -Infinity],
        ],
        false,
      );
    check('rowStats with NaN / ±Infinity, last dim', (t) => Object.values(rowStats(t, 1)), [bad()]);
    check('rowStats with NaN / ±Infinity, dim 0', (t) => Object.values(rowStats(t, 0)), [bad()]);
    // (not a long row skipped everywhere: the float64 path gives the threshold there, float32 gives 0, as the
    // short rows do, since float32(-1e30) is below -1e30)
    const long: [number, number][] = [
      [1, -2e30],
      ...Array.from({ length: 4000 }, (_, k): [number, number] => [4500 + k, -2e30]),
      [2 * 4500 + 3, NaN],
    ];
    check('rowLogSumExp, long rows, mask -1e30', (t) => rowLogSumExp(t, 1, '-1e30'), [withValues([3, 4500], long, false)], {
      atol: 1e-4,
    });
    if (jsNumbers) {
      // a long row skipped everywhere gives 0 as short rows do, here where the stored float32(-1e30) is below the
      // source's -1e30 (the float64 path and float32 arithmetic give -1e30)
      const none = f64(new Array(2 * 4500).fill(-2e30), [2, 4500], false).float();
      _profileKernels(true);
      expect(values(rowLogSumExp(none, 1, '-1e30'))).toEqual([0, 0]);
      if (mode === 'simd') expect(_kernelProfile().find((e) => e.kernel === 'softmax.longRows.lse')?.native).toBe(1);
      _profileKernels(false);
    }
    check('rowDot, last dim', (a, b) => rowDot(a, b, 1), [r64([4, 30], false), r64([4, 30], false)]);
    check('rowDot, dim 1 of 3', (a, b) => rowDot(a, b, 1), [r64([2, 7, 5], false), r64([2, 7, 5], false)]);
    check('rowDot, long rows', (a, b) => rowDot(a, b, 0), [r64([4300, 2], false), r64([4300, 2], false)], { atol: 1e-3 });
  });

  it('crossEntropy / nllLoss: weights, label smoothing, ignoreIndex and each reduction', () => {
    const t = idx([1, 0, 4, -100, 2, 2, 3]);
    const w = (): Tensor => f64([0.5, 2, 1, 0.25, 3], [5], false);
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      check(`crossEntropy ${reduction}`, (x) => F.crossEntropy(x, t, { reduction }), [r64([7, 5])]);
      check(`crossEntropy ${reduction}, weight`, (x, ww) => F.crossEntropy(x, t, { reduction, weight: ww }), [r64([7, 5]), w()]);
      check(`crossEntropy ${reduction}, smoothing 0.1`, (x) => F.crossEntropy(x, t, { reduction, labelSmoothing: 0.1 }), [r64([7, 5])]);
      check(
        `crossEntropy ${reduction}, weight and smoothing 0.3`,
        (x, ww) => F.crossEntropy(x, t, { reduction, weight: ww, labelSmoothing: 0.3 }),
        [r64([7, 5]), w()],
      );
    }
    check('ignoreIndex a class (2)', (x) => F.crossEntropy(x, idx([1, 0, 4, 2, 2, 2, 3]), { ignoreIndex: 2 }), [r64([7, 5])]);
    check('smoothing 1', (x, ww) => F.crossEntropy(x, t, { weight: ww, labelSmoothing: 1, reduction: 'sum' }), [r64([7, 5]), w()]);
    check('every target ignored', (x) => F.crossEntropy(x, idx([-100, -100]), { reduction: 'sum', labelSmoothing: 0.2 }), [r64([2, 5])]);
    check('(N, C, d) input', (x) => F.crossEntropy(x, idx([0, 2, 1, 1, 2, -100], [2, 3]), { labelSmoothing: 0.05 }), [r64([2, 3, 3])]);
    check('(C) input, 0-d target', (x) => F.crossEntropy(x, tensor(3, { dtype: 'int32' })), [r64([6])]);
    const logp = (): Tensor => withValues([4, 3], [[5, NaN]]);
    check('nllLoss on given log-probabilities with NaN', (x, ww) => F.nllLoss(x, idx([0, 2, 1, 1]), { weight: ww, reduction: 'none' }), [
      logp(),
      f64([1, 2, 3], [3], false),
    ]);
    check(
      'nllLoss with smoothing on given log-probabilities',
      (x) => F.nllLoss(x, idx([0, 2, -100, 1]), { labelSmoothing: 0.25, reduction: 'none' }),
      [r64([4, 3])],
    );
    check('crossEntropy of a long class dim', (x) => F.crossEntropy(x, idx([4400, 3, -100]), { labelSmoothing: 0.1 }), [r64([3, 4500])], {
      atol: 1e-4,
    });
  });

  if (mode === 'simd')
    it('every kernel here ran its native at least once', () => {
      expect([...seenNative].sort()).toEqual([...OWN].sort());
    });
});
