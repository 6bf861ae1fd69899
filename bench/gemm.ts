// Benchmark (issue 9's first probe): a register-blocked f32x4 WebAssembly GEMM, built at run time from
// bench/wasm/gemm.wat with wabt (no binary is committed), against gpugrad's matmul on the GPU.js cpu and
// webasm modes, at W1's 512³ and the W4 training step's product shapes. Usage: npm run bench:gemm
// The wasm GEMM is not wired into gpugrad yet: it is the measured target for the SIMD kernel provider.
import v8 from 'node:v8';
import { readFileSync } from 'node:fs';
import Benchmark from 'benchmark';
import wabtInit from 'wabt';
import { randn, setBackend, getBackend, type Tensor } from '../src/index.js';

// Node 20 has relaxed SIMD (f32x4.relaxed_madd) only behind a flag; it must be set before compiling
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

interface Gemm {
  memory: WebAssembly.Memory;
  gemm(a: number, b: number, c: number, M: number, N: number, K: number): void;
}

/** gemm.wat writes MADD(acc, a, b) for acc += a·b: mul + add in plain SIMD, relaxed_madd (fused where the CPU has FMA) in relaxed. */
async function build(): Promise<Record<string, Gemm>> {
  const src = readFileSync(new URL('./wasm/gemm.wat', import.meta.url), 'utf8');
  const MADD = /MADD\((\w+),\s*(\w+),\s*(\w+)\)/g;
  const texts: Record<string, string> = {
    simd: src.replace(MADD, '(local.set $$$1 (f32x4.add (local.get $$$1) (f32x4.mul (local.get $$$2) (local.get $$$3))))'),
    relaxed: src.replace(MADD, '(local.set $$$1 (f32x4.relaxed_madd (local.get $$$2) (local.get $$$3) (local.get $$$1)))'),
  };
  const wabt = await wabtInit();
  const out: Record<string, Gemm> = {};
  for (const [name, text] of Object.entries(texts)) {
    const mod = wabt.parseWat(`gemm_${name}.wat`, text, { simd: true, relaxed_simd: name === 'relaxed' });
    mod.validate();
    const { buffer } = mod.toBinary({});
    mod.destroy();
    const instance = await WebAssembly.instantiate(await WebAssembly.compile(new Uint8Array(buffer)));
    out[name] = instance.exports as unknown as Gemm;
  }
  return out;
}

function time(fn: () => void): number {
  const b = new Benchmark('x', fn, { maxTime: 1, minSamples: 3, initCount: 1 });
  b.run({ async: false });
  return b.stats.mean * 1000;
}

const SHAPES: [number, number, number][] = [
  [512, 512, 512], // W1
  [1024, 64, 192], // W4: x·W_qkv (M = batch 16 × context 64)
  [1024, 64, 256], // W4: MLP up
  [1024, 256, 64], // W4: MLP down
  [1024, 64, 65], // W4: logits
];

const variants = await build();
const rows: Record<string, string>[] = [];
for (const [M, K, N] of SHAPES) {
  const gflop = (2 * M * N * K) / 1e9;
  const A = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i));
  const B = Float32Array.from({ length: K * N }, (_, i) => Math.cos(i));
  const row: Record<string, string> = { shape: `${M}x${K} · ${K}x${N}` };
  let worst = 0;
  for (const [name, g] of Object.entries(variants)) {
    const bytes = 4 * (M * K + K * N + M * N);
    const pages = Math.ceil(bytes / 65536) - g.memory.buffer.byteLength / 65536;
    if (pages > 0) g.memory.grow(pages);
    const aP = 0;
    const bP = 4 * M * K;
    const cP = bP + 4 * K * N;
    // timed with the copies in and out, as a kernel provider would pay them
    const run = (): Float32Array => {
      new Float32Array(g.memory.buffer, aP, M * K).set(A);
      new Float32Array(g.memory.buffer, bP, K * N).set(B);
      g.gemm(aP, bP, cP, M, N, K);
      return new Float32Array(g.memory.buffer, cP, M * N).slice();
    };
    const C = run();
    for (let i = 0; i < M; i += 97) {
      for (let j = 0; j < N; j += 13) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A[i * K + k] * B[k * N + j];
        worst = Math.max(worst, Math.abs(C[i * N + j] - s) / (1 + Math.abs(s)));
      }
    }
    row[`wasm ${name}`] = (gflop / (time(run) / 1000)).toFixed(1);
  }
  if (worst > 1e-4) throw new Error(`gemm ${row.shape}: relative error ${worst} against the float64 reference`);
  for (const mode of ['cpu', 'webasm'] as const) {
    setBackend(mode);
    if (getBackend() !== mode) continue;
    const a = randn([M, K]);
    const b = randn([K, N]);
    const ms = time(() => {
      const c: Tensor = a.matmul(b);
      c.toArray();
      c.dispose();
    });
    row[`gpugrad ${mode}`] = (gflop / (ms / 1000)).toFixed(2);
  }
  rows.push(row);
}
console.log('GFLOP/s (one run; the wasm columns include copying A and B in and C out)');
console.table(rows);
