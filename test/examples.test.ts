// The runnable examples (examples/gradcheck.ts, attention-tour.ts, mlp.ts; custom-kernel.ts and hessian.ts
// run in test/autograd/custom.test.ts), each run on every mode with what it prints checked, so none can rot.
import { describe, expect, it } from 'vitest';
import { main as gradcheckExample } from '../examples/gradcheck.js';
import { main as attentionTour } from '../examples/attention-tour.js';
import { main as mlpExample } from '../examples/mlp.js';
import { MODES, useMode } from './support/helpers.js';

describe.each(MODES)('the examples on %s', (mode) => {
  it('examples/gradcheck.ts: the composite passes, the wrong backward fails with a report naming output, input and element', () => {
    useMode(mode);
    const lines: string[] = [];
    const r = gradcheckExample((s) => lines.push(s));
    expect(r.composite).toBe(true);
    expect(r.wrong).toMatch(
      /gradcheck: Jacobian mismatch for output 0 \(shape \[3, 4\], made by WrongSiluBackward\) with respect to input 0 .*d out\[0\] \/ d in\[0\] numerical [\d.-]+, analytical [\d.-]+/,
    );
    expect(lines.join('\n')).toMatch(/gradgradcheck of the same: true/);
  });

  it('examples/attention-tour.ts: every step agrees with its formula; dropout only in training; causal weights', () => {
    useMode(mode);
    const r = attentionTour(() => {});
    expect(r.formula).toBeLessThan(1e-5);
    expect(r.mask).toBeLessThan(1e-5);
    expect(r.gqa).toBeLessThan(1e-5);
    expect(r.evalDiff).toBe(0);
    expect(r.trainDiff).toBeGreaterThan(0);
    expect(r.upperWeight).toBe(0);
  });

  it('examples/mlp.ts: the loss falls by two orders of magnitude in 300 steps', () => {
    useMode(mode);
    const { first, last } = mlpExample(() => {});
    expect(last).toBeLessThan(first / 100);
  });
});
