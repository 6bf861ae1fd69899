// The SIMD kernel provider: WebAssembly modules built from src/backend/simd/*.wat (scripts/build-wasm.mjs),
// all instantiated over one memory. Tensors stay host arrays; a call copies its operands into a scratch
// arena in that memory, runs, and copies the result out (a product's copies are O(n²) against its O(n³)).
// Relaxed SIMD (one fused multiply-add) is used when the engine has it, plain SIMD otherwise; in Node 20 it
// is behind a V8 flag, which is set before the first compile (GPUGRAD_SIMD_VARIANT=plain forces plain).
// Each module stays under 4 KB: older Chromium lets a page's main thread compile no more synchronously.

import { allocFloat32 } from '../storage.js';
import { WorkerPool, workerThreadsAvailable, type GemmFn } from './pool.js';
import { WASM_MODULES } from './wasm.generated.js';

export type SimdVariant = 'plain' | 'relaxed';

interface GemmExports {
  /** A stored M×K */
  gemm: GemmFn;
  /** A stored K×M (read transposed in the kernel) */
  gemmTA: GemmFn;
}

interface ElementwiseExports {
  geluTanh(x: number, out: number, n: number): void;
  geluTanhBackward(g: number, x: number, out: number, n: number): void;
  exp(x: number, out: number, n: number): void;
  binary(op: number, a: number, b: number, out: number, n: number): void;
}

interface RowsExports {
  expRows(x: number, l: number, out: number, rows: number, cols: number): void;
  rowStats(x: number, rows: number, cols: number, maskBelow: number, maxOut: number, sumOut: number, sum: number): void;
  rowMulSub(p: number, g: number, d: number, out: number, rows: number, cols: number): void;
}

interface NormExports {
  stats(a: number, out: number, rows: number, D: number, eps: number): void;
  forward(a: number, s: number, w: number, b: number, out: number, rows: number, D: number): void;
  rowSums(g: number, a: number, s: number, w: number, out: number, rows: number, D: number): void;
  dx(g: number, a: number, s: number, q: number, w: number, out: number, rows: number, D: number): void;
  colSums(g: number, a: number, s: number, acc: number, out: number, rows: number, D: number, xhat: number): void;
}

interface CopyExports {
  gather(x: number, out: number, n0: number, s0: number, dims: number, cnt: number, nd: number, runs: number): void;
}

function decode(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

type ProcessLike = {
  env?: Record<string, string | undefined>;
  getBuiltinModule?: (id: string) => unknown;
};
const proc = (globalThis as { process?: ProcessLike }).process;

let relaxedChecked: boolean | null = null;
/** Whether this engine validates relaxed SIMD; in Node, sets V8's flag first when needed. */
export function relaxedSimdAvailable(): boolean {
  if (relaxedChecked !== null) return relaxedChecked;
  const probe = decode(WASM_MODULES.gemm.relaxed);
  let ok = WebAssembly.validate(probe);
  if (!ok && proc?.getBuiltinModule) {
    const v8 = proc.getBuiltinModule('v8') as { setFlagsFromString(f: string): void } | undefined;
    v8?.setFlagsFromString('--experimental-wasm-relaxed-simd');
    ok = WebAssembly.validate(probe);
  }
  relaxedChecked = ok;
  return ok;
}

/** Whether this engine has 128-bit WebAssembly SIMD at all. */
export function simdAvailable(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(decode(WASM_MODULES.gemm.plain));
  } catch {
    return false;
  }
}

const ALIGN = 64;

/**
 * Products of at least this many multiply-adds, and of at least POOL_MIN_MATRIX_MACS per batch matrix,
 * run on the worker pool; below that, waking a worker and sharing the items costs more than it saves
 * (measured here: 64³ and a batch of 64 products of 64×64×16 were slower on two threads; 128³ about even).
 */
export const POOL_MIN_MACS = 1 << 21;
export const POOL_MIN_MATRIX_MACS = 1 << 17;

export interface SimdOptions {
  /** plain or relaxed SIMD */
  variant: SimdVariant;
  /** threads for the GEMM, the caller's included (1: no pool); the default: see defaultThreads() */
  threads?: number;
}

