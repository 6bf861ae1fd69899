// gradcheck as a test-suite writer uses it: a composite function passes; a custom op with a deliberately
// wrong backward fails, and the report names the output, the input, the element and both values.
//
//   npx tsx examples/gradcheck.ts
import { pathToFileURL } from 'node:url';
import { F, autograd, gradcheck, gradgradcheck, manualSeed, randn, type Tensor } from '../src/index.js';

/** x·sigmoid(x), with a backward that forgets the product rule's second term: d/dx = sigmoid(x) only. */
class WrongSilu extends autograd.Function {
  static override opName = 'WrongSilu';
  static override forward(ctx: autograd.FunctionCtx, x: Tensor): Tensor {
    ctx.saveForBackward(x);
    return x.mul(x.sigmoid());
  }
  static override backward(ctx: autograd.FunctionCtx, g: Tensor): Tensor[] {
    const [x] = ctx.savedTensors;
    return [g.mul(x.sigmoid())]; // wrong: misses x·sigmoid(x)·(1 - sigmoid(x))
  }
}

export function main(log: (s: string) => void = console.log): { composite: boolean; wrong: string } {
  manualSeed(0);
  // float64 inputs: finite differences need the precision (gradcheck warns on float32)
  const x = randn([3, 4], { dtype: 'float64' });
  const w = randn([4, 2], { dtype: 'float64' });
  const composite = (a: Tensor, b: Tensor): Tensor => F.logSoftmax(a.matmul(b).tanh(), -1).sum();
  const ok = gradcheck(composite, [x, w]);
  log(`gradcheck of logSoftmax(tanh(x·w)).sum(): ${ok}`);
  log(`gradgradcheck of the same: ${gradgradcheck(composite, [x, w])}`);
  // raiseException: false returns false instead of throwing; true (the default) throws the report
  const quiet = gradcheck((t: Tensor) => WrongSilu.apply(t) as Tensor, [x], { raiseException: false });
  log(`gradcheck of WrongSilu with raiseException: false: ${quiet}`);
  let report = '';
  try {
    gradcheck((t: Tensor) => WrongSilu.apply(t) as Tensor, [x]);
  } catch (e) {
    report = (e as Error).message;
  }
  log(`the failure report:\n  ${report}`);
  return { composite: ok, wrong: report };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
