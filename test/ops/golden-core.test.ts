// PyTorch golden values for the core ops (test/fixtures/core.json, made by scripts/make_fixtures.py with
// PyTorch 1.13 in float64; schema in test/fixtures/README.md). Every case runs once on the float64 path
// (tight tolerance) and, on every GPU.js mode under test, in float32 against the same float64 values.
import { beforeAll, describe, expect, it } from 'vitest';
import { F, cat, stack, where, type Tensor } from '../../src/index.js';
import { MODES, useMode } from '../support/helpers.js';
import { decodeNum, readFixture, type GoldenCase } from '../support/fixture-io.js';
import { checkGolden, one, optional, type Inputs } from '../support/golden.js';

type Arg = number | string | boolean | null | number[];
type CoreCase = GoldenCase<Arg>;

const fixture = readFixture('core.json') as { schema: number; cases: CoreCase[] };
const CASES = fixture.cases;

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

describe('golden core ops: float64 path against PyTorch', () => {
  it('the fixture is present and has the expected schema', () => {
    expect(fixture.schema).toBe(1);
    expect(CASES.length).toBeGreaterThan(50);
  });
  for (const c of CASES) {
    it(c.name, () => checkGolden(c, 'float64', run, { atol: 1e-10, rtol: 1e-10 }));
  }
});

describe.each(MODES)('golden core ops on %s: float32 against PyTorch', (mode) => {
  beforeAll(() => useMode(mode));
  for (const c of CASES) {
    it(c.name, () => checkGolden(c, 'float32', run, { atol: 1e-4, rtol: 1e-4 }));
  }
});
