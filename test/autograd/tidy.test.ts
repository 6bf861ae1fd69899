import { beforeAll, describe, expect, it } from 'vitest';
import { F, keep, manualSeed, memory, nn, optim, randint, randn, tensor, tidy } from '../../src/index.js';
import { MODES, useMode } from '../helpers.js';

describe('tidy', () => {
  it('disposes intermediates, keeps what is returned (also through nested scopes and containers)', () => {
    const a = randn([3]);
    let inner: ReturnType<typeof randn> | null = null;
    const out = tidy(() => {
      const b = a.mul(2);
      inner = b.add(1);
      const c = tidy(() => inner!.exp().mul(b));
      return { c, list: [b.sum()] };
    });
    expect(inner!.isDisposed).toBe(true);
    expect(out.c.isDisposed).toBe(false);
    expect(out.list[0].isDisposed).toBe(false);
    expect(a.isDisposed).toBe(false);
    expect(out.c.toArray().length).toBe(3);
  });
  it('keeps parameters, their gradients, optimizer state and keep()-ed tensors', () => {
    const w = randn([4], { requiresGrad: true });
    const opt = new optim.Adam([w], { lr: 0.1 });
    let cache: ReturnType<typeof randn> | null = null;
    tidy(() => {
      w.mul(w).sum().backward();
      opt.step();
      cache = keep(w.detach().mul(3));
    });
    expect(w.grad!.isDisposed).toBe(false);
    expect(cache!.isDisposed).toBe(false);
    const st = opt.state.get(w)!;
    expect((st.exp_avg as ReturnType<typeof randn>).isDisposed).toBe(false);
    tidy(() => {
      w.mul(w).sum().backward();
      opt.step();
    });
    expect(w.toArray().length).toBe(4);
  });
  it('a graph built inside tidy cannot be backpropagated after it (clear error, not garbage)', () => {
    const w = randn([2], { requiresGrad: true });
    const loss = tidy(() => w.exp().sum());
    expect(() => loss.backward()).toThrow(/disposed/);
  });
});

describe.each(MODES)('tidy keeps a training loop flat on %s', (mode) => {
  beforeAll(() => useMode(mode));
  it('live tensors, storages and textures do not grow across steps', () => {
    manualSeed(0);
    const model = new nn.Sequential(new nn.Embedding(10, 8), new nn.Linear(8, 8));
    const mha = new nn.MultiheadAttention(8, 2, { batchFirst: true, dropout: 0.1 });
    const opt = new optim.AdamW([...model.parameters(), ...mha.parameters()], { lr: 1e-2 });
    const step = () =>
      tidy(() => {
        const x = randint(0, 10, [2, 5]);
        const h = (model.forward as (t: unknown) => ReturnType<typeof randn>).call(model, x);
        const [a] = mha.forward(h, h, h, { isCausal: true });
        const loss = F.crossEntropy(a.reshape([-1, 8]).matmul(randn([8, 10])), tensor(new Int32Array(10).fill(3)));
        opt.zeroGrad();
        loss.backward();
        opt.step();
        return loss.item();
      });
    step();
    step();
    const before = memory();
    for (let i = 0; i < 3; i++) step();
    const after = memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.storages).toBe(before.storages);
    expect(after.textures).toBe(before.textures);
  });
});
