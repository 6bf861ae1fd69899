import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  F,
  SDPBackend,
  enableFusedSdp,
  enableMathSdp,
  gradcheck,
  lastSdpBackend,
  manualSeed,
  memory,
  noGrad,
  randn,
  sdpaKernel,
  tensor,
  zeros,
  type Tensor,
} from '../../src/index.js';
import { MODES, expectClose, useMode, values } from '../support/helpers.js';
import { scaledDotProductAttentionWithWeights } from '../../src/ops/sdpa.js';
import { setSdpaKeepProbsLimit } from '../../src/ops/sdpa-fused.js';

const sdpa = F.scaledDotProductAttention;

interface Case {
  name: string;
  q: number[];
  k: number[];
  v: number[];
  opts?: { isCausal?: boolean; scale?: number; enableGqa?: boolean };
  mask?: { shape: number[]; kind: 'bool' | 'float'; fullyMaskedRow?: boolean };
}

const CASES: Case[] = [
  { name: '4-D basic', q: [2, 3, 5, 8], k: [2, 3, 5, 8], v: [2, 3, 5, 8] },
  { name: 'L != S, Ev != E', q: [2, 2, 3, 8], k: [2, 2, 6, 8], v: [2, 2, 6, 5] },
  { name: '2-D (L, E) without batch', q: [4, 6], k: [7, 6], v: [7, 3] },
  { name: '3-D (N, L, E)', q: [3, 4, 6], k: [3, 5, 6], v: [3, 5, 6] },
  { name: 'extra batch dims', q: [2, 3, 2, 4, 6], k: [2, 3, 2, 5, 6], v: [2, 3, 2, 5, 4] },
  { name: 'explicit scale 0.3', q: [2, 2, 4, 8], k: [2, 2, 4, 8], v: [2, 2, 4, 8], opts: { scale: 0.3 } },
  { name: 'scale 0', q: [1, 2, 4, 8], k: [1, 2, 5, 8], v: [1, 2, 5, 8], opts: { scale: 0 } },
  { name: 'causal square', q: [2, 2, 5, 4], k: [2, 2, 5, 4], v: [2, 2, 5, 4], opts: { isCausal: true } },
  { name: 'causal L < S (upper-left)', q: [2, 2, 3, 4], k: [2, 2, 6, 4], v: [2, 2, 6, 4], opts: { isCausal: true } },
  {
    name: 'causal L > S (rows past S fully visible, first rows partial)',
    q: [1, 2, 6, 4],
    k: [1, 2, 3, 4],
    v: [1, 2, 3, 4],
    opts: { isCausal: true },
  },
  { name: 'bool mask (L, S)', q: [2, 2, 4, 4], k: [2, 2, 5, 4], v: [2, 2, 5, 4], mask: { shape: [4, 5], kind: 'bool' } },
  { name: 'bool mask (1, 1, L, S)', q: [2, 2, 4, 4], k: [2, 2, 5, 4], v: [2, 2, 5, 4], mask: { shape: [1, 1, 4, 5], kind: 'bool' } },
  { name: 'bool mask (N, 1, L, S)', q: [2, 2, 4, 4], k: [2, 2, 5, 4], v: [2, 2, 5, 4], mask: { shape: [2, 1, 4, 5], kind: 'bool' } },
  {
    name: 'bool mask (N, Hq, L, S) with fully masked rows',
    q: [2, 2, 4, 4],
    k: [2, 2, 5, 4],
    v: [2, 2, 5, 4],
    mask: { shape: [2, 2, 4, 5], kind: 'bool', fullyMaskedRow: true },
  },
  { name: 'float mask (L, S)', q: [2, 2, 4, 4], k: [2, 2, 5, 4], v: [2, 2, 5, 4], mask: { shape: [4, 5], kind: 'float' } },
  { name: 'float mask (N, 1, L, S)', q: [2, 2, 4, 4], k: [2, 2, 5, 4], v: [2, 2, 5, 4], mask: { shape: [2, 1, 4, 5], kind: 'float' } },
  { name: 'float mask (N, Hq, L, S)', q: [2, 2, 4, 4], k: [2, 2, 5, 4], v: [2, 2, 5, 4], mask: { shape: [2, 2, 4, 5], kind: 'float' } },
  {
    name: 'float mask with extra batch dims',
    q: [2, 3, 2, 3, 4],
    k: [2, 3, 2, 5, 4],
    v: [2, 3, 2, 5, 4],
    mask: { shape: [3, 1, 3, 5], kind: 'float' },
  },
  { name: 'GQA Hq=4, H=2', q: [2, 4, 3, 4], k: [2, 2, 5, 4], v: [2, 2, 5, 3], opts: { enableGqa: true } },
  {
    name: 'GQA Hq=6, H=2 with a per-head bool mask',
    q: [1, 6, 3, 4],
    k: [1, 2, 4, 4],
    v: [1, 2, 4, 4],
    opts: { enableGqa: true },
    mask: { shape: [1, 6, 3, 4], kind: 'bool' },
  },
];

