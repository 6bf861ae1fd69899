// In-page half of test/browser.test.ts: bundled with esbuild for the browser (gpu.js resolves to its
// browser build) and run in headless Chromium. For one GPU.js mode (webgl2 or webgl) it switches the
// backend, runs ops, attention, a MultiheadAttention layer, optimizer steps and a safetensors round
// trip in float32 on that mode, compares every result and gradient with the float64 host path in the
// same page, and returns a JSON report; the Node side asserts on it. Nothing here throws out of run():
// every check is recorded (a thrown error becomes a failed check with its message and stack).
// runEviction() runs the kernel-cache eviction checks (test/support/eviction-workload.ts): focused checks on a fresh
// kernel runtime, then the long mixed workload with a tiny cache.

import {
  F,
  SDPBackend,
  backendInfo,
  getBackend,
  lastSdpBackend,
  manualSeed,
  memory,
  nn,
  noGrad,
  ones,
  optim,
  randn,
  sdpaKernel,
  setBackend,
  tensor,
  zeros,
  type BackendName,
  type Tensor,
} from '../../src/index.js';
import { _setKernelCacheLimit, type GpuMode } from '../../src/backend/index.js';
import { evictionWorkload, runtimeChecks, type WorkloadCheck, type WorkloadReport } from '../support/eviction-workload.js';
import { Mismatch, failureDetail } from '../support/mismatch.js';
import { steadyTraining, type SteadyReport } from '../support/steady-workload.js';
import { padGeneration, type GenerationReport } from '../support/generation-workload.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  /** What was compared and how close it came, or why it failed. */
  detail: string;
}

export interface ModeReport {
  requested: string;
  /** getBackend() after setBackend(requested): the mode GPU.js really runs. */
  backend: string;
  renderer: string | null;
  compiles: number;
  checks: CheckResult[];
  memory: { tensors: number; storages: number; textures: number } | null;
  ms: number;
  warnings: string[];
}

export interface EnvReport {
  userAgent: string;
  webgl2: string | null;
  webgl: string | null;
  /** crossOriginIsolated: this test page is served without COOP/COEP (the training page has them) */
  isolated: boolean;
  /** backendInfo().threads on 'simd' */
  simdThreads: number;
}

/** The names of the checks run() reports for every mode (the Node side asserts that none is missing). */
export const CHECK_NAMES = [
  'backend',
  'matmul 2-D',
  'matmul batched, broadcast',
  'softmax with -Infinity masking',
  'long reductions (70,000 elements) and edge values',
  'layerNorm',
  'gelu (exact)',
  'gelu (tanh)',
  'crossEntropy',
  'sdpa bool mask with a fully masked row',
  'sdpa causal',
  'sdpa causal L < S',
  'sdpa GQA',
  'sdpa GQA with a per-head bool mask',
  'MultiheadAttention self-attention, keyPaddingMask, weights',
  'MultiheadAttention cross-attention, bool attnMask',
  'Adam and SGD steps on a tiny model',
  'safetensors round trip',
];

type Fn = (...xs: Tensor[]) => Tensor | Tensor[];

const flat = (t: Tensor | ArrayLike<number>): number[] =>
  'toArray' in (t as Tensor) ? Array.from((t as Tensor).toArray() as ArrayLike<number>, Number) : Array.from(t as ArrayLike<number>);

/**
 * Elementwise |a - b| <= atol + rtol * |b| (NaN and ±Infinity must match exactly). Throws a Mismatch naming
 * the worst element; returns the largest absolute error for the report.
 */
