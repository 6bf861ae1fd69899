// A long mixed workload for a kernel cache that evicts all the time: many distinct shapes of matmul,
// softmax, layerNorm, element-wise chains and attention, and a small transformer's forward, backward and
// Adam steps, each in float32 on the active GPU.js mode and compared (outputs and gradients) with the
// float64 host path. Shared by test/backend/eviction.test.ts (Node: cpu, webasm, headlessgl) and
// test/browser/page.ts (Chromium: webgl2, webgl); it imports only src/ and test/support/mismatch.ts, and no test runner.
//
// Also runtimeChecks(): focused checks on a fresh kernel runtime for each known way a destroyed kernel
// disturbs the others.
//
// Why: GPU.js kernels on one GL context share state (the viewport, sized to the largest texture any kernel
// on the canvas has used; the vertex buffer of the kernel built last). A kernel destroyed on eviction must
// not disturb the kernels still cached, and only a workload that keeps compiling, evicting and re-running
// cached kernels in between shows it (see destroyKernel in src/backend/gpujs.ts).

import { F, backendInfo, manualSeed, nn, optim, randn, tensor, tidy, type Tensor } from '../../src/index.js';
import { GpuRuntime, type GpuMode } from '../../src/backend/gpujs.js';
import { Storage } from '../../src/backend/storage.js';
import { Mismatch, failureDetail } from './mismatch.js';

export interface WorkloadCheck {
  name: string;
  ok: boolean;
  /** The largest |float32 - float64| seen, or why it failed. */
  detail: string;
  maxErr: number;
}

export interface WorkloadReport {
  checks: WorkloadCheck[];
  /** Kernels compiled during the workload (it must be far above the cache limit for eviction to happen). */
  compiles: number;
  /** Kernels in the cache at the end. */
  cachedKernels: number;
  ms: number;
}

const flat = (t: Tensor | ArrayLike<number>): number[] =>
  'toArray' in (t as Tensor) ? Array.from((t as Tensor).toArray() as ArrayLike<number>, Number) : Array.from(t as ArrayLike<number>);

/** Tracks the largest error of one check; throws a Mismatch naming the worst element past |a-b| <= atol + rtol|b|. */
class Cmp {
  maxErr = 0;
  close(what: string, actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, atol: number, rtol: number): void {
    const a = flat(actual);
    const b = flat(expected);
    if (a.length !== b.length) throw new Mismatch(`${what}: ${a.length} elements, expected ${b.length}`);
    let worst = -1;
    let worstExcess = 0;
    for (let i = 0; i < a.length; i++) {
      const err = Math.abs(a[i] - b[i]);
      if (!(err <= this.maxErr)) this.maxErr = Number.isNaN(err) ? Infinity : err;
      const excess = err - (atol + rtol * Math.abs(b[i]));
      if (!(excess <= worstExcess)) {
        worstExcess = Number.isNaN(excess) ? Infinity : excess;
        worst = i;
      }
    }
    if (worst >= 0)
      throw new Mismatch(`${what}: element ${worst} of ${a.length} is ${a[worst]}, expected ${b[worst]} (atol ${atol}, rtol ${rtol})`);
  }
}

const r64 = (shape: number[], requiresGrad = true): Tensor => randn(shape, { dtype: 'float64', requiresGrad });

function to32(t: Tensor): Tensor {
  const c = t.detach().float();
  return t.requiresGrad ? c.requiresGrad_() : c;
}

/** Frees leaves and their gradients (tidy keeps leaves that require grad), so evicted kernels can go. */
function free(ts: Tensor[]): void {
  for (const t of ts) {
    t.grad?.dispose();
    t.dispose();
  }
}

/**
 * `f` on float64 inputs (host) and float32 copies (the GPU.js mode): compares the output, backpropagates
 * one seeded random gradient through both and compares every input gradient.
 */
function compare(c: Cmp, what: string, f: (...xs: Tensor[]) => Tensor, inputs64: Tensor[], atol = 1e-4, rtol = 1e-3): void {
  tidy(() => {
    const inputs32 = inputs64.map(to32);
    const y64 = f(...inputs64);
    const y32 = f(...inputs32);
    c.close(`${what} out`, y32, y64, atol, rtol);
    const g = randn(y64.shape, { dtype: 'float64' });
    y64.backward(g);
    y32.backward(g.float());
    inputs64.forEach((t, j) => {
      if (t.requiresGrad) c.close(`${what} d${j}`, inputs32[j].grad!, t.grad!, atol, rtol);
    });
    free(inputs32);
  });
  free(inputs64);
}