function makeMask(spec: NonNullable<Case['mask']>, dtype: 'float32' | 'float64'): Tensor {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const S = spec.shape[spec.shape.length - 1];
  if (spec.kind === 'bool') {
    const vals: boolean[] = [];
    for (let i = 0; i < n; i++) {
      const row = Math.floor(i / S);
      if (spec.fullyMaskedRow && row % 3 === 1) vals.push(false);
      else vals.push((i * 7) % 3 !== 0 || i % S === 0);
    }
    return tensor(vals, { shape: spec.shape, dtype: 'bool' });
  }
  const m = randn(spec.shape, { dtype });
  return m;
}

function inputs(c: Case, dtype: 'float32' | 'float64' = 'float64') {
  manualSeed(11);
  const q = randn(c.q, { dtype, requiresGrad: true });
  const k = randn(c.k, { dtype, requiresGrad: true });
  const v = randn(c.v, { dtype, requiresGrad: true });
  const mask = c.mask ? makeMask(c.mask, dtype) : undefined;
  if (mask && mask.dtype !== 'bool') mask.requiresGrad = true;
  return { q, k, v, mask };
}

function run(backend: SDPBackend, c: Case, t: ReturnType<typeof inputs>): Tensor {
  return sdpaKernel([backend], () => sdpa(t.q, t.k, t.v, { ...c.opts, attnMask: t.mask }));
}

/** float64 math-path reference: output and gradients for a fixed upstream gradient. */
function reference(c: Case) {
  const t = inputs(c);
  const out = run(SDPBackend.MATH, c, t);
  manualSeed(99);
  const g = randn(out.shape, { dtype: 'float64' });
  out.backward(g);
  return { t, out, g };
}