/**
 * The default thread count: GPUGRAD_THREADS, else the cores Node reports or a page's
 * navigator.hardwareConcurrency (up to 4); 1 without worker threads (a page that is not cross-origin
 * isolated has no shared memory).
 */
export function defaultThreads(): number {
  const env = proc?.env?.GPUGRAD_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`gpugrad: GPUGRAD_THREADS must be a positive integer, got '${env}'`);
    return n;
  }
  if (!workerThreadsAvailable()) return 1;
  const os = proc?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number } | undefined;
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return Math.max(1, Math.min(4, os?.availableParallelism?.() ?? nav?.hardwareConcurrency ?? 1));
}

export class SimdProvider {
  readonly memory: WebAssembly.Memory;
  readonly variant: SimdVariant;
  private readonly k: GemmExports;
  private readonly ew: ElementwiseExports;
  private readonly rows: RowsExports;
  private readonly norm: NormExports;
  private readonly cp: CopyExports;
  /** the worker pool, or null (one thread) */
  readonly pool: WorkerPool | null;
  /** the scratch arena's top (bytes); every call starts from 0 */
  private top = 0;
  private f32view: Float32Array;

  constructor(opts: SimdOptions | SimdVariant) {
    const o: SimdOptions = typeof opts === 'string' ? { variant: opts, threads: 1 } : opts;
    const variant = o.variant;
    this.variant = variant;
    if (variant === 'relaxed' && !relaxedSimdAvailable()) throw new Error('gpugrad simd: this engine has no relaxed SIMD');
    const threads = o.threads ?? defaultThreads();
    // a pool needs a shared memory (SharedArrayBuffer: Node, or a cross-origin isolated page)
    const shared = threads > 1 && workerThreadsAvailable();
    this.memory = shared ? new WebAssembly.Memory({ initial: 16, maximum: 32768, shared: true }) : new WebAssembly.Memory({ initial: 16 });
    const env = { env: { memory: this.memory } };
    const compiled = (name: keyof typeof WASM_MODULES): WebAssembly.Module =>
      new WebAssembly.Module(decode(WASM_MODULES[name][shared ? (`${variant}Shared` as const) : variant]));
    const gemmModule = compiled('gemm');
    this.k = new WebAssembly.Instance(gemmModule, env).exports as unknown as GemmExports;
    this.ew = new WebAssembly.Instance(compiled('elementwise'), env).exports as unknown as ElementwiseExports;
    this.rows = new WebAssembly.Instance(compiled('rows'), env).exports as unknown as RowsExports;
    this.norm = new WebAssembly.Instance(compiled('norm'), env).exports as unknown as NormExports;
    this.cp = new WebAssembly.Instance(compiled('copy'), env).exports as unknown as CopyExports;
    this.f32view = new Float32Array(this.memory.buffer);
    this.pool = shared ? WorkerPool.create(gemmModule, this.memory, threads, [this.k.gemm, this.k.gemmTA]) : null;
  }

  /** Threads the GEMM runs on (1 without a pool). */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /** Scratch memory in bytes (what the arena has grown to). */
  get bytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Starts a call: the arena is empty again. */
  private reset(): void {
    this.top = 0;
  }

  /** n floats of scratch, 64-byte aligned; returns the byte offset. */
  private alloc(n: number): number {
    const p = this.top;
    this.top = p + Math.ceil((n * 4) / ALIGN) * ALIGN;
    const need = this.top - this.memory.buffer.byteLength;
    if (need > 0) this.memory.grow(Math.ceil(need / 65536));
    return p;
  }

  private view(): Float32Array {
    if (this.f32view.buffer !== this.memory.buffer) this.f32view = new Float32Array(this.memory.buffer);
    return this.f32view;
  }