// ---- the cases: each a list of distinct shapes ----

const MATMUL: [number[], number[]][] = [
  [
    [3, 5],
    [5, 4],
  ],
  [
    [7, 3],
    [3, 9],
  ],
  [
    [16, 16],
    [16, 16],
  ],
  [
    [9, 33],
    [33, 5],
  ],
  [
    [32, 8],
    [8, 20],
  ],
  [
    [2, 64],
    [64, 3],
  ],
  [
    [40, 24],
    [24, 40],
  ],
  [
    [2, 3, 5, 6],
    [6, 4],
  ],
  [
    [2, 1, 4, 5],
    [3, 5, 2],
  ],
];

const SOFTMAX: [number[], number][] = [
  [[4, 7], -1],
  [[3, 17], -1],
  [[8, 32], -1],
  [[5, 64], 1],
  [[2, 3, 9], -1],
  [[6, 5], 0],
  [[48, 48], -1],
];

const LAYERNORM: number[][] = [
  [3, 8],
  [5, 16],
  [2, 4, 32],
  [7, 24],
  [33, 12],
];

const ELEMENTWISE: [number[], number[]][] = [
  [[5], [5]],
  [[4, 6], [6]],
  [
    [3, 1, 8],
    [2, 8],
  ],
  [[64, 33], [33]],
  [
    [2, 3, 4, 5],
    [4, 1],
  ],
  [
    [100, 70],
    [100, 1],
  ],
];

interface Attn {
  q: number[];
  k: number[];
  v: number[];
  isCausal?: boolean;
  enableGqa?: boolean;
}

const ATTENTION: Attn[] = [
  { q: [1, 2, 4, 8], k: [1, 2, 4, 8], v: [1, 2, 4, 8], isCausal: true },
  { q: [2, 2, 5, 4], k: [2, 2, 7, 4], v: [2, 2, 7, 6] },
  { q: [2, 4, 6, 8], k: [2, 4, 6, 8], v: [2, 4, 6, 8], isCausal: true },
  { q: [1, 4, 3, 4], k: [1, 2, 9, 4], v: [1, 2, 9, 4], enableGqa: true },
  { q: [3, 2, 16, 16], k: [3, 2, 16, 16], v: [3, 2, 16, 16], isCausal: true },
  { q: [1, 1, 33, 8], k: [1, 1, 20, 8], v: [1, 1, 20, 8] },
];

function matmulCase(c: Cmp): void {
  for (const [a, b] of MATMUL) compare(c, `[${a}]@[${b}]`, (x, y) => x.matmul(y), [r64(a), r64(b)]);
}

function softmaxCase(c: Cmp): void {
  for (const [s, dim] of SOFTMAX) {
    compare(c, `softmax [${s}] dim ${dim}`, (x) => x.softmax(dim), [r64(s)]);
    compare(c, `logSoftmax [${s}] dim ${dim}`, (x) => x.logSoftmax(dim), [r64(s)]);
  }
}

function layerNormCase(c: Cmp): void {
  for (const s of LAYERNORM) {
    const d = s[s.length - 1];
    compare(c, `layerNorm [${s}]`, (x, w, b) => F.layerNorm(x, [d], w, b), [r64(s), r64([d]), r64([d])]);
  }
}

function elementwiseCase(c: Cmp): void {
  for (const [a, b] of ELEMENTWISE) {
    compare(c, `elementwise [${a}] [${b}]`, (x, y) => F.gelu(x.mul(y).add(y.exp()).sub(x.tanh())).div(y.mul(y).add(1)), [r64(a), r64(b)]);
  }
}

function attentionCase(c: Cmp): void {
  for (const s of ATTENTION) {
    const opts = { isCausal: s.isCausal, enableGqa: s.enableGqa };
    compare(
      c,
      `sdpa q[${s.q}] k[${s.k}] v[${s.v}]${s.isCausal ? ' causal' : ''}`,
      (q, k, v) => F.scaledDotProductAttention(q, k, v, opts),
      [r64(s.q), r64(s.k), r64(s.v)],
      1e-4,
      1e-3,
    );
  }
}