describe('scaledDotProductAttention: float64 (precise paths)', () => {
  for (const c of CASES) {
    it(`${c.name}: fused kernels on the float64 executor match the math path (P kept, and P recomputed)`, () => {
      for (const limit of [1 << 22, 0]) {
        const prev = setSdpaKeepProbsLimit(limit);
        const ref = reference(c);
        const t = inputs(c);
        const out = run(SDPBackend.FUSED, c, t);
        setSdpaKeepProbsLimit(prev);
        expect(lastSdpBackend()).toBe(SDPBackend.FUSED);
        expect(out.shape).toEqual(ref.out.shape);
        expectClose(out, ref.out, 1e-12, 1e-10, 'output');
        out.backward(ref.g);
        expectClose(t.q.grad!, ref.t.q.grad!, 1e-12, 1e-10, 'dq');
        expectClose(t.k.grad!, ref.t.k.grad!, 1e-12, 1e-10, 'dk');
        expectClose(t.v.grad!, ref.t.v.grad!, 1e-12, 1e-10, 'dv');
        if (t.mask && t.mask.dtype !== 'bool') expectClose(t.mask.grad!, ref.t.mask!.grad!, 1e-12, 1e-10, 'dmask');
        for (const x of [out, t.q.grad!, t.k.grad!, t.v.grad!]) expect(values(x).some(Number.isNaN)).toBe(false);
      }
    });
    it(`${c.name}: gradcheck through the math path and through the fused kernels`, () => {
      const t = inputs(c);
      const args = [t.q, t.k, t.v, ...(t.mask && t.mask.dtype !== 'bool' ? [t.mask] : [])];
      const boolMask = t.mask && t.mask.dtype === 'bool' ? t.mask : undefined;
      for (const backend of [SDPBackend.MATH, SDPBackend.FUSED]) {
        const fn = (q: Tensor, k: Tensor, v: Tensor, m?: Tensor) =>
          sdpaKernel([backend], () => sdpa(q, k, v, { ...c.opts, attnMask: m ?? boolMask }));
        expect(gradcheck(fn, args, { fastMode: true })).toBe(true);
      }
    });
  }
  it('full (non-fast) gradcheck on a small float-mask GQA case', () => {
    manualSeed(5);
    const q = randn([1, 2, 2, 3], { dtype: 'float64', requiresGrad: true });
    const k = randn([1, 1, 3, 3], { dtype: 'float64', requiresGrad: true });
    const v = randn([1, 1, 3, 2], { dtype: 'float64', requiresGrad: true });
    const m = randn([2, 3], { dtype: 'float64', requiresGrad: true });
    const fn = (a: Tensor, b: Tensor, c: Tensor, d: Tensor) =>
      sdpaKernel([SDPBackend.FUSED], () => sdpa(a, b, c, { attnMask: d, enableGqa: true }));
    expect(gradcheck(fn, [q, k, v, m])).toBe(true);
  });
  it('weights output: same output as without weights, weights and their gradients match the math path', () => {
    for (const [c, limit] of [CASES[1], CASES[9], CASES[13], CASES[16], CASES[18]].flatMap(
      (x) =>
        [
          [x, 1 << 22],
          [x, 0],
        ] as const,
    )) {
      const prev = setSdpaKeepProbsLimit(limit);
      const grads = (backend: SDPBackend) => {
        const t = inputs(c);
        const r = sdpaKernel([backend], () => scaledDotProductAttentionWithWeights(t.q, t.k, t.v, { ...c.opts, attnMask: t.mask }));
        const plain = sdpaKernel([backend], () => sdpa(t.q, t.k, t.v, { ...c.opts, attnMask: t.mask }));
        expect(values(r.out)).toEqual(values(plain));
        manualSeed(3);
        const gw = randn(r.weights.shape, { dtype: 'float64' });
        r.weights.mul(gw).sum().add(r.out.sum()).backward();
        return { w: r.weights, q: t.q.grad!, k: t.k.grad!, m: t.mask?.grad ?? null };
      };
      const f = grads(SDPBackend.FUSED);
      const m = grads(SDPBackend.MATH);
      expectClose(f.w, m.w, 1e-12, 1e-10, `${c.name} weights`);
      expectClose(f.q, m.q, 1e-12, 1e-10, `${c.name} dq through weights`);
      expectClose(f.k, m.k, 1e-12, 1e-10, `${c.name} dk through weights`);
      if (f.m) expectClose(f.m, m.m!, 1e-12, 1e-10, `${c.name} dmask through weights`);
      setSdpaKeepProbsLimit(prev);
    }
  });
  it('defaults scale to 1/sqrt(E)', () => {
    const t = inputs(CASES[0]);
    const a = sdpa(t.q, t.k, t.v);
    const b = sdpa(t.q, t.k, t.v, { scale: 1 / Math.sqrt(8) });
    expectClose(a, b, 0, 0);
  });
  it('float64 inputs run on the math path by default', () => {
    const t = inputs(CASES[0]);
    sdpa(t.q, t.k, t.v);
    expect(lastSdpBackend()).toBe(SDPBackend.MATH);
  });
});

