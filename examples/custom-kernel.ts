// A custom differentiable op with hand-written GPU.js kernels: softplus(x) = log(1 + e^x), its derivative
// sigmoid(x), and the derivative of that, each a kernel. The backward is itself an autograd.Function
// (with its own backward kernel), so the op can be differentiated twice: gradcheck checks the first
// derivative and gradgradcheck the second, in float64 on the host path; the same kernels run in float32
// on every GPU.js mode.
//
//   npx tsx examples/custom-kernel.ts [--backend cpu|webasm|simd|headlessgl]
import { pathToFileURL } from 'node:url';
import { autograd, defineKernel, gradcheck, gradgradcheck, getBackend, setBackend, tensor, type Tensor } from '../src/index.js';

// Each body is in GPU.js's JavaScript subset: `i` is the output element's flat index, the inputs are flat
// arrays. The branches keep exp from overflowing for large |x|.
const softplusKernel = defineKernel({
  name: 'softplus',
  inputs: ['x'],
  body: ['const v = x[i];', 'return v > 0 ? v + Math.log(1 + Math.exp(-v)) : Math.log(1 + Math.exp(v));'],
});

/** g · sigmoid(x): softplus's backward. */
const softplusGradKernel = defineKernel({
  name: 'softplusGrad',
  inputs: ['g', 'x'],
  body: ['const v = x[i];', 'const s = v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));', 'return g[i] * s;'],
});

/** h · g · sigmoid'(x) = h · g · s (1 - s): the backward of softplusGrad with respect to x. */
const softplusGradGradKernel = defineKernel({
  name: 'softplusGradGrad',
  inputs: ['h', 'g', 'x'],
  body: [
    'const v = x[i];',
    'const s = v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));',
    'return h[i] * g[i] * s * (1 - s);',
  ],
});

/** dL/dx = g · sigmoid(x) as an op of (g, x), so that it has a backward of its own. */
export class SoftplusGrad extends autograd.Function {
  static override opName = 'SoftplusGrad';
  static override forward(ctx: autograd.FunctionCtx, g: Tensor, x: Tensor): Tensor {
    ctx.saveForBackward(g, x);
    return softplusGradKernel.run([g, x]);
  }
  static override backward(ctx: autograd.FunctionCtx, h: Tensor): Tensor[] {
    const [g, x] = ctx.savedTensors;
    // d/dg (g·s) = s: the same kernel again; d/dx (g·s) = g·s(1 - s): the second-derivative kernel
    return [softplusGradKernel.run([h, x]), softplusGradGradKernel.run([h, g, x])];
  }
}

export class Softplus extends autograd.Function {
  static override opName = 'Softplus';
  static override forward(ctx: autograd.FunctionCtx, x: Tensor): Tensor {
    ctx.saveForBackward(x);
    return softplusKernel.run([x]);
  }
  static override backward(ctx: autograd.FunctionCtx, g: Tensor): Tensor[] {
    const [x] = ctx.savedTensors;
    return [SoftplusGrad.apply(g, x) as Tensor];
  }
}

export const softplus = (x: Tensor): Tensor => Softplus.apply(x) as Tensor;

/** Runs the example on the current backend; returns what it checked. */
export function main(log: (s: string) => void = console.log): { gradcheck: boolean; gradgradcheck: boolean; float32MaxError: number } {
  log(`backend: ${getBackend()}`);
  log(`the forward kernel's source:\n${softplusKernel.source()}`);
  // float64: the kernels run on the host path, where finite differences are precise
  const x64 = tensor([-30, -2, -0.5, 0, 0.3, 1.5, 4, 30], { dtype: 'float64' });
  const first = gradcheck(softplus, [x64]);
  const second = gradgradcheck(softplus, [x64]);
  log(`gradcheck: ${first}, gradgradcheck: ${second}`);
  // float32 on the GPU.js mode: the same kernels, against the float64 values
  const x32 = x64.float().requiresGrad_(true);
  const y = softplus(x32);
  y.sum().backward();
  const want = Array.from(x64.toArray(), (v) => 1 / (1 + Math.exp(-v)));
  const got = Array.from(x32.grad!.toArray());
  const err = Math.max(...got.map((v, k) => Math.abs(v - want[k])));
  log(`float32 gradient on ${getBackend()}: max |error| ${err.toExponential(2)}`);
  return { gradcheck: first, gradgradcheck: second, float32MaxError: err };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const k = process.argv.indexOf('--backend');
  if (k >= 0) setBackend(process.argv[k + 1] as Parameters<typeof setBackend>[0]);
  main();
}