function close(what: string, actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, atol: number, rtol: number): number {
  const a = flat(actual);
  const b = flat(expected);
  if (a.length !== b.length) throw new Mismatch(`${what}: ${a.length} elements, expected ${b.length}`);
  let worst = -1;
  let worstExcess = 0;
  let maxErr = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(b[i])) {
      if (!Object.is(a[i], b[i]) && !(Number.isNaN(a[i]) && Number.isNaN(b[i])))
        throw new Mismatch(`${what}: element ${i} is ${a[i]}, expected ${b[i]}`);
      continue;
    }
    const err = Math.abs(a[i] - b[i]);
    if (!(err <= maxErr)) maxErr = Number.isNaN(err) ? Infinity : err;
    const excess = err - (atol + rtol * Math.abs(b[i]));
    if (!(excess <= worstExcess)) {
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    throw new Mismatch(
      `${what}: element ${worst} is ${a[worst]}, expected ${b[worst]} (atol ${atol}, rtol ${rtol}; ${a.length} elements, max |err| ${maxErr.toExponential(2)})`,
    );
  }
  return maxErr;
}

function sameShape(what: string, a: Tensor, b: Tensor): void {
  if (a.shape.join(',') !== b.shape.join(',')) throw new Mismatch(`${what}: shape [${a.shape}], expected [${b.shape}]`);
}

/** Collects "name: max err" notes for one check. */
class Notes {
  readonly parts: string[] = [];
  close(what: string, actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, atol: number, rtol: number): void {
    if ('shape' in (actual as Tensor) && 'shape' in (expected as Tensor)) sameShape(what, actual as Tensor, expected as Tensor);
    if ('dtype' in (actual as Tensor) && (actual as Tensor).dtype !== 'float32' && (expected as Tensor).dtype === 'float64') {
      throw new Mismatch(`${what}: dtype ${(actual as Tensor).dtype}, expected float32`);
    }
    this.parts.push(`${what} ${close(what, actual, expected, atol, rtol).toExponential(1)}`);
  }
  expect(cond: boolean, msg: string): void {
    if (!cond) throw new Mismatch(msg);
  }
  text(): string {
    return this.parts.length ? `max |err|: ${this.parts.join(', ')}` : 'ok';
  }
}

const asList = (r: Tensor | Tensor[]): Tensor[] => (Array.isArray(r) ? r : [r]);

function to32(t: Tensor): Tensor {
  if (t.dtype !== 'float64') return t;
  const c = t.detach().float();
  return t.requiresGrad ? c.requiresGrad_() : c;
}

interface Tol {
  atol?: number;
  rtol?: number;
  gatol?: number;
  grtol?: number;
}

/**
 * Runs `f` on float64 inputs (the host executor) and on float32 copies (the active GPU.js mode), compares
 * the outputs, backpropagates one seeded random gradient per output, and compares every input gradient.
 */
function comparePaths(n: Notes, f: Fn, inputs64: Tensor[], tol: Tol = {}): Tensor[] {
  const { atol = 1e-5, rtol = 1e-4, gatol = 1e-4, grtol = 1e-3 } = tol;
  const inputs32 = inputs64.map(to32);
  const y64 = asList(f(...inputs64));
  const y32 = asList(f(...inputs32));
  n.expect(y32.length === y64.length, `${y32.length} outputs, expected ${y64.length}`);
  y64.forEach((o, k) => n.close(`out${k}`, y32[k], o, atol, rtol));
  manualSeed(7);
  const diff = y64.map((o, k) => o.requiresGrad && y32[k].requiresGrad);
  const last = diff.lastIndexOf(true);
  y64.forEach((o, k) => {
    if (!diff[k]) return;
    const g = randn(o.shape, { dtype: 'float64' });
    o.backward(g, { retainGraph: k !== last });
    y32[k].backward(g.float(), { retainGraph: k !== last });
  });
  inputs64.forEach((t, j) => {
    if (!t.requiresGrad || last < 0) return;
    n.expect(t.grad !== null && inputs32[j].grad !== null, `input ${j}: a gradient is missing`);
    n.close(`d${j}`, inputs32[j].grad!, t.grad!, gatol, grtol);
  });
  return y32;
}

const r64 = (shape: number[], requiresGrad = true): Tensor => randn(shape, { dtype: 'float64', requiresGrad });

// ---- ops ----