/** Fused float32 on the current mode against the float64 math reference: output and every gradient. */
function checkFloat32(c: Case): void {
  const ref = reference(c);
  const q = ref.t.q.detach().float().requiresGrad_();
  const k = ref.t.k.detach().float().requiresGrad_();
  const v = ref.t.v.detach().float().requiresGrad_();
  const m = ref.t.mask ? (ref.t.mask.dtype === 'bool' ? ref.t.mask : ref.t.mask.detach().float().requiresGrad_()) : undefined;
  const out = sdpa(q, k, v, { ...c.opts, attnMask: m });
  expect(lastSdpBackend()).toBe(SDPBackend.FUSED);
  expect(out.dtype).toBe('float32');
  expectClose(out, ref.out, 2e-5, 1e-4, `${c.name} output`);
  out.backward(ref.g.float());
  expectClose(q.grad!, ref.t.q.grad!, 1e-4, 1e-3, `${c.name} dq`);
  expectClose(k.grad!, ref.t.k.grad!, 1e-4, 1e-3, `${c.name} dk`);
  expectClose(v.grad!, ref.t.v.grad!, 1e-4, 1e-3, `${c.name} dv`);
  if (m && m.dtype !== 'bool') expectClose(m.grad!, ref.t.mask!.grad!, 1e-4, 1e-3, `${c.name} dmask`);
}

describe.each(MODES)('scaledDotProductAttention on %s: fused float32 vs float64 math', (mode) => {
  beforeAll(() => useMode(mode));
  for (const c of CASES) it(c.name, () => checkFloat32(c));

  it('with P recomputed in the backward (very large weights), gradients still match', () => {
    const prev = setSdpaKeepProbsLimit(0);
    try {
      for (const c of [CASES[1], CASES[9], CASES[13], CASES[16], CASES[18]]) checkFloat32(c);
    } finally {
      setSdpaKeepProbsLimit(prev);
    }
  });

  it('fully masked rows give 0 output and zero gradients, never NaN', () => {
    manualSeed(4);
    const q = randn([1, 1, 3, 4], { requiresGrad: true });
    const k = randn([1, 1, 4, 4], { requiresGrad: true });
    const v = randn([1, 1, 4, 2], { requiresGrad: true });
    const mask = tensor([
      [true, false, true, false],
      [false, false, false, false],
      [true, true, true, true],
    ]);
    for (const backend of [SDPBackend.FUSED, SDPBackend.MATH]) {
      q.grad = k.grad = v.grad = null;
      const out = sdpaKernel([backend], () => sdpa(q, k, v, { attnMask: mask }));
      const o = values(out);
      expect(o.slice(2, 4)).toEqual([0, 0]);
      expect(o.some(Number.isNaN)).toBe(false);
      out.sum().backward();
      const dq = values(q.grad!);
      expect(dq.slice(4, 8)).toEqual([0, 0, 0, 0]);
      for (const g of [q.grad!, k.grad!, v.grad!]) expect(values(g).some(Number.isNaN)).toBe(false);
    }
    const minf = tensor([
      [0, -Infinity, 0, -Infinity],
      [-Infinity, -Infinity, -Infinity, -Infinity],
      [0, 0, 0, 0],
    ]);
    const outF = sdpa(q.detach(), k.detach(), v.detach(), { attnMask: minf });
    expect(values(outF).slice(2, 4)).toEqual([0, 0]);
  });

  it('dropout: zero fraction ≈ p, survivors scaled exactly, reproducible, fused = math for one seed', () => {
    // value = identity makes the output equal the (dropped-out) attention weights
    const L = 16;
    const S = 32;
    const eye = zeros([S, S]).add(
      tensor(
        Array.from({ length: S * S }, (_, i) => (i % (S + 1) === 0 ? 1 : 0)),
        { shape: [S, S] },
      ),
    );
    manualSeed(7);
    const q = randn([2, 2, L, 8], { requiresGrad: true });
    const k = randn([2, 2, S, 8], { requiresGrad: true });
    const v = eye.reshape([1, 1, S, S]).expand([2, 2, S, S]);
    const p = 0.3;
    const plain = values(sdpa(q, k, v));
    manualSeed(123);
    const d1 = sdpa(q, k, v, { dropoutP: p });
    const a = values(d1);
    const zerosFrac = a.filter((x) => x === 0).length / a.length;
    expect(Math.abs(zerosFrac - p)).toBeLessThan(0.05);
    a.forEach((x, i) => {
      if (x !== 0) expect(Math.abs(x - plain[i] / (1 - p))).toBeLessThan(1e-6 + 1e-5 * Math.abs(x));
    });
    d1.sum().backward();
    const g1 = values(q.grad!);
    q.grad = null;
    manualSeed(123);
    const d2 = sdpa(q, k, v, { dropoutP: p });
    expect(values(d2)).toEqual(a);
    d2.sum().backward();
    expect(values(q.grad!)).toEqual(g1);
    manualSeed(123);
    const dm = sdpaKernel([SDPBackend.MATH], () => sdpa(q, k, v, { dropoutP: p }));
    expectClose(dm, d1, 1e-6, 1e-5, 'math vs fused with one seed');
    // the mean over seeds approaches the dropout-free output
    const acc = new Float64Array(a.length);
    const runs = 60;
    for (let s = 0; s < runs; s++) {
      manualSeed(1000 + s);
      values(sdpa(q.detach(), k.detach(), v, { dropoutP: p })).forEach((x, i) => (acc[i] += x / runs));
    }
    const meanErr = acc.reduce((m, x, i) => m + Math.abs(x - plain[i]), 0) / acc.length;
    const meanMag = plain.reduce((m, x) => m + Math.abs(x), 0) / plain.length;
    expect(meanErr / meanMag).toBeLessThan(0.1);
  });

  it('large shape B=2, H=4, L=S=512, E=64 runs forward and backward', () => {
    manualSeed(8);
    const q = randn([2, 4, 512, 64], { requiresGrad: true });
    const k = randn([2, 4, 512, 64], { requiresGrad: true });
    const v = randn([2, 4, 512, 64], { requiresGrad: true });
    const out = sdpa(q, k, v, { isCausal: true });
    expect(out.shape).toEqual([2, 4, 512, 64]);
    out.mean().backward();
    const dq = values(q.grad!);
    expect(dq.length).toBe(2 * 4 * 512 * 64);
    expect(dq.some((x) => !Number.isFinite(x))).toBe(false);
    // the first query row attends to the first key only: its output is value row 0
    const o = values(out);
    const v0 = values(v).slice(0, 64);
    expectClose(o.slice(0, 64), v0, 1e-5, 1e-5, 'causal row 0');
    for (const t of [q, k, v, out]) t.dispose();
  });
});

