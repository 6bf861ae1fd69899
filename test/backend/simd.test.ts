// The SIMD provider's WebAssembly kernels, on both variants (plain SIMD, and relaxed SIMD where the engine
// has it: Node 20 behind the V8 flag the provider sets), against float64 references at the edges of their
// tiles (sizes that are not multiples of 4 rows or 8 columns), transposed and broadcast operands, alpha and
// a bias. Every other test runs on the 'simd' backend as one more mode (test/support/helpers.ts MODES).
import { describe, expect, it } from 'vitest';
import { SimdProvider, relaxedSimdAvailable, type SimdVariant } from '../../src/backend/simd/provider.js';
import { WASM_MODULES } from '../../src/backend/simd/wasm.generated.js';

function rand(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** float64 alpha·opA·opB (+bias) of one batch matrix. */
function refGemm(
  a: Float32Array,
  aOff: number,
  transA: boolean,
  b: Float32Array,
  bOff: number,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  bias: Float32Array | null,
): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[aOff + (transA ? k * M + m : m * K + k)] * b[bOff + (transB ? n * K + k : k * N + n)];
      out[m * N + n] = alpha * s + (bias ? bias[n] : 0);
    }
  return out;
}

const variants: SimdVariant[] = relaxedSimdAvailable() ? ['plain', 'relaxed'] : ['plain'];

it('every built module, in every variant, is under 4 KB (the most older Chromium compiles synchronously on a page)', () => {
  const sizes = Object.entries(WASM_MODULES).flatMap(([name, variants]) =>
    Object.entries(variants).map(([v, b64]) => [`${name}.${v}`, atob(b64).length] as const),
  );
  expect(sizes.length).toBeGreaterThanOrEqual(5 * 4);
  for (const [name, bytes] of sizes) expect(bytes, name).toBeLessThan(4096);
});

it('Node 20 gets relaxed SIMD (the provider sets V8 flag --experimental-wasm-relaxed-simd)', () => {
  expect(relaxedSimdAvailable()).toBe(true);
});

describe.each(variants)('SIMD GEMM (%s)', (variant) => {
  const simd = new SimdProvider(variant);
  const cases: [number, number, number][] = [
    [1, 1, 1],
    [4, 8, 16],
    [5, 9, 3],
    [7, 17, 33],
    [64, 65, 64],
    [3, 8, 0],
  ];
  for (const [M, N, K] of cases)
    for (const transA of [false, true])
      for (const transB of [false, true])
        it(`${M}x${K} · ${K}x${N}${transA ? ', A transposed' : ''}${transB ? ', B transposed' : ''}`, () => {
          const batches = 3;
          const a = rand(batches * M * K + 5, M * 31 + K);
          const b = rand(M * K * 0 + K * N + 2, N * 17 + K); // one B, broadcast over the batches
          const bias = N > 1 ? rand(N, 7) : null;
          const aOffs = [0, M * K, 2 * M * K].map((o) => o + 5);
          const bOffs = [2, 2, 2];
          const out = new Float32Array(batches * M * N);
          simd.gemmBatch(a, aOffs, transA, b, bOffs, transB, M, N, K, 0.5, bias, out);
          for (let t = 0; t < batches; t++) {
            const ref = refGemm(a, aOffs[t], transA, b, bOffs[t], transB, M, N, K, 0.5, bias);
            for (let i = 0; i < M * N; i++) expect(Math.abs(out[t * M * N + i] - ref[i])).toBeLessThan(1e-5 * (1 + K));
          }
        });

  it('grows its memory for large operands and keeps working after', () => {
    const before = simd.bytes;
    const [M, N, K] = [500, 500, 300];
    const a = rand(M * K, 1);
    const b = rand(K * N, 2);
    const out = new Float32Array(M * N);
    simd.gemmBatch(a, [0], false, b, [0], false, M, N, K, 1, null, out);
    expect(simd.bytes).toBeGreaterThan(before);
    const ref = refGemm(a, 0, false, b, 0, false, M, N, K, 1, null);
    let worst = 0;
    for (let i = 0; i < M * N; i += 7) worst = Math.max(worst, Math.abs(out[i] - ref[i]));
    expect(worst).toBeLessThan(1e-3);
  });
});

