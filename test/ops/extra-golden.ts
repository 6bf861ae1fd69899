// PyTorch golden cases of test/fixtures/extra.json (scripts/make_fixtures.py, make_extra): clamp/clip, silu,
// select/index, where with numbers, norm/normalize/outer, rmsNorm, oneHot, isclose, einsum. Each test file
// runs the cases of its ops through goldenSuites (test/support/golden.ts) with these tolerances.
import { readFixture, type GoldenCase } from '../support/fixture-io.js';
import type { FloatDType, GoldenTol } from '../support/golden.js';

export type ExtraCase = GoldenCase;

/** The cases of the given ops. */
export function extraCases(ops: string[]): ExtraCase[] {
  return (readFixture('extra.json') as { cases: ExtraCase[] }).cases.filter((c) => ops.includes(c.op));
}

/** Outputs and gradients against PyTorch's float64 values: on the float64 path, and in float32. */
export const EXTRA_TOL: Record<FloatDType, GoldenTol> = {
  float64: { atol: 1e-12, rtol: 1e-11 },
  float32: { atol: 2e-5, rtol: 2e-4 },
};