describe('scaledDotProductAttention: errors and backend selection', () => {
  const q = randn([2, 4, 3, 8]);
  const k = randn([2, 4, 5, 8]);
  const v = randn([2, 4, 5, 6]);
  afterEach(() => {
    enableFusedSdp(true);
    enableMathSdp(true);
    vi.restoreAllMocks();
  });
  it('E mismatch names query and key shapes', () => {
    expect(() => sdpa(q, randn([2, 4, 5, 7]), v)).toThrow(
      /last dim \(E\) of query and key must match: query \[2, 4, 3, 8\], key \[2, 4, 5, 7\]/,
    );
  });
  it('S mismatch between key and value', () => {
    expect(() => sdpa(q, k, randn([2, 4, 6, 6]))).toThrow(/key and value must have the same sequence length S/);
  });
  it('batch dims not broadcastable', () => {
    expect(() => sdpa(randn([3, 4, 3, 8]), randn([2, 4, 5, 8]), randn([2, 4, 5, 6]))).toThrow(/not broadcastable.*query \[3, 4, 3, 8\]/);
  });
  it('mask not broadcastable', () => {
    expect(() => sdpa(q, k, v, { attnMask: tensor(new Array(12).fill(true), { shape: [3, 4] }) })).toThrow(
      /attnMask of shape \[3, 4\] is not broadcastable to the attention weights' shape \[2, 4, 3, 5\]/,
    );
  });
  it('mask dtype must be bool or the query dtype', () => {
    expect(() => sdpa(q, k, v, { attnMask: zeros([3, 5], { dtype: 'float64' }) })).toThrow(
      /attnMask must be bool or of the query's dtype \(float32\), got float64/,
    );
  });
  it('attnMask together with isCausal throws', () => {
    expect(() => sdpa(q, k, v, { attnMask: zeros([3, 5]), isCausal: true })).toThrow(/either attnMask or isCausal, not both/);
  });
  it('GQA rules', () => {
    expect(() => sdpa(randn([1, 4, 3, 8]), randn([1, 3, 5, 8]), randn([1, 3, 5, 8]), { enableGqa: true })).toThrow(
      /query heads \(4\) must be a multiple of the key\/value heads \(3\)/,
    );
    expect(() => sdpa(randn([1, 4, 3, 8]), randn([1, 2, 5, 8]), randn([1, 1, 5, 8]), { enableGqa: true })).toThrow(
      /number of key heads \(2\) must equal the number of value heads \(1\)/,
    );
    expect(() => sdpa(randn([1, 4, 3, 8]), randn([1, 2, 5, 8]), randn([1, 2, 5, 8]))).toThrow(/query has 4 heads but key has 2.*enableGqa/);
  });
  it('dropoutP out of range and bad scale', () => {
    expect(() => sdpa(q, k, v, { dropoutP: 1.5 })).toThrow(/dropout probability has to be between 0 and 1, but got 1.5/);
    expect(() => sdpa(q, k, v, { scale: Number.NaN })).toThrow(/scale must be a finite number/);
  });
  it('sdpaKernel and the global switches choose the backend', () => {
    sdpa(q, k, v);
    expect(lastSdpBackend()).toBe(SDPBackend.FUSED);
    sdpaKernel([SDPBackend.MATH], () => sdpa(q, k, v));
    expect(lastSdpBackend()).toBe(SDPBackend.MATH);
    enableFusedSdp(false);
    sdpa(q, k, v);
    expect(lastSdpBackend()).toBe(SDPBackend.MATH);
    enableMathSdp(false);
    expect(() => sdpa(q, k, v)).toThrow(/no enabled backend can run this call \(fused: disabled; math: disabled\)/);
    expect(sdpaKernel([SDPBackend.FUSED], () => sdpa(q, k, v)).shape).toEqual([2, 4, 3, 6]);
  });
  it('when the fused kernels cannot run it warns once with the reason; with no other backend it throws the reasons', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const big = [1, 1, 4096, 1];
    const qb = zeros(big);
    const kb = zeros(big);
    expect(() => sdpaKernel([SDPBackend.FUSED], () => sdpa(qb, kb, kb))).toThrow(
      /no enabled backend can run this call \(fused: the attention weights have 16777216 elements.*math: disabled/,
    );
    expect(() => sdpaKernel([SDPBackend.FUSED], () => sdpa(qb, kb, kb))).toThrow(/fused: the attention weights/);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/fused kernels cannot run: the attention weights have 16777216 elements/);
  });
});

