// A small training loop run for many steps, with what steady state must keep flat: kernel compiles,
// live tensors/storages/textures, readbacks, resident memory. Shared by test/steady-state.test.ts (Node)
// and the browser page (test/browser/page.ts): nothing here may import a Node-only module.
import { F, nn, optim, manualSeed, tensor, tidy, memory, backendInfo, type Tensor } from '../../src/index.js';
import { isGLBackend } from '../../src/backend/index.js';

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

export interface SteadySample {
  compiles: number;
  cacheHits: number;
  readbacks: number;
  tensors: number;
  storages: number;
  textures: number;
  /** resident memory in bytes where the caller can measure it, else 0 */
  rss: number;
}

export interface SteadyReport {
  gl: boolean;
  firstLoss: number;
  lastLoss: number;
  afterStep1: SteadySample;
  atStep200: SteadySample;
  /** the sample at 60% of the run, between step 200 and the end */
  atStepMid: SteadySample;
  end: SteadySample;
  /** parameters and optimizer state tensors, and how many of them are textures */
  held: number;
  heldTextures: number;
}

/** `steps` tidied AdamW steps (with clipGradNorm) of a small model on the active backend. */
export function steadyTraining(steps: number, rss: () => number = () => 0): SteadyReport {
  manualSeed(3);
  const model = new Small();
  const opt = new optim.AdamW(model.parameters(), { lr: 1e-2 });
  // another batch every step (seeded): the tokens' counts change, as in real training, so a kernel whose
  // key followed the data (the embedding backward's longest group of one token) would compile again
  let seed = 12345;
  const token = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 16) % 13;
  };
  const step = (): number =>
    tidy(() => {
      const xs = Int32Array.from({ length: 24 }, token);
      const ys = Int32Array.from(xs, (v) => (v + 1) % 13);
      const loss = F.crossEntropy(model.forward(tensor(xs, { shape: [4, 6] })).reshape([-1, 13]), tensor(ys));
      opt.zeroGrad();
      loss.backward();
      nn.clipGradNorm(model.parameters(), 1).dispose();
      opt.step();
      return loss.item();
    });
  const sample = (): SteadySample => {
    const b = backendInfo();
    return { compiles: b.compiles, cacheHits: b.cacheHits, readbacks: b.readbacks, ...memory(), rss: rss() };
  };
  const firstLoss = step();
  const afterStep1 = sample();
  let atStep200 = afterStep1;
  let atStepMid = afterStep1;
  const mid = Math.round(steps * 0.6);
  let lastLoss = firstLoss;
  for (let s = 2; s <= steps; s++) {
    lastLoss = step();
    if (s === 200) atStep200 = sample();
    if (s === mid) atStepMid = sample();
  }
  const end = sample();
  const held = [
    ...model.parameters(),
    ...[...opt.state.values()].flatMap((st) => Object.values(st).filter((v): v is Tensor => typeof v === 'object')),
  ];
  return {
    gl: isGLBackend(),
    firstLoss,
    lastLoss,
    afterStep1,
    atStep200,
    atStepMid,
    end,
    held: held.length,
    heldTextures: held.filter((t) => t._storageForKernel().texture !== null).length,
  };
}

/** The steady-state checks on a report, as messages (empty: all hold). Shared by the Node and browser tests. */
export function steadyFailures(r: SteadyReport, steps: number): string[] {
  const f: string[] = [];
  const { afterStep1: a, end: e } = r;
  if (!(r.lastLoss < r.firstLoss)) f.push(`the loss did not fall: ${r.firstLoss} -> ${r.lastLoss}`);
  if (e.compiles !== a.compiles) f.push(`${e.compiles - a.compiles} kernels compiled after the first step`);
  if (!(e.cacheHits > a.cacheHits)) f.push('no kernel cache hits after the first step');
  for (const k of ['tensors', 'storages', 'textures'] as const)
    if (e[k] !== a[k]) f.push(`live ${k}: ${a[k]} after step 1, ${e[k]} after step ${steps}`);
  // resident memory: a leak grows in both halves after step 200 (a leak of 40 KB a step adds 16 MB to
  // each); the heap resizing once, or another test's garbage collected late, is a single jump
  const grew = (from: SteadySample, to: SteadySample): number => (to.rss - from.rss) / 2 ** 20;
  const [first, second] = [grew(r.atStep200, r.atStepMid), grew(r.atStepMid, e)];
  if (a.rss > 0 && ((first >= 16 && second >= 16) || first + second >= 128))
    f.push(`resident memory grew ${first.toFixed(0)} MB and then ${second.toFixed(0)} MB after step 200`);
  // GL: the loss each step asks for is the only readback; parameters and optimizer state are textures
  const readbacks = e.readbacks - a.readbacks;
  if (r.gl && readbacks !== steps - 1) f.push(`${readbacks} readbacks in ${steps - 1} steps (one per step expected)`);
  if (!r.gl && readbacks !== 0) f.push(`${readbacks} texture readbacks on a host backend`);
  if (r.gl && r.heldTextures !== r.held) f.push(`${r.held - r.heldTextures} of ${r.held} parameters/optimizer states are not textures`);
  return f;
}
