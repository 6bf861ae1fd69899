// The host natives of the copy, shape, reduction, tape, embedding and dropout kernels (the 'simd'
// backend's float32 runs): every case runs on float64 (the kernel sources on the host executor) and on
// float32, outputs and input gradients compared (copies exactly); on 'simd' the float32 run must have
// taken the native of every such kernel it launched, and together the cases reach every one of them.
import { afterAll, describe, expect, it, beforeAll } from 'vitest';
import { F, argmax, cat, manualSeed, randn, stack, tensor, type Tensor } from '../../src/index.js';
import { _kernelProfile, _profileKernels } from '../../src/kernels/run.js';
import { nativeChecker } from '../support/native-check.js';
import { MODES, useMode, values } from '../support/helpers.js';
import { r64 } from '../support/check.js';

/** The kernels whose natives this file checks. */
const OWN = [
  'gather',
  'reduce.pass',
  'tape.accumulate',
  'slice.backward',
  'cat',
  'indexSelect',
  'scatterAdd',
  'embedding.forward',
  'dropout.forward',
  'dropout.backward',
];

const idx = (v: number[]): Tensor => tensor(v, { dtype: 'int32' });
/** A float64 leaf of small integers (many exact ties) from `values(randn)`, optionally requiring grad. */
const ints = (shape: number[], requiresGrad = false): Tensor =>
  tensor(
    values(randn(shape)).map((v) => Math.floor(2 * v)),
    { dtype: 'float64', shape, requiresGrad },
  );

