import { describe, expect, it, beforeAll } from 'vitest';
import { F, gradcheck, manualSeed, randn, tensor, type Tensor } from '../../src/index.js';
import { MODES, useMode, expectClose } from '../support/helpers.js';
import { comparePaths, r64, vals } from '../support/check.js';

// [name, x shape, normalizedShape, weight?, bias?]
const CASES: [string, number[], number[], boolean, boolean][] = [
  ['[2,3,4] over [4], weight and bias', [2, 3, 4], [4], true, true],
  ['[2,3,4] over [4], no affine', [2, 3, 4], [4], false, false],
  ['[2,3,4] over [4], weight only', [2, 3, 4], [4], true, false],
  ['[2,3,4] over [4], bias only', [2, 3, 4], [4], false, true],
  ['[2,3,4] over [3,4], weight and bias', [2, 3, 4], [3, 4], true, true],
  ['[2,3,4] over [3,4], no affine', [2, 3, 4], [3, 4], false, false],
  ['[5] over [5]', [5], [5], true, true],
];

function inputs(xs: number[], ns: number[], w: boolean, b: boolean): Tensor[] {
  const r = [r64(xs)];
  if (w) r.push(randn(ns, { dtype: 'float64' }).mul(0.5).add(1).requiresGrad_());
  if (b) r.push(r64(ns));
  return r;
}

function fn(ns: number[], w: boolean, b: boolean, eps = 1e-5): (...t: Tensor[]) => Tensor {
  return (x, ...rest) => F.layerNorm(x, ns, w ? rest[0] : null, b ? rest[w ? 1 : 0] : undefined, eps);
}

/** JS reference: biased variance per row of D elements. */
function ref(x: number[], D: number, w: number[] | null, b: number[] | null, eps: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / D; r++) {
    const row = x.slice(r * D, r * D + D);
    const m = row.reduce((a, v) => a + v, 0) / D;
    const v = row.reduce((a, q) => a + (q - m) ** 2, 0) / D;
    row.forEach((q, c) => out.push(((q - m) / Math.sqrt(v + eps)) * (w ? w[c] : 1) + (b ? b[c] : 0)));
  }
  return out;
}

describe('layerNorm: float64 values and gradcheck', () => {
  it('hand-computed: [1, 2, 3] normalises to [-1.2247, 0, 1.2247]', () => {
    const y = F.layerNorm(tensor([1, 2, 3], { dtype: 'float64' }), [3]);
    const s = Math.sqrt(2 / 3 + 1e-5);
    expectClose(y, [-1 / s, 0, 1 / s], 1e-14, 0);
    const yw = F.layerNorm(
      tensor([[1, 2, 3]], { dtype: 'float64' }),
      [3],
      tensor([2, 2, 2], { dtype: 'float64' }),
      tensor([1, 0, -1], { dtype: 'float64' }),
      0,
    );
    expectClose(yw, [-2 * Math.sqrt(1.5) + 1, 0, 2 * Math.sqrt(1.5) - 1], 1e-14, 0);
  });
  for (const [name, xs, ns, w, b] of CASES) {
    it(`${name}: values and gradcheck`, () => {
      manualSeed(61);
      const ins = inputs(xs, ns, w, b);
      const f = fn(ns, w, b);
      const y = f(...ins);
      expect(y.shape).toEqual(xs);
      const D = ns.reduce((a, c) => a * c, 1);
      expectClose(y, ref(vals(ins[0]), D, w ? vals(ins[1]) : null, b ? vals(ins[w ? 2 : 1]) : null, 1e-5), 1e-12, 1e-10);
      expect(gradcheck(f, ins)).toBe(true);
    });
  }
  it('gradcheck with a larger eps and weight / bias that do not require grad', () => {
    manualSeed(62);
    const x = r64([3, 4]);
    const w = r64([4], false);
    const b = r64([4], false);
    expect(gradcheck((t) => F.layerNorm(t, [4], w, b, 0.1), [x])).toBe(true);
    const y = F.layerNorm(x, [4], w, b);
    y.sum().backward();
    expect(w.grad).toBeNull();
    expect(b.grad).toBeNull();
    expect(x.grad!.shape).toEqual([3, 4]);
  });
});

describe.each(MODES)('layerNorm on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  it('every case: forward and gradients for input, weight and bias', () => {
    for (const [name, xs, ns, w, b] of CASES) {
      manualSeed(63);
      comparePaths(name, fn(ns, w, b), inputs(xs, ns, w, b), { atol: 2e-5, rtol: 1e-4 });
    }
  });
  it('rows with a large mean and a constant row stay finite', () => {
    const x = tensor(
      [
        [1000, 1001, 1002, 1003],
        [5, 5, 5, 5],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    const { y32, g32 } = comparePaths('large mean', (t) => F.layerNorm(t, [4]), [x], { atol: 1e-3, rtol: 1e-3, gatol: 1e-2, grtol: 1e-2 });
    expect(vals(y32[0]).slice(4)).toEqual([0, 0, 0, 0]);
    expect(vals(g32[0]!).every(Number.isFinite)).toBe(true);
  });
});

describe('layerNorm: errors', () => {
  it('normalizedShape that the input does not end with', () => {
    expect(() => F.layerNorm(randn([2, 3]), [4])).toThrow(/layerNorm: input of shape \[2, 3\] does not end with normalizedShape \[4\]/);
    expect(() => F.layerNorm(randn([3]), [2, 3])).toThrow(/layerNorm: input of shape \[3\] does not end with normalizedShape \[2, 3\]/);
  });
  it('weight / bias of the wrong shape', () => {
    expect(() => F.layerNorm(randn([2, 3]), [3], randn([2]))).toThrow(/layerNorm: weight has shape \[2\] but normalizedShape is \[3\]/);
    expect(() => F.layerNorm(randn([2, 3]), [3], null, randn([3, 1]))).toThrow(
      /layerNorm: bias has shape \[3, 1\] but normalizedShape is \[3\]/,
    );
  });
  it('dtype mismatch, int weight', () => {
    expect(() => F.layerNorm(randn([2, 3]), [3], tensor([1, 1, 1], { dtype: 'int32' }))).toThrow(
      /layerNorm: input, weight and bias must share one floating dtype, got input float32 \(shape \[2, 3\]\), weight int32 \(shape \[3\]\)/,
    );
    expect(() => F.layerNorm(randn([2, 3]), [3], randn([3], { dtype: 'float64' }))).toThrow(
      /layerNorm: dtype mismatch: input is float32 but weight is float64 \(shapes \[2, 3\] and \[3\]\)/,
    );
  });
});
