import { beforeAll, describe, expect, it } from 'vitest';
import { F, manualSeed, nn, optim, randint, tensor, tidy, arange, randn, type Tensor } from '../../src/index.js';
import { MODES, expectClose, useMode } from '../support/helpers.js';

const V = 6;
const T = 6;

/** Toy task: at every position, output the sequence's first token (needs attention back to position 0). */
class Copier extends nn.Module {
  emb = this.registerModule('emb', new nn.Embedding(V, 16));
  pos = this.registerModule('pos', new nn.Embedding(T, 16));
  enc = this.registerModule(
    'enc',
    new nn.TransformerEncoder(new nn.TransformerEncoderLayer(16, 2, { dimFeedforward: 32, dropout: 0, batchFirst: true }), 2),
  );
  head = this.registerModule('head', new nn.Linear(16, V));
  override forward(x: Tensor): Tensor {
    const h = this.emb.forward(x).add(this.pos.forward(arange(T)));
    return this.head.forward(this.enc.forward(h, { isCausal: true }));
  }
}

function train(steps: number): number[] {
  manualSeed(42);
  const model = new Copier();
  const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    losses.push(
      tidy(() => {
        const x = randint(0, V, [16, T]);
        const first = x.toArray() as Int32Array;
        const y = tensor(
          Int32Array.from({ length: 16 * T }, (_, i) => first[Math.floor(i / T) * T]),
          { shape: [16 * T] },
        );
        const loss = F.crossEntropy(model.forward(x).reshape([-1, V]), y);
        opt.zeroGrad();
        loss.backward();
        opt.step();
        return loss.item();
      }),
    );
  }
  return losses;
}

describe.each(MODES)('a 2-layer transformer encoder trains on %s', (mode) => {
  beforeAll(() => useMode(mode));
  it('loss falls below 0.35 (from ln 6 = 1.79) in 80 steps, and a seed reproduces the run', () => {
    const a = train(80);
    const tail = a.slice(-5).reduce((x, y) => x + y, 0) / 5;
    expect(a[0]).toBeGreaterThan(1.5);
    expect(tail).toBeLessThan(0.35);
    const b = train(3);
    expect(b).toEqual(a.slice(0, 3));
  });
});

describe('TransformerDecoder', () => {
  it('stacks copies of the layer and applies the final norm', () => {
    manualSeed(1);
    const layer = new nn.TransformerDecoderLayer(8, 2, { dimFeedforward: 16, dropout: 0 });
    const dec = new nn.TransformerDecoder(layer, 2, { norm: new nn.LayerNorm(8) });
    expect(Object.keys(dec.stateDict())).toContain('layers.1.multihead_attn.in_proj_weight');
    expect(Object.keys(dec.stateDict())).toContain('norm.weight');
    const tgt = randn([4, 2, 8]);
    const mem = randn([5, 2, 8]);
    const l0 = dec.layers.at(0);
    const l1 = dec.layers.at(1);
    const manual = dec.norm!.forward(l1.forward(l0.forward(tgt, mem), mem));
    expectClose(dec.forward(tgt, mem), manual, 1e-6, 1e-6);
    expect(() => new nn.TransformerDecoder(layer, 0)).toThrow(/TransformerDecoder: numLayers must be a positive integer, got 0/);
  });
});
