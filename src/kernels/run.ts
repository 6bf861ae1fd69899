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

/** Runs `kernel` with `params` over `args`; the output has `size` elements, computed in `precision`. */
export function runTemplate<P extends KernelParams>(
  kernel: KernelTemplate<P>,
  params: P,
  args: Storage[],
  size: number,
  precision: Precision,
): Storage {
  if (kernel.native && precision === 'float32' && size > 0) {
    const simd = simdProvider();
    if (simd) {
      const out = kernel.native(
        params,
        args.map((a) => a.host()),
        size,
        simd,
      );
      if (out) return Storage.fromHost(out);
    }
  }
  // GPU.js compiles for the sizes of the output and of every argument, so they are part of the key too
  const key = `${kernel.key(params)}:${size}:${args.map((a) => a.size).join(',')}`;
  const build = (): string => {
    const src = kernel.source(params);
    if (debugKernels()) console.log(`gpugrad kernel ${key} (${precision}, ${size} threads)\n${numbered(src)}`);
    return src;
  };
  try {
    return runKernel(precision, key, build, args, size);
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
