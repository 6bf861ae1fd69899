// PyTorch golden values for the core ops (test/fixtures/core.json, made by scripts/make_fixtures.py with
// PyTorch 1.13 in float64; schema in test/fixtures/README.md). Every case runs once on the float64 path
// (tight tolerance) and, on every GPU.js mode under test, in float32 against the same float64 values.
import { beforeAll, describe, expect, it } from 'vitest';
import { F, cat, stack, where, type Tensor } from '../../src/index.js';
import { MODES, expectClose, useMode } from '../support/helpers.js';
import { decodeNum, fixtureTensor, isFloatJson, readFixture, type TensorJson, type GoldenCase } from '../support/fixture-io.js';

type Arg = number | string | boolean | null | number[];
type CoreCase = GoldenCase<Arg>;

const fixture = readFixture('core.json') as { schema: number; cases: CoreCase[] };
const CASES = fixture.cases;

const load = (t: TensorJson, floatDtype: 'float32' | 'float64', requiresGrad = false): Tensor => fixtureTensor(t, floatDtype, requiresGrad);

type Inputs = Record<string, Tensor | Tensor[]>;
const one = (ins: Inputs, k: string): Tensor => {
  const t = ins[k];
  if (t === undefined || Array.isArray(t)) throw new Error(`golden: input '${k}' missing or a list`);
  return t;
};
const optional = (ins: Inputs, k: string): Tensor | null => (ins[k] === undefined ? null : one(ins, k));
const dimArg = (a: Arg): number | number[] | undefined => (a === null || a === undefined ? undefined : (a as number | number[]));

/** Runs one fixture op; returns its named outputs. */
function run(c: CoreCase, ins: Inputs): Record<string, Tensor> {
  const a = c.args;
  const x = (): Tensor => one(ins, 'input');
  const other = (): Tensor | number => (ins.other !== undefined ? one(ins, 'other') : decodeNum(a.other));
  switch (c.op) {
    case 'add':
      return { out: x().add(other()) };
    case 'sub':
      return { out: x().sub(other()) };
    case 'mul':
      return { out: x().mul(other()) };
    case 'div':
      return { out: x().div(other()) };
    case 'pow':
      return { out: x().pow(other()) };
    case 'maximum':
      return { out: x().maximum(other()) };
    case 'minimum':
      return { out: x().minimum(other()) };
    case 'exp':
    case 'log':
    case 'sqrt':
    case 'rsqrt':
    case 'abs':
    case 'tanh':
    case 'sigmoid':
    case 'relu':
      return { out: x()[c.op]() };
    case 'gelu':
      return { out: F.gelu(x(), { approximate: a.approximate as 'none' | 'tanh' }) };
    case 'where':
      return { out: where(one(ins, 'condition'), x(), one(ins, 'other')) };
    case 'maskedFill':
      return { out: x().maskedFill(one(ins, 'mask'), decodeNum(a.value)) };
    case 'sum':
      return { out: x().sum(dimArg(a.dim), a.keepdim as boolean) };
    case 'mean':
      return { out: x().mean(dimArg(a.dim), a.keepdim as boolean) };
    case 'amax':
      return { out: x().amax(dimArg(a.dim), a.keepdim as boolean) };
    case 'var':
      return { out: x().var(dimArg(a.dim), { correction: a.correction as number, keepdim: a.keepdim as boolean }) };
    case 'maxDim': {
      const r = x().max(a.dim as number, a.keepdim as boolean);
      return { values: r.values, indices: r.indices };
    }
    case 'matmul':
      return { out: x().matmul(one(ins, 'other')) };
    case 'permute':
      return { out: x().permute(a.dims as number[]) };
    case 'transpose':
      return { out: x().transpose(a.dim0 as number, a.dim1 as number) };
    case 'cat':
      return { out: cat(ins.tensors as Tensor[], a.dim as number) };
    case 'stack':
      return { out: stack(ins.tensors as Tensor[], a.dim as number) };
    case 'narrow':
      return { out: x().narrow(a.dim as number, a.start as number, a.length as number) };
    case 'indexSelect':
      return { out: x().indexSelect(a.dim as number, one(ins, 'index')) };
    case 'softmax':
      return { out: x().softmax(a.dim as number) };
    case 'logSoftmax':
      return { out: x().logSoftmax(a.dim as number) };
    case 'layerNorm':
      return { out: F.layerNorm(x(), a.normalizedShape as number[], optional(ins, 'weight'), optional(ins, 'bias'), a.eps as number) };
    case 'embedding':
      return { out: F.embedding(x(), one(ins, 'weight'), a.paddingIdx as number | null) };
    case 'crossEntropy':
      return {
        out: F.crossEntropy(x(), one(ins, 'target'), {
          ignoreIndex: a.ignoreIndex as number,
          labelSmoothing: a.labelSmoothing as number,
          reduction: a.reduction as F.Reduction,
        }),
      };
    case 'mseLoss':
      return { out: F.mseLoss(x(), one(ins, 'target'), { reduction: a.reduction as F.Reduction }) };
    default:
      throw new Error(`golden: no dispatch for op '${c.op}' (case '${c.name}')`);
  }
}

