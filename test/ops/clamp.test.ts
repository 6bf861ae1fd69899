// clamp/clip (src/ops/clamp.ts), silu (its registry row, src/ops/unary.ts), where with number operands and
// the in-place variants (clamp_, clip_, exp_, maskedFill_, ...): PyTorch golden values (test/fixtures/extra.json),
// float32 on every mode against the float64 path, float64 gradcheck, version counters and the errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { F, clamp, clip, gradcheck, manualSeed, nn, noGrad, randn, silu, tensor, where, type Tensor } from '../../src/index.js';
import { MODES, expectClose, useMode } from '../support/helpers.js';
import { comparePaths, r64, vals } from '../support/check.js';
import { fixtureArg, goldenSuites, type Inputs } from '../support/golden.js';
import { EXTRA_TOL, extraCases, type ExtraCase } from './extra-golden.js';

const CASES = extraCases(['clamp', 'clip', 'silu', 'where']);
const T = (v: Tensor | Tensor[]): Tensor => v as Tensor;

function run(c: ExtraCase, ins: Inputs): Tensor {
  const a = c.args;
  switch (c.op) {
    case 'clamp':
      return 'min' in ins || 'max' in ins
        ? clamp(T(ins.input), (ins.min as Tensor) ?? null, (ins.max as Tensor) ?? null)
        : T(ins.input).clamp(fixtureArg(a.min), fixtureArg(a.max));
    case 'clip':
      return T(ins.input).clip(null, T(ins.max));
    case 'silu':
      return F.silu(T(ins.input));
    case 'where':
      return 'input' in ins
        ? where(T(ins.condition), T(ins.input), a.other as number)
        : where(T(ins.condition), a.input as number, T(ins.other));
  }
  throw new Error(`unknown op ${c.op}`);
}

goldenSuites('clamp, silu, where', CASES, run, { tol: EXTRA_TOL, moreThan: 12 });

describe('clamp and silu: values, gradients and gradcheck (float64)', () => {
  it('the gradient is 1 at the bounds themselves (inclusive) and 0 outside and at NaN', () => {
    const x = tensor([-2, -1, 0, 1, 2, NaN], { dtype: 'float64', requiresGrad: true });
    const y = x.clamp(-1, 1);
    expect(vals(y).slice(0, 5)).toEqual([-1, -1, 0, 1, 1]);
    expect(Number.isNaN(vals(y)[5])).toBe(true);
    y.sum().backward();
    expect(vals(x.grad!)).toEqual([0, 1, 1, 1, 0, 0]);
  });
  it('min > max gives max everywhere; one-sided bounds; int data stays int32 and a fractional bound promotes', () => {
    expect(tensor([-3, 0, 3], { dtype: 'float32' }).clamp(2, -2).tolist()).toEqual([-2, -2, -2]);
    expect(clamp(tensor([-3, 0, 3], { dtype: 'float32' }), null, 1).tolist()).toEqual([-3, 0, 1]);
    expect(clip(tensor([-3, 0, 3], { dtype: 'float32' }), 0).tolist()).toEqual([0, 0, 3]);
    const i = tensor([-3, 0, 3]).clamp(-1, 2);
    expect(i.dtype).toBe('int32');
    expect(i.tolist()).toEqual([-1, 0, 2]);
    const f = tensor([-3, 0, 3]).clamp(-0.5);
    expect(f.dtype).toBe('float32');
    expect(f.tolist()).toEqual([-0.5, 0, 3]);
    expect(tensor([1, 5], { dtype: 'float32' }).clamp(-Infinity, Infinity).tolist()).toEqual([1, 5]);
  });
  it('silu = x·sigmoid(x), finite at large |x|', () => {
    const y = silu(tensor([-1000, -1, 0, 1, 1000], { dtype: 'float64' }));
    expectClose(y, [-0, -1 / (1 + Math.E), 0, 1 / (1 + Math.exp(-1)), 1000], 1e-15, 1e-15);
    expect(new nn.SiLU().forward(tensor([2.5, -2.5])).tolist()).toEqual(vals(F.silu(tensor([2.5, -2.5]))));
    expect(new nn.SiLU().toString()).toBe('SiLU()');
  });
  it('where with numbers: one number, or two (float32, or int32 when both are integers)', () => {
    const c = tensor([true, false, true]);
    expect(where(c, 1.5, -2).tolist()).toEqual([1.5, -2, 1.5]);
    expect(where(c, 1.5, -2).dtype).toBe('float32');
    expect(where(c, 3, 4).dtype).toBe('int32');
    expect(where(c, 3, 4).tolist()).toEqual([3, 4, 3]);
    const x = tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    where(c, 0.5, x).sum().backward();
    expect(vals(x.grad!)).toEqual([0, 1, 0]);
    expect(where(c, tensor([1, 2, 3]), 0.5).dtype).toBe('float32');
  });
  it('gradcheck (float64)', () => {
    manualSeed(91);
    const opts = { atol: 1e-6, rtol: 1e-4 };
    expect(gradcheck((x) => clamp(x, -0.5, 0.7), [r64([3, 4])], opts)).toBe(true);
    expect(gradcheck((x) => clip(x, null, 0.2), [r64([5])], opts)).toBe(true);
    // tensor bounds, broadcast (min [4], max [3, 1]): the random data keep away from the kinks
    expect(gradcheck((x, lo, hi) => clamp(x, lo, hi), [r64([3, 4]), r64([4]), r64([3, 1])], opts)).toBe(true);
    expect(gradcheck((x) => silu(x), [r64([2, 5])], opts)).toBe(true);
    expect(gradcheck((x) => where(tensor([true, false]), x, 2.5), [r64([3, 2])], opts)).toBe(true);
  });
});