function opChecks(): [string, (n: Notes) => void][] {
  return [
    [
      'matmul 2-D',
      (n) => {
        manualSeed(1);
        comparePaths(n, (a, b) => a.matmul(b), [r64([5, 7]), r64([7, 6])]);
      },
    ],
    [
      'matmul batched, broadcast',
      (n) => {
        manualSeed(2);
        comparePaths(n, (a, b) => a.matmul(b), [r64([2, 3, 4, 5]), r64([5, 6])]);
        comparePaths(n, (a, b) => a.matmul(b), [r64([2, 1, 4, 5]), r64([3, 5, 2])]);
      },
    ],
    [
      'long reductions (70,000 elements) and edge values',
      (n) => {
        // GL loops were cut after 65,535 iterations; softmax masked finite -2e30; pow's gradient lost its sign
        const N = 70_000;
        n.close('sum', [ones([N]).sum().item()], [N], 0, 0);
        const peak = new Float32Array(N).fill(0.5);
        peak[N - 1] = 9;
        const p = tensor(peak);
        n.close('amax, argmax', [p.amax().item(), p.argmax().item()], [9, N - 1], 0, 0);
        n.close('softmax row sum', [ones([N]).softmax(0).sum().item()], [1], 1e-5, 0);
        n.close('matmul inner 70,000', ones([2, N]).matmul(ones([N, 3])), new Array(6).fill(N), 0, 0);
        const lb = zeros([2], { requiresGrad: true });
        const emb = zeros([3, 2], { requiresGrad: true });
        F.linear(ones([N, 3]), ones([2, 3]), lb)
          .sum()
          .backward();
        F.embedding(tensor(new Array(N).fill(1), { dtype: 'int32' }), emb)
          .sum()
          .backward();
        n.close('linear bias grad', lb.grad!, [N, N], 0, 0);
        n.close('embedding grad', emb.grad!, [0, 0, N, N, 0, 0], 0, 0);
        n.close('crossEntropy mean', [F.crossEntropy(zeros([N, 2]), zeros([N], { dtype: 'int32' })).item()], [Math.LN2], 1e-5, 0);
        n.close('softmax of -2e30', tensor([-2e30, -2e30, -2e30]).softmax(0), [1 / 3, 1 / 3, 1 / 3], 1e-6, 0);
        n.close('softmax with +Infinity', tensor([Infinity, 1]).softmax(0), [NaN, NaN], 0, 0);
        const x = tensor([-0.5, -2, 1.5], { requiresGrad: true });
        x.pow(2).sum().backward();
        n.close('pow(2) gradient', x.grad!, [-1, -4, 3], 0, 1e-6); // the sign is the point; GL's pow rounds
      },
    ],
    [
      'softmax with -Infinity masking',
      (n) => {
        // row 1 partly masked, row 2 masked everywhere (gives 0, no NaN), row 3 one entry masked
        const M = [
          [false, false, false, false, false],
          [true, false, true, false, false],
          [true, true, true, true, true],
          [false, false, false, false, true],
        ];
        const mask = tensor(M);
        manualSeed(3);
        const [y] = comparePaths(n, (x) => x.maskedFill(mask, -Infinity).softmax(-1), [r64([4, 5])]);
        const yv = flat(y);
        n.expect(
          yv.every((v) => !Number.isNaN(v)),
          'float32 softmax has NaN',
        );
        n.expect(
          M.flat().every((m, k) => !m || yv[k] === 0),
          'masked entries are not exactly 0',
        );
        manualSeed(4);
        comparePaths(
          n,
          (x) =>
            x
              .maskedFill(tensor([[false, true, false, false, false, true]]), -Infinity)
              .logSoftmax(1)
              .maskedFill(tensor([[false, true, false, false, false, true]]), 0),
          [r64([3, 6])],
        );
      },
    ],
    [
      'layerNorm',
      (n) => {
        manualSeed(5);
        comparePaths(n, (x, w, b) => F.layerNorm(x, [8], w, b), [r64([3, 4, 8]), r64([8]), r64([8])]);
      },
    ],
    [
      'gelu (exact)',
      (n) => {
        manualSeed(6);
        const big = tensor([-60, -12, -3, -1e-3, 0, 1e-3, 3, 12, 60], { dtype: 'float64', requiresGrad: true });
        comparePaths(n, (x) => F.gelu(x), [r64([4, 16])]);
        comparePaths(n, (x) => F.gelu(x), [big]);
      },
    ],
    [
      'gelu (tanh)',
      (n) => {
        manualSeed(7);
        const big = tensor([-60, -12, -3, -1e-3, 0, 1e-3, 3, 12, 60], { dtype: 'float64', requiresGrad: true });
        comparePaths(n, (x) => F.gelu(x, { approximate: 'tanh' }), [r64([4, 16])]);
        comparePaths(n, (x) => F.gelu(x, { approximate: 'tanh' }), [big]);
      },
    ],
    [
      'crossEntropy',
      (n) => {
        manualSeed(8);
        const target = tensor([0, 4, 2, 2, 1, 3], { dtype: 'int32' });
        comparePaths(n, (x) => F.crossEntropy(x, target), [r64([6, 5])]);
        comparePaths(n, (x) => F.crossEntropy(x, target, { labelSmoothing: 0.1, reduction: 'sum' }), [r64([6, 5])]);
        // a scalar loss through a small network: loss.backward() from the loss itself
        const x64 = r64([6, 4]);
        const w64 = r64([4, 5]);
        const loss64 = F.crossEntropy(F.gelu(x64.matmul(w64)), target);
        const x32 = to32(x64);
        const w32 = to32(w64);
        const loss32 = F.crossEntropy(F.gelu(x32.matmul(w32)), target);
        n.close('loss', [loss32.item()], [loss64.item()], 1e-5, 1e-5);
        loss64.backward();
        loss32.backward();
        n.close('dw', w32.grad!, w64.grad!, 1e-5, 1e-4);
        n.close('dx', x32.grad!, x64.grad!, 1e-5, 1e-4);
      },
    ],
  ];
}

