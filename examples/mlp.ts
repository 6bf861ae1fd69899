// The smallest complete training loop: a 2-layer MLP learns y = sin(x) with Adam, in tidy() steps.
//
//   npx tsx examples/mlp.ts
import { pathToFileURL } from 'node:url';
import { F, manualSeed, nn, noGrad, optim, tensor, tidy, type Tensor } from '../src/index.js';

export function main(log: (s: string) => void = console.log, steps = 300): { first: number; last: number } {
  manualSeed(0);
  const xs = Array.from({ length: 64 }, (_, i) => -3 + (6 * i) / 63);
  const x = tensor(xs, { shape: [64, 1], dtype: 'float32' });
  const y = tensor(xs.map(Math.sin), { shape: [64, 1], dtype: 'float32' });
  const model = new nn.Sequential(new nn.Linear(1, 32), new nn.Tanh(), new nn.Linear(32, 1));
  const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
  let first = NaN;
  let last = NaN;
  for (let step = 1; step <= steps; step++) {
    // tidy() frees the step's intermediates when it returns (GPU textures on the GL modes)
    last = tidy(() => {
      const loss = F.mseLoss(model.forward(x) as Tensor, y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
      return loss.item();
    });
    if (step === 1) first = last;
    if (step % 100 === 0 || step === steps) log(`step ${step}: loss ${last.toFixed(5)}`);
  }
  const at1 = noGrad(() => (model.forward(tensor([[1]], { dtype: 'float32' })) as Tensor).item());
  log(`model(1) = ${at1.toFixed(3)}, sin(1) = ${Math.sin(1).toFixed(3)}`);
  return { first, last };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
