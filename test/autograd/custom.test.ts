// autograd.Function (torch.autograd.Function) with user-written kernels (defineKernel), and the examples
// that use them (examples/custom-kernel.ts, examples/hessian.ts), on every mode.
import { describe, expect, it } from 'vitest';
import { autograd, defineKernel, gradcheck, mul, sum, tensor, type Tensor } from '../../src/index.js';
import { main as customKernelExample } from '../../examples/custom-kernel.js';
import { main as hessianExample } from '../../examples/hessian.js';
import { MODES, expectClose, useMode, values } from '../support/helpers.js';

const cube = defineKernel({ name: 'cube', inputs: ['x'], body: 'return x[i] * x[i] * x[i];' });
const scaled = defineKernel<{ c: number }>({ name: 'scaled', inputs: ['a', 'b'], body: (p) => [`return a[i] * b[i] * ${p.c};`] });

class Cube extends autograd.Function {
  static override opName = 'Cube';
  static override forward(ctx: autograd.FunctionCtx, x: Tensor, k: number): Tensor {
    ctx.saveForBackward(x);
    expect(k).toBe(7); // non-tensor arguments reach forward
    return cube.run([x]);
  }
  static override backward(ctx: autograd.FunctionCtx, g: Tensor): (Tensor | null)[] {
    const [x] = ctx.savedTensors;
    return [mul(mul(g, mul(x, x)), 3), null]; // with ops: differentiable again
  }
}

describe.each(MODES)('autograd.Function and defineKernel on %s', (mode) => {
  it('a kernel runs on the mode in float32 and on the host in float64; a Function records it', () => {
    useMode(mode);
    const x = tensor([0.5, -2, 3], { requiresGrad: true });
    const y = Cube.apply(x, 7) as Tensor;
    expect(y.gradFn!.name).toBe('CubeBackward');
    expectClose(y, [0.125, -8, 27], 1e-6, 1e-6);
    sum(y).backward();
    expectClose(x.grad!, [0.75, 12, 27], 1e-5, 1e-6);
    expectClose(scaled.run([x.detach(), x.detach()], { params: { c: 2 } }), [0.5, 8, 18], 1e-6, 1e-6);
    const x64 = tensor([0.5, -2, 3], { dtype: 'float64' });
    expect(cube.run([x64]).dtype).toBe('float64');
    expect(gradcheck((t: Tensor) => Cube.apply(t, 7) as Tensor, [x64])).toBe(true);
  });

  it('examples/custom-kernel.ts: forward, backward and double-backward kernels pass gradcheck and gradgradcheck', () => {
    useMode(mode);
    const r = customKernelExample(() => {});
    expect(r.gradcheck).toBe(true);
    expect(r.gradgradcheck).toBe(true);
    expect(r.float32MaxError).toBeLessThan(1e-6);
  });

  it('examples/hessian.ts: Hv by hand, by functional.hvp and from functional.hessian agree', () => {
    useMode(mode);
    expect(hessianExample(() => {}, 'float64').maxError).toBeLessThan(1e-12);
    expect(hessianExample(() => {}, 'float32').maxError).toBeLessThan(1e-4);
  });
});

