import { describe, expect, it, beforeAll } from 'vitest';
import { gradcheck, manualSeed, randn, rand, tensor, noGrad, type Tensor } from '../../src/index.js';
import { MODES, useMode } from '../support/helpers.js';
import { comparePaths } from '../support/check.js';

type Bin = (a: Tensor, b: Tensor) => Tensor;
const OPS: [string, Bin][] = [
  ['add', (a, b) => a.add(b)],
  ['sub', (a, b) => a.sub(b)],
  ['mul', (a, b) => a.mul(b)],
  ['div', (a, b) => a.div(b)],
  ['pow', (a, b) => a.abs().add(0.5).pow(b)],
  ['maximum', (a, b) => a.maximum(b)],
  ['minimum', (a, b) => a.minimum(b)],
];
const SHAPES: [number[], number[]][] = [
  [
    [3, 4],
    [3, 4],
  ],
  [[2, 3, 4], [4]],
  [
    [2, 1, 4],
    [3, 1],
  ],
  [[5], []],
];

describe('binary ops: float64 gradcheck', () => {
  for (const [name, f] of OPS) {
    for (const [sa, sb] of SHAPES) {
      it(`${name} ${JSON.stringify(sa)} with ${JSON.stringify(sb)}`, () => {
        manualSeed(1);
        const a = randn(sa, { dtype: 'float64', requiresGrad: true });
        const b = (name === 'div' ? rand(sb, { dtype: 'float64' }).add(0.5) : randn(sb, { dtype: 'float64' })).requiresGrad_();
        expect(gradcheck(f, [a, b])).toBe(true);
      });
    }
  }
  it('pow of negative base with integer exponent, and scalar operands', () => {
    const a = tensor([-2, -1.5, 3], { dtype: 'float64', requiresGrad: true });
    expect(Array.from(a.pow(3).toArray())).toEqual([-8, -3.375, 27]);
    expect(Array.from(a.pow(2).toArray())).toEqual([4, 2.25, 9]);
    expect(gradcheck((x) => x.pow(3).add(2).mul(3).sub(1).div(2), [a])).toBe(true);
  });
  it('maximum splits the gradient in half on ties', () => {
    const a = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const b = tensor([1, 3], { dtype: 'float64', requiresGrad: true });
    a.maximum(b).sum().backward();
    expect(Array.from(a.grad!.toArray())).toEqual([0.5, 0]);
    expect(Array.from(b.grad!.toArray())).toEqual([0.5, 1]);
  });
});

describe.each(MODES)('binary ops on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  for (const [name, f] of OPS) {
    it(`${name} forward and gradients`, () => {
      for (const [sa, sb] of SHAPES) {
        manualSeed(2);
        const a64 = randn(sa, { dtype: 'float64', requiresGrad: true });
        const b64 = (name === 'div' ? rand(sb, { dtype: 'float64' }).add(0.5) : randn(sb, { dtype: 'float64' })).requiresGrad_();
        comparePaths(`${name} ${JSON.stringify(sa)} with ${JSON.stringify(sb)}`, f, [a64, b64], {
          atol: 1e-5,
          rtol: 1e-4,
          gatol: 1e-4,
          grtol: 1e-3,
        });
      }
    });
  }
});

describe('binary ops: errors', () => {
  it('names the op and both shapes when shapes do not broadcast', () => {
    expect(() => randn([2, 3]).add(randn([4]))).toThrow(
      /add: shapes are not broadcastable: input \(shape \[2, 3\]\) and other \(shape \[4\]\)/,
    );
  });
  it('refuses to mix float32 and float64', () => {
    expect(() => randn([2]).mul(randn([2], { dtype: 'float64' }))).toThrow(/mul: dtype mismatch: input is float32 but other is float64/);
  });
  it('int operands stay int; division gives float', () => {
    const a = tensor([4, 7], { dtype: 'int32' });
    expect(a.add(1).dtype).toBe('int32');
    expect(Array.from(a.div(2).toArray())).toEqual([2, 3.5]);
  });
  it('in-place on a tensor that requires grad throws unless under noGrad', () => {
    const w = randn([2], { requiresGrad: true });
    expect(() => w.add_(1)).toThrow(/add_: a tensor that requires grad/);
    noGrad(() => w.add_(1));
    expect(w._version).toBe(1);
  });
});

describe.each(MODES)('binary ops on %s: special values as PyTorch', (mode) => {
  beforeAll(() => useMode(mode));
  it('pow with a zero base: 0^-1 = Infinity, 0^0 = 1, 0^2 = 0; its gradient at 0', () => {
    const r = tensor([0, 0, 0, 0, 2]).pow(tensor([-1, 0, 2, -2, -1]));
    expect(Array.from(r.toArray())).toEqual([Infinity, 1, 0, Infinity, 0.5]);
    const a = tensor([0, 0], { requiresGrad: true });
    a.pow(tensor([2, 0.5]))
      .sum()
      .backward();
    expect(Array.from(a.grad!.toArray())).toEqual([0, Infinity]);
  });
  it('maximum / minimum propagate NaN; division by zero gives ±Infinity and NaN', () => {
    const a = tensor([NaN, 1, 2]);
    const b = tensor([1, NaN, 3]);
    expect(Array.from(a.maximum(b).toArray())).toEqual([NaN, NaN, 3]);
    expect(Array.from(a.minimum(b).toArray())).toEqual([NaN, NaN, 2]);
    expect(
      Array.from(
        tensor([1, -1, 0])
          .div(tensor([0, 0, 0]))
          .toArray(),
      ),
    ).toEqual([Infinity, -Infinity, NaN]);
  });
});