describe.each(MODES)('clamp, silu, where on %s: float32 vs the float64 path', (mode) => {
  beforeAll(() => useMode(mode));
  it('every op, forward and backward', () => {
    manualSeed(92);
    const tol = { atol: 1e-6, rtol: 1e-5 };
    comparePaths('clamp numbers', (x) => clamp(x, -0.5, 0.5), [r64([4, 6])], tol);
    comparePaths('clamp min only', (x) => x.clamp(0.1), [r64([4, 6])], tol);
    comparePaths('clamp tensors', (x, lo, hi) => clamp(x, lo, hi), [r64([3, 5]), r64([5]), r64([3, 1])], tol);
    comparePaths('clip', (x) => clip(x, null, 0), [r64([7])], tol);
    comparePaths('silu', (x) => silu(x.mul(4)), [r64([5, 7])], { ...tol, gatol: 1e-5 });
    comparePaths('where numbers', (x) => where(x.gt(0), x, -1), [r64([2, 5])], tol);
  });
});

describe('in-place variants: values, version counters, and the leaf rule', () => {
  it('clamp_, clip_, exp_, maskedFill_, mul_, add_, sub_, div_, zero_, fill_, copy_ write through and bump the version', () => {
    const x = tensor([-2, 0.5, 3], { dtype: 'float64' });
    const steps: [string, () => unknown, number[]][] = [
      ['clamp_', () => x.clamp_(-1, 1), [-1, 0.5, 1]],
      ['clip_', () => x.clip_(0), [0, 0.5, 1]],
      ['exp_', () => x.exp_(), [1, Math.exp(0.5), Math.E]],
      ['maskedFill_', () => x.maskedFill_(tensor([true, false, false]), 7), [7, Math.exp(0.5), Math.E]],
      ['mul_', () => x.mul_(2), [14, 2 * Math.exp(0.5), 2 * Math.E]],
      ['sub_', () => x.sub_(x), [0, 0, 0]],
      ['add_', () => x.add_(3), [3, 3, 3]],
      ['div_', () => x.div_(tensor([1, 2, 4], { dtype: 'float64' })), [3, 1.5, 0.75]],
      ['fill_', () => x.fill_(5), [5, 5, 5]],
      ['zero_', () => x.zero_(), [0, 0, 0]],
      ['copy_', () => x.copy_(tensor([1, 2, 3], { dtype: 'float64' })), [1, 2, 3]],
    ];
    for (const [name, f, want] of steps) {
      const v = x._version;
      expect(f(), `${name} returns the tensor`).toBe(x);
      expectClose(x, want, 1e-15, 1e-15, name);
      expect(x._version, `${name} bumps the version`).toBe(v + 1);
    }
  });
  it('a saved tensor changed in place before backward makes backward throw', () => {
    for (const change of [(t: Tensor) => t.exp_(), (t: Tensor) => t.clamp_(0, 1), (t: Tensor) => t.maskedFill_(tensor([true, false]), 0)]) {
      const w = tensor([0.5, 2], { dtype: 'float64', requiresGrad: true });
      const c = tensor([1, 2], { dtype: 'float64' });
      const y = w.mul(c).sum();
      change(c);
      expect(() => y.backward()).toThrow(/modified by an in-place operation/);
    }
  });
  it("refuses a leaf that requires grad outside noGrad, with PyTorch's words, and allows it inside", () => {
    const w = tensor([0.5, 2], { dtype: 'float64', requiresGrad: true });
    for (const [name, f] of [
      ['clamp_', () => w.clamp_(0, 1)],
      ['clip_', () => w.clip_(0, 1)],
      ['exp_', () => w.exp_()],
      ['maskedFill_', () => w.maskedFill_(tensor([true, false]), 0)],
      ['mul_', () => w.mul_(2)],
      ['zero_', () => w.zero_()],
      ['copy_', () => w.copy_(tensor([1, 1], { dtype: 'float64' }))],
    ] as const) {
      expect(f, name).toThrow(
        new RegExp(
          `^${name}: a tensor that requires grad \\(shape \\[2\\]\\) cannot be modified in place while grad mode is on ` +
            '\\(a leaf Variable that requires grad is being used in an in-place operation\\.\\)',
        ),
      );
    }
    noGrad(() => w.clamp_(0, 1).exp_());
    expectClose(w, [Math.exp(0.5), Math.E], 1e-15, 1e-15);
    const h = w.mul(2);
    expect(() => h.exp_()).toThrow(/exp_: a tensor that requires grad \(shape \[2\]\) .* gpugrad records no in-place op on the graph/);
    const buf = tensor([0, 0], { dtype: 'float64' });
    expect(() => buf.clamp_(w)).toThrow(/clamp_: the operand requires grad, but in-place ops are not recorded by autograd/);
  });
});