// ---- scaled dot-product attention: fused float32 kernels against the float64 math path ----

interface SdpaCase {
  name: string;
  q: number[];
  k: number[];
  v: number[];
  isCausal?: boolean;
  enableGqa?: boolean;
  mask?: { shape: number[]; fullyMaskedRow?: boolean };
}

const SDPA_CASES: SdpaCase[] = [
  {
    name: 'sdpa bool mask with a fully masked row',
    q: [2, 2, 4, 4],
    k: [2, 2, 5, 4],
    v: [2, 2, 5, 4],
    mask: { shape: [2, 2, 4, 5], fullyMaskedRow: true },
  },
  { name: 'sdpa causal', q: [2, 2, 5, 4], k: [2, 2, 5, 4], v: [2, 2, 5, 4], isCausal: true },
  { name: 'sdpa causal L < S', q: [2, 2, 3, 4], k: [2, 2, 6, 4], v: [2, 2, 6, 3], isCausal: true },
  { name: 'sdpa GQA', q: [2, 4, 3, 4], k: [2, 2, 5, 4], v: [2, 2, 5, 3], enableGqa: true },
  {
    name: 'sdpa GQA with a per-head bool mask',
    q: [1, 6, 3, 4],
    k: [1, 2, 4, 4],
    v: [1, 2, 4, 4],
    enableGqa: true,
    mask: { shape: [1, 6, 3, 4] },
  },
];

function boolMask(spec: NonNullable<SdpaCase['mask']>): Tensor {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const S = spec.shape[spec.shape.length - 1];
  const v: boolean[] = [];
  for (let i = 0; i < size; i++) {
    const row = Math.floor(i / S);
    v.push(spec.fullyMaskedRow && row % 3 === 1 ? false : (i * 7) % 3 !== 0 || i % S === 0);
  }
  return tensor(v, { shape: spec.shape, dtype: 'bool' });
}

