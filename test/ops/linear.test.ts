import { beforeAll, describe, expect, it } from 'vitest';
import { F, gradcheck, manualSeed, randn, tensor, type Tensor } from '../../src/index.js';
import { comparePaths } from '../support/check.js';
import { MODES, expectClose, useMode } from '../support/helpers.js';

const SHAPES: number[][] = [[5], [3, 5], [2, 3, 5], [2, 1, 4, 5]];
const make = (shape: number[], withBias: boolean): Tensor[] => {
  manualSeed(3);
  return [
    randn(shape, { dtype: 'float64', requiresGrad: true }),
    randn([4, 5], { dtype: 'float64', requiresGrad: true }),
    ...(withBias ? [randn([4], { dtype: 'float64', requiresGrad: true })] : []),
  ];
};
const lin = (x: Tensor, w: Tensor, b?: Tensor): Tensor => F.linear(x, w, b);

describe('F.linear (fused): float64', () => {
  for (const shape of SHAPES) {
    for (const withBias of [true, false]) {
      it(`input ${JSON.stringify(shape)}${withBias ? ' with bias' : ''}: gradcheck, and equals x·Wᵀ + b`, () => {
        const args = make(shape, withBias);
        expect(gradcheck(lin, args)).toBe(true);
        const [x, w, b] = args;
        const ref = b ? x.matmul(w.transpose(0, 1)).add(b) : x.matmul(w.transpose(0, 1));
        const y = lin(x, w, b);
        expect(y.shape).toEqual([...shape.slice(0, -1), 4]);
        expectClose(y, ref, 1e-12, 1e-12);
      });
    }
  }
  it('errors name the argument and the shapes', () => {
    const w = randn([4, 5]);
    expect(() => F.linear(randn([3, 6]), w)).toThrow(
      /linear: input has 6 features \(shape \[3, 6\]\) but weight expects 5 \(shape \[4, 5\]\)/,
    );
    expect(() => F.linear(randn([3, 5]), randn([4, 5, 1]))).toThrow(/linear: weight must be 2-D/);
    expect(() => F.linear(randn([3, 5]), w, randn([3]))).toThrow(/linear: bias must have shape \[4\], got \[3\]/);
    expect(() => F.linear(randn([3, 5], { dtype: 'float64' }), w)).toThrow(/linear: input is float64 but weight is float32/);
    expect(() => F.linear(tensor([1, 2, 3, 4, 5], { dtype: 'int32' }), w)).toThrow(/linear: input is int32/);
  });
});

describe.each(MODES)('F.linear on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  it('every shape, with and without bias: output and all gradients', () => {
    for (const shape of SHAPES)
      for (const withBias of [true, false]) comparePaths(`linear ${JSON.stringify(shape)} ${withBias}`, lin, make(shape, withBias));
  });
});