describe('autograd.Function semantics and errors', () => {
  it('needsInputGrad, markNonDifferentiable and several outputs', () => {
    useMode('cpu');
    let seen: readonly boolean[] = [];
    class Split extends autograd.Function {
      static override forward(ctx: autograd.FunctionCtx, a: Tensor, b: Tensor): Tensor[] {
        seen = ctx.needsInputGrad;
        const idx = tensor([1, 0], { dtype: 'int32' });
        ctx.markNonDifferentiable(idx);
        return [mul(a, 2), mul(a, b), idx];
      }
      static override backward(_ctx: autograd.FunctionCtx, g1: Tensor, g2: Tensor): (Tensor | null)[] {
        return [mul(g1, 2).add(g2), g2];
      }
    }
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3, 4], { dtype: 'float32' });
    const [p, q, idx] = Split.apply(a, b) as Tensor[];
    expect(seen).toEqual([true, false]);
    expect(idx.requiresGrad).toBe(false);
    sum(p).add(sum(q)).backward();
    expect(values(a.grad!)).toEqual([2 + 1, 2 + 1]); // the Function's own backward, as written (not the true b)
  });

  it('checks what forward and backward return, and saved tensors against in-place changes', () => {
    useMode('cpu');
    class Bad extends autograd.Function {
      static override opName = 'Bad';
      static override forward(ctx: autograd.FunctionCtx, x: Tensor): Tensor {
        ctx.saveForBackward(x);
        return mul(x, 2);
      }
      static override backward(_ctx: autograd.FunctionCtx, g: Tensor): (Tensor | null)[] {
        return [g, g];
      }
    }
    const x = tensor([1, 2], { requiresGrad: true });
    expect(() => sum(Bad.apply(x) as Tensor).backward()).toThrow(/Bad\.backward returned 2 gradients, expected 1/);
    class Wrong extends autograd.Function {
      static override forward(_ctx: autograd.FunctionCtx, x: Tensor): Tensor {
        return mul(x, 2);
      }
      static override backward(_ctx: autograd.FunctionCtx, g: Tensor): Tensor {
        return sum(g);
      }
    }
    expect(() => sum(Wrong.apply(x) as Tensor).backward()).toThrow(
      /returned a gradient of shape \[\] for argument 0, whose shape is \[2\]/,
    );
    class NotTensor extends autograd.Function {
      static override forward(): Tensor {
        return 3 as never;
      }
      static override backward(): null {
        return null;
      }
    }
    expect(() => NotTensor.apply(x)).toThrow(/forward must return a Tensor or an array of Tensors, got 3/);
    class NoBackward extends autograd.Function {
      static override forward(_ctx: autograd.FunctionCtx, t: Tensor): Tensor {
        return t;
      }
    }
    expect(() => NoBackward.apply(x)).toThrow(/does not define static backward/);
    const z = tensor([1, 2], { requiresGrad: true });
    const w = mul(z, 1);
    const y = Cube.apply(w, 7) as Tensor;
    w.detach().add_(1);
    expect(() => sum(y).backward()).toThrow(/modified by an in-place operation/);
  });

  it('a backward computed with a kernel cannot be differentiated twice: the error names the op', () => {
    useMode('cpu');
    const twice = defineKernel({ name: 'twice', inputs: ['g'], body: 'return g[i] * 2;' });
    class Double extends autograd.Function {
      static override opName = 'Double';
      static override forward(_ctx: autograd.FunctionCtx, x: Tensor): Tensor {
        return mul(mul(x, x), 1);
      }
      static override backward(_ctx: autograd.FunctionCtx, g: Tensor): Tensor[] {
        return [twice.run([g])];
      }
    }
    const x = tensor([1, 2], { requiresGrad: true });
    const [g] = autograd.grad(sum(Double.apply(x) as Tensor), x, { createGraph: true });
    expect(values(g!)).toEqual([2, 2]);
    expect(() => autograd.grad(sum(g!), x)).toThrow(/Double's backward is not differentiable: .*Double\.backward computed it off the tape/);
  });

  it('defineKernel refuses what GPU.js cannot compile, quoting the numbered source', () => {
    useMode('cpu');
    const x = tensor([1, 2]);
    const run = (body: string): Tensor => defineKernel({ name: 'bad', inputs: ['x'], body }).run([x]);
    expect(() => run('const f = (v) => v * 2; return f(x[i]);')).toThrow(
      /defineKernel\(bad\): the body uses an arrow function[\s\S]*3 \| {3}const f = \(v\) => v \* 2;/,
    );
    expect(() => run('return x[i] * scale;')).toThrow(
      /the body uses 'scale', which is not an input, a local or the index i: a kernel cannot close over outside variables/,
    );
    expect(() => run('return Math.hypot(x[i], 1);')).toThrow(/Math\.hypot is not among the Math functions GPU\.js compiles/);
    expect(() => run('function sq(v) { return v * v; } return sq(x[i]);')).toThrow(/declares a function/);
    expect(() => run('const v = x[i];')).toThrow(/never returns the output element/);
    expect(() => defineKernel({ name: 'x y', inputs: ['x'], body: 'return 1;' })).toThrow(/defineKernel: name must be an identifier/);
    expect(() => defineKernel({ name: 'k', inputs: ['i'], body: 'return 1;' })).toThrow(
      /inputs must be a non-empty array of identifiers other than 'i'/,
    );
    expect(() => defineKernel({ name: 'k', inputs: ['x'], body: 'return 1;', Body: 1 } as never)).toThrow(
      /defineKernel: unknown option 'Body'/,
    );
    const k = defineKernel({ name: 'ok', inputs: ['x'], body: 'return x[i] + 1;' });
    expect(() => k.run([x, x])).toThrow(/ok\.run: the kernel takes 1 inputs \(x\), got 2/);
    expect(() => k.run([x], { shap: [2] } as never)).toThrow(/ok\.run: unknown option 'shap'/);
    expect(() => k.run([3 as never])).toThrow(/ok\.run: inputs\[0\] \(x\) must be a Tensor, got 3/);
    expect(k.source()).toMatch(/^ *1 \| function \(x\) \{/);
    expect(values(defineKernel({ name: 'ok', inputs: ['x'], body: 'return x[i] - 1;' }).run([x]))).toEqual([0, 1]); // redefined: no clash
  });
});