/** Backpropagates one seeded gradient through the float32 and float64 outputs and compares dq, dk, dv. */
function backwardQkv(n: Notes, seed: number, y32: Tensor, y64: Tensor, in32: Tensor[], in64: Tensor[]): void {
  manualSeed(seed);
  const g = randn(y64.shape, { dtype: 'float64' });
  y64.backward(g);
  y32.backward(g.float());
  ['dq', 'dk', 'dv'].forEach((name, i) => n.close(name, in32[i].grad!, in64[i].grad!, 1e-4, 1e-3));
}

function sdpaCheck(c: SdpaCase, n: Notes): void {
  manualSeed(11);
  const q64 = r64(c.q);
  const k64 = r64(c.k);
  const v64 = r64(c.v);
  const mask = c.mask ? boolMask(c.mask) : undefined;
  const opts = { attnMask: mask, isCausal: c.isCausal, enableGqa: c.enableGqa };
  const ref = sdpaKernel([SDPBackend.MATH], () => F.scaledDotProductAttention(q64, k64, v64, opts));
  const [q32, k32, v32] = [q64, k64, v64].map(to32);
  const out = F.scaledDotProductAttention(q32, k32, v32, opts);
  n.expect(lastSdpBackend() === SDPBackend.FUSED, `float32 attention ran on ${String(lastSdpBackend())}, not the fused kernels`);
  n.close('out', out, ref, 2e-5, 1e-4);
  backwardQkv(n, 99, out, ref, [q32, k32, v32], [q64, k64, v64]);
  n.expect(
    [out, q32.grad!, k32.grad!, v32.grad!].every((t) => flat(t).every((x) => !Number.isNaN(x))),
    'NaN in the float32 output or gradients',
  );
}

// ---- nn.MultiheadAttention ----

function mhaPair(embed: number, heads: number, opts: nn.MultiheadAttentionOptions): [nn.MultiheadAttention, nn.MultiheadAttention] {
  manualSeed(21);
  const m64 = new nn.MultiheadAttention(embed, heads, { ...opts, dtype: 'float64' });
  // non-zero biases, so their gradients and effect are exercised too
  noGrad(() => {
    for (const p of m64.parameters()) if (p.ndim === 1) p.copy_(randn(p.shape, { dtype: 'float64' }).mul(0.1));
  });
  const m32 = new nn.MultiheadAttention(embed, heads, { ...opts, dtype: 'float32' });
  const sd: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(m64.stateDict())) sd[k] = v.float();
  m32.loadStateDict(sd);
  m64.eval();
  m32.eval();
  return [m64, m32];
}

function paramGrads(n: Notes, m32: nn.Module, m64: nn.Module): void {
  const p32 = Object.fromEntries(m32.namedParameters());
  for (const [name, p] of m64.namedParameters()) {
    n.expect(p32[name]?.grad != null && p.grad != null, `parameter ${name}: a gradient is missing`);
    n.close(`d ${name}`, p32[name].grad!, p.grad!, 2e-4, 2e-3);
  }
}

function mhaSelf(n: Notes): void {
  const [m64, m32] = mhaPair(8, 2, { batchFirst: true });
  manualSeed(22);
  const x64 = r64([2, 5, 8]);
  const x32 = to32(x64);
  const kpm = tensor([
    [false, false, false, true, true],
    [false, false, false, false, false],
  ]); // true = padding
  const [y64, w64] = m64.forward(x64, x64, x64, { keyPaddingMask: kpm, needWeights: true });
  const [y32, w32] = m32.forward(x32, x32, x32, { keyPaddingMask: kpm, needWeights: true });
  n.close('out', y32, y64, 2e-5, 1e-4);
  n.expect(w32 !== null && w64 !== null, 'needWeights: true returned no weights');
  n.close('weights', w32!, w64!, 2e-5, 1e-4);
  n.expect(
    flat(w32!).every((v, k) => (k % 5 < 3 || Math.floor(k / 25) === 1 ? true : v === 0)),
    'padded keys got attention weight',
  );
  manualSeed(23);
  const g = randn(y64.shape, { dtype: 'float64' });
  const gw = randn(w64!.shape, { dtype: 'float64' });
  y64.mul(g).sum().add(w64!.mul(gw).sum()).backward();
  y32.mul(g.float()).sum().add(w32!.mul(gw.float()).sum()).backward();
  n.close('dx', x32.grad!, x64.grad!, 1e-4, 1e-3);
  paramGrads(n, m32, m64);
}

