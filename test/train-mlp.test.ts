// End to end: a 2-layer MLP made of raw tensors learns an XOR-like toy problem with plain SGD, on every
// GPU.js mode, reproducibly from manualSeed, and in step with the float64 path.
import { describe, expect, it } from 'vitest';
import { F, manualSeed, noGrad, randn, tensor, zeros, type DType, type Tensor } from '../src/index.js';
import { MODES, useMode } from './support/helpers.js';

const N = 64;
const HIDDEN = 12;
const STEPS = 60;
const LR = 0.5;

/** Four noisy clusters at (±2, ±2); the class is whether x·y > 0 (not linearly separable). */
function dataset(dtype: DType): { x: Tensor; y: Tensor } {
  manualSeed(2024);
  const noise = Array.from(randn([N, 2], { dtype: 'float64' }).toArray());
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < N; i++) {
    const sx = i % 2 ? 1 : -1;
    const sy = (i >> 1) % 2 ? 1 : -1;
    xs.push(2 * sx + 0.5 * noise[2 * i], 2 * sy + 0.5 * noise[2 * i + 1]);
    ys.push(sx * sy > 0 ? 1 : 0);
  }
  return { x: tensor(xs, { shape: [N, 2], dtype }), y: tensor(ys, { dtype: 'int32' }) };
}

function train(dtype: DType): { losses: number[]; accuracy: number } {
  const { x, y } = dataset(dtype);
  manualSeed(7);
  const w1 = randn([2, HIDDEN], { dtype }).mul(0.5).requiresGrad_();
  const b1 = zeros([HIDDEN], { dtype, requiresGrad: true });
  const w2 = randn([HIDDEN, 2], { dtype }).mul(0.5).requiresGrad_();
  const b2 = zeros([2], { dtype, requiresGrad: true });
  const params = [w1, b1, w2, b2];
  const forward = (): Tensor => x.matmul(w1).add(b1).tanh().matmul(w2).add(b2);
  const losses: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    const loss = F.crossEntropy(forward(), y);
    losses.push(loss.item());
    loss.backward();
    noGrad(() => {
      for (const p of params) {
        const upd = p.grad!.mul(LR);
        p.sub_(upd);
        upd.dispose();
        p.zeroGrad();
      }
    });
  }
  const pred = noGrad(() => forward().argmax(1));
  const pv = pred.toArray();
  const yv = y.toArray();
  const correct = Array.from(pv).filter((v, i) => v === yv[i]).length;
  return { losses, accuracy: correct / N };
}

let reference: number[] | null = null;
const float64Run = (): number[] => (reference ??= train('float64').losses);

describe('training a 2-layer MLP with SGD', () => {
  it('float64: the loss falls by more than 10x and every point is classified correctly', () => {
    const { losses, accuracy } = train('float64');
    expect(losses[0]).toBeGreaterThan(0.5);
    expect(losses[STEPS - 1]).toBeLessThan(losses[0] / 10);
    // (nearly) monotone: no step raises the loss by more than 1%
    losses.slice(1).forEach((l, k) => expect(l).toBeLessThan(losses[k] * 1.01));
    expect(accuracy).toBe(1);
  });
  describe.each(MODES)('on %s (float32)', (mode) => {
    it('learns as well, reproducibly with manualSeed, in step with the float64 run', () => {
      useMode(mode);
      const a = train('float32');
      expect(a.losses[STEPS - 1]).toBeLessThan(a.losses[0] / 10);
      expect(a.accuracy).toBe(1);
      const b = train('float32');
      expect(b.losses).toEqual(a.losses); // same seed, same mode: bit for bit
      const ref = float64Run();
      a.losses.forEach((l, k) => expect(Math.abs(l - ref[k]), `step ${k}`).toBeLessThan(1e-3 * Math.max(1, ref[k])));
    });
  });
});
