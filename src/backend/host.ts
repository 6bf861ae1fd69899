// The float64 host executor: runs the same kernel source that GPU.js compiles, over Float64Array,
// one call per output element with `this.thread.x` bound to the element's flat index. This is the
// precise path (gradcheck, the reference in tests), like PyTorch's C++ math path.

import { LRU } from './lru.js';

type HostArray = Float32Array | Float64Array | Int32Array | Uint8Array;
type HostKernel = (n: number, out: Float32Array | Float64Array, args: HostArray[]) => void;

const cache = new LRU<string, HostKernel>(512);

/** Turns `function (a, b) { body }` into a loop over the output with `this.thread.x` as the index. */
export function compileHostKernel(source: string): HostKernel {
  const m = /^\s*function\s*\(([^)]*)\)\s*\{([\s\S]*)\}\s*$/.exec(source);
  if (!m) throw new Error(`gpugrad internal: kernel source is not a plain function: ${source.slice(0, 80)}`);
  const params = m[1]
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  const body = m[2].replace(/this\.thread\.x/g, '__i');
  const element = new Function('__i', ...params, body) as (...a: unknown[]) => number;
  const n = params.length;
  // A small arity-specialised loop keeps V8's call site monomorphic.
  return (size, out, args) => {
    if (n === 0) for (let i = 0; i < size; i++) out[i] = element(i);
    else if (n === 1) {
      const a = args[0];
      for (let i = 0; i < size; i++) out[i] = element(i, a);
    } else if (n === 2) {
      const [a, b] = args;
      for (let i = 0; i < size; i++) out[i] = element(i, a, b);
    } else if (n === 3) {
      const [a, b, c] = args;
      for (let i = 0; i < size; i++) out[i] = element(i, a, b, c);
    } else for (let i = 0; i < size; i++) out[i] = element(i, ...args);
  };
}

/** Runs a kernel over `out` (its length is the output size); float32 outputs round each element once. */
export function runHost<T extends Float32Array | Float64Array>(key: string, build: () => string, args: HostArray[], out: T): T {
  let k = cache.get(key);
  if (!k) {
    k = compileHostKernel(build());
    cache.set(key, k);
  }
  k(out.length, out, args);
  return out;
}
