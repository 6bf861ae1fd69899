// Generation with a growing window on the simd backend compiles nothing after its first token: the host
// executor keeps compiled loops by their source text, and a loop takes its length at run time, so a kernel
// whose source bakes no size in serves every window length (the GPU.js modes still compile per length;
// their generation pads the window to one shape: test/nn/causal-padding.test.ts, bench/workloads.ts).
import { describe, expect, it } from 'vitest';
import { arange, backendInfo, manualSeed, nn, noGrad, randn, setBackend, tidy } from '../../src/index.js';

describe('a growing generation window on simd', () => {
  it('compiles kernels for the first length only, and later lengths give the same values as a fresh run', () => {
    setBackend('simd');
    manualSeed(5);
    const emb = new nn.Embedding(16, 32);
    const layer = new nn.TransformerEncoderLayer(32, 4, {
      dimFeedforward: 64,
      dropout: 0,
      batchFirst: true,
      normFirst: true,
      activation: 'gelu',
    });
    const enc = new nn.TransformerEncoder(layer, 2);
    const head = new nn.Linear(32, 16);
    for (const m of [emb, enc, head]) m.eval();
    const pos = randn([12, 32]);
    const step = (T: number): number[] =>
      tidy(() => {
        const x = emb.forward(arange(T).reshape([1, T])).add(pos.narrow(0, 0, T));
        return Array.from(head.forward(enc.forward(x, { isCausal: true })).toArray());
      });
    const compilesAt: number[] = [];
    const outs: number[][] = [];
    noGrad(() => {
      for (let T = 1; T <= 12; T++) {
        const before = backendInfo().compiles;
        outs.push(step(T));
        compilesAt.push(backendInfo().compiles - before);
      }
    });
    expect(compilesAt.slice(1), 'compiles at window lengths 2..12').toEqual(Array(11).fill(0));
    // a reused loop computes what its own compile would: the prefix of a longer window matches the shorter run
    for (let T = 1; T < 12; T++) {
      for (let i = 0; i < outs[T - 1].length; i++) expect(Math.abs(outs[T][i] - outs[T - 1][i]), `T=${T} element ${i}`).toBeLessThan(1e-4);
    }
  });
});
