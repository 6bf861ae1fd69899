// The SIMD kernel provider: WebAssembly modules built from src/backend/simd/*.wat (scripts/build-wasm.mjs),
// all instantiated over one memory. Tensors stay host arrays; a call copies its operands into a scratch
// arena in that memory, runs, and copies the result out (a product's copies are O(n²) against its O(n³)).
// Relaxed SIMD (one fused multiply-add) is used when the engine has it, plain SIMD otherwise; in Node 20 it
// is behind a V8 flag, which is set before the first compile (GPUGRAD_SIMD_VARIANT=plain forces plain).
// Each module stays small (under 4 KB) so that a browser's main thread may compile it synchronously.

import { allocFloat32 } from '../storage.js';
import { WASM_MODULES } from './wasm.generated.js';

export type SimdVariant = 'plain' | 'relaxed';

type GemmFn = (
  a: number,
  b: number,
  c: number,
  M: number,
  N: number,
  K: number,
  alpha: number,
  bias: number,
  i0: number,
  i1: number,
) => void;
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
  expRows(x: number, l: number, out: number, rows: number, cols: number): void;
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

export class SimdProvider {
  readonly memory: WebAssembly.Memory;
  private readonly k: GemmExports;
  private readonly ew: ElementwiseExports;
  /** the scratch arena's top (bytes); every call starts from 0 */
  private top = 0;
  private f32view: Float32Array;

  constructor(readonly variant: SimdVariant) {
    if (variant === 'relaxed' && !relaxedSimdAvailable()) throw new Error('gpugrad simd: this engine has no relaxed SIMD');
    this.memory = new WebAssembly.Memory({ initial: 16 });
    const env = { env: { memory: this.memory } };
    const inst = (name: keyof typeof WASM_MODULES): WebAssembly.Exports =>
      new WebAssembly.Instance(new WebAssembly.Module(decode(WASM_MODULES[name][variant])), env).exports;
    this.k = inst('gemm') as unknown as GemmExports;
    this.ew = inst('elementwise') as unknown as ElementwiseExports;
    this.f32view = new Float32Array(this.memory.buffer);
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
    const pa = this.alloc(M * K);
    const pb = this.alloc(K * N);
    const pc = this.alloc(M * N);
    const pbias = bias ? this.alloc(N) : -1;
    const mem = this.view();
    if (bias) mem.set(bias.subarray(0, N), pbias >> 2);
    let lastB = -1;
    // a transposed A is copied as stored (the kernel reads it transposed); a transposed B is packed
    const gemm = transA ? this.k.gemmTA : this.k.gemm;
    let lastA = -1;
    for (let t = 0; t < count; t++) {
      if (aOffs[t] !== lastA) mem.set(a.subarray(aOffs[t], aOffs[t] + M * K), pa >> 2);
      lastA = aOffs[t];
      // a broadcast B (the same matrix for every batch) is packed once
      if (bOffs[t] !== lastB) pack(mem, pb >> 2, b, bOffs[t], K, N, transB);
      lastB = bOffs[t];
      gemm(pa, pb, pc, M, N, K, alpha, pbias, 0, M);
      out.set(mem.subarray(pc >> 2, (pc >> 2) + M * N), t * M * N);
    }
  }

  /** Copies the arrays in, runs `fn` over their scratch pointers and a result of `n` elements, returns the result. */
  private elementwise(inputs: Float32Array[], n: number, fn: (ptrs: number[], out: number) => void): Float32Array {
    this.reset();
    const ptrs = inputs.map(() => this.alloc(n));
    const pout = this.alloc(n);
    const mem = this.view();
    inputs.forEach((x, k) => mem.set(x.length === n ? x : x.subarray(0, n), ptrs[k] >> 2));
    fn(ptrs, pout);
    const out = allocFloat32(n);
    out.set(mem.subarray(pout >> 2, (pout >> 2) + n));
    return out;
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
    const px = this.alloc(n);
    const pl = this.alloc(rows);
    const pout = this.alloc(n);
    const mem = this.view();
    mem.set(x.subarray(0, n), px >> 2);
    mem.set(l.subarray(0, rows), pl >> 2);
    this.ew.expRows(px, pl, pout, rows, cols);
    const out = allocFloat32(n);
    out.set(mem.subarray(pout >> 2, (pout >> 2) + n));
    for (let r = 0; r < rows; r++) if (l[r] !== l[r]) out.fill(NaN, r * cols, (r + 1) * cols);
    return out;
  }

  /** exp(x), elementwise (about 1 ulp; below -87.3 it gives the smallest normal float32, not a subnormal). */
  exp(x: Float32Array): Float32Array {
    return this.elementwise([x], x.length, ([px], out) => this.ew.exp(px, out, x.length));
  }
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
    provider = new SimdProvider(forced === 'plain' || !relaxedSimdAvailable() ? 'plain' : 'relaxed');
  }
  return provider;
}
