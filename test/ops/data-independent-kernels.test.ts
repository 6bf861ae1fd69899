// Kernels whose loop lengths follow index data (how many positions share one index: the embedding
// backward, scatterAdd and gather's backward) take those lengths as runtime arguments, so a training step
// with new tokens or a new index compiles nothing (test/steady-state.test.ts trains on a new batch each step).
import { describe, expect, it } from 'vitest';
import { backendInfo, manualSeed, nn, randn, tensor, tidy, zeros } from '../../src/index.js';
import { MODES, useMode, values } from '../support/helpers.js';

/** Index data with `most` repeats of index 0 among 12 positions over 5 rows. */
const indices = (most: number): number[] => Array.from({ length: 12 }, (_, p) => (p < most ? 0 : 1 + (p % 4)));

describe.each(MODES)('kernels over index data on %s', (mode) => {
  it('the embedding backward, scatterAdd and gather backward compile once for every index multiplicity, with the right sums', () => {
    useMode(mode);
    manualSeed(8);
    const emb = new nn.Embedding(5, 3);
    const src = randn([12], { requiresGrad: true });
    const run = (most: number): { dw: number[]; sa: number[]; dsrc: number[] } =>
      tidy(() => {
        const idx = tensor(indices(most), { dtype: 'int32' });
        emb.weight.zeroGrad();
        emb.forward(idx).sum().backward();
        const sa = zeros([5]).scatterAdd(0, idx, src);
        const g = src.gather(0, idx);
        src.zeroGrad();
        g.sum().backward();
        return { dw: values(emb.weight.grad!), sa: values(sa), dsrc: values(src.grad!) };
      });
    run(1);
    const before = backendInfo().compiles;
    for (const most of [2, 5, 9, 12]) {
      const { dw, sa, dsrc } = run(most);
      const idx = indices(most);
      const count = [0, 1, 2, 3, 4].map((c) => idx.filter((v) => v === c).length);
      expect(dw, `embedding dW, ${most} repeats`).toEqual(count.flatMap((n) => [n, n, n]));
      const s = values(src);
      const want = [0, 1, 2, 3, 4].map((c) => idx.reduce((acc, v, p) => (v === c ? acc + s[p] : acc), 0));
      sa.forEach((v, c) => expect(v, `scatterAdd row ${c}, ${most} repeats`).toBeCloseTo(want[c], 5));
      expect(dsrc, `gather's backward, ${most} repeats`).toEqual(Array.from({ length: 12 }, (_, p) => idx.filter((v) => v === p).length));
    }
    expect(backendInfo().compiles - before, 'kernels compiled for new index data').toBe(0);
  });
});