describe.each(MODES)('kernel natives on %s: float32 vs the float64 path', (mode) => {
  const { check, seen: seenNative } = nativeChecker(mode, OWN);
  beforeAll(() => {
    useMode(mode);
    manualSeed(11);
  });
  afterAll(() => _profileKernels(false));

  it('gather: permutes (contiguous and strided innermost dims), copies, expands (broadcast dims inner and outer)', () => {
    check('permute(0, 2, 1, 3)', (x) => x.permute(0, 2, 1, 3), [r64([2, 3, 4, 5])], { exact: true });
    check('permute(3, 1, 0, 2)', (x) => x.permute(3, 1, 0, 2), [r64([2, 3, 4, 5])], { exact: true });
    check('permute(1, 0, 2), long rows', (x) => x.permute(1, 0, 2), [r64([3, 4, 64])], { exact: true });
    check('transpose of a matrix', (x) => x.t(), [r64([70, 50])], { exact: true });
    check('5-D permute', (x) => x.permute(4, 2, 0, 3, 1), [r64([2, 3, 2, 4, 3])], { exact: true });
    check('expand: leading and middle broadcast dims', (x) => x.expand(2, 3, 4, 50), [r64([3, 1, 50])], { exact: true });
    check('expand: innermost broadcast dim', (x) => x.expand(3, 70), [r64([3, 1])], { exact: true });
    check('expand of a 0-D tensor', (x) => x.expand(4, 3), [r64([])], { exact: true });
    check('expand then permute', (x) => x.expand(5, 4, 3).permute(2, 0, 1).mul(2), [r64([4, 1])]);
  });

  it('gather and slice.backward: slices with a step, an offset, and past the end', () => {
    check('slice(1, 1, 9, 3)', (x) => x.slice(1, 1, 9, 3), [r64([4, 10, 6])], { exact: true });
    check('slice(1, 8, 100, 5)', (x) => x.slice(1, 8, 100, 5), [r64([4, 10, 6])], { exact: true });
    check('narrow of the last dim, long rows', (x) => x.narrow(1, 20, 60), [r64([5, 100])], { exact: true });
    check('slice of the first dim with a step', (x) => x.slice(0, 1, undefined, 2), [r64([7, 3])], { exact: true });
    check('split into three', (x) => x.split([2, 5, 3], 1), [r64([3, 10, 2])], { exact: true });
    check('chunk of the last dim', (x) => x.chunk(3, -1), [r64([2, 2, 9])], { exact: true });
  });

  it('cat and stack: inputs of several sizes, long and short runs, more than 8 inputs', () => {
    check('cat dim 1', (a, b, c) => cat([a, b, c], 1), [r64([2, 3, 7]), r64([2, 5, 7]), r64([2, 1, 7])], { exact: true });
    check('cat dim 0, long rows', (a, b) => cat([a, b], 0), [r64([3, 64]), r64([2, 64])], { exact: true });
    check('cat last dim', (a, b) => cat([a, b], -1), [r64([4, 3]), r64([4, 60])], { exact: true });
    const many = Array.from({ length: 11 }, (_, k) => r64([2, 1 + (k % 3), 2]));
    check('cat of 11 inputs', (...ts) => cat(ts, 1), many, { exact: true });
    check('stack dim 2', (a, b, c) => stack([a, b, c], 2), [r64([3, 4]), r64([3, 4]), r64([3, 4])], { exact: true });
  });

  it('indexSelect, repeatInterleave and their scatter-add backward', () => {
    check('indexSelect of a middle dim', (x) => x.indexSelect(1, idx([4, 0, 0, 2])), [r64([3, 5, 4])], { exact: true });
    check('indexSelect of dim 0, long rows', (x) => x.indexSelect(0, idx([5, 1, 5, 5, 0])), [r64([6, 64])], { exact: true });
    check('indexSelect of the last dim', (x) => x.indexSelect(-1, idx([6, 1, 6])), [r64([4, 7])], { exact: true });
    check('indexSelect with a 0-D index', (x) => x.indexSelect(0, tensor(2, { dtype: 'int32' })), [r64([3, 4])], { exact: true });
    check('repeatInterleave(3, 1)', (x) => x.repeatInterleave(3, 1), [r64([2, 4, 3])], { exact: true });
  });

  it('embedding: forward rows, backward with padding and with a row looked up in several chunks', () => {
    const lookups = Array.from({ length: 2300 }, (_, k) => (k % 7 === 0 ? k % 5 : 3));
    check('embedding, a row used 1900+ times', (w) => F.embedding(idx(lookups), w), [r64([6, 5])], { atol: 1e-4 });
    check('embedding with paddingIdx', (w) => F.embedding(idx([1, 2, 1, 0, 2, 2]), w, 2), [r64([4, 70])]);
    check(
      'embedding with a 2-D index',
      (w) =>
        F.embedding(
          tensor(
            [
              [3, 1],
              [1, 0],
            ],
            { dtype: 'int32' },
          ),
          w,
          -1,
        ),
      [r64([4, 3])],
    );
  });

  it('reduce.pass: sums and means over one chunk and several, columns side by side, non-adjacent dims', () => {
    check('sum(1) over 2500', (x) => x.sum(1), [r64([3, 2500])], { atol: 1e-4 });
    check('sum(0) over 2500 rows of 3', (x) => x.sum(0), [r64([2500, 3])], { atol: 1e-4 });
    // columns a multiple of 4 wide (the simd backend's WebAssembly column sums), several chunks and outer blocks
    check('sum(0) over 2500 rows of 8', (x) => x.sum(0), [r64([2500, 8])], { atol: 1e-4 });
    check('sum(1) over [2, 1500, 12]', (x) => x.sum(1), [r64([2, 1500, 12])], { atol: 1e-4 });
    const d = values(r64([40, 8], false));
    d[9] = NaN;
    d[18] = Infinity;
    d[27] = -Infinity;
    d[35] = Infinity;
    d[43] = -Infinity;
    check('sum(0) with NaN and ±Infinity in columns of 8', (x) => x.sum(0), [tensor(d, { dtype: 'float64', shape: [40, 8] })]);
    check('sum() of 5000', (x) => x.sum(), [r64([5000])], { atol: 1e-3 });
    check('sum over 3 million, three passes', (x) => x.sum(), [randn([3 * 1024 * 1024 + 5], { dtype: 'float64' })], { atol: 0.05 });
    check('mean([0, 2])', (x) => x.mean([0, 2]), [r64([30, 4, 50])]);
    check('mean() of 3000', (x) => x.mean(), [r64([3000])]);
    check('mean(1, keepdim) over 1500 of 4 columns', (x) => x.mean(1, true), [r64([2, 1500, 4])]);
    check('var(1)', (x) => x.var(1), [r64([3, 1200])], { atol: 1e-4 });
  });

  it('reduce.pass: amax/amin/argmax/argmin with ties and NaN, one chunk and several', () => {
    check('amax(1) with ties', (x) => x.amax(1), [ints([4, 2000], true)], { exact: true });
    check('amin(0) with ties, columns', (x) => x.amin(0), [ints([1500, 3], true)], { exact: true });
    check('argmax(1) over 3000', (x) => x.argmax(1), [ints([4, 3000])], { exact: true });
    check('argmin(0) over 1500 rows of 3', (x) => argmax(x, 0, false, 'argmin'), [ints([1500, 3])], { exact: true });
    check('argmax() of the whole', (x) => x.argmax(), [ints([5, 700])], { exact: true });
    check('max(1)', (x) => [...x.max(1)], [ints([3, 1100], true)], { exact: true });
    check('min(0, keepdim)', (x) => [...x.min(0, true)], [ints([1100, 2], true)], { exact: true });
    // NaN wins wherever it is, the first NaN's index for argmax
    const withNaN = (shape: number[], at: number[]): Tensor => {
      const d = values(ints(shape));
      for (const k of at) d[k] = NaN;
      return tensor(d, { dtype: 'float64', shape });
    };
    const nanAt = [5, 2600, 2601, 3000 + 1900, 9001, 9002];
    check('amax(1) with NaN', (x) => x.amax(1), [withNaN([4, 3000], nanAt)], { exact: true });
    check('amin(1) with NaN', (x) => x.amin(1), [withNaN([4, 3000], nanAt)], { exact: true });
    check('argmax(1) with NaN', (x) => x.argmax(1), [withNaN([4, 3000], nanAt)], { exact: true });
    check('argmin(0) with NaN, columns', (x) => argmax(x, 0, false, 'argmin'), [withNaN([1300, 3], [4, 7, 3000, 3001])], { exact: true });
  });

  it('tape.accumulate and the reduce-to-shape of broadcast gradients', () => {
    check('x used three times', (x) => x.mul(2).add(x.exp()).add(x), [r64([5, 40])]);
    check('broadcast add: dims added and stretched', (a, b) => a.add(b), [r64([3, 1, 5]), r64([4, 3, 6, 5])]);
    check('broadcast mul over a long dim', (a, b) => a.mul(b), [r64([1300, 2]), r64([2])], { atol: 1e-4 });
  });

  it('dropout: forward and backward with the same masks', () => {
    check('dropout(0.3)', (x) => F.dropout(x, 0.3), [r64([40, 50])], { seed: 5 });
    check('dropout(1)', (x) => F.dropout(x, 1), [r64([7, 3])], { seed: 5, exact: true });
  });

  if (mode === 'simd')
    it('every kernel here ran its native at least once', () => {
      expect([...seenNative].sort()).toEqual([...OWN].sort());
    });
});