/** A 2-layer transformer encoder and a head; the float32 copy gets the float64 model's weights. */
function transformerPair(d: number, heads: number, ff: number, classes: number): [nn.Sequential, nn.Sequential] {
  const make = (dtype: 'float32' | 'float64') =>
    new nn.Sequential(
      new nn.TransformerEncoder(new nn.TransformerEncoderLayer(d, heads, { dimFeedforward: ff, dropout: 0, batchFirst: true, dtype }), 2),
      new nn.Linear(d, classes, { dtype }),
    );
  const m64 = make('float64');
  const m32 = make('float32');
  const sd: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(m64.stateDict())) sd[k] = v.float();
  m32.loadStateDict(sd);
  for (const t of Object.values(sd)) t.dispose();
  return [m64, m32];
}

function transformerCase(c: Cmp, d: number, heads: number, ff: number, batch: number, seq: number): void {
  const classes = 5;
  const lr = 1e-3;
  const steps = 2;
  const [m64, m32] = transformerPair(d, heads, ff, classes);
  const x64 = r64([batch, seq, d], false);
  const x32 = to32(x64);
  const target = tensor(
    Int32Array.from({ length: batch * seq }, (_, i) => (i * 7 + 3) % classes),
    { shape: [batch * seq] },
  );
  const loss = (m: nn.Sequential, x: Tensor) => F.crossEntropy((m.forward(x) as Tensor).reshape([-1, classes]), target);
  const a64 = new optim.Adam(m64.parameters(), { lr });
  const a32 = new optim.Adam(m32.parameters(), { lr });
  const p32 = Object.fromEntries(m32.namedParameters());
  for (let step = 0; step < steps; step++) {
    tidy(() => {
      a64.zeroGrad();
      a32.zeroGrad();
      const l64 = loss(m64, x64);
      const l32 = loss(m32, x32);
      c.close(`transformer d${d} step ${step} loss`, [l32.item()], [l64.item()], 1e-4, 1e-4);
      l64.backward();
      l32.backward();
      for (const [name, p] of m64.namedParameters())
        c.close(`transformer d${d} step ${step} d ${name}`, p32[name].grad!, p.grad!, 2e-4, 2e-3);
      a64.step();
      a32.step();
    });
    // Adam's first steps move a parameter by about lr whatever the gradient's size: a gradient near 0 may
    // differ in sign between the paths, so the parameters agree to 2 lr per step, not to float32 rounding
    for (const [name, p] of m64.namedParameters())
      c.close(`transformer d${d} after step ${step} ${name}`, p32[name], p, 2 * lr * (step + 1) + 1e-4, 0);
  }
  tidy(() => c.close(`transformer d${d} loss after ${steps} Adam steps`, [loss(m32, x32).item()], [loss(m64, x64).item()], 2e-3, 2e-3));
  free([...m64.parameters(), ...m32.parameters(), x64, x32, target]);
}

/** The case names evictionWorkload() reports, in order, per round. */
export const WORKLOAD_CASES = ['matmul', 'softmax', 'layerNorm', 'elementwise', 'attention', 'transformer d16', 'transformer d8'] as const;

/**
 * Runs every case `rounds` times (each round with its own seed: kernels evicted in one round are compiled
 * again in the next, between kernels that stayed cached) and reports one check per case and round. Never
 * throws: an error becomes a failed check.
 */
export function evictionWorkload(rounds = 2): WorkloadReport {
  const t0 = performance.now();
  const compiles0 = backendInfo().compiles;
  const checks: WorkloadCheck[] = [];
  const bodies: Record<(typeof WORKLOAD_CASES)[number], (c: Cmp) => void> = {
    matmul: matmulCase,
    softmax: softmaxCase,
    layerNorm: layerNormCase,
    elementwise: elementwiseCase,
    attention: attentionCase,
    'transformer d16': (c) => transformerCase(c, 16, 2, 32, 2, 6),
    'transformer d8': (c) => transformerCase(c, 8, 4, 24, 3, 5),
  };
  for (let round = 0; round < rounds; round++) {
    WORKLOAD_CASES.forEach((name, i) => {
      const c = new Cmp();
      manualSeed(1000 * round + i);
      const label = `round ${round + 1}: ${name}`;
      try {
        bodies[name](c);
        checks.push({ name: label, ok: true, maxErr: c.maxErr, detail: `max |err| ${c.maxErr.toExponential(1)}` });
      } catch (e) {
        checks.push({ name: label, ok: false, maxErr: c.maxErr, detail: failureDetail(e) });
      }
    });
  }
  const info = backendInfo();
  return { checks, compiles: info.compiles - compiles0, cachedKernels: info.cachedKernels, ms: Math.round(performance.now() - t0) };
}