describe('scaledDotProductAttention frees what it makes', () => {
  it('no data is left behind once the caller disposes the output (with and without backward)', () => {
    manualSeed(9);
    const q = randn([1, 4, 3, 4], { requiresGrad: true });
    const k = randn([1, 2, 5, 4], { requiresGrad: true });
    const v = randn([1, 2, 5, 4], { requiresGrad: true });
    const run = (grad: boolean, withWeights: boolean) => {
      const opts = { dropoutP: 0.2, enableGqa: true };
      const call = () => (withWeights ? scaledDotProductAttentionWithWeights(q, k, v, opts) : { out: sdpa(q, k, v, opts), weights: null });
      const r = grad ? call() : noGrad(call);
      if (grad) {
        const l = r.out.sum();
        l.backward();
        l.dispose();
        for (const t of [q, k, v]) t.zeroGrad();
      }
      r.out.dispose();
      r.weights?.dispose();
    };
    for (const grad of [false, true]) {
      for (const withWeights of [false, true]) {
        run(grad, withWeights);
        const before = memory();
        run(grad, withWeights);
        run(grad, withWeights);
        const after = memory();
        // storages hold the data (textures on GL); after a backward the only leftovers are the GQA head-split
        // views of q, k, v (tensor objects without data of their own, collected by GC)
        expect({ storages: after.storages, textures: after.textures }, `grad ${grad}, weights ${withWeights}`).toEqual({
          storages: before.storages,
          textures: before.textures,
        });
        if (!grad) expect(after.tensors).toBe(before.tensors);
      }
    }
  });
});