describe.each(variants)('SIMD row statistics (%s)', (variant) => {
  const simd = new SimdProvider(variant);
  /** float64 reference: the row max (NaN for a NaN or +Infinity in the row) and Σ exp(x − max) over x ≥ liveFrom */
  const ref = (x: Float32Array, rows: number, cols: number, liveFrom: number): { max: number[]; sums: number[] } => {
    const max: number[] = [];
    const sums: number[] = [];
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
      const bad = row.some((v) => v !== v || v === Infinity);
      const m = bad ? NaN : Math.max(-Infinity, ...row);
      max.push(m);
      sums.push(row.reduce((s, v) => (v >= liveFrom ? s + Math.exp(v - m) : s), 0));
    }
    return { max, sums };
  };
  for (const cols of [1, 3, 4, 7, 64, 65]) {
    it(`rows of ${cols}: the max, the bad rows and the live exp sums`, () => {
      const rows = 6;
      const x = rand(rows * cols, 7 + cols).map((v) => 4 * v);
      // row 1 masked but its first entry; row 2 all masked (-Infinity among them); row 3 holds a NaN,
      // row 4 +Infinity; row 5 as drawn
      for (let c = 1; c < cols; c++) x[cols + c] = -2e30;
      for (let c = 0; c < cols; c++) x[2 * cols + c] = c % 2 ? -Infinity : -2e30;
      x[3 * cols + cols - 1] = NaN;
      x[4 * cols] = Infinity;
      const { max, sums } = simd.rowStats(x, rows, cols, -1e30, true);
      const want = ref(x, rows, cols, -1e30);
      for (let r = 0; r < rows; r++) {
        if (Number.isNaN(want.max[r])) {
          expect(max[r], `row ${r} max`).toBeNaN();
          continue;
        }
        expect(max[r], `row ${r} max`).toBe(Math.fround(want.max[r]));
        expect(Math.abs(sums[r] - want.sums[r]), `row ${r} sum`).toBeLessThan(1e-6 * Math.max(1, want.sums[r]));
      }
      expect(sums[2], 'a row with nothing live sums to 0').toBe(0);
      expect(max[2], 'its max is the largest entry').toBe(Math.fround(-2e30));
    });
  }
});

it('plain and relaxed SIMD agree within float32 rounding', () => {
  const [M, N, K] = [37, 41, 129];
  const a = rand(M * K, 3);
  const b = rand(K * N, 4);
  const outs = variants.map((v) => {
    const out = new Float32Array(M * N);
    new SimdProvider(v).gemmBatch(a, [0], false, b, [0], false, M, N, K, 1, null, out);
    return out;
  });
  for (let i = 0; i < M * N; i++) expect(Math.abs(outs[0][i] - outs[outs.length - 1][i])).toBeLessThan(1e-4);
});

describe('the worker pool', () => {
  const one = new SimdProvider({ variant: variants[variants.length - 1], threads: 1 });
  const pool = new SimdProvider({ variant: variants[variants.length - 1], threads: 2 });

  it('starts a worker over a shared memory in Node', () => {
    expect(pool.threads).toBe(2);
    expect(pool.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(one.threads).toBe(1);
  });

  // big enough for the pool (POOL_MIN_MACS), with row tails, transposes and a batch that shares B
  const cases: [number, number, number, boolean, boolean, number][] = [
    [257, 70, 129, false, false, 1],
    [130, 33, 1024, true, false, 1],
    [1024, 65, 64, false, true, 1],
    [96, 64, 128, true, true, 3],
  ];
  for (const [M, N, K, transA, transB, count] of cases)
    it(`gives the one-thread results exactly: ${count}× ${M}x${K} · ${K}x${N}${transA ? ', A transposed' : ''}${transB ? ', B transposed' : ''}`, () => {
      const a = rand(count * M * K, 11);
      const b = rand(K * N, 12);
      const aOffs = Array.from({ length: count }, (_, t) => t * M * K);
      const bOffs = aOffs.map(() => 0);
      const bias = rand(N, 13);
      const outs = [one, pool].map((p) => {
        const out = new Float32Array(count * M * N);
        p.gemmBatch(a, aOffs, transA, b, bOffs, transB, M, N, K, 0.75, bias, out);
        return out;
      });
      const jobs = pool.pool!.jobs;
      expect(outs[1]).toEqual(outs[0]);
      const again = new Float32Array(count * M * N);
      pool.gemmBatch(a, aOffs, transA, b, bOffs, transB, M, N, K, 0.75, bias, again);
      expect(pool.pool!.jobs, 'the product ran on the pool').toBe(jobs + 1);
      expect(again).toEqual(outs[0]);
    });

  it('its worker starts and takes work items (not only the calling thread)', () => {
    const M = 512;
    const a = rand(M * M, 21);
    const out = new Float32Array(M * M);
    // the worker starts asynchronously and this machine's other core may be busy: give it a few products
    for (let i = 0; i < 200 && pool.pool!.itemsByWorkers === 0; i++) {
      pool.gemmBatch(a, [0], false, a, [0], false, M, M, M, 1, null, out);
      if (pool.pool!.started === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
    expect(pool.pool!.started).toBe(1);
    expect(pool.pool!.itemsByWorkers).toBeGreaterThan(0);
  });
});
