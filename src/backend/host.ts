// The host executor: runs the same kernel source that GPU.js compiles, as one JavaScript loop over the
// output with `this.thread.x` bound to the element's flat index: over Float64Array for float64 (the precise
// path: gradcheck, the reference in tests, like PyTorch's C++ math path), and over Float32Array for the
// SIMD provider's kernels that have no WebAssembly implementation (results rounded to float32 once per
// element, like GPU.js's cpu mode).

import { LRU } from './lru.js';

type HostArray = Float32Array | Float64Array | Int32Array | Uint8Array;
/** A kernel argument on the host: an array, or a number (a runtime parameter such as a view's offset). */
export type HostArg = HostArray | number;
type HostKernel = (n: number, out: Float32Array | Float64Array, args: HostArg[]) => void;

/**
 * The kernel body with every `return <value>;` made a store of the value into the output element and a
 * jump to the next element (`continue` of the labelled element loop), so the loop holds the body inline.
 */
function inlineReturns(body: string): string {
  let out = '';
  let at = 0;
  const re = /\breturn\b/g;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    let depth = 0;
    let end = m.index + 6;
    for (; end < body.length; end++) {
      const c = body[end];
      if (c === '(' || c === '[' || c === '{') depth++;
      else if (c === ')' || c === ']' || c === '}') depth--;
      else if (c === ';' && depth === 0) break;
    }
    if (end >= body.length)
      throw new Error(`gpugrad internal: a return without ';' in kernel source: ${body.slice(m.index, m.index + 60)}`);
    out += `${body.slice(at, m.index)}{ __out[__i] = ${body.slice(m.index + 6, end).trim()}; continue __element; }`;
    at = end + 1;
    re.lastIndex = at;
  }
  return out + body.slice(at);
}

/** Turns `function (a, b) { body }` into one loop over the output with `this.thread.x` as the index. */
export function compileHostKernel(source: string): HostKernel {
  const m = /^\s*function\s*\(([^)]*)\)\s*\{([\s\S]*)\}\s*$/.exec(source);
  if (!m) throw new Error(`gpugrad internal: kernel source is not a plain function: ${source.slice(0, 80)}`);
  const params = m[1]
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  // kernel sources hold no strings, so comments can go before the returns are found
  const code = m[2].replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
  const body = inlineReturns(code.replace(/this\.thread\.x/g, '__i'));
  const loop = new Function('__n', '__out', ...params, `__element: for (let __i = 0; __i < __n; __i++) {\n${body}\n}`) as (
    ...a: unknown[]
  ) => void;
  return (size, out, args) => loop(size, out, ...args);
}

/**
 * Compiles and runs host kernels, keeping the compiled loops in bounded caches; counts hits and misses.
 * A compiled loop takes its length at run time, so it is kept by its source text: a kernel whose source
 * does not bake a size in (an element-wise map, a copy of a contiguous tensor) is compiled once for every
 * length (a growing generation window compiles nothing new). Keys map to those loops, so a repeated key
 * builds no source at all.
 */
export class HostExecutor {
  private cache: LRU<string, HostKernel>;
  private bySource: LRU<string, HostKernel>;
  hits = 0;
  misses = 0;

  constructor(limit = 512) {
    this.cache = new LRU<string, HostKernel>(limit);
    this.bySource = new LRU<string, HostKernel>(limit);
  }

  setLimit(limit: number): void {
    this.cache.setLimit(limit);
    this.bySource.setLimit(limit);
  }

  /** Runs a kernel over `out` (its length is the output size); float32 outputs round each element once. */
  run<T extends Float32Array | Float64Array>(key: string, build: () => string, args: HostArg[], out: T): T {
    let k = this.cache.get(key);
    if (k) this.hits++;
    else {
      const source = build();
      k = this.bySource.get(source);
      if (k) this.hits++;
      else {
        this.misses++;
        k = compileHostKernel(source);
        this.bySource.set(source, k);
      }
      this.cache.set(key, k);
    }
    k(out.length, out, args);
    return out;
  }

  /** Compiled loops held. */
  get size(): number {
    return this.bySource.size;
  }
}

const shared = new HostExecutor();

/** Runs a kernel on the process's host executor (the float64 path and the large-buffer route). */
export function runHost<T extends Float32Array | Float64Array>(key: string, build: () => string, args: HostArg[], out: T): T {
  return shared.run(key, build, args, out);
}
