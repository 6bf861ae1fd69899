// PyTorch golden cases of test/fixtures/extra.json (scripts/make_fixtures.py, make_extra): clamp/clip, silu,
// select/index, where with numbers, norm/normalize/outer, rmsNorm, oneHot, isclose, einsum. Each test file
// runs the cases of its ops through this helper, on the float64 path and in float32 on every mode.
import { expect } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { expectClose } from '../support/helpers.js';
import { decodeNum, fixtureTensor, isFloatJson, readFixture, type GoldenCase } from '../support/fixture-io.js';

export type ExtraCase = GoldenCase;

export type Inputs = Record<string, Tensor | Tensor[]>;

/** The cases of the given ops. */
export function extraCases(ops: string[]): ExtraCase[] {
  return (readFixture('extra.json') as { cases: ExtraCase[] }).cases.filter((c) => ops.includes(c.op));
}

const arg = (v: unknown): number | null => (v === null || v === undefined ? null : decodeNum(v));
export { arg as fixtureArg };

/** Runs one case in `dtype` and compares the output and every input gradient with PyTorch's. */
export function checkExtra(c: ExtraCase, dtype: 'float32' | 'float64', run: (c: ExtraCase, ins: Inputs) => Tensor): void {
  const tol = dtype === 'float64' ? 1e-12 : 2e-5;
  const ins: Inputs = {};
  for (const [k, t] of Object.entries(c.inputs))
    ins[k] = Array.isArray(t) ? t.map((u) => fixtureTensor(u, dtype, isFloatJson(u))) : fixtureTensor(t, dtype, isFloatJson(t));
  const y = run(c, ins);
  const want = c.outputs.out;
  expect(y.shape, `${c.name}: shape`).toEqual(want.shape);
  if (!isFloatJson(want)) {
    expect(y.dtype, `${c.name}: dtype`).toBe(want.dtype);
    expect(Array.from(y.toArray() as ArrayLike<number>).map(Number), `${c.name}: values`).toEqual(want.data.map(decodeNum));
    return;
  }
  expectClose(y, want.data.map(decodeNum), tol, tol * 10, `${c.name} (${dtype}) out`);
  y.backward(fixtureTensor(c.gradOut.out, dtype));
  for (const [k, g] of Object.entries(c.grads)) {
    const got = ins[k];
    const gs = Array.isArray(g) ? g : [g];
    const ts = Array.isArray(got) ? got : [got];
    gs.forEach((gj, j) =>
      expectClose(ts[j].grad!, gj.data.map(decodeNum), tol, tol * 10, `${c.name} (${dtype}) d${k}${gs.length > 1 ? j : ''}`),
    );
  }
}
