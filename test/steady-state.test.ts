// Steady-state training over 1,000 steps, on every mode: nothing is compiled after the first step, the
// kernel cache only hits, memory is flat (live tensors and storages, GL textures, resident memory), and
// on the GL modes activations, gradients and optimizer state stay textures: the only readback in a step
// is the loss the loop asks for. The Chromium modes run the same workload in test/browser.test.ts.
import { describe, expect, it } from 'vitest';
import { MODES, useMode } from './support/helpers.js';
import { steadyFailures, steadyTraining, type SteadyReport, type SteadySample } from './support/steady-workload.js';

const STEPS = 1000;

describe.each(MODES)('steady-state training on %s', (mode) => {
  it(`${STEPS} steps: no compile after the first, flat memory, state on the device (GL), one readback per step`, () => {
    useMode(mode);
    // resident memory after a full collection (vitest runs with --expose-gc): garbage not yet collected is
    // no leak, and how much of it a forked worker keeps depends on what ran before in it
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('steady-state test: run with --expose-gc (vitest.config.ts sets it)');
    const r = steadyTraining(STEPS, () => {
      gc();
      return process.memoryUsage().rss;
    });
    console.log(
      `steady state on ${mode}: loss ${r.firstLoss.toFixed(3)} -> ${r.lastLoss.toFixed(3)}; after step 1 ${JSON.stringify(r.afterStep1)}, ` +
        `after step ${STEPS} ${JSON.stringify(r.end)}; ${r.heldTextures}/${r.held} parameters and states on the device`,
    );
    expect(steadyFailures(r, STEPS)).toEqual([]);
  }, 240_000);
});

describe('the resident-memory check', () => {
  const at = (mb: number): SteadySample => ({
    compiles: 1,
    cacheHits: 9,
    readbacks: 0,
    tensors: 4,
    storages: 4,
    textures: 0,
    rss: mb * 2 ** 20,
  });
  const report = (mb200: number, mbMid: number, mbEnd: number): SteadyReport => ({
    gl: false,
    firstLoss: 2,
    lastLoss: 1,
    afterStep1: { ...at(100), cacheHits: 1 },
    atStep200: at(mb200),
    atStepMid: at(mbMid),
    end: at(mbEnd),
    held: 0,
    heldTextures: 0,
  });
  it('fails on growth that goes on, passes a single jump', () => {
    expect(steadyFailures(report(200, 220, 240), STEPS)).toEqual(['resident memory grew 20 MB and then 20 MB after step 200']);
    expect(steadyFailures(report(200, 340, 340), STEPS)).toHaveLength(1);
    expect(steadyFailures(report(200, 260, 262), STEPS)).toEqual([]);
    expect(steadyFailures(report(200, 201, 260), STEPS)).toEqual([]);
  });
});