function mhaCross(n: Notes): void {
  const [m64, m32] = mhaPair(8, 4, { batchFirst: false });
  manualSeed(24);
  const q64 = r64([3, 2, 8]); // (L, N, E): batchFirst false
  const k64 = r64([5, 2, 8]);
  const v64 = r64([5, 2, 8]);
  const [q32, k32, v32] = [q64, k64, v64].map(to32);
  const attnMask = tensor([
    [false, true, true, true, true],
    [false, false, true, true, true],
    [false, false, false, true, true],
  ]); // true = not allowed
  const [y64] = m64.forward(q64, k64, v64, { attnMask, needWeights: false });
  const [y32, w32] = m32.forward(q32, k32, v32, { attnMask, needWeights: false });
  n.expect(w32 === null, 'needWeights: false returned weights');
  n.close('out', y32, y64, 2e-5, 1e-4);
  backwardQkv(n, 25, y32, y64, [q32, k32, v32], [q64, k64, v64]);
  paramGrads(n, m32, m64);
}

// ---- optimizer steps on a tiny model ----

function tinyModel(dtype: 'float32' | 'float64'): nn.Sequential {
  manualSeed(31);
  return new nn.Sequential(
    new nn.Linear(6, 16, { dtype }),
    new nn.GELU(),
    new nn.LayerNorm(16, { dtype }),
    new nn.Linear(16, 3, { dtype }),
  );
}

function trainSteps(dtype: 'float32' | 'float64'): { losses: number[]; model: nn.Sequential } {
  const model = tinyModel(dtype);
  manualSeed(32);
  const x = randn([12, 6], { dtype });
  const y = tensor([0, 1, 2, 0, 1, 2, 2, 1, 0, 0, 1, 2], { dtype: 'int32' });
  const [a, b] = [model.parameters().slice(0, 4), model.parameters().slice(4)];
  const adam = new optim.Adam(a, { lr: 1e-2 });
  const sgd = new optim.SGD(b, { lr: 0.1, momentum: 0.9 });
  const losses: number[] = [];
  for (let step = 0; step < 6; step++) {
    adam.zeroGrad();
    sgd.zeroGrad();
    const loss = F.crossEntropy(model.forward(x) as Tensor, y);
    losses.push(loss.item());
    loss.backward();
    nn.clipGradNorm(model.parameters(), 5);
    adam.step();
    sgd.step();
  }
  return { losses, model };
}

function optimCheck(n: Notes): void {
  const ref = trainSteps('float64');
  const r32 = trainSteps('float32');
  n.close('losses', r32.losses, ref.losses, 1e-4, 1e-4);
  n.expect(r32.losses[5] < r32.losses[0], `the loss did not fall (${r32.losses.join(', ')})`);
  const p32 = Object.fromEntries(r32.model.namedParameters());
  for (const [name, p] of ref.model.namedParameters()) n.close(name, p32[name], p, 2e-4, 1e-3);
}

// ---- safetensors ----