  /**
   * out[outOff + m·N + n] = alpha · Σ_k opA[m, k]·opB[k, n] (+ bias[n]) for `count` matrices: matrix t of
   * A starts at aOffs[t] (stored M×K, or K×M when transA), of B at bOffs[t] (K×N, or N×K when transB),
   * of the output at t·M·N.
   */
  gemmBatch(
    a: Float32Array,
    aOffs: ArrayLike<number>,
    transA: boolean,
    b: Float32Array,
    bOffs: ArrayLike<number>,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    bias: Float32Array | null,
    out: Float32Array,
  ): void {
    this.reset();
    const count = aOffs.length;
    // every batch matrix is copied in first (a broadcast operand once), then the products run, on the pool when big enough
    const aSame = allSame(aOffs);
    const bSame = allSame(bOffs);
    const pa = this.alloc((aSame ? 1 : count) * M * K);
    const pb = this.alloc((bSame ? 1 : count) * K * N);
    const pc = this.alloc(count * M * N);
    const pbias = bias ? this.alloc(N) : -1;
    const mem = this.view();
    if (bias) mem.set(bias.subarray(0, N), pbias >> 2);
    // a transposed A is copied as stored (the kernel reads it transposed); a transposed B is packed
    for (let t = 0; t < (aSame ? 1 : count); t++) mem.set(a.subarray(aOffs[t], aOffs[t] + M * K), (pa >> 2) + t * M * K);
    for (let t = 0; t < (bSame ? 1 : count); t++) pack(mem, (pb >> 2) + t * K * N, b, bOffs[t], K, N, transB);
    const aStride = aSame ? 0 : 4 * M * K;
    const bStride = bSame ? 0 : 4 * K * N;
    if (this.pool && count * M * N * K >= POOL_MIN_MACS && M * N * K >= POOL_MIN_MATRIX_MACS) {
      // about 8 items per thread: whole matrices when the batch is large, else row blocks (multiples of 4 rows)
      const perMatrix = Math.max(1, Math.ceil((8 * this.pool.threads) / count));
      const rows = Math.max(4, Math.ceil(Math.ceil(M / perMatrix) / 4) * 4);
      this.pool.gemm({ transA, M, N, K, alpha, bias: pbias, count, a: pa, aStride, b: pb, bStride, c: pc, cStride: 4 * M * N }, rows);
    } else {
      const gemm = transA ? this.k.gemmTA : this.k.gemm;
      for (let t = 0; t < count; t++) gemm(pa + t * aStride, pb + t * bStride, pc + t * 4 * M * N, M, N, K, alpha, pbias, 0, M);
    }
    out.set(mem.subarray(pc >> 2, (pc >> 2) + count * M * N));
  }

  /** Copies the arrays in, runs `fn` over their scratch pointers and a result of `n` elements, returns the result. */
  private elementwise(inputs: Float32Array[], n: number, fn: (ptrs: number[], out: number) => void): Float32Array {
    this.reset();
    const ptrs = inputs.map((x) => this.put(x, n));
    const pout = this.alloc(n);
    fn(ptrs, pout);
    return this.take(pout, n);
  }

  /** GELU with the tanh approximation: x/2·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))). */
  geluTanh(x: Float32Array): Float32Array {
    return this.elementwise([x], x.length, ([px], out) => this.ew.geluTanh(px, out, x.length));
  }

  /** The gradient of geluTanh at x times g. */
  geluTanhBackward(g: Float32Array, x: Float32Array): Float32Array {
    return this.elementwise([g, x], x.length, ([pg, px], out) => this.ew.geluTanhBackward(pg, px, out, x.length));
  }

  /**
   * Softmax entries: out[r, c] = exp(x[r, c] - l[r]) over rows×cols, 0 where x < -1e30 (masked), and NaN
   * across a row whose statistic l[r] is NaN.
   */
  expRows(x: Float32Array, l: Float32Array, rows: number, cols: number): Float32Array {
    this.reset();
    const n = rows * cols;
    const [px, pl, pout] = [this.put(x, n), this.put(l, rows), this.alloc(n)];
    this.rows.expRows(px, pl, pout, rows, cols);
    const out = this.take(pout, n);
    for (let r = 0; r < rows; r++) if (l[r] !== l[r]) out.fill(NaN, r * cols, (r + 1) * cols);
    return out;
  }

