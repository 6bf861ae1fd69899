// Hessian-vector products of a small MLP's loss with respect to its first layer's weights: by the
// double-backward trick (autograd.grad with createGraph, then a second grad), by
// autograd.functional.hvp, and against the full Hessian from autograd.functional.hessian.
//
//   npx tsx examples/hessian.ts [--backend cpu|webasm|simd|headlessgl]
import { pathToFileURL } from 'node:url';
import { F, autograd, getBackend, manualSeed, matmul, mul, randn, setBackend, sum, tanh, type Tensor } from '../src/index.js';

/** max |a - b| over two tensors of one shape. */
const maxDiff = (a: Tensor, b: Tensor): number => {
  const x = a.toArray();
  const y = b.toArray();
  let m = 0;
  for (let k = 0; k < x.length; k++) m = Math.max(m, Math.abs(x[k] - y[k]));
  return m;
};

export function main(log: (s: string) => void = console.log, dtype: 'float32' | 'float64' = 'float64'): { maxError: number } {
  manualSeed(0);
  const x = randn([8, 3], { dtype });
  const y = randn([8, 1], { dtype });
  const w1 = randn([4, 3], { dtype, requiresGrad: true });
  const b1 = randn([4], { dtype });
  const w2 = randn([1, 4], { dtype });
  const loss = (w: Tensor): Tensor => F.mseLoss(F.linear(tanh(F.linear(x, w, b1)), w2), y);

  // 1. by hand: g = dL/dw with a graph, then d(g · v)/dw = H v
  const v = randn([4, 3], { dtype });
  const [g] = autograd.grad(loss(w1), w1, { createGraph: true });
  const [hvByHand] = autograd.grad(sum(mul(g!, v)), w1);
  // 2. autograd.functional.hvp (the double-vjp trick)
  const [, hv] = autograd.functional.hvp(loss, w1, v);
  // 3. the full Hessian, shape [4, 3, 4, 3], times v
  const H = autograd.functional.hessian(loss, w1) as Tensor;
  const hvFromH = matmul(H.reshape([12, 12]), v.reshape([12, 1])).reshape([4, 3]);
  const err = Math.max(maxDiff(hvByHand!, hv as Tensor), maxDiff(hvByHand!, hvFromH));
  log(`backend ${getBackend()}, ${dtype}: Hessian of shape [${H.shape.join(', ')}]; Hv three ways agree to ${err.toExponential(2)}`);
  log(`Hv = ${JSON.stringify(Array.from(hvByHand!.toArray(), (t) => Number(t.toFixed(5))))}`);
  return { maxError: err };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const k = process.argv.indexOf('--backend');
  if (k >= 0) setBackend(process.argv[k + 1] as Parameters<typeof setBackend>[0]);
  main();
  if (getBackend() !== 'cpu' || k >= 0) main(console.log, 'float32');
}
