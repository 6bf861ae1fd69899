// Helpers for the op tests: run one function on float64 inputs (the precise host path) and on float32
// copies (the active GPU.js mode), and compare every output and every input gradient.
import { expect } from 'vitest';
import { manualSeed, randn, type Tensor } from '../../src/index.js';
import { expectClose } from './helpers.js';

export type Fn = (...xs: Tensor[]) => Tensor | Tensor[];

export interface PathTol {
  atol?: number;
  rtol?: number;
  gatol?: number;
  grtol?: number;
  /** Seed for the random output gradients. */
  seed?: number;
}

const asList = (r: Tensor | Tensor[]): Tensor[] => (Array.isArray(r) ? r : [r]);

/** float64 → float32 copy keeping requiresGrad; other dtypes are passed through unchanged. */
export function to32(t: Tensor): Tensor {
  if (t.dtype !== 'float64') return t;
  const c = t.detach().float();
  return t.requiresGrad ? c.requiresGrad_() : c;
}

/**
 * Runs `f` on `inputs64` (float64, the reference) and on float32 copies (the active mode); compares the
 * outputs, then backpropagates one seeded random gradient per differentiable output and compares the
 * gradient of every input that requires grad. Returns the float32 outputs and gradients for extra checks.
 */
export function comparePaths(
  what: string,
  f: Fn,
  inputs64: Tensor[],
  tol: PathTol = {},
): { y32: Tensor[]; y64: Tensor[]; g32: (Tensor | null)[]; g64: (Tensor | null)[] } {
  const { atol = 1e-5, rtol = 1e-4, gatol = 1e-4, grtol = 1e-3, seed = 7 } = tol;
  const inputs32 = inputs64.map(to32);
  const y64 = asList(f(...inputs64));
  const y32 = asList(f(...inputs32));
  expect(y32.length, `${what}: number of outputs`).toBe(y64.length);
  y64.forEach((o64, k) => {
    const o32 = y32[k];
    expect(o32.shape, `${what}: output ${k} shape`).toEqual(o64.shape);
    expect(o32.dtype, `${what}: output ${k} dtype`).toBe(o64.dtype === 'float64' ? 'float32' : o64.dtype);
    expectClose(o32, o64, atol, rtol, `${what}: output ${k}`);
  });
  manualSeed(seed);
  const diff = y64.map((o, k) => o.requiresGrad && y32[k].requiresGrad);
  const last = diff.lastIndexOf(true);
  y64.forEach((o64, k) => {
    if (!diff[k]) return;
    const g = randn(o64.shape, { dtype: 'float64' });
    o64.backward(g, { retainGraph: k !== last });
    y32[k].backward(g.float(), { retainGraph: k !== last });
  });
  const g64 = inputs64.map((t) => (t.requiresGrad ? t.grad : null));
  const g32 = inputs32.map((t) => (t.requiresGrad ? t.grad : null));
  inputs64.forEach((t, j) => {
    if (!t.requiresGrad || last < 0) return;
    expect(g64[j], `${what}: float64 gradient of input ${j}`).not.toBeNull();
    expect(g32[j], `${what}: float32 gradient of input ${j}`).not.toBeNull();
    expect(g32[j]!.shape, `${what}: gradient ${j} shape`).toEqual(t.shape);
    expect(g32[j]!.dtype).toBe('float32');
    expectClose(g32[j]!, g64[j]!, gatol, grtol, `${what}: gradient of input ${j}`);
  });
  return { y32, y64, g32, g64 };
}

/** float64 randn leaf that requires grad. */
export function r64(shape: number[], requiresGrad = true): Tensor {
  return randn(shape, { dtype: 'float64', requiresGrad });
}

/** Flat values of a tensor as a plain array. */
export function vals(t: Tensor): number[] {
  return Array.from(t.toArray() as ArrayLike<number>);
}

/** True when no element is NaN. */
export function noNaN(t: Tensor): boolean {
  return vals(t).every((v) => !Number.isNaN(v));
}
