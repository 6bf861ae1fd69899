// Runs a declared kernel over storages: derives the key, builds the source only on a cache miss (printing
// it under GPUGRAD_DEBUG=kernels), and turns a GPU.js compile or run error into one that names the kernel
// and quotes its numbered source. Works on storages only; the autograd layer wraps results in tensors.

import { runKernel, simdProvider, Storage, type Precision } from '../backend/index.js';
import type { HostArray } from '../backend/storage.js';
import type { DType } from '../helpers/dtype.js';
import { numbered } from './source.js';
import type { KernelParams, KernelTemplate } from './template.js';

function debugKernels(): boolean {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
  const v = g.process?.env?.GPUGRAD_DEBUG;
  return !!v && v.split(',').some((s) => s.trim() === 'kernels' || s.trim() === 'all');
}

/** Time spent in each kernel (by name, and by `op` for kernels that take one, like 'map'), when profiling is on. */
export interface KernelProfileEntry {
  kernel: string;
  ms: number;
  calls: number;
  /** calls that ran the kernel's WebAssembly/native implementation */
  native: number;
}
let profile: Map<string, KernelProfileEntry> | null = null;

/** Internal (benchmarks, profiling): starts (or restarts) a kernel profile; `false` stops it. */
export function _profileKernels(on: boolean): void {
  profile = on ? new Map() : null;
}

/** Internal: the profile so far, the most expensive kernels first. */
export function _kernelProfile(): KernelProfileEntry[] {
  return [...(profile?.values() ?? [])].sort((a, b) => b.ms - a.ms);
}

/** Runs `kernel` with `params` over `args`; the output has `size` elements, computed in `precision`. */
export function runTemplate<P extends KernelParams>(
  kernel: KernelTemplate<P>,
  params: P,
  args: Storage[],
  size: number,
  precision: Precision,
): Storage {
  if (!profile) return runOnce(kernel, params, args, size, precision).out;
  const t0 = performance.now();
  const { out, native } = runOnce(kernel, params, args, size, precision);
  const name = typeof params.op === 'string' ? `${kernel.name}:${params.op}` : kernel.name;
  const e = profile.get(name) ?? { kernel: name, ms: 0, calls: 0, native: 0 };
  e.ms += performance.now() - t0;
  e.calls++;
  if (native) e.native++;
  profile.set(name, e);
  return out;
}

function runOnce<P extends KernelParams>(
  kernel: KernelTemplate<P>,
  params: P,
  args: Storage[],
  size: number,
  precision: Precision,
): { out: Storage; native: boolean } {
  if (kernel.native && precision === 'float32' && size > 0) {
    const simd = simdProvider();
    if (simd) {
      const out = kernel.native(
        params,
        args.map((a) => a.host()),
        size,
        simd,
      );
      // a native must not hand back an argument's own array (two storages would share, and recycle, it)
      if (out) return { out: Storage.fromHost(args.some((a) => a.host() === out) ? out.slice() : out), native: true };
    }
  }
  // GPU.js compiles for the sizes of the output and of every argument, so they are part of the key too
  const key = `${kernel.key(params)}:${size}:${args.map((a) => a.size).join(',')}`;
  const build = (): string => {
    const src = kernel.source(params);
    if (debugKernels()) console.log(`gpugrad kernel ${key} (${precision}, ${size} threads)\n${numbered(src)}`);
    return src;
  };
  const runtime = kernel.runtimeValues(params);
  try {
    return { out: runKernel(precision, key, build, runtime.length ? [...args, ...runtime] : args, size), native: false };
  } catch (e) {
    const err = e as Error;
    if (typeof err?.message === 'string' && err.message.startsWith(`${kernel.name}:`)) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(
      `${kernel.name}: GPU.js could not compile or run the kernel (${precision}): ${msg}\nkernel ${key}:\n${numbered(kernel.source(params))}`,
      {
        cause: err,
      },
    );
  }
}

/** Kernels compute in floats; int/bool results are read back into their own typed arrays. */
export function castStorage(s: Storage, dtype: DType): Storage {
  if (dtype === 'float32' && s.texture !== null) return s;
  const h = s.host();
  let data: HostArray;
  if (dtype === 'float32') data = h instanceof Float32Array ? h : Float32Array.from(h as ArrayLike<number>);
  else if (dtype === 'float64') data = h instanceof Float64Array ? h : Float64Array.from(h as ArrayLike<number>);
  else if (dtype === 'bool') data = Uint8Array.from(h as ArrayLike<number>, (v) => (v !== 0 ? 1 : 0));
  else data = Int32Array.from(h as ArrayLike<number>, (v) => Math.trunc(v));
  if (data === h) return s;
  s.release();
  return Storage.fromHost(data);
}
