// F.scaledDotProductAttention against the PyTorch reference fixtures (scripts/make_fixtures.py):
// float64 through the math path and through the fused kernels on the host executor, and float32
// fused kernels on every GPU.js mode.
import { beforeAll, describe, expect, it } from 'vitest';
import { F, SDPBackend, lastSdpBackend, sdpaKernel, type DType, type Tensor } from '../../src/index.js';
import { MODES, expectClose, useMode } from '../support/helpers.js';
import { decodeNum, fixtureTensor, readFixture, type TensorJson } from '../support/fixture-io.js';

const fixture = readFixture('sdpa.json');
const T = (j: TensorJson, dtype: DType, requiresGrad = false): Tensor => fixtureTensor(j, dtype, requiresGrad);
const num = decodeNum;

function check(c: any, dtype: DType, backend: SDPBackend, atol: number, rtol: number): void {
  const q = T(c.inputs.query, dtype, true);
  const k = T(c.inputs.key, dtype, true);
  const v = T(c.inputs.value, dtype, true);
  const m = c.inputs.attnMask ? T(c.inputs.attnMask, dtype, true) : undefined;
  const opts = { isCausal: c.options.isCausal, scale: c.options.scale, enableGqa: c.options.enableGqa, attnMask: m };
  const out = sdpaKernel([backend], () => F.scaledDotProductAttention(q, k, v, opts));
  expect(lastSdpBackend()).toBe(backend);
  expect(out.shape).toEqual(c.output.shape);
  expectClose(out, c.output.data.map(num), atol, rtol, `${c.name}: output`);
  out.backward(T(c.gradOut, dtype));
  expectClose(q.grad!, c.grads.query.data.map(num), atol * 5, rtol * 5, `${c.name}: d query`);
  expectClose(k.grad!, c.grads.key.data.map(num), atol * 5, rtol * 5, `${c.name}: d key`);
  expectClose(v.grad!, c.grads.value.data.map(num), atol * 5, rtol * 5, `${c.name}: d value`);
  if (c.grads.attnMask) expectClose(m!.grad!, c.grads.attnMask.data.map(num), atol * 5, rtol * 5, `${c.name}: d attnMask`);
}

describe('SDPA golden values, float64', () => {
  it('has the fixture cases', () => expect(fixture.cases.length).toBeGreaterThanOrEqual(15));
  for (const c of fixture.cases) {
    it(`${c.name} (math path)`, () => check(c, 'float64', SDPBackend.MATH, 1e-11, 1e-10));
    it(`${c.name} (fused kernels, float64 executor)`, () => check(c, 'float64', SDPBackend.FUSED, 1e-11, 1e-10));
  }
});

describe.each(MODES)('SDPA golden values, float32 fused on %s', (mode) => {
  beforeAll(() => useMode(mode));
  for (const c of fixture.cases) it(c.name, () => check(c, 'float32', SDPBackend.FUSED, 2e-5, 2e-4));
});
