// autograd.detectAnomaly: the first backward that returns NaN or Infinity throws, naming the op, the input
// and the forward call that created it; without it, backward goes on and the gradient holds the NaN (as
// PyTorch). The setting is restored after detectAnomaly, also when it throws.
import { describe, expect, it } from 'vitest';
import { autograd, tensor } from '../../src/index.js';
import { MODES, useMode, values } from '../support/helpers.js';

describe.each(MODES)('anomaly detection on %s', (mode) => {
  it('names the op, the input and the forward call; off, the NaN flows into .grad', () => {
    useMode(mode);
    const x = tensor([0, 4], { dtype: 'float32', requiresGrad: true });
    // d sqrt(x)/dx = 1 / (2 sqrt(x)): Infinity at 0
    let err: Error | null = null;
    try {
      autograd.detectAnomaly(() => x.sqrt().sum().backward());
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(
      /^backward: anomaly detected: Sqrt's backward returned Infinity in its gradient for input 0 \(shape \[2\]\)\nThe forward call that created it:\n/,
    );
    expect(err?.message).toMatch(/anomaly\.test\.ts/); // the trace points at the forward call here
    expect(autograd.isAnomalyEnabled()).toBe(false); // restored after the throw
    // NaN: sqrt of a negative number
    const y = tensor([-1, 1], { dtype: 'float32', requiresGrad: true });
    expect(() => autograd.detectAnomaly(() => y.sqrt().mul(2).sum().backward())).toThrow(
      /^backward: anomaly detected: Sqrt's backward returned NaN in its gradient for input 0/,
    );
    // off: backward finishes and the gradient carries the NaN
    const z = tensor([-1, 1], { dtype: 'float32', requiresGrad: true });
    z.sqrt().sum().backward();
    expect(Number.isNaN(values(z.grad!)[0])).toBe(true);
    // a graph recorded before anomaly mode has no forward trace, and says so
    const w = tensor([0, 1], { dtype: 'float32', requiresGrad: true });
    const r = w.sqrt().sum();
    expect(() => autograd.detectAnomaly(() => r.backward())).toThrow(
      /\(no forward trace: the op was recorded before anomaly detection was turned on\)/,
    );
  });
});

describe('setDetectAnomaly', () => {
  it('returns the previous setting and checks its argument', () => {
    expect(autograd.setDetectAnomaly(true)).toBe(false);
    expect(autograd.isAnomalyEnabled()).toBe(true);
    expect(autograd.setDetectAnomaly(false)).toBe(true);
    expect(() => autograd.setDetectAnomaly('yes' as never)).toThrow('setDetectAnomaly: mode must be a boolean (true or false), got "yes"');
    expect(() => autograd.detectAnomaly(null as never)).toThrow('detectAnomaly: expects a function, got null');
  });
});
