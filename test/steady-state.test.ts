// Steady-state training over 1,000 steps, on every mode: nothing is compiled after the first step, the
// kernel cache only hits, memory is flat (live tensors and storages, GL textures, resident memory), and
// on the GL modes activations, gradients and optimizer state stay textures: the only readback in a step
// is the loss the loop asks for.
import { describe, expect, it } from 'vitest';
import { F, nn, optim, manualSeed, tensor, tidy, memory, backendInfo, type Tensor } from '../src/index.js';
import { isGLBackend } from '../src/backend/index.js';
import { MODES, useMode } from './support/helpers.js';

const STEPS = 1000;

class Small extends nn.Module {
  static override moduleName = 'Small';
  emb = this.registerModule('emb', new nn.Embedding(13, 16));
  norm = this.registerModule('norm', new nn.LayerNorm(16));
  up = this.registerModule('up', new nn.Linear(16, 32));
  down = this.registerModule('down', new nn.Linear(32, 13));
  override forward(idx: Tensor): Tensor {
    return this.down.forward(F.gelu(this.up.forward(this.norm.forward(this.emb.forward(idx))), { approximate: 'tanh' }));
  }
}

describe.each(MODES)('steady-state training on %s', (mode) => {
  it(`${STEPS} steps: no compile after the first, flat memory, state on the device (GL), one readback per step`, () => {
    useMode(mode);
    manualSeed(3);
    const model = new Small();
    const opt = new optim.AdamW(model.parameters(), { lr: 1e-2 });
    const xs = Int32Array.from({ length: 24 }, (_, i) => (i * 5) % 13);
    const ys = Int32Array.from(xs, (v) => (v + 1) % 13);
    const step = (): number =>
      tidy(() => {
        const loss = F.crossEntropy(model.forward(tensor(xs, { shape: [4, 6] })).reshape([-1, 13]), tensor(ys));
        opt.zeroGrad();
        loss.backward();
        nn.clipGradNorm(model.parameters(), 1).dispose();
        opt.step();
        return loss.item();
      });
    const first = step();
    const after1 = { ...backendInfo(), ...memory(), rss: process.memoryUsage().rss };
    let last = first;
    let at200 = after1;
    for (let s = 2; s <= STEPS; s++) {
      last = step();
      if (s === 200) at200 = { ...backendInfo(), ...memory(), rss: process.memoryUsage().rss };
    }
    const end = { ...backendInfo(), ...memory(), rss: process.memoryUsage().rss };
    console.log(
      `steady state on ${mode}: loss ${first.toFixed(3)} -> ${last.toFixed(3)}; after step 1 ${JSON.stringify(memory())}, ` +
        `compiles ${after1.compiles} then +${end.compiles - after1.compiles}, readbacks ${(end.readbacks - after1.readbacks) / (STEPS - 1)} per step, ` +
        `RSS ${(at200.rss / 2 ** 20).toFixed(0)} MB at step 200, ${(end.rss / 2 ** 20).toFixed(0)} MB at step ${STEPS}`,
    );
    expect(last).toBeLessThan(first);
    expect(end.compiles, 'kernels compiled after the first step').toBe(after1.compiles);
    expect(end.cacheHits - after1.cacheHits).toBeGreaterThan(0);
    expect({ tensors: end.tensors, storages: end.storages, textures: end.textures }).toEqual({
      tensors: after1.tensors,
      storages: after1.storages,
      textures: after1.textures,
    });
    expect((end.rss - at200.rss) / 2 ** 20, 'resident MB grown from step 200').toBeLessThan(48);
    if (isGLBackend()) {
      // the loss each step asks for; nothing else is read back
      expect(end.readbacks - after1.readbacks).toBe(STEPS - 1);
      const held = [
        ...model.parameters(),
        ...[...opt.state.values()].flatMap((st) => Object.values(st).filter((v): v is Tensor => typeof v === 'object')),
      ];
      for (const t of held) expect(t._storageForKernel().texture, 'parameters and optimizer state are textures').not.toBeNull();
      expect(end.textures).toBeGreaterThanOrEqual(held.length);
    } else expect(end.readbacks).toBe(after1.readbacks);
  }, 240_000);
});
