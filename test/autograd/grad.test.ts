// autograd.grad (torch.autograd.grad), backward({ createGraph }) and autograd.functional's shapes and errors.
import { describe, expect, it } from 'vitest';
import { autograd, exp, mul, sum, tanh, tensor, type Tensor } from '../../src/index.js';
import { record } from '../../src/autograd/engine.js';
import { MODES, expectClose, useMode, values } from '../support/helpers.js';

const leaf = (data: number[], shape?: number[]): Tensor => tensor(data, { requiresGrad: true, ...(shape ? { shape } : {}) });

describe.each(MODES)('autograd.grad on %s', (mode) => {
  it('returns one gradient per input and leaves every .grad alone', () => {
    useMode(mode);
    const x = leaf([1, 2, 3]);
    const w = leaf([0.5, -1, 2]);
    const y = sum(mul(mul(x, x), w));
    const [gx, gw] = autograd.grad(y, [x, w]);
    expect(values(gx!)).toEqual([1, -4, 12]); // 2 x w
    expect(values(gw!)).toEqual([1, 4, 9]); // x²
    expect(x.grad).toBeNull();
    expect(w.grad).toBeNull();
    expect(gx!.requiresGrad).toBe(false);
  });

  it('takes non-leaf inputs, several outputs with gradOutputs, and frees the graph unless retainGraph', () => {
    useMode(mode);
    const x = leaf([1, 2]);
    const h = mul(x, 3); // a non-leaf
    const y1 = mul(h, h);
    const y2 = sum(h);
    const [gh, gx] = autograd.grad([y1, y2], [h, x], { gradOutputs: [tensor([1, 0.5]), null], retainGraph: true });
    expect(values(gh!)).toEqual([2 * 3 * 1 + 1, 2 * 6 * 0.5 + 1]); // 2h·v + 1
    expect(values(gx!)).toEqual([3 * 7, 3 * 7]);
    const [again] = autograd.grad(y2, x);
    expect(values(again!)).toEqual([3, 3]);
    expect(() => autograd.grad(y2, x)).toThrow(/backward through the graph a second time/);
  });

  it('an unused input throws unless allowUnused (null) or materializeGrads (zeros)', () => {
    useMode(mode);
    const x = leaf([1, 2]);
    const z = leaf([5]);
    const y = () => sum(exp(x));
    expect(() => autograd.grad(y(), [x, z])).toThrow(
      /autograd\.grad: inputs\[1\] \(shape \[1\]\) appears not to have been used in the graph; pass allowUnused: true/,
    );
    expect(autograd.grad(y(), [x, z], { allowUnused: true })[1]).toBeNull();
    const [, zeros] = autograd.grad(y(), [x, z], { materializeGrads: true });
    expect(values(zeros!)).toEqual([0]);
    expect(() => autograd.grad(y(), [x, z], { materializeGrads: true, allowUnused: false })).toThrow(
      /materializeGrads: true needs allowUnused/,
    );
  });

  it('checks its arguments and option keys', () => {
    useMode(mode);
    const x = leaf([1, 2]);
    const y = sum(x);
    expect(() => autograd.grad(y, x, { create_graph: true } as never)).toThrow(
      /autograd\.grad: unknown option 'create_graph'.*createGraph/,
    );
    expect(() => autograd.grad(y, x, { retainGraph: 1 } as never)).toThrow(/autograd\.grad: retainGraph must be a boolean/);
    expect(() => autograd.grad([] as never, x)).toThrow(/autograd\.grad: outputs must be a Tensor or a non-empty array/);
    expect(() => autograd.grad(y, 3 as never)).toThrow(/autograd\.grad: inputs must be a Tensor or a non-empty array of Tensors, got 3/);
    expect(() => autograd.grad(tensor([1, 2]), x)).toThrow(/outputs\[0\] \(shape \[2\]\) does not require grad/);
    expect(() => autograd.grad(y, tensor([1]))).toThrow(/inputs\[0\] \(shape \[1\]\) does not require grad/);
    expect(() => autograd.grad(mul(x, 2), x)).toThrow(/grad can be implicitly created only for scalar outputs/);
    expect(() => autograd.grad(y, x, { gradOutputs: [tensor(1), tensor(1)] })).toThrow(/gradOutputs has 2 entries but there are 1 outputs/);
    expect(() => autograd.grad(mul(x, 2), x, { gradOutputs: tensor([1, 2, 3]) })).toThrow(
      /gradOutputs\[0\] has shape \[3\] but the output has shape \[2\]/,
    );
  });

  it('createGraph: the gradient has a graph of its own, and backward({ createGraph }) fills .grad with one', () => {
    useMode(mode);
    const x = leaf([0.5, -1]);
    const [g] = autograd.grad(sum(mul(mul(x, x), x)), x, { createGraph: true });
    expect(g!.requiresGrad).toBe(true);
    expect(g!.gradFn).not.toBeNull();
    const [h] = autograd.grad(sum(g!), x);
    expectClose(h!, [3, -6], 1e-5, 1e-5); // d/dx Σ 3x² = 6x
    const z = leaf([1, 2]);
    sum(tanh(z)).backward(undefined, { createGraph: true });
    const gz = z.grad!;
    expect(gz.requiresGrad).toBe(true);
    z.grad = null;
    sum(gz).backward();
    const t = [Math.tanh(1), Math.tanh(2)];
    expectClose(
      z.grad!,
      t.map((v) => -2 * v * (1 - v * v)),
      1e-5,
      1e-4,
    ); // (1 - tanh²)' = -2 tanh (1 - tanh²)
    expect(() => sum(z).backward(undefined, { create_graph: true } as never)).toThrow(/backward: unknown option 'create_graph'/);
  });
});