function safetensorsCheck(n: Notes): void {
  const model = tinyModel('float32');
  const dict: Record<string, Tensor> = { ...model.stateDict() };
  manualSeed(41);
  dict['extra.f64'] = randn([2, 3], { dtype: 'float64' });
  dict['extra.i32'] = tensor([-3, 0, 7, 2147483647], { dtype: 'int32' });
  dict['extra.bool'] = tensor([true, false, true]);
  // a float32 result computed on the device (a texture on GL), serialized without an explicit readback
  dict['extra.computed'] = dict['3.weight'].matmul(dict['0.weight']).gelu();
  const bytes = nn.serializeSafetensors(dict, { format: 'pt', origin: 'browser' });
  n.expect(bytes instanceof Uint8Array && bytes.length > 8, 'serializeSafetensors did not return bytes');
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen))) as Record<string, { dtype?: string }>;
  n.expect(
    header['0.weight']?.dtype === 'F32' &&
      header['extra.f64']?.dtype === 'F64' &&
      header['extra.i32']?.dtype === 'I32' &&
      header['extra.bool']?.dtype === 'BOOL',
    `header dtypes: ${JSON.stringify(header).slice(0, 300)}`,
  );
  // parse a copy in a fresh ArrayBuffer (as from fetch().arrayBuffer())
  const copy = bytes.slice().buffer;
  const { tensors, metadata } = nn.parseSafetensorsWithMetadata(copy);
  n.expect(metadata.format === 'pt' && metadata.origin === 'browser', `metadata ${JSON.stringify(metadata)}`);
  n.expect(
    Object.keys(tensors).sort().join() === Object.keys(dict).sort().join(),
    `keys ${Object.keys(tensors).sort()} vs ${Object.keys(dict).sort()}`,
  );
  for (const [k, t] of Object.entries(dict)) {
    const p = tensors[k];
    n.expect(p.dtype === t.dtype && p.shape.join() === t.shape.join(), `${k}: ${p.dtype} [${p.shape}], expected ${t.dtype} [${t.shape}]`);
    const a = flat(p);
    const b = flat(t);
    n.expect(a.length === b.length && a.every((v, i) => Object.is(v, b[i])), `${k}: values changed in the round trip`);
  }
  const again = nn.serializeSafetensors(nn.parseSafetensors(bytes), { format: 'pt', origin: 'browser' });
  n.expect(again.length === bytes.length && again.every((v, i) => v === bytes[i]), 'serialize(parse(bytes)) is not byte-identical');
  // weights load into a fresh model and give the same forward
  const fresh = new nn.Sequential(new nn.Linear(6, 16), new nn.GELU(), new nn.LayerNorm(16), new nn.Linear(16, 3));
  const own: Record<string, Tensor> = {};
  for (const k of Object.keys(model.stateDict())) own[k] = tensors[k];
  fresh.loadStateDict(own);
  manualSeed(42);
  const x = randn([3, 6]);
  n.close('forward after loading', fresh.forward(x) as Tensor, model.forward(x) as Tensor, 0, 0);
}

// ---- the run ----

/** Which WebGL contexts the page can create, and their renderers (before GPU.js starts). */
export function environment(): EnvReport {
  const renderer = (kind: 'webgl2' | 'webgl'): string | null => {
    const gl = document.createElement('canvas').getContext(kind) as WebGLRenderingContext | null;
    if (!gl) return null;
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const r = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return r;
  };
  const env = { userAgent: navigator.userAgent, webgl2: renderer('webgl2'), webgl: renderer('webgl') };
  setBackend('simd');
  return { ...env, isolated: globalThis.crossOriginIsolated === true, simdThreads: backendInfo().threads };
}

