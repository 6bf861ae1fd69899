import { beforeAll, describe, expect, it } from 'vitest';
import { manualSeed, noGrad, randn, tensor, zeros, type DType, type Tensor } from '../../src/index.js';
import { MultiheadAttention } from '../../src/nn/attention.js';
import {
  TransformerDecoderLayer,
  TransformerEncoder,
  TransformerEncoderLayer,
  type TransformerLayerOptions,
} from '../../src/nn/transformer.js';
import { LayerNorm } from '../../src/nn/layers.js';
import type { Module } from '../../src/nn/module.js';
import { MODES, expectClose, useMode, values } from '../support/helpers.js';
import { decodeNum, fixtureTensor, readFixture, type TensorJson } from '../support/fixture-io.js';

type TJ = TensorJson;
const mha = readFixture('mha.json');
const tr = readFixture('transformer.json');
const num = decodeNum;
/** A fixture tensor as a gpugrad tensor; float data in `dtype` (the fixture's, or a forced one). */
const T = (j: TJ, dtype?: DType, requiresGrad = false): Tensor => fixtureTensor(j, dtype, requiresGrad);
const kw = (kwargs: Record<string, unknown>, dtype: DType) => {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kwargs)) o[k] = v && typeof v === 'object' && 'shape' in (v as object) ? T(v as TJ, dtype) : v;
  return o;
};
function loadInto(m: Module, sd: Record<string, TJ>, dtype: DType): void {
  const dict: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(sd)) dict[k] = T(v, dtype);
  m.loadStateDict(dict);
}

function runMha(c: any, dtype: DType, tolA: number, tolR: number): void {
  const m = new MultiheadAttention(c.ctor.embedDim, c.ctor.numHeads, {
    bias: c.ctor.bias,
    addBiasKv: c.ctor.addBiasKv,
    addZeroAttn: c.ctor.addZeroAttn,
    kdim: c.ctor.kdim ?? undefined,
    vdim: c.ctor.vdim ?? undefined,
    batchFirst: c.ctor.batchFirst,
    dtype,
  });
  m.eval();
  expect(Object.keys(m.stateDict()).sort()).toEqual(Object.keys(c.stateDict).sort());
  loadInto(m, c.stateDict, dtype);
  const q = T(c.inputs.query, dtype, true);
  const k = c.selfAttention ? q : T(c.inputs.key, dtype, true);
  const v = c.selfAttention ? q : T(c.inputs.value, dtype, true);
  const [out, w] = m.forward(q, k, v, kw(c.kwargs, dtype));
  expectClose(out, c.output.data.map(num), tolA, tolR, `${c.name}: output`);
  if (c.attnWeights) expectClose(w!, c.attnWeights.data.map(num), tolA, tolR, `${c.name}: weights`);
  else expect(w).toBeNull();
  out.backward(T(c.gradOut, dtype));
  if (c.selfAttention) expectClose(q.grad!, c.gradSelf.data.map(num), tolA * 10, tolR * 10, `${c.name}: d input`);
  else {
    expectClose(q.grad!, c.grads.query.data.map(num), tolA * 10, tolR * 10, `${c.name}: d query`);
    expectClose(k.grad!, c.grads.key.data.map(num), tolA * 10, tolR * 10, `${c.name}: d key`);
    expectClose(v.grad!, c.grads.value.data.map(num), tolA * 10, tolR * 10, `${c.name}: d value`);
  }
  const params = Object.fromEntries(m.namedParameters());
  for (const [name, g] of Object.entries(c.paramGrads as Record<string, TJ>)) {
    expectClose(params[name].grad!, g.data.map(num), tolA * 10, tolR * 10, `${c.name}: d ${name}`);
  }
}

function buildTransformer(c: any, dtype: DType): Module {
  // the fixture's constructor record holds the positional dModel and nhead too: they are not options
  const opts = ({ dModel: _d, nhead: _h, ...o }: any): TransformerLayerOptions => ({ ...o, dtype });
  if (c.module === 'encoderLayer') return new TransformerEncoderLayer(c.ctor.dModel, c.ctor.nhead, opts(c.ctor));
  if (c.module === 'decoderLayer') return new TransformerDecoderLayer(c.ctor.dModel, c.ctor.nhead, opts(c.ctor));
  const l = c.ctor.encoderLayer;
  return new TransformerEncoder(new TransformerEncoderLayer(l.dModel, l.nhead, opts(l)), c.ctor.numLayers, {
    norm: c.ctor.norm ? new LayerNorm(c.ctor.norm.normalizedShape, { eps: c.ctor.norm.eps, dtype }) : null,
  });
}

