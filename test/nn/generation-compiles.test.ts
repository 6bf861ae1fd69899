// Generation compiles its kernels at the first token and never again, on every mode: the main job's
// sampler pads the window to the context (one shape for every window length), and the logits are read
// at the last real position through a narrow() view whose offset moves with each token: a view's offset
// is a kernel argument, not part of the kernel (kernels/strided.ts, the gather and map kernels), so every
// position runs the same compiled kernels. Without the padding the GPU.js modes compile per window
// length (simd does not: test/nn/growing-window.test.ts). The browser test runs the same generation on
// webgl2 and webgl (test/support/generation-workload.ts).
import { describe, expect, it } from 'vitest';
import { backendInfo, manualSeed, noGrad, randn, tidy } from '../../src/index.js';
import { padGeneration } from '../support/generation-workload.js';
import { MODES, useMode } from '../support/helpers.js';

describe.each(MODES)('generation on %s', (mode) => {
  it('compiles nothing after its first token while the padded window grows and slides', () => {
    useMode(mode);
    const r = padGeneration();
    expect(r.text).toHaveLength(16);
    expect(r.compilesAfterFirst, 'kernels compiled after the first token').toBe(0);
  });

  it('a view at a new offset runs the kernel compiled for the same layout at another offset, with its own values', () => {
    useMode(mode);
    manualSeed(4);
    const x = randn([12, 5]);
    const rows = x.toArray();
    noGrad(() => {
      const read = (r: number): number[] => tidy(() => Array.from(x.narrow(0, r, 1).mul(2).toArray()));
      // (row 0 is a prefix of the storage: read as the dense storage itself, not as a view)
      read(1);
      const before = backendInfo().compiles;
      for (let r = 2; r < 12; r++) expect(read(r), `row ${r}`).toEqual(Array.from(rows.slice(5 * r, 5 * r + 5), (v) => 2 * v));
      expect(backendInfo().compiles - before, 'compiles while the map read rows 2..11').toBe(0);
      // and a dense copy of it (contiguous()) likewise
      tidy(() => x.narrow(0, 1, 2).contiguous().toArray());
      const afterMaps = backendInfo().compiles;
      for (let r = 2; r < 10; r++) {
        const got = tidy(() => Array.from(x.narrow(0, r, 2).contiguous().toArray()));
        expect(got, `rows ${r}, ${r + 1}`).toEqual(Array.from(rows.slice(5 * r, 5 * r + 10)));
      }
      expect(backendInfo().compiles - afterMaps, 'compiles while copying rows 2..10').toBe(0);
    });
  });
});
