// PyTorch golden cases (test/fixtures/core.json, indexing.json, extra.json; schema in test/fixtures/README.md):
// one check that runs a case and compares every output and every input gradient with PyTorch's, and the
// suites a test file runs its cases in (the float64 path, and float32 on every mode, one test per case).
import { beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '../../src/index.js';
import { MODES, expectClose, useMode } from './helpers.js';
import { decodeNum, fixtureTensor, isFloatJson, type GoldenCase } from './fixture-io.js';

export type Inputs = Record<string, Tensor | Tensor[]>;
export type FloatDType = 'float32' | 'float64';

/** The single tensor input `k` of a case. */
export const one = (ins: Inputs, k: string): Tensor => {
  const t = ins[k];
  if (t === undefined || Array.isArray(t)) throw new Error(`golden: input '${k}' missing or a list`);
  return t;
};

/** The single tensor input `k`, or null when the case has none. */
export const optional = (ins: Inputs, k: string): Tensor | null => (ins[k] === undefined ? null : one(ins, k));

/** A numeric case argument (null for None), non-finite values decoded. */
export const fixtureArg = (v: unknown): number | null => (v === null || v === undefined ? null : decodeNum(v));

/** Runs one fixture op: one tensor (the output `out`) or the named outputs. */
export type GoldenRun<C extends GoldenCase> = (c: C, ins: Inputs) => Tensor | Record<string, Tensor>;

export interface GoldenTol {
  atol: number;
  rtol: number;
}

export interface CheckOptions extends GoldenTol {
  /** Outputs whose values PyTorch leaves unspecified (topk's indices among ties): shape and dtype are compared, not values. */
  unspecified?: readonly string[];
  /** More checks on the outputs, after the comparison with PyTorch's and before backward. */
  verify?: (outs: Record<string, Tensor>, ins: Inputs) => void;
  /** false: no backward, for a case whose gradient follows an unspecified output. */
  backward?: boolean;
}

/**
 * Runs case `c` on inputs in `dtype` and compares every output (shape, dtype, values) and, after backward of the
 * case's upstream gradient, every input gradient (shape, dtype, values) with PyTorch's. A case with no upstream
 * gradient must have no floating output, and PyTorch's gradients for it must be zero.
 */
export function checkGolden<C extends GoldenCase>(c: C, dtype: FloatDType, run: GoldenRun<C>, opts: CheckOptions): void {
  const { atol, rtol } = opts;
  const ins: Inputs = {};
  for (const [k, v] of Object.entries(c.inputs))
    ins[k] = Array.isArray(v) ? v.map((t) => fixtureTensor(t, dtype, true)) : fixtureTensor(v, dtype, true);
  const r = run(c, ins);
  const outs: Record<string, Tensor> = r instanceof Tensor ? { out: r } : r;
  const created: Tensor[] = [];
  try {
    for (const [k, exp] of Object.entries(c.outputs)) {
      const got = outs[k];
      expect(got, `${c.name}: output '${k}'`).toBeDefined();
      expect(got.shape, `${c.name} (${dtype}): shape of '${k}'`).toEqual(exp.shape);
      expect(got.dtype, `${c.name} (${dtype}): dtype of '${k}'`).toBe(isFloatJson(exp) ? dtype : exp.dtype);
      if (opts.unspecified?.includes(k)) continue;
      if (isFloatJson(exp)) expectClose(got, exp.data.map(decodeNum), atol, rtol, `${c.name} (${dtype}): ${k}`);
      else expect(Array.from(got.toArray()).map(Number), `${c.name} (${dtype}): ${k}`).toEqual(exp.data.map(decodeNum));
    }
    opts.verify?.(outs, ins);
    if (opts.backward === false) return;
    const gradKeys = Object.keys(c.gradOut);
    if (gradKeys.length === 0) {
      if (Object.values(c.outputs).some(isFloatJson))
        throw new Error(`golden: case '${c.name}' has a floating output but no upstream gradient`);
      for (const [k, exp] of Object.entries(c.grads))
        for (const e of Array.isArray(exp) ? exp : [exp])
          expect(
            e.data.map(decodeNum).every((v) => v === 0),
            `${c.name}: PyTorch's d/d${k} without an upstream gradient`,
          ).toBe(true);
      return;
    }
    if (gradKeys.length !== 1) throw new Error(`golden: case '${c.name}' has ${gradKeys.length} upstream gradients; one is supported`);
    const g = fixtureTensor(c.gradOut[gradKeys[0]], dtype);
    created.push(g);
    outs[gradKeys[0]].backward(g);
    for (const [k, exp] of Object.entries(c.grads)) {
      const leaves = ins[k];
      const exps = Array.isArray(exp) ? exp : [exp];
      const ls = Array.isArray(leaves) ? leaves : [leaves];
      expect(ls.length, `${c.name}: grads of '${k}'`).toBe(exps.length);
      exps.forEach((e, i) => {
        const what = `${c.name} (${dtype}): d/d${k}${Array.isArray(exp) ? `[${i}]` : ''}`;
        const grad = ls[i].grad;
        if (grad === null) throw new Error(`${what}: no gradient`);
        expect(grad.shape, `${what} shape`).toEqual(e.shape);
        expect(grad.dtype, `${what} dtype`).toBe(dtype);
        expectClose(grad, e.data.map(decodeNum), atol, rtol, what);
      });
    }
  } finally {
    for (const t of [...Object.values(outs), ...created, ...Object.values(ins).flat()]) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}

export interface SuiteOptions<C extends GoldenCase> {
  /** The tolerances of the float64 path and of float32 (against the same float64 values). */
  tol: Record<FloatDType, GoldenTol>;
  /** How many cases the fixture must hold: exactly `count`, or more than `moreThan`. */
  count?: number;
  moreThan?: number;
  /** The cases also checked in float32 (default: all). */
  float32?: (c: C) => boolean;
}

/**
 * The golden suites of one test file: `title: PyTorch golden values (float64)` (the number of cases, then one
 * test per case) and, on every mode, `title on <mode>: PyTorch golden values in float32` (one test per case).
 */
export function goldenSuites<C extends GoldenCase>(title: string, cases: C[], run: GoldenRun<C>, opts: SuiteOptions<C>): void {
  const named = (cs: C[]): (readonly [string, C])[] => cs.map((c) => [c.name, c] as const);
  describe(`${title}: PyTorch golden values (float64)`, () => {
    it('has the fixture cases', () => {
      if (opts.count !== undefined) expect(cases.length).toBe(opts.count);
      if (opts.moreThan !== undefined) expect(cases.length).toBeGreaterThan(opts.moreThan);
      expect(cases.length).toBeGreaterThan(0);
    });
    it.each(named(cases))('%s', (_, c) => checkGolden(c, 'float64', run, opts.tol.float64));
  });
  const cases32 = opts.float32 ? cases.filter(opts.float32) : cases;
  describe.each(MODES)(`${title} on %s: PyTorch golden values in float32`, (mode) => {
    beforeAll(() => useMode(mode));
    it.each(named(cases32))('%s', (_, c) => checkGolden(c, 'float32', run, opts.tol.float32));
  });
}