  /**
   * Row statistics of the rows×cols matrix x: per row, the largest entry (-Infinity for an empty row) or
   * NaN for a row holding a NaN or +Infinity; with `withSums` also Σ exp(x − max) over the live entries
   * (x ≥ liveFrom, a float32 threshold), the exps in float32 summed in float64. The two arrays are views
   * of the scratch arena: read them before the next call.
   */
  rowStats(x: Float32Array, rows: number, cols: number, liveFrom: number, withSums: boolean): { max: Float32Array; sums: Float64Array } {
    this.reset();
    const [px, pmax, psum] = [this.put(x, rows * cols), this.alloc(rows), this.alloc(2 * rows)];
    this.rows.rowStats(px, rows, cols, liveFrom, pmax, psum, withSums ? 1 : 0);
    return { max: this.view().subarray(pmax >> 2, (pmax >> 2) + rows), sums: new Float64Array(this.memory.buffer, psum, rows) };
  }

  /** a + b, a − b or a·b elementwise over n elements (each rounded to float32 once, as a JS loop storing into a Float32Array). */
  binary(op: 'add' | 'sub' | 'mul', a: Float32Array, b: Float32Array, n: number): Float32Array {
    const code = op === 'add' ? 0 : op === 'sub' ? 1 : 2;
    return this.elementwise([a, b], n, ([pa, pb], out) => this.ew.binary(code, pa, pb, out, n));
  }

  /** out[r, c] = p[r, c]·(g[r, c] − d[r]) over rows×cols (the softmax backward). */
  rowMulSub(p: Float32Array, g: Float32Array, d: Float32Array, rows: number, cols: number): Float32Array {
    this.reset();
    const n = rows * cols;
    const [pp, pg, pd, pout] = [this.put(p, n), this.put(g, n), this.put(d, rows), this.alloc(n)];
    this.rows.rowMulSub(pp, pg, pd, pout, rows, cols);
    return this.take(pout, n);
  }

  /** The first n elements of x copied into fresh scratch (x null: n ones, or zeros with `fill` 0); returns the pointer. */
  private put(x: Float32Array | null, n: number, fill = 1): number {
    const p = this.alloc(n);
    const mem = this.view();
    if (x) mem.set(x.length === n ? x : x.subarray(0, n), p >> 2);
    else mem.fill(fill, p >> 2, (p >> 2) + n);
    return p;
  }

  /** n floats of scratch at p copied out into a pooled array. */
  private take(p: number, n: number): Float32Array {
    const out = allocFloat32(n);
    out.set(this.view().subarray(p >> 2, (p >> 2) + n));
    return out;
  }

  /**
   * The strided gather: `size` floats, runs of n0 floats s0 apart, the runs' starts walking the outer dims
   * (sizes and strides in floats, outermost first) from x[first]; `last` is the furthest element read.
   */
  gather(
    x: Float32Array,
    first: number,
    last: number,
    n0: number,
    s0: number,
    sizes: readonly number[],
    strides: readonly number[],
    size: number,
  ): Float32Array {
    this.reset();
    const px = this.put(x.subarray(first, last + 1), last + 1 - first);
    const nd = sizes.length;
    // (size, stride) per outer dim, then the odometer's counters, zeroed
    const pdims = this.alloc(3 * nd);
    const pcnt = pdims + 8 * nd;
    const pout = this.alloc(size);
    const words = new Int32Array(this.memory.buffer, pdims, 3 * nd);
    sizes.forEach((n, d) => words.set([n, strides[d]], 2 * d));
    words.fill(0, 2 * nd);
    this.cp.gather(px, pout, n0, s0, pdims, pcnt, nd, size / n0);
    return this.take(pout, size);
  }

  // layerNorm over rows×D (D a multiple of 4), in float64 with one float32 rounding per result, as the JS
  // loops of the layerNorm natives; s holds each row's mean and reciprocal standard deviation (2 per row)

  /** Per row: the mean and 1/sqrt(variance + eps), packed [rows*2]. */
  layerNormStats(a: Float32Array, rows: number, D: number, eps: number): Float32Array {
    this.reset();
    const pa = this.put(a, rows * D);
    const pout = this.alloc(2 * rows);
    this.norm.stats(pa, pout, rows, D, eps);
    return this.take(pout, 2 * rows);
  }

