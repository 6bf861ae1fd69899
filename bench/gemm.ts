// Benchmark: the SIMD provider's WebAssembly GEMM (src/backend/simd/gemm.wat) by itself, plain and relaxed
// SIMD, on one thread and on the worker pool, at W1's 512³ and the W4 training step's product shapes
// (transposed layouts included), beside gpugrad's matmul on GPU.js cpu and webasm. The wasm columns
// include copying the operands in and the result out, as every call does. Usage: npm run bench:gemm
import Benchmark from 'benchmark';
import { SimdProvider, relaxedSimdAvailable, type SimdVariant } from '../src/backend/simd/provider.js';
import { randn, setBackend, getBackend, type Tensor } from '../src/index.js';

function time(fn: () => void): number {
  const b = new Benchmark('x', fn, { maxTime: 1, minSamples: 3, initCount: 1 });
  b.run({ async: false });
  return b.stats.mean * 1000;
}

/** [M, K, N, A stored transposed, B stored transposed] */
const SHAPES: [number, number, number, boolean, boolean][] = [
  [512, 512, 512, false, false], // W1
  [1024, 64, 192, false, true], // W4: x·W_qkvᵀ (M = batch 16 × context 64)
  [1024, 64, 256, false, true], // W4: MLP up
  [1024, 256, 64, false, true], // W4: MLP down
  [256, 1024, 64, true, false], // W4: the MLP up weight's gradient gᵀ·x
];

const variants: SimdVariant[] = relaxedSimdAvailable() ? ['plain', 'relaxed'] : ['plain'];
const providers = variants.flatMap((variant) =>
  [1, 2].map((threads) => ({ name: `wasm ${variant} ${threads}t`, p: new SimdProvider({ variant, threads }) })),
);
const rows: Record<string, string>[] = [];
for (const [M, K, N, tA, tB] of SHAPES) {
  const gflop = (2 * M * N * K) / 1e9;
  const A = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i));
  const B = Float32Array.from({ length: K * N }, (_, i) => Math.cos(i));
  const row: Record<string, string> = { shape: `${M}x${K} · ${K}x${N}${tA ? ' (Aᵀ)' : ''}${tB ? ' (Bᵀ)' : ''}` };
  const C = new Float32Array(M * N);
  for (const { name, p } of providers) {
    row[name] = (gflop / (time(() => p.gemmBatch(A, [0], tA, B, [0], tB, M, N, K, 1, null, C)) / 1000)).toFixed(1);
  }
  for (const mode of ['cpu', 'webasm'] as const) {
    setBackend(mode);
    if (getBackend() !== mode) continue;
    const a = randn(tA ? [K, M] : [M, K]);
    const b = randn(tB ? [N, K] : [K, N]);
    const ms = time(() => {
      const c: Tensor = (tA ? a.t() : a).matmul(tB ? b.t() : b);
      c.toArray();
      c.dispose();
    });
    row[`gpugrad ${mode}`] = (gflop / (ms / 1000)).toFixed(2);
  }
  rows.push(row);
}
console.log('GFLOP/s (one run; the wasm columns include copying A and B in and C out)');
console.table(rows);
for (const { p } of providers) p.pool?.destroy();
process.exit(0);
