// Benchmark: the cost of createGraph on the W4 training step (bench/workloads.ts): the same step with
// `loss.backward()` and with `loss.backward(undefined, { createGraph: true })`, whose backward runs as
// recorded ops (so the gradients could be differentiated again), on each CPU choice, in one run; prints
// step times and the ratio. Usage: npm run bench:create-graph [-- --choices simd,cpu]
import Benchmark from 'benchmark';
import { getBackend, setBackend, type BackendName } from '../src/index.js';
import { w4 } from './workloads.js';

const k = process.argv.indexOf('--choices');
const choices = (k >= 0 ? process.argv[k + 1] : 'simd,cpu,webasm').split(',') as BackendName[];

function stepMs(createGraph: boolean): number {
  const { run } = w4({ createGraph }).setup();
  run(); // the first step compiles
  const b = new Benchmark('step', run, { maxTime: 5, minSamples: 5, initCount: 1 });
  b.run({ async: false });
  return b.stats.mean * 1000;
}

const rows: Record<string, string>[] = [];
for (const choice of choices) {
  setBackend(choice);
  if (getBackend() !== choice) continue;
  const plain = stepMs(false);
  const graph = stepMs(true);
  rows.push({ backend: choice, 'backward() ms': plain.toFixed(1), 'createGraph ms': graph.toFixed(1), ratio: (graph / plain).toFixed(2) });
}
console.table(rows);
