// A training loop written as a PyTorch user writes it first: no tidy(), no dispose(). Shared by the
// memory test and by anyone measuring it by hand (`npx tsx test/support/memory-workload.ts MODE STEPS`).
import { F, nn, optim, manualSeed, randint, arange, memory, setBackend, getBackend, type Tensor } from '../../src/index.js';
import type { GpuMode } from '../../src/backend/index.js';

export interface MemorySample {
  step: number;
  rss: number;
  tensors: number;
  storages: number;
  textures: number;
}

class Tiny extends nn.Module {
  emb: nn.Embedding;
  pos: nn.Embedding;
  layer: nn.TransformerEncoderLayer;
  head: nn.Linear;
  constructor(
    readonly vocab: number,
    d: number,
    ctx: number,
  ) {
    super();
    this.emb = this.registerModule('emb', new nn.Embedding(vocab, d));
    this.pos = this.registerModule('pos', new nn.Embedding(ctx, d));
    this.layer = this.registerModule(
      'layer',
      new nn.TransformerEncoderLayer(d, 2, { dimFeedforward: 2 * d, dropout: 0.1, batchFirst: true, normFirst: true }),
    );
    this.head = this.registerModule('head', new nn.Linear(d, vocab));
  }
  override forward(idx: Tensor): Tensor {
    const x = this.emb.forward(idx).add(this.pos.forward(arange(idx.shape[1])));
    return this.head.forward(this.layer.forward(x, { isCausal: true }));
  }
}

/** Runs `steps` untidied training steps; samples memory every `every` steps (after the first). */
export function untidiedTraining(steps: number, every = 25, size = { vocab: 11, d: 16, ctx: 8, batch: 4 }): MemorySample[] {
  manualSeed(0);
  const model = new Tiny(size.vocab, size.d, size.ctx);
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const out: MemorySample[] = [];
  for (let step = 1; step <= steps; step++) {
    const x = randint(0, size.vocab, [size.batch, size.ctx]);
    const y = randint(0, size.vocab, [size.batch * size.ctx]);
    const loss = F.crossEntropy(model.forward(x).reshape([-1, size.vocab]), y);
    opt.zeroGrad();
    loss.backward();
    nn.clipGradNorm(model.parameters(), 1.0);
    opt.step();
    loss.item();
    if (step === 1 || step % every === 0) {
      // after a full collection where the runner allows it (vitest runs with --expose-gc): what is still
      // resident is reachable, so a leak shows and garbage not yet collected does not
      (globalThis as { gc?: () => void }).gc?.();
      out.push({ step, rss: process.memoryUsage().rss, ...memory() });
    }
  }
  return out;
}

const self = process.argv[1] ?? '';
if (self.endsWith('memory-workload.ts')) {
  setBackend(process.argv[2] as GpuMode);
  const steps = Number(process.argv[3] ?? 300);
  const big = process.argv[4] === 'big';
  const samples = untidiedTraining(steps, 50, big ? { vocab: 65, d: 48, ctx: 32, batch: 16 } : undefined);
  console.log(getBackend());
  for (const s of samples)
    console.log(
      `step ${s.step}: rss ${(s.rss / 2 ** 20).toFixed(0)} MB, tensors ${s.tensors}, storages ${s.storages}, textures ${s.textures}`,
    );
}
