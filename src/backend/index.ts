// Backend selection and kernel dispatch. float32 kernels run on the active backend: a GPU.js mode, or
// 'simd' (host arrays; WebAssembly SIMD kernels where a kernel has one, its GPU.js source on the host
// executor otherwise); float64 kernels run on the host executor. Ops never see GPU.js: they hand in a
// key, a source builder and storages.

import { GpuRuntime, GL_MODES, type GpuMode } from './gpujs.js';
import { runHost } from './host.js';
import { SimdRuntime } from './simd/runtime.js';
import { simd, type SimdProvider } from './simd/provider.js';
import { hostArg, Storage, storageCounts, type KernelArg } from './storage.js';

export type { KernelArg } from './storage.js';

/** What runs float32 kernels: a GPU.js mode, or the WebAssembly SIMD provider. */
export type Mode = GpuMode | 'simd';
export type BackendName = Mode | 'auto';
export type Precision = 'float32' | 'float64';
export const BACKENDS: readonly BackendName[] = ['cpu', 'webasm', 'simd', 'headlessgl', 'webgl2', 'webgl', 'auto'];

type Runtime = GpuRuntime | SimdRuntime;
const runtimes = new Map<Mode, Runtime>();
let active: Runtime | null = null;
let activeInfo: { requested: BackendName; mode: Mode; renderer: string | null } | null = null;

function envBackend(): BackendName | undefined {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
  const v = g.process?.env?.GPUGRAD_BACKEND;
  return v ? (v as BackendName) : undefined;
}

/**
 * Whether a GL renderer is software (or cannot be shown to be hardware). headless-gl reports only
 * "ANGLE" (its translator), never the driver behind it; under Xvfb that is Mesa's llvmpipe, so an
 * unidentified renderer counts as software unless GPUGRAD_GL_HARDWARE=1 says otherwise.
 */
export function isSoftwareRenderer(r: string | null): boolean {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
  if (g.process?.env?.GPUGRAD_GL_HARDWARE === '1') return false;
  return r === null || r.trim() === 'ANGLE' || /llvmpipe|softpipe|swiftshader|software|mesa offscreen|basic render/i.test(r);
}

/** GPUGRAD_SIMD=0 turns the SIMD provider off: 'auto' then picks a pure GPU.js mode, and 'simd' falls back. */
export function simdDisabled(): boolean {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
  const v = g.process?.env?.GPUGRAD_SIMD;
  return v === '0' || v === 'off' || v === 'false';
}

function tryRuntime(mode: Mode): { rt: Runtime; real: string; renderer: string | null } | { error: string } {
  const existing = runtimes.get(mode);
  if (existing) return { rt: existing, real: mode, renderer: existing.renderer };
  if (mode === 'simd') {
    if (simdDisabled()) return { error: 'the SIMD provider is turned off (GPUGRAD_SIMD=0)' };
    try {
      const rt = new SimdRuntime(GpuRuntime.defaultCacheLimit);
      runtimes.set(mode, rt);
      return { rt, real: mode, renderer: null };
    } catch (e) {
      return { error: `the SIMD provider could not start: ${(e as Error).message}` };
    }
  }
  try {
    const rt = new GpuRuntime(mode);
    const { mode: real, renderer } = rt.probe();
    if (real !== mode) {
      rt.destroy();
      return { error: `GPU.js fell back from '${mode}' to '${real}'` };
    }
    rt.renderer = renderer;
    runtimes.set(mode, rt);
    return { rt, real, renderer };
  } catch (e) {
    return { error: `GPU.js could not start '${mode}': ${(e as Error).message}` };
  }
}

/**
 * Chooses what float32 kernels run on. GPU.js falls back silently when a mode is not available; gpugrad
 * probes the mode, warns when it had to fall back, and `getBackend()` tells the truth. 'auto' takes a GL
 * mode only when its renderer is real hardware (not llvmpipe or SwiftShader), else the SIMD provider
 * (unless GPUGRAD_SIMD=0), else webasm.
 */
export function setBackend(name: BackendName): Mode {
  if (!BACKENDS.includes(name)) {
    throw new Error(`setBackend: unknown backend '${String(name)}'; expected one of ${BACKENDS.join(', ')}`);
  }
  if (name === 'auto') {
    for (const m of GL_MODES) {
      const had = runtimes.has(m);
      const r = tryRuntime(m);
      if ('rt' in r && !isSoftwareRenderer(r.renderer)) return activate(name, r.rt, r.renderer);
      // a software GL context that 'auto' turns down is closed again (Mesa's llvmpipe holds memory and threads)
      if ('rt' in r && !had && r.rt !== active) {
        r.rt.destroy();
        runtimes.delete(m);
      }
    }
    const s = tryRuntime('simd');
    if ('rt' in s) return activate(name, s.rt, null);
    const w = tryRuntime('webasm');
    if ('rt' in w) return activate(name, w.rt, null);
    const c = tryRuntime('cpu');
    if ('rt' in c) return activate(name, c.rt, null);
    throw new Error(`setBackend('auto'): no GPU.js mode could start`);
  }
  const r = tryRuntime(name);
  if ('rt' in r) return activate(name, r.rt, r.renderer);
  const fallback: Mode = name === 'cpu' ? 'cpu' : 'webasm';
  const f = tryRuntime(fallback);
  if (!('rt' in f)) throw new Error(`setBackend('${name}'): ${r.error}; the fallback '${fallback}' failed too: ${f.error}`);
  console.warn(`gpugrad: setBackend('${name}'): ${r.error}; running on '${fallback}' instead (getBackend() says so)`);
  return activate(name, f.rt, null);
}

