// Padding a causal model's input at the end leaves the outputs at the real positions as they were: the
// padded positions come after them, and causal attention never looks ahead. Generation relies on it to
// run one shape for every window length (bench/workloads.ts generate: no kernel compiled per new length).
import { describe, expect, it } from 'vitest';
import { cat, manualSeed, nn, randn, noGrad } from '../../src/index.js';
import { MODES, useMode } from '../support/helpers.js';

describe.each(MODES)('causal padding on %s', (mode) => {
  it('the outputs at the real positions do not depend on what is padded after them', () => {
    useMode(mode);
    manualSeed(7);
    const layer = new nn.TransformerEncoderLayer(16, 4, {
      dimFeedforward: 32,
      dropout: 0,
      batchFirst: true,
      normFirst: true,
      activation: 'gelu',
    });
    const enc = new nn.TransformerEncoder(layer, 2);
    enc.eval();
    const x = randn([2, 8, 16]);
    noGrad(() => {
      for (const T of [1, 3, 5, 8]) {
        const real = x.narrow(1, 0, T);
        // anything after position T: here large values, to show they cannot leak backwards
        const junk = randn([2, Math.max(8 - T, 1), 16]).mul(100);
        const input = T < 8 ? cat([real, junk], 1) : real;
        const a = enc.forward(real, { isCausal: true });
        const b = enc.forward(input, { isCausal: true }).narrow(1, 0, T);
        const av = a.toArray();
        const bv = b.toArray();
        for (let i = 0; i < av.length; i++) expect(Math.abs(av[i] - bv[i]), `T=${T} element ${i}`).toBeLessThan(1e-4);
      }
    });
  });
});
