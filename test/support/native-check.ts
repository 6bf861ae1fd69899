// The check the native tests share (test/ops/native-*.test.ts): a case runs on float64 inputs (the kernel
// sources on the host executor) and on float32 copies, with one seeded output gradient each; outputs and
// input gradients are compared (exactly for copies); on 'simd' the float32 run must have taken the native
// of every one of `own` it launched. `seen` collects those natives, for the test that all were reached.
import { expect } from 'vitest';
import { manualSeed, randn, type Tensor } from '../../src/index.js';
import type { Mode } from '../../src/backend/index.js';
import { _kernelProfile, _profileKernels } from '../../src/kernels/run.js';
import { expectClose, values } from './helpers.js';
import { to32 } from './check.js';

export type CaseFn = (...xs: Tensor[]) => Tensor | Tensor[];
const list = (r: Tensor | Tensor[]): Tensor[] => (Array.isArray(r) ? r : [r]);

export interface NativeCheckOptions {
  /** compare outputs exactly (float32 copies of the same values) */
  exact?: boolean;
  atol?: number;
  /** seeds both runs the same (dropout masks) and the output gradients */
  seed?: number;
}

export function nativeChecker(
  mode: Mode,
  own: readonly string[],
): { check: (what: string, f: CaseFn, inputs64: Tensor[], opts?: NativeCheckOptions) => void; seen: Set<string> } {
  const seen = new Set<string>();
  const check = (what: string, f: CaseFn, inputs64: Tensor[], opts: NativeCheckOptions = {}): void => {
    const { exact = false, atol = 1e-5, seed = 3 } = opts;
    const inputs32 = inputs64.map(to32);
    manualSeed(seed);
    const y64 = list(f(...inputs64));
    manualSeed(seed);
    _profileKernels(true);
    const y32 = list(f(...inputs32));
    manualSeed(seed);
    const grads = y64.map((y) => (y.requiresGrad ? randn(y.shape, { dtype: 'float64' }) : null));
    y32.forEach((y, k) => grads[k] && y.backward(grads[k].float(), { retainGraph: k < y32.length - 1 }));
    const prof = _kernelProfile();
    _profileKernels(false);
    y64.forEach((y, k) => grads[k] && y.backward(grads[k], { retainGraph: k < y64.length - 1 }));
    y64.forEach((o64, k) => {
      expect(y32[k].shape, `${what}: output ${k} shape`).toEqual(o64.shape);
      if (exact && o64.dtype === 'float64')
        expect(values(y32[k]), `${what}: output ${k}`).toEqual(Array.from(Float32Array.from(values(o64))));
      else if (exact) expect(values(y32[k]), `${what}: output ${k}`).toEqual(values(o64));
      else expectClose(y32[k], o64, atol, 1e-4, `${what}: output ${k}`);
    });
    inputs64.forEach((t, j) => {
      if (!t.requiresGrad || grads.every((g) => !g)) return;
      expectClose(inputs32[j].grad!, t.grad!, 10 * atol, 1e-3, `${what}: gradient of input ${j}`);
    });
    if (mode !== 'simd') return;
    for (const e of prof) {
      if (!own.includes(e.kernel)) continue;
      expect(e.native, `${what}: ${e.kernel} ran its native (${e.native} of ${e.calls} calls)`).toBe(e.calls);
      seen.add(e.kernel);
    }
  };
  return { check, seen };
}