function runTransformer(c: any, dtype: DType, tolA: number, tolR: number): void {
  const m = buildTransformer(c, dtype);
  expect(Object.keys(m.stateDict()).sort()).toEqual(Object.keys(c.stateDict).sort());
  loadInto(m, c.stateDict, dtype);
  const ins = Object.fromEntries(Object.entries(c.inputs as Record<string, TJ>).map(([k, v]) => [k, T(v, dtype, true)]));
  const o = kw(c.kwargs, dtype);
  const out =
    c.module === 'decoderLayer'
      ? (m as TransformerDecoderLayer).forward(ins.tgt, ins.memory, o)
      : (m as TransformerEncoderLayer | TransformerEncoder).forward(ins.src, o);
  expectClose(out, c.output.data.map(num), tolA, tolR, `${c.name}: output`);
  out.backward(T(c.gradOut, dtype));
  for (const [k, g] of Object.entries(c.inputGrads as Record<string, TJ>))
    expectClose(ins[k].grad!, g.data.map(num), tolA * 10, tolR * 10, `${c.name}: d ${k}`);
  const params = Object.fromEntries(m.namedParameters());
  for (const [name, g] of Object.entries(c.paramGrads as Record<string, TJ>))
    expectClose(params[name].grad!, g.data.map(num), tolA * 10, tolR * 10, `${c.name}: d ${name}`);
}

describe('MultiheadAttention vs torch.nn.MultiheadAttention (float64 fixtures)', () => {
  for (const c of mha.cases.filter((x: any) => x.dtype === 'float64')) {
    it(c.name, () => runMha(c, 'float64', 1e-10, 1e-9));
  }
});

describe('Transformer layers vs PyTorch (float64 fixtures)', () => {
  for (const c of tr.cases) it(c.name, () => runTransformer(c, 'float64', 1e-10, 1e-9));
});

describe.each(MODES)('MultiheadAttention and Transformer layers on %s (float32)', (mode) => {
  beforeAll(() => useMode(mode));
  for (const c of mha.cases) it(`MHA ${c.name}`, () => runMha(c, 'float32', 2e-5, 2e-4));
  for (const c of tr.cases.slice(0, 9)) it(`${c.name}`, () => runTransformer(c, 'float32', 5e-5, 5e-4));
});

