import { describe, expect, it, beforeAll } from 'vitest';
import { gradcheck, manualSeed, rand, randn, tensor, type Tensor } from '../../src/index.js';
import { MODES, useMode, expectClose } from '../support/helpers.js';
import { comparePaths, noNaN, vals } from '../support/check.js';

type Un = (x: Tensor) => Tensor;
// name, op, JS reference for one element, input domain
const SQRT_HALF = Math.SQRT1_2;
/** erf by its Taylor series (float64; fine for |z| <= 4). */
function erf(z: number): number {
  let t = z;
  let s = z;
  for (let n = 1; n < 200; n++) {
    t *= (-z * z) / n;
    s += t / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * s;
}
const geluRef = (x: number): number => 0.5 * x * (1 + erf(x * SQRT_HALF));
const geluTanhRef = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

const OPS: [string, Un, (v: number) => number, 'any' | 'pos'][] = [
  ['neg', (x) => x.neg(), (v) => -v, 'any'],
  ['exp', (x) => x.exp(), Math.exp, 'any'],
  ['log', (x) => x.log(), Math.log, 'pos'],
  ['sqrt', (x) => x.sqrt(), Math.sqrt, 'pos'],
  ['rsqrt', (x) => x.rsqrt(), (v) => 1 / Math.sqrt(v), 'pos'],
  ['abs', (x) => x.abs(), Math.abs, 'any'],
  ['tanh', (x) => x.tanh(), Math.tanh, 'any'],
  ['sigmoid', (x) => x.sigmoid(), (v) => 1 / (1 + Math.exp(-v)), 'any'],
  ['relu', (x) => x.relu(), (v) => Math.max(v, 0), 'any'],
  ['gelu', (x) => x.gelu(), geluRef, 'any'],
  ['gelu(tanh)', (x) => x.gelu('tanh'), geluTanhRef, 'any'],
];

function input(shape: number[], domain: 'any' | 'pos', requiresGrad = true): Tensor {
  const t = domain === 'pos' ? rand(shape, { dtype: 'float64' }).mul(2).add(0.2) : randn(shape, { dtype: 'float64' }).mul(1.5);
  return t.requiresGrad_(requiresGrad);
}

const SHAPES = [[], [7], [2, 3, 4]];
const LARGE = [-100, -50, -45, -30, -20, -5, -1, 0, 1, 5, 20, 30, 45, 50, 100];

describe('unary ops: float64 values and gradcheck', () => {
  for (const [name, f, ref, dom] of OPS) {
    it(`${name}: matches the JS formula and passes gradcheck on ${SHAPES.map((s) => JSON.stringify(s)).join(', ')}`, () => {
      for (const shape of SHAPES) {
        manualSeed(11);
        const x = input(shape, dom);
        const y = f(x);
        expect(y.shape).toEqual(shape);
        expect(y.dtype).toBe('float64');
        expectClose(y, vals(x).map(ref), 1e-12, 1e-10, `${name} values`);
        expect(gradcheck(f, [x])).toBe(true);
      }
    });
  }
  it('gelu hand-computed values', () => {
    const x = tensor([-3, -1, 0, 1, 3], { dtype: 'float64' });
    // x * Phi(x)
    expectClose(x.gelu(), [-0.00404969409489031, -0.15865525393145707, 0, 0.8413447460685429, 2.99595030590511], 1e-13, 0);
    expectClose(x.gelu('tanh'), [-0.0036373920817729943, -0.15880800939172324, 0, 0.8411919906082768, 2.996362607918227], 1e-13, 0);
  });
  it('gelu gradcheck in both tails of the erf/erfc switch', () => {
    const x = tensor([-6, -3.2, -2.9, -2.5, 2.5, 2.9, 3.2, 6], { dtype: 'float64', requiresGrad: true });
    expect(gradcheck((t) => t.gelu(), [x])).toBe(true);
    expect(gradcheck((t) => t.gelu('tanh'), [x])).toBe(true);
  });
  it('int tensors: neg, abs and relu keep int32; the others refuse', () => {
    const a = tensor([-3, 0, 4], { dtype: 'int32' });
    expect(a.neg().dtype).toBe('int32');
    expect(a.neg().tolist()).toEqual([3, 0, -4]);
    expect(a.abs().tolist()).toEqual([3, 0, 4]);
    expect(a.relu().tolist()).toEqual([0, 0, 4]);
    expect(() => a.exp()).toThrow(/exp: expects a floating point tensor, got int32 \(shape \[3\]\)/);
    expect(() => a.gelu()).toThrow(/gelu: expects a floating point tensor, got int32 \(shape \[3\]\)/);
  });
  it('gelu rejects an unknown approximation', () => {
    expect(() => randn([2]).gelu('erf' as 'none')).toThrow(/gelu: approximate must be 'none' or 'tanh', got 'erf'/);
  });
  it('relu and abs gradients at 0 are 0 (as PyTorch)', () => {
    const x = tensor([0, 0], { dtype: 'float64', requiresGrad: true });
    x.relu().add(x.abs()).sum().backward();
    expect(vals(x.grad!)).toEqual([0, 0]);
  });
});

describe.each(MODES)('unary ops on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  for (const [name, f, , dom] of OPS) {
    it(`${name} forward and gradient`, () => {
      for (const shape of SHAPES) {
        manualSeed(3);
        comparePaths(`${name} ${JSON.stringify(shape)}`, f, [input(shape, dom)]);
      }
    });
  }
  it('large |x|: tanh is ±1, sigmoid in [0, 1], gelu ≈ relu; no NaN forward or backward', () => {
    for (const [name, f] of OPS.filter(([, , , d]) => d === 'any')) {
      if (name === 'exp') continue;
      const { y32, g32 } = comparePaths(`${name} at large |x|`, f, [tensor(LARGE, { dtype: 'float64', requiresGrad: true })], {
        atol: 1e-5,
        rtol: 1e-5,
      });
      expect(noNaN(y32[0]), `${name} forward NaN`).toBe(true);
      expect(noNaN(g32[0]!), `${name} backward NaN`).toBe(true);
    }
    const x = tensor([-100, -50, 50, 100], { dtype: 'float32' });
    expect(vals(x.tanh())).toEqual([-1, -1, 1, 1]);
    const s = vals(x.sigmoid());
    expect(s.every((v) => v >= 0 && v <= 1)).toBe(true);
    expectClose(s, [0, 0, 1, 1], 1e-7, 0, 'sigmoid saturation');
    expectClose(x.gelu(), [0, 0, 50, 100], 1e-6, 1e-7, 'gelu saturation');
    expectClose(x.gelu('tanh'), [0, 0, 50, 100], 1e-6, 1e-7, 'gelu(tanh) saturation');
    const xg = tensor([-100, -50, 50, 100], { requiresGrad: true });
    xg.tanh().sum().backward();
    expect(vals(xg.grad!)).toEqual([0, 0, 0, 0]);
    const xs = tensor([-100, -50, 50, 100], { requiresGrad: true });
    xs.gelu().sum().backward();
    expectClose(xs.grad!, [0, 0, 1, 1], 1e-6, 0, 'gelu saturated gradient');
  });
  it('exp of large inputs overflows to Infinity like PyTorch, log of 0 is -Infinity, NaN propagates', () => {
    expect(vals(tensor([100], { dtype: 'float32' }).exp())).toEqual([Infinity]);
    expect(vals(tensor([0, -1], { dtype: 'float32' }).log())).toEqual([-Infinity, NaN]);
    expect(vals(tensor([-1], { dtype: 'float32' }).sqrt())).toEqual([NaN]);
    expect(vals(tensor([0], { dtype: 'float32' }).rsqrt())).toEqual([Infinity]);
    for (const [name, f] of OPS) expect(vals(f(tensor([NaN]))), name).toEqual([NaN]);
  });
});