describe('a backward without a double backward', () => {
  it('throws naming the op when a second backward reaches it, never a silent zero', () => {
    useMode('cpu');
    const x = leaf([1, 2]);
    // an op recorded with a first-order backward only (as a custom op may be)
    const y = record(mul(x, 1).detach(), { name: 'MyOp', inputs: [x], backward: (g) => [mul(g, x.detach())] });
    const [g] = autograd.grad(sum(y), x, { createGraph: true });
    expect(values(g!)).toEqual([1, 2]);
    expect(() => autograd.grad(sum(g!), x)).toThrow(/MyOp's backward is not differentiable: .*createGraph.*MyOp has no double backward/);
  });
});

describe('autograd.functional: PyTorch shapes', () => {
  const f2 = (a: Tensor, b: Tensor): Tensor[] => [mul(a, b), sum(mul(a, a))];
  it('jacobian: one tensor, a list of inputs, a list of outputs, both', () => {
    useMode('cpu');
    const a = tensor([1, 2], { dtype: 'float64' });
    const b = tensor([3, 4, 5], { dtype: 'float64', shape: [3, 1] });
    const J = autograd.functional.jacobian((x: Tensor) => mul(x, x), a) as Tensor;
    expect(J.shape).toEqual([2, 2]);
    expect(values(J)).toEqual([2, 0, 0, 4]);
    const Jl = autograd.functional.jacobian((x: Tensor, y: Tensor) => sum(mul(x, y)), [a, b]) as Tensor[];
    expect(Jl.map((t) => t.shape)).toEqual([[2], [3, 1]]);
    expect(values(Jl[0])).toEqual([12, 12]);
    const Jo = autograd.functional.jacobian((x: Tensor) => [mul(x, 2), sum(x)], a) as Tensor[];
    expect(Jo.map((t) => t.shape)).toEqual([[2, 2], [2]]);
    const Jb = autograd.functional.jacobian(f2, [a, b]) as Tensor[][];
    expect(Jb.map((r) => r.map((t) => t.shape))).toEqual([
      [
        [3, 2, 2],
        [3, 2, 3, 1],
      ],
      [[2], [3, 1]],
    ]);
    expect(values(Jb[1][1])).toEqual([0, 0, 0]);
    expect(() => autograd.functional.jacobian(f2, [a, b], { strict: true })).toThrow(
      /independent of input 1; this is not allowed in strict mode/,
    );
    expect(() => autograd.functional.jacobian(f2, [a, b], { vectorize: true })).toThrow(/vectorize must be false/);
    expect(() => autograd.functional.jacobian(f2, [a, b], { create_graph: true } as never)).toThrow(/unknown option 'create_graph'/);
  });

  it('hessian, vjp, jvp, vhp and hvp agree with the Jacobians', () => {
    useMode('cpu');
    const f = (x: Tensor, y: Tensor): Tensor => sum(mul(mul(x, x), y)); // H = [[2y, 2x], [2x, 0]] blockwise
    const x = tensor([1, 2], { dtype: 'float64' });
    const y = tensor([3, -1], { dtype: 'float64' });
    const H = autograd.functional.hessian(f, [x, y]) as Tensor[][];
    expect(H.map((r) => r.map((t) => t.shape))).toEqual([
      [
        [2, 2],
        [2, 2],
      ],
      [
        [2, 2],
        [2, 2],
      ],
    ]);
    expectClose(H[0][0], [6, 0, 0, -2], 1e-12, 0);
    expectClose(H[0][1], [2, 0, 0, 4], 1e-12, 0);
    expectClose(H[1][1], [0, 0, 0, 0], 1e-12, 0);
    const v = [tensor([1, 1], { dtype: 'float64' }), tensor([0.5, 2], { dtype: 'float64' })];
    const [out, hv] = autograd.functional.hvp(f, [x, y], v);
    expect(out.item()).toBe(3 - 4);
    expect(values((hv as Tensor[])[0])).toEqual([6 + 1, -2 + 8]); // H00·v0 + H01·v1
    expect(values((hv as Tensor[])[1])).toEqual([2, 4]);
    const [, vh] = autograd.functional.vhp(f, [x, y], v);
    expect((vh as Tensor[]).map(values)).toEqual((hv as Tensor[]).map(values));
    const g = (t: Tensor): Tensor => mul(mul(t, t), 3);
    const [o, vj] = autograd.functional.vjp(g, x, tensor([1, -1], { dtype: 'float64' }));
    expect(values(o as Tensor)).toEqual([3, 12]);
    expect(values(vj as Tensor)).toEqual([6, -12]);
    const [, jv] = autograd.functional.jvp(g, x, tensor([1, -1], { dtype: 'float64' }));
    expect(values(jv as Tensor)).toEqual([6, -12]);
    expect(() => autograd.functional.vjp(g, x)).toThrow(/v must be given unless the output of func is a single tensor with one element/);
    expect(() => autograd.functional.hessian(g, x)).toThrow(/must return a single Tensor with one element, got shape \[2\]/);
    expect(() => autograd.functional.hvp(f, [x, y], [x])).toThrow(/v has 1 tensors but inputs has 2/);
  });

  it('createGraph: the Hessian can be differentiated with respect to the inputs', () => {
    useMode('cpu');
    const x = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const H = autograd.functional.hessian((t: Tensor) => sum(mul(mul(t, t), t)), x, { createGraph: true }) as Tensor; // diag 6x
    expect(H.requiresGrad).toBe(true);
    const [d] = autograd.grad(sum(H), x);
    expect(values(d!)).toEqual([6, 6]);
    const H2 = autograd.functional.hessian((t: Tensor) => sum(mul(mul(t, t), t)), x) as Tensor;
    expect(H2.requiresGrad).toBe(false);
  });
});