describe('MultiheadAttention behaviour', () => {
  it('eval() output is deterministic and equals the dropout-free output; train() applies attention dropout', () => {
    manualSeed(0);
    const m = new MultiheadAttention(8, 2, { dropout: 0.5, batchFirst: true });
    const x = randn([2, 5, 8]);
    const ref = new MultiheadAttention(8, 2, { dropout: 0, batchFirst: true });
    ref.loadStateDict(m.stateDict());
    m.eval();
    const a = values(m.forward(x, x, x)[0]);
    const b = values(m.forward(x, x, x)[0]);
    expect(a).toEqual(b);
    expectClose(a, values(ref.forward(x, x, x)[0]), 1e-6, 1e-5);
    m.train();
    manualSeed(1);
    const c1 = values(m.forward(x, x, x)[0]);
    manualSeed(1);
    const c2 = values(m.forward(x, x, x)[0]);
    expect(c1).toEqual(c2);
    expect(c1).not.toEqual(a);
  });
  it('the output is the same whichever needWeights is; weights per head or averaged', () => {
    manualSeed(2);
    const m = new MultiheadAttention(8, 4);
    const x = randn([5, 3, 8]);
    const [o1, w1] = m.forward(x, x, x, { needWeights: true });
    const [o2, w2] = m.forward(x, x, x, { needWeights: false });
    const [, w3] = m.forward(x, x, x, { averageAttnWeights: false });
    expect(values(o1)).toEqual(values(o2));
    expect(w2).toBeNull();
    expect(w1!.shape).toEqual([3, 5, 5]);
    expect(w3!.shape).toEqual([3, 4, 5, 5]);
    expectClose(w3!.mean(1), w1!, 1e-6, 1e-6);
    expectClose(w1!.sum(-1), new Array(15).fill(1), 1e-5, 1e-5);
  });
  it('isCausal equals an explicit causal mask, with and without a key padding mask', () => {
    manualSeed(3);
    const m = new MultiheadAttention(8, 2, { batchFirst: true });
    const x = randn([2, 4, 8]);
    const causal = tensor(
      [0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0].map((v) => v === 1),
      { shape: [4, 4] },
    );
    const [ref] = m.forward(x, x, x, { attnMask: causal, needWeights: false });
    const [hinted] = m.forward(x, x, x, { attnMask: causal, isCausal: true, needWeights: false });
    const [built, bw] = m.forward(x, x, x, { isCausal: true });
    expectClose(hinted, ref, 1e-6, 1e-5);
    expectClose(built, ref, 1e-6, 1e-5);
    expect(values(bw!).filter((w, i) => i % 4 > Math.floor(i / 4) % 4 && w !== 0)).toEqual([]);
    // with weights asked for, PyTorch uses the attnMask as given (the hint does not replace it)
    const diag = tensor(
      Array.from({ length: 16 }, (_, i) => i % 5 !== 0),
      { shape: [4, 4] },
    );
    const [dOut, dW] = m.forward(x, x, x, { attnMask: diag, isCausal: true, needWeights: true });
    const [dRef] = m.forward(x, x, x, { attnMask: diag, needWeights: false });
    expectClose(dOut, dRef, 1e-6, 1e-5);
    expectClose(dW!.narrow(1, 3, 1).narrow(0, 0, 1).reshape([4]), [0, 0, 0, 1], 1e-6, 1e-6);
    const kpm = tensor([false, false, false, true, false, false, false, false], { shape: [2, 4] });
    const [ref2] = m.forward(x, x, x, { attnMask: causal, keyPaddingMask: kpm });
    const [c2] = m.forward(x, x, x, { isCausal: true, keyPaddingMask: kpm });
    expectClose(c2, ref2, 1e-6, 1e-5);
  });
  it('keys all padded give 0 attention output rows (bias only), not NaN', () => {
    manualSeed(4);
    const m = new MultiheadAttention(4, 2, { batchFirst: true });
    noGrad(() => m.outProj.bias!.copy_(zeros([4])));
    const x = randn([1, 3, 4]);
    const [o] = m.forward(x, x, x, { keyPaddingMask: tensor([[true, true, true]]) });
    expect(values(o)).toEqual(new Array(12).fill(0));
  });
  it("PyTorch's initialisation, parameter names and repr", () => {
    manualSeed(6);
    const E = 64;
    const m = new MultiheadAttention(E, 4, { addBiasKv: true });
    expect(m.namedParameters().map(([n]) => n)).toEqual([
      'in_proj_weight',
      'in_proj_bias',
      'bias_k',
      'bias_v',
      'out_proj.weight',
      'out_proj.bias',
    ]);
    const w = values(m.inProjWeight!);
    const bound = Math.sqrt(6 / (E + 3 * E)); // xavier-uniform over (3E, E)
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    const std = Math.sqrt(w.reduce((a, x) => a + x * x, 0) / w.length);
    expect(Math.abs(std - bound / Math.sqrt(3)) / (bound / Math.sqrt(3))).toBeLessThan(0.05);
    expect(values(m.inProjBias!).every((x) => x === 0)).toBe(true);
    expect(values(m.outProj.bias!).every((x) => x === 0)).toBe(true);
    const sep = new MultiheadAttention(8, 2, { kdim: 6, vdim: 5 });
    expect(Object.keys(sep.stateDict())).toEqual([
      'q_proj_weight',
      'k_proj_weight',
      'v_proj_weight',
      'in_proj_bias',
      'out_proj.weight',
      'out_proj.bias',
    ]);
    expect(sep.kProjWeight!.shape).toEqual([8, 6]);
    expect(String(new MultiheadAttention(8, 2))).toBe(
      'MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=True)\n)',
    );
  });
  it("PyTorch's shape checks", () => {
    const m = new MultiheadAttention(8, 2);
    const x = randn([5, 2, 8]);
    expect(() => new MultiheadAttention(10, 3)).toThrow(/embedDim \(10\) must be divisible by numHeads \(3\)/);
    expect(() => m.forward(randn([2, 5, 2, 8]), x, x)).toThrow(
      /query should be unbatched 2D or batched 3D tensor but received 4-D query tensor/,
    );
    expect(() => m.forward(x, randn([5, 8]), randn([5, 8]))).toThrow(
      /for batched \(3-D\) query, expected key and value to be 3-D but found 2-D and 2-D/,
    );
    expect(() => m.forward(randn([5, 2, 6]), x, x)).toThrow(/was expecting embedding dimension of 8, but got 6/);
    expect(() => m.forward(x, x, randn([4, 2, 8]))).toThrow(/key shape \[5, 2, 8\] does not match value shape \[4, 2, 8\]/);
    expect(() => m.forward(x, x, x, { attnMask: zeros([4, 5]) })).toThrow(
      /the shape of the 2D attnMask is \[4, 5\], but should be \[5, 5\]/,
    );
    expect(() => m.forward(x, x, x, { attnMask: zeros([3, 5, 5]) })).toThrow(
      /the shape of the 3D attnMask is \[3, 5, 5\], but should be \[4, 5, 5\]/,
    );
    expect(() => m.forward(x, x, x, { keyPaddingMask: zeros([2, 4], { dtype: 'bool' }) })).toThrow(
      /expected keyPaddingMask of shape \[2, 5\]/,
    );
    expect(() => m.forward(x, x, x, { keyPaddingMask: zeros([2, 5, 1], { dtype: 'bool' }) })).toThrow(
      /expected keyPaddingMask to be null or 2-D but found 3-D/,
    );
    expect(() => m.forward(x, randn([5, 3, 8]), randn([5, 3, 8]))).toThrow(/query batch size 2 does not match key batch size 3/);
  });
});