  /** (x − mean)·rstd·w + b (w, b null: none). */
  layerNormForward(
    a: Float32Array,
    s: Float32Array,
    w: Float32Array | null,
    b: Float32Array | null,
    rows: number,
    D: number,
  ): Float32Array {
    this.reset();
    const n = rows * D;
    const [pa, ps, pw, pb, pout] = [this.put(a, n), this.put(s, 2 * rows), this.put(w, D), this.put(b, D, 0), this.alloc(n)];
    this.norm.forward(pa, ps, pw, pb, pout, rows, D);
    return this.take(pout, n);
  }

  /** Per row: Σ g·w and Σ g·w·x̂, packed [rows*2]. */
  layerNormRowSums(g: Float32Array, a: Float32Array, s: Float32Array, w: Float32Array | null, rows: number, D: number): Float32Array {
    this.reset();
    const n = rows * D;
    const [pg, pa, ps, pw, pout] = [this.put(g, n), this.put(a, n), this.put(s, 2 * rows), this.put(w, D), this.alloc(2 * rows)];
    this.norm.rowSums(pg, pa, ps, pw, pout, rows, D);
    return this.take(pout, 2 * rows);
  }

  /** rstd·(g·w − q[2r]/D − x̂·q[2r + 1]/D): the input's gradient from the row sums q. */
  layerNormDx(
    g: Float32Array,
    a: Float32Array,
    s: Float32Array,
    q: Float32Array,
    w: Float32Array | null,
    rows: number,
    D: number,
  ): Float32Array {
    this.reset();
    const n = rows * D;
    const [pg, pa, ps, pq, pw, pout] = [
      this.put(g, n),
      this.put(a, n),
      this.put(s, 2 * rows),
      this.put(q, 2 * rows),
      this.put(w, D),
      this.alloc(n),
    ];
    this.norm.dx(pg, pa, ps, pq, pw, pout, rows, D);
    return this.take(pout, n);
  }

  /** Column sums over the rows of g·x̂ (a and s given: layerNorm's statistics) or of g (the sum reductions' too), in float64, rounded once. */
  colSums(g: Float32Array, a: Float32Array | null, s: Float32Array | null, rows: number, D: number): Float32Array {
    this.reset();
    const n = rows * D;
    const xhat = a !== null && s !== null;
    const pg = this.put(g, n);
    const pa = xhat ? this.put(a, n) : 0;
    const ps = xhat ? this.put(s, 2 * rows) : 0;
    const pacc = this.alloc(2 * D);
    const pout = this.alloc(D);
    this.norm.colSums(pg, pa, ps, pacc, pout, rows, D, xhat ? 1 : 0);
    return this.take(pout, D);
  }

  /** exp(x), elementwise (about 1 ulp; below -87.3 it gives the smallest normal float32, not a subnormal). */
  exp(x: Float32Array): Float32Array {
    return this.elementwise([x], x.length, ([px], out) => this.ew.exp(px, out, x.length));
  }
}

function allSame(offs: ArrayLike<number>): boolean {
  for (let t = 1; t < offs.length; t++) if (offs[t] !== offs[0]) return false;
  return true;
}

/** Writes the rows×cols matrix at src[off..] (or, with `trans`, the transpose of the cols×rows one there) row-major into dst[at..]. */
function pack(dst: Float32Array, at: number, src: Float32Array, off: number, rows: number, cols: number, trans: boolean): void {
  if (!trans) {
    dst.set(src.subarray(off, off + rows * cols), at);
    return;
  }
  // in 16×16 blocks: the strided reads of a plain transpose jump a whole source row each (TLB and cache misses)
  const B = 16;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(r0 + B, rows);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(c0 + B, cols);
      for (let c = c0; c < c1; c++) {
        const s = off + c * rows;
        for (let r = r0, d = at + r0 * cols + c; r < r1; r++, d += cols) dst[d] = src[s + r];
      }
    }
  }
}

let provider: SimdProvider | null = null;

/** The process's provider (relaxed SIMD where the engine has it, unless GPUGRAD_SIMD_VARIANT=plain). */
export function simd(): SimdProvider {
  if (!provider) {
    const forced = proc?.env?.GPUGRAD_SIMD_VARIANT;
    provider = new SimdProvider({ variant: forced === 'plain' || !relaxedSimdAvailable() ? 'plain' : 'relaxed' });
  }
  return provider;
}
