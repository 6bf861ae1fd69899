// Shared test helpers: the GPU.js modes under test, and comparisons against the float64 path.
import { expect } from 'vitest';
import { setBackend, getBackend, type Tensor } from '../../src/index.js';
import type { Mode } from '../../src/backend/index.js';

/** The backends this run tests (set by scripts/test.mjs; cpu, webasm and simd by default). */
export const MODES: Mode[] = (process.env.GPUGRAD_TEST_MODES ?? 'cpu,webasm,simd').split(',').map((m) => m.trim()) as Mode[];

/** Switches to `mode` and fails loudly if GPU.js fell back to another one. */
export function useMode(mode: Mode): void {
  setBackend(mode);
  expect(getBackend(), `GPU.js fell back from ${mode}`).toBe(mode);
}

export function values(t: Tensor): number[] {
  return Array.from(t.toArray() as ArrayLike<number>);
}

/** Elementwise |a - b| <= atol + rtol * |b|, with NaN/Infinity matched exactly. */
export function expectClose(
  actual: Tensor | ArrayLike<number>,
  expected: Tensor | ArrayLike<number>,
  atol = 1e-5,
  rtol = 1e-4,
  what = '',
): void {
  const a = 'toArray' in (actual as Tensor) ? values(actual as Tensor) : Array.from(actual as ArrayLike<number>);
  const b = 'toArray' in (expected as Tensor) ? values(expected as Tensor) : Array.from(expected as ArrayLike<number>);
  expect(a.length, `${what} length`).toBe(b.length);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(b[i]) || !Number.isFinite(b[i])) {
      if (!Object.is(a[i], b[i]) && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) {
        throw new Error(`${what} element ${i}: got ${a[i]}, expected ${b[i]}`);
      }
      continue;
    }
    const err = Math.abs(a[i] - b[i]) - (atol + rtol * Math.abs(b[i]));
    if (!(err <= worstErr)) {
      worstErr = Number.isNaN(err) ? Infinity : err;
      worst = i;
    }
  }
  if (worst >= 0)
    throw new Error(`${what} element ${worst}: got ${a[worst]}, expected ${b[worst]} (atol ${atol}, rtol ${rtol}; ${a.length} elements)`);
}