describe('clamp and silu: errors name the function, the argument and what was given', () => {
  it('clamp/clip', () => {
    const x = randn([2, 3]);
    expect(() => clamp(x)).toThrow(/clamp: at least one of min or max must not be null \(both were undefined\)/);
    expect(() => x.clip(null, null)).toThrow(/clip: at least one of min or max must not be null \(both were null\)/);
    expect(() => clamp(x, '0' as unknown as number)).toThrow(/clamp: min must be a number, a Tensor or null, got "0"/);
    expect(() => clamp(x, 0, [1] as unknown as number)).toThrow(/clamp: max must be a number, a Tensor or null, got an array of length 1/);
    expect(() => clamp([1] as unknown as Tensor, 0)).toThrow(/clamp: input must be a Tensor, got an array of length 1/);
    expect(() => clamp(x, randn([4]))).toThrow(/clamp.*\[2, 3\].*\[4\]/);
    expect(() => clamp(x, randn([3], { dtype: 'float64' }))).toThrow(/clamp: dtype mismatch: input is float32 but min is float64/);
  });
  it('silu and where', () => {
    expect(() => silu(tensor([1, 2]))).toThrow(/silu: expects a floating point tensor, got int32/);
    expect(() => F.silu('x' as unknown as Tensor)).toThrow(/silu: input must be a Tensor, got "x"/);
    expect(() => where(tensor([true]), 'a' as unknown as number, 1)).toThrow(/where: input must be a Tensor or a number, got "a"/);
    expect(() => where(tensor([1]), 1, 2)).toThrow(/where: condition must be a bool tensor, got int32/);
  });
});