/** Runs every check on one GPU.js mode and reports. */
export function run(mode: BackendName): ModeReport {
  const t0 = performance.now();
  const warnings: string[] = [];
  const origWarn = console.warn;
  console.warn = (...a: unknown[]) => {
    warnings.push(a.map(String).join(' '));
    origWarn.apply(console, a);
  };
  const checks: CheckResult[] = [];
  const report: ModeReport = { requested: mode, backend: '?', renderer: null, compiles: 0, checks, memory: null, ms: 0, warnings };
  const check = (name: string, body: (n: Notes) => void): void => {
    const n = new Notes();
    try {
      body(n);
      checks.push({ name, ok: true, detail: n.text() });
    } catch (e) {
      checks.push({ name, ok: false, detail: failureDetail(e) });
    }
  };
  try {
    check('backend', (n) => {
      setBackend(mode);
      report.backend = getBackend();
      report.renderer = backendInfo().renderer;
      n.expect(report.backend === mode, `GPU.js fell back from '${mode}' to '${report.backend}'`);
      // on a GL mode a float32 result stays on the device as a texture until it is read
      const before = memory().textures;
      const y = tensor([1, 2, 3], { dtype: 'float32' }).mul(2);
      n.expect(memory().textures > before, `a float32 result on ${mode} is not a texture (textures ${before} -> ${memory().textures})`);
      n.close('probe', y, [2, 4, 6], 0, 0);
      n.parts.push(`renderer ${report.renderer}`);
    });
    if (report.backend !== mode) return report; // everything else would silently test another mode
    for (const [name, body] of opChecks()) check(name, body);
    for (const c of SDPA_CASES) check(c.name, (n) => sdpaCheck(c, n));
    check('MultiheadAttention self-attention, keyPaddingMask, weights', mhaSelf);
    check('MultiheadAttention cross-attention, bool attnMask', mhaCross);
    check('Adam and SGD steps on a tiny model', optimCheck);
    check('safetensors round trip', safetensorsCheck);
    report.compiles = backendInfo().compiles;
    report.memory = memory();
    return report;
  } finally {
    console.warn = origWarn;
    report.ms = Math.round(performance.now() - t0);
  }
}

export interface EvictionReport extends WorkloadReport {
  requested: string;
  backend: string;
  cacheLimit: number;
  /** The focused checks on a fresh kernel runtime (runtimeChecks in test/support/eviction-workload.ts). */
  runtime: WorkloadCheck[];
  warnings: string[];
}

/**
 * The kernel-cache eviction checks (test/support/eviction-workload.ts) on one GPU.js mode: the focused runtime
 * checks, then `rounds` rounds of the workload with the cache cut to `cacheLimit` kernels so that it evicts
 * and destroys kernels all the time; the limit is restored after.
 */
export function runEviction(mode: BackendName, cacheLimit: number, rounds: number): EvictionReport {
  const warnings: string[] = [];
  const origWarn = console.warn;
  console.warn = (...a: unknown[]) => {
    warnings.push(a.map(String).join(' '));
    origWarn.apply(console, a);
  };
  const previous = _setKernelCacheLimit(cacheLimit);
  try {
    setBackend(mode);
    const backend = getBackend();
    if (backend !== mode)
      return { requested: mode, backend, cacheLimit, runtime: [], warnings, checks: [], compiles: 0, cachedKernels: 0, ms: 0 };
    const runtime = runtimeChecks(mode as GpuMode);
    return { requested: mode, backend, cacheLimit, runtime, warnings, ...evictionWorkload(rounds) };
  } finally {
    _setKernelCacheLimit(previous);
    console.warn = origWarn;
  }
}

declare global {
  var gpugradBrowserTest: {
    run: typeof run;
    runEviction: typeof runEviction;
    runSteady: typeof runSteady;
    runGeneration: typeof runGeneration;
    environment: typeof environment;
    checkNames: string[];
  };
}
/** The steady-state workload (test/support/steady-workload.ts) on `mode`: `steps` training steps. */
export function runSteady(mode: BackendName, steps: number): SteadyReport & { backend: string; ms: number } {
  setBackend(mode);
  const t0 = performance.now();
  const r = steadyTraining(steps);
  return { ...r, backend: getBackend(), ms: Math.round(performance.now() - t0) };
}

/** The padded generation (test/support/generation-workload.ts) on `mode`. */
export function runGeneration(mode: BackendName): GenerationReport & { backend: string } {
  setBackend(mode);
  return { ...padGeneration(), backend: getBackend() };
}

globalThis.gpugradBrowserTest = { run, runEviction, runSteady, runGeneration, environment, checkNames: CHECK_NAMES };
