// The benchmark workloads' sizes, seeded data and shape (bench/workloads.ts for gpugrad,
// bench/tfjs-workloads.ts for TensorFlow.js). Imports nothing of gpugrad, so that a TensorFlow.js run's
// memory holds no gpugrad module.

export const W4 = { vocab: 65, dModel: 64, layers: 2, heads: 4, context: 64, batch: 16, lr: 1e-3 } as const;
export const W5_TOKENS = 200;

/** A fixed pseudo-random token stream (the same on every backend and in the TensorFlow.js workloads). */
export function tokenStream(n: number, vocab: number): Int32Array {
  const out = new Int32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = (s >>> 16) % vocab;
  }
  return out;
}

/** The batch of step `step`: BATCH windows of CONTEXT tokens and the tokens that follow each. */
export function batchAt(stream: Int32Array, step: number): { xs: Int32Array; ys: Int32Array } {
  const { batch, context } = W4;
  const xs = new Int32Array(batch * context);
  const ys = new Int32Array(batch * context);
  for (let b = 0; b < batch; b++) {
    const s = (step * 7919 + b * 104729) % (stream.length - context - 1);
    xs.set(stream.subarray(s, s + context), b * context);
    ys.set(stream.subarray(s + 1, s + context + 1), b * context);
  }
  return { xs, ys };
}

export interface Workload {
  /** builds the inputs; returns the function to time and a disposer */
  setup(): { run: () => void; dispose: () => void };
}