function activate(requested: BackendName, rt: Runtime, renderer: string | null): Mode {
  active = rt;
  activeInfo = { requested, mode: rt.mode, renderer };
  return rt.mode;
}

function runtime(): Runtime {
  if (!active) setBackend(envBackend() ?? 'auto');
  return active!;
}

/** What really runs float32 kernels (after any fallback): a GPU.js mode or 'simd'. */
export function getBackend(): Mode {
  return runtime().mode;
}

export interface BackendInfo {
  /** what setBackend was asked for */
  requested: BackendName;
  /** what runs */
  mode: Mode;
  /** the GL renderer, where there is one */
  renderer: string | null;
  /** the SIMD provider's variant ('relaxed' or 'plain') on 'simd', else null */
  simd: 'relaxed' | 'plain' | null;
  /** threads the SIMD provider's GEMM runs on (GPUGRAD_THREADS; 1 on the GPU.js modes) */
  threads: number;
  /** the SIMD provider's worker threads that have started (threads - 1 once a page's workers are up; 0 without a pool) */
  workersStarted: number;
  /** GEMM work items its workers (not the calling thread) have run */
  workerItems: number;
  cachedKernels: number;
  /** kernels compiled since the backend started */
  compiles: number;
  /** kernel runs that found their kernel compiled */
  cacheHits: number;
  /** cacheHits / (cacheHits + compiles); 1 before any kernel ran */
  cacheHitRate: number;
  /** GL textures read back to the host so far (data(), item(), toArray() and anything internal) */
  readbacks: number;
}

/** Details of the active backend: what was asked for, what runs, the GL renderer, the kernel cache. */
export function backendInfo(): BackendInfo {
  const rt = runtime();
  const runs = rt.cacheHits + rt.compiles;
  return {
    ...activeInfo!,
    simd: rt.mode === 'simd' ? simd().variant : null,
    threads: rt.mode === 'simd' ? simd().threads : 1,
    workersStarted: rt.mode === 'simd' ? (simd().pool?.started ?? 0) : 0,
    workerItems: rt.mode === 'simd' ? (simd().pool?.itemsByWorkers ?? 0) : 0,
    cachedKernels: rt.cachedKernels,
    compiles: rt.compiles,
    cacheHits: rt.cacheHits,
    cacheHitRate: runs === 0 ? 1 : rt.cacheHits / runs,
    readbacks: storageCounts().readbacks,
  };
}

/** The SIMD provider when it runs float32 kernels (the 'simd' backend), else null. */
export function simdProvider(): SimdProvider | null {
  return runtime().mode === 'simd' ? simd() : null;
}

export function isGLBackend(): boolean {
  return runtime().isGL;
}

/**
 * Buffers of this many elements or more are past what GPU.js's float index maths reaches exactly
 * (float32 integers stop at 2^24 on webasm and GL), so kernels that touch one run on the host executor:
 * the same source, exact index maths in JS doubles, float32 results rounded once (like the cpu mode).
 */
export const HOST_ROUTE_ELEMENTS = 1 << 24;
/** Typed arrays (and gpugrad's flat indices) stop here. */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/**
 * Runs one kernel. `key` must identify the kernel source completely (op, shapes, baked constants);
 * `build` makes the source only on a cache miss. The op's name is the key's first `:` field.
 */
export function runKernel(precision: Precision, key: string, build: () => string, args: KernelArg[], size: number): Storage {
  const arrays = args.filter((a): a is Storage => typeof a !== 'number');
  if (size > MAX_ELEMENTS || arrays.some((a) => a.size > MAX_ELEMENTS)) {
    const big = Math.max(size, ...arrays.map((a) => a.size));
    throw new Error(
      `${key.split(':')[0]}: a tensor of ${big} elements is too large (gpugrad's limit is 2^31 - 1 = ${MAX_ELEMENTS} elements)`,
    );
  }
  if (size === 0) return Storage.fromHost(precision === 'float64' ? new Float64Array(0) : new Float32Array(0));
  if (precision === 'float64') return Storage.fromHost(runHost(key, build, args.map(hostArg), new Float64Array(size)));
  if (size >= HOST_ROUTE_ELEMENTS || arrays.some((a) => a.size >= HOST_ROUTE_ELEMENTS)) {
    return Storage.fromHost(runHost(key, build, args.map(hostArg), new Float32Array(size)));
  }
  return runtime().run(key, build, args, size);
}

export function memoryCounts(): { storages: number; textures: number } {
  const { storages, textures } = storageCounts();
  return { storages, textures };
}

/**
 * Internal (for tests): sets how many compiled kernels each GPU.js runtime keeps, on the runtimes that
 * exist and on those started later; a small limit makes the cache evict (and destroy kernels) constantly.
 * Returns the previous limit, to restore it.
 */
export function _setKernelCacheLimit(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`_setKernelCacheLimit: the limit must be a positive integer, got ${n}`);
  const previous = GpuRuntime.defaultCacheLimit;
  GpuRuntime.defaultCacheLimit = n;
  for (const rt of runtimes.values()) rt.setCacheLimit(n);
  return previous;
}

/** Destroys every GPU.js instance (and their kernels). The next kernel starts the backend again. */
export function destroyBackends(): void {
  for (const rt of runtimes.values()) rt.destroy();
  runtimes.clear();
  active = null;
  activeInfo = null;
}

export { Storage };
export type { GpuMode, SimdProvider };