// ---- focused checks on one kernel runtime (GpuRuntime), each for one way a destroyed kernel can hurt ----

/** Runs `k` (a kernel adding `c` to twice its input) over `n` elements of `x` and counts the wrong results. */
function wrongAfter(rt: GpuRuntime, key: string, c: number, x: Float32Array): number {
  const out = rt.run(key, () => `function (a) { return a[this.thread.x] * 2 + ${c}; }`, [Storage.fromHost(x)], x.length);
  out.retain();
  const v = out.host();
  let wrong = 0;
  for (let i = 0; i < x.length; i++) if (v[i] !== x[i] * 2 + c) wrong++;
  out.release();
  return wrong;
}

const ramp = (n: number, from: number): Float32Array => Float32Array.from({ length: n }, (_, i) => from + i);

/** The names runtimeChecks() reports, in order. */
export const RUNTIME_CHECKS = [
  'a cached kernel with a large output stays right while small kernels are compiled, evicted and destroyed',
  'evicting the kernel built last leaves the cached kernels right',
] as const;

/**
 * Two focused checks on a fresh GpuRuntime for `mode` (its own GPU.js instance and context): what a
 * destroyed kernel leaves behind on the shared GL state. Never throws: an error becomes a failed check.
 */
export function runtimeChecks(mode: GpuMode): WorkloadCheck[] {
  const N = 4096; // a 64x64 output texture on GL; the small kernels' outputs fit in 2x2
  const bodies: Record<(typeof RUNTIME_CHECKS)[number], (rt: GpuRuntime) => string> = {
    [RUNTIME_CHECKS[0]]: (rt) => {
      const bad: string[] = [];
      for (let k = 0; k < 8; k++) {
        // a new small kernel: the cache (3) evicts, and destroys, the small kernel before the previous one
        const small = wrongAfter(rt, `test:small${k}`, k, ramp(4, 100 * k));
        const big = wrongAfter(rt, 'test:big', 1, ramp(N, 100 * k));
        if (small || big) bad.push(`after small kernel ${k}: ${small} of 4 small and ${big} of ${N} big results wrong`);
      }
      if (bad.length) throw new Mismatch(bad.join('; '));
      const pinned = (rt.gpu.kernels as unknown[]).length;
      if (rt.compiles !== 9 || rt.cachedKernels !== 3 || rt.destroyed !== 6 || pinned > 3) {
        throw new Mismatch(
          `${rt.compiles} compiled, ${rt.cachedKernels} cached, ${rt.destroyed} destroyed, ${pinned} in gpu.kernels: expected 9, 3, 6, at most 3`,
        );
      }
      return `${rt.destroyed} kernels destroyed, ${pinned} in gpu.kernels`;
    },
    [RUNTIME_CHECKS[1]]: (rt) => {
      // b is built last; a is used after it, so lowering the limit to 1 evicts b (a stays cached)
      let wrong = wrongAfter(rt, 'test:a', 1, ramp(N, 0)) + wrongAfter(rt, 'test:b', 2, ramp(N, 1));
      wrong += wrongAfter(rt, 'test:a', 1, ramp(N, 2));
      rt.setCacheLimit(1);
      if (rt.cachedKernels !== 1) throw new Mismatch(`${rt.cachedKernels} kernels cached after lowering the limit to 1`);
      const after = wrongAfter(rt, 'test:a', 1, ramp(N, 3));
      if (wrong || after) throw new Mismatch(`${wrong} wrong results before the eviction, ${after} of ${N} after it`);
      return 'ok';
    },
  };
  return RUNTIME_CHECKS.map((name) => {
    const rt = new GpuRuntime(mode, 3);
    try {
      return { name, ok: true, maxErr: 0, detail: bodies[name](rt) };
    } catch (e) {
      return { name, ok: false, maxErr: NaN, detail: failureDetail(e) };
    } finally {
      rt.destroy();
    }
  });
}
