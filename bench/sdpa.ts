// Benchmark: F.scaledDotProductAttention, fused kernels vs the math path, forward and forward+backward,
// on each GPU.js mode that runs here. Usage: npm run bench:sdpa [-- modes=cpu,webasm,headlessgl]
// (headlessgl needs a display: the npm script runs under xvfb-run when it is installed).
import Benchmark from 'benchmark';
import { F, SDPBackend, manualSeed, randn, sdpaKernel, setBackend, getBackend, backendInfo, type Tensor } from '../src/index.js';
import type { GpuMode } from '../src/backend/index.js';

const arg = process.argv.find((a) => a.startsWith('modes='));
const modes = (
  arg ? arg.slice(6) : (process.env.GPUGRAD_BENCH_MODES ?? (process.env.DISPLAY ? 'cpu,webasm,headlessgl' : 'cpu,webasm'))
).split(',') as GpuMode[];
const SHAPES = [
  { B: 4, H: 4, L: 128, E: 32 },
  { B: 1, H: 8, L: 512, E: 64 },
];

interface Row {
  mode: string;
  shape: string;
  pass: string;
  fusedMs: number;
  mathMs: number;
}
const rows: Row[] = [];

function step(backend: SDPBackend, q: Tensor, k: Tensor, v: Tensor, backward: boolean): void {
  const out = sdpaKernel([backend], () => F.scaledDotProductAttention(q, k, v, { isCausal: true }));
  if (backward) {
    const l = out.sum();
    l.backward();
    l.dispose();
    for (const t of [q, k, v]) t.zeroGrad();
  } else {
    out.toArray(); // make the GL modes finish their work
  }
  out.dispose();
}

function time(fn: () => void): Promise<number> {
  return new Promise((resolve) => {
    const b = new Benchmark('x', fn, { maxTime: 1.5, minSamples: 3, initCount: 1 });
    b.on('complete', () => resolve(b.stats.mean * 1000));
    b.run({ async: false });
  });
}

for (const mode of modes) {
  setBackend(mode);
  if (getBackend() !== mode) {
    console.log(`skipping ${mode}: GPU.js fell back to ${getBackend()}`);
    continue;
  }
  const info = backendInfo();
  console.log(`mode ${mode}${info.renderer ? ` (renderer: ${info.renderer})` : ''}`);
  for (const s of SHAPES) {
    manualSeed(0);
    const q = randn([s.B, s.H, s.L, s.E], { requiresGrad: true });
    const k = randn([s.B, s.H, s.L, s.E], { requiresGrad: true });
    const v = randn([s.B, s.H, s.L, s.E], { requiresGrad: true });
    for (const backward of [false, true]) {
      const fused = await time(() => step(SDPBackend.FUSED, q, k, v, backward));
      const math = await time(() => step(SDPBackend.MATH, q, k, v, backward));
      const row = {
        mode,
        shape: `B=${s.B} H=${s.H} L=S=${s.L} E=${s.E}`,
        pass: backward ? 'fwd+bwd' : 'fwd',
        fusedMs: fused,
        mathMs: math,
      };
      rows.push(row);
      console.log(
        `  ${row.shape} ${row.pass}: fused ${fused.toFixed(1)} ms, math ${math.toFixed(1)} ms, math/fused ${(math / fused).toFixed(2)}x`,
      );
    }
  }
}
console.log('\n| mode | shape | pass | fused ms | math ms | math/fused |');
console.log('|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.mode} | ${r.shape} | ${r.pass} | ${r.fusedMs.toFixed(1)} | ${r.mathMs.toFixed(1)} | ${(r.mathMs / r.fusedMs).toFixed(2)}x |`,
  );