function check(c: CoreCase, dtype: 'float32' | 'float64', atol: number, rtol: number): void {
  const ins: Inputs = {};
  for (const [k, v] of Object.entries(c.inputs)) ins[k] = Array.isArray(v) ? v.map((t) => load(t, dtype, true)) : load(v, dtype, true);
  const outs = run(c, ins);
  const created: Tensor[] = [];
  try {
    for (const [k, exp] of Object.entries(c.outputs)) {
      const got = outs[k];
      expect(got, `${c.name}: output '${k}'`).toBeDefined();
      expect(got.shape, `${c.name}: shape of '${k}'`).toEqual(exp.shape);
      if (isFloatJson(exp)) {
        expect(got.dtype, `${c.name}: dtype of '${k}'`).toBe(dtype);
        expectClose(got, exp.data.map(decodeNum), atol, rtol, `${c.name}: ${k}`);
      } else {
        expect(got.dtype, `${c.name}: dtype of '${k}'`).toBe(exp.dtype);
        expect(Array.from(got.toArray()), `${c.name}: ${k}`).toEqual(exp.data.map(decodeNum));
      }
    }
    const gradKeys = Object.keys(c.gradOut);
    if (gradKeys.length !== 1) throw new Error(`golden: case '${c.name}' has ${gradKeys.length} upstream gradients; one is supported`);
    const g = load(c.gradOut[gradKeys[0]], dtype);
    created.push(g);
    outs[gradKeys[0]].backward(g);
    for (const [k, exp] of Object.entries(c.grads)) {
      const leaves = ins[k];
      const exps = Array.isArray(exp) ? exp : [exp];
      const ls = Array.isArray(leaves) ? leaves : [leaves];
      expect(ls.length, `${c.name}: grads of '${k}'`).toBe(exps.length);
      exps.forEach((e, i) => {
        const what = `${c.name}: d/d${k}${Array.isArray(exp) ? `[${i}]` : ''}`;
        const grad = ls[i].grad;
        const want = e.data.map(decodeNum);
        if (grad === null) {
          expect(
            want.every((v) => v === 0),
            `${what}: no gradient, expected a nonzero one`,
          ).toBe(true);
          return;
        }
        expect(grad.shape, `${what} shape`).toEqual(e.shape);
        expect(grad.dtype, `${what} dtype`).toBe(dtype);
        expectClose(grad, want, atol, rtol, what);
      });
    }
  } finally {
    for (const t of [...Object.values(outs), ...created, ...Object.values(ins).flat()]) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}

describe('golden core ops: float64 path against PyTorch', () => {
  it('the fixture is present and has the expected schema', () => {
    expect(fixture.schema).toBe(1);
    expect(CASES.length).toBeGreaterThan(50);
  });
  for (const c of CASES) {
    it(c.name, () => check(c, 'float64', 1e-10, 1e-10));
  }
});

describe.each(MODES)('golden core ops on %s: float32 against PyTorch', (mode) => {
  beforeAll(() => useMode(mode));
  for (const c of CASES) {
    it(c.name, () => check(c, 'float32', 1e-4, 1e-4));
  }
});
