import { afterEach, describe, expect, it, vi } from 'vitest';
import { gradcheck, manualSeed, noGrad, randn, tensor, type Tensor } from '../../src/index.js';
import { record } from '../../src/autograd/engine.js';

const r64 = (shape: number[]): Tensor => randn(shape, { dtype: 'float64', requiresGrad: true });

/** y = x * c elementwise (c constant), with a backward that uses `cBwd` instead of c: wrong where they differ. */
function scaleOp(x: Tensor, c: number[], cBwd: number[]): Tensor {
  const ct = tensor(c, { dtype: x.dtype });
  const cb = tensor(cBwd, { dtype: x.dtype });
  const y = noGrad(() => x.mul(ct));
  return record(y, { name: 'Scale', inputs: [x], backward: (g) => [g.mul(cb)] });
}

/** y = x², with the derivative 3x instead of 2x. */
function badSquare(x: Tensor): Tensor {
  const y = noGrad(() => x.mul(x));
  return record(y, { name: 'BadSquare', inputs: [x], backward: (g) => [g.mul(x).mul(3)], saved: [x] });
}

/** y = a * b, whose backward forgets b's gradient. */
function forgetfulMul(a: Tensor, b: Tensor): Tensor {
  const y = noGrad(() => a.mul(b));
  return record(y, { name: 'ForgetfulMul', inputs: [a, b], backward: (g) => [g.mul(b), null], saved: [a, b] });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('gradcheck', () => {
  it('passes on correct functions: several inputs, several outputs, int inputs passed through', () => {
    manualSeed(111);
    expect(gradcheck((a, b) => a.mul(b).tanh().sum(1), [r64([2, 3]), r64([3])])).toBe(true);
    expect(gradcheck((a, b) => [a.exp(), a.matmul(b), b.sigmoid()], [r64([2, 3]), r64([3, 2])])).toBe(true);
    const idx = tensor([2, 0], { dtype: 'int32' });
    expect(gradcheck((w, i) => w.indexSelect(0, i), [r64([3, 2]), idx])).toBe(true);
    // a correct custom op built with record passes too
    expect(gradcheck((x) => scaleOp(x, [1, 2, 3], [1, 2, 3]), [r64([3])])).toBe(true);
  });
  it("does not touch the caller's tensors", () => {
    const x = r64([3]);
    gradcheck((t) => t.mul(t), [x]);
    expect(x.grad).toBeNull();
  });
  it('catches a wrong backward and names the output, the input and the element', () => {
    manualSeed(112);
    const f = (a: Tensor, b: Tensor): Tensor[] => [a.mul(2), scaleOp(b, [1, 1, 1, 1], [1, 1, 5, 1])];
    expect(() => gradcheck(f, [r64([4]), r64([4])])).toThrow(
      /gradcheck: Jacobian mismatch for output 1 \(shape \[4\], made by Scale\) with respect to input 1 \(shape \[4\]\): d out\[2\] \/ d in\[2\] numerical (0\.99999\d+|1\.0000\d*), analytical 5 /,
    );
    const x = tensor([0.5, -1, 2], { dtype: 'float64', requiresGrad: true });
    expect(() => gradcheck(badSquare, [x])).toThrow(
      /output 0 \(shape \[3\], made by BadSquare\) with respect to input 0 \(shape \[3\]\): d out\[0\] \/ d in\[0\] numerical (0\.99999\d+|1\.0000\d*), analytical 1\.5 /,
    );
  });
  it('catches a missing gradient', () => {
    manualSeed(113);
    expect(() => gradcheck(forgetfulMul, [r64([2]), r64([2])])).toThrow(/made by ForgetfulMul\) with respect to input 1 .*analytical 0 /);
  });
  it('raiseException: false returns false instead of throwing', () => {
    manualSeed(114);
    expect(gradcheck(badSquare, [r64([3])], { raiseException: false })).toBe(false);
    expect(gradcheck((t) => t.mul(t), [r64([3])], { raiseException: false })).toBe(true);
  });
  it('fastMode checks one random projection: passes correct, catches wrong', () => {
    manualSeed(115);
    expect(gradcheck((a, b) => [a.matmul(b).relu(), a.exp()], [r64([3, 4]), r64([4, 2])], { fastMode: true })).toBe(true);
    expect(() => gradcheck(badSquare, [r64([5])], { fastMode: true })).toThrow(
      /gradcheck \(fastMode\): Jacobian mismatch for output 0 \(made by BadSquare\) with respect to input 0: uᵀJv numerical .*, analytical /,
    );
    expect(
      gradcheck((a, b) => [a.mul(2), scaleOp(b, [1, 1, 1], [1, 7, 1])], [r64([3]), r64([3])], { fastMode: true, raiseException: false }),
    ).toBe(false);
  });
  it('tolerances are honoured', () => {
    // a gradient off by 1e-4 relative: caught at rtol 1e-6, accepted at the default rtol 1e-3
    const f = (x: Tensor): Tensor => scaleOp(x, [1, 1], [1, 1.0001]);
    expect(gradcheck(f, [r64([2])], { rtol: 1e-6, atol: 0, raiseException: false })).toBe(false);
    expect(gradcheck(f, [r64([2])])).toBe(true);
  });
  it('warns for float32 inputs', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    gradcheck((t) => t.mul(2), [randn([2], { requiresGrad: true })], { raiseException: false, atol: 1e-2, rtol: 1e-2, eps: 1e-2 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(
      /gradcheck: inputs\[0\] is float32, not float64; the check is likely to fail from rounding\. Use \.double\(\)\./,
    );
    warn.mockClear();
    gradcheck((t) => t.mul(2), [r64([2])]);
    expect(warn).not.toHaveBeenCalled();
  });
  it('errors: no floating input, a non-tensor input', () => {
    expect(() => gradcheck((i) => i.add(1), [tensor([1], { dtype: 'int32' })])).toThrow(/gradcheck: no floating point input to check/);
    expect(() => gradcheck((t) => t, [3 as unknown as Tensor])).toThrow('gradcheck: inputs[0] must be a Tensor, got 3');
  });
});
