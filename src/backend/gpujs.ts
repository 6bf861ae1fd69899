// The GPU.js executor: one GPU instance per mode, a bounded cache of compiled kernels keyed by the
// kernel's static key (op, shapes, constants) and the kinds of its arguments, and storage in/out.
// This folder is the only code that imports GPU.js.

import gpujs from 'gpu.js';
import { LRU } from './lru.js';
import { Storage, type DeviceTexture } from './storage.js';

export type GpuMode = 'cpu' | 'webasm' | 'headlessgl' | 'webgl2' | 'webgl';
export const GL_MODES: readonly GpuMode[] = ['headlessgl', 'webgl2', 'webgl'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyKernel = any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const GPUClass: any = (gpujs as any).GPU ?? (globalThis as any).GPU?.GPU ?? (globalThis as any).GPU;

const KERNEL_CLASS_TO_MODE: Record<string, GpuMode> = {
  CPUKernel: 'cpu',
  WebAssemblyKernel: 'webasm',
  HeadlessGLKernel: 'headlessgl',
  WebGL2Kernel: 'webgl2',
  WebGLKernel: 'webgl',
};

export function kernelMode(k: AnyKernel): GpuMode | string {
  const name: string = k?.kernel?.constructor?.name ?? 'unknown';
  return KERNEL_CLASS_TO_MODE[name] ?? name;
}

interface Cached {
  fn: AnyKernel;
  /** Output textures of this kernel still held by storages (GL): GPU.js reads a texture back through
   * the kernel that made it, so a kernel is destroyed only when it is evicted and none of these is left. */
  live: number;
  evicted: boolean;
}

/**
 * GPU.js decides once per process whether headless-gl works, from one 2×2 test context, and caches a
 * failure for good. Under load that context has been seen to fail transiently (about once in thirty test
 * processes here), which silently demoted headlessgl to webasm. Retry the test context a few times
 * before GPU.js looks, and tell GPU.js the answer so it does not make (and maybe lose) another one.
 */
function ensureHeadlessGL(): void {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const K: any = (gpujs as any).HeadlessGLKernel;
  if (!K || typeof K.setupFeatureChecks !== 'function' || ensuredHeadlessGL) return;
  // without an X display (Linux) headless-gl cannot work at all: nothing to retry
  const env = (globalThis as { process?: { platform?: string; env?: Record<string, string | undefined> } }).process;
  const attempts = env?.platform === 'linux' && !env.env?.DISPLAY ? 1 : 6;
  for (let attempt = 0; attempt < attempts && !K.testContext; attempt++) {
    if (attempt > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100 * attempt);
    K.setupFeatureChecks();
  }
  if (K.testContext) {
    ensuredHeadlessGL = true;
    Object.defineProperty(K, 'isSupported', { get: () => true, configurable: true });
  }
}
let ensuredHeadlessGL = false;

export class GpuRuntime {
  readonly gpu: AnyKernel;
  readonly isGL: boolean;
  private cache: LRU<string, Cached>;
  compiles = 0;
  /** The GL renderer string found by probe(), null for cpu/webasm. */
  renderer: string | null = null;

  constructor(readonly mode: GpuMode, cacheLimit = 384) {
    if (!GPUClass) throw new Error('gpugrad: GPU.js is not loaded');
    if (mode === 'headlessgl') ensureHeadlessGL();
    this.gpu = new GPUClass({ mode });
    this.isGL = GL_MODES.includes(mode);
    this.cache = new LRU<string, Cached>(cacheLimit, (c) => {
      c.evicted = true;
      if (c.live === 0) this.destroyKernel(c);
    });
  }

  private destroyKernel(c: Cached): void {
    try {
      c.fn.destroy?.(true);
    } catch {
      /* a kernel that never ran has nothing to free */
    }
    // gpu.kernels pins every kernel it ever made; drop the destroyed one so its memory can go.
    const list = this.gpu.kernels;
    if (Array.isArray(list)) {
      const at = list.indexOf(c.fn.kernel);
      if (at >= 0) list.splice(at, 1);
    }
    this.destroyed++;
  }

  /** Kernels destroyed after eviction (for tests). */
  destroyed = 0;

  private compile(source: string, size: number): AnyKernel {
    const fn = this.gpu.createKernel(source, {
      output: [size],
      precision: 'single',
      tactic: 'precision',
      loopMaxIterations: 1 << 24,
      pipeline: this.isGL,
      immutable: this.isGL,
    });
    this.compiles++;
    return fn;
  }

  /** Runs a kernel; GL results stay on the device as textures. */
  run(key: string, build: () => string, args: Storage[], size: number): Storage {
    // GPU.js cannot take a zero-length array argument; a kernel never reads an empty input, so pad it.
    const inputs = args.map((s) => (this.isGL && s.texture ? s.texture : s.size === 0 ? new Float32Array(1) : s.float32()));
    const kinds = inputs.map((x) => (x instanceof Float32Array ? 'a' : 't')).join('');
    const fullKey = `${key}|${kinds}`;
    let c = this.cache.get(fullKey);
    if (!c) {
      c = { fn: this.compile(build(), size), live: 0, evicted: false };
      if (c.fn.kernel && 'moduleCacheLimit' in c.fn.kernel) c.fn.kernel.moduleCacheLimit = 64;
      this.cache.set(fullKey, c);
    }
    const result = c.fn(...inputs);
    if (this.isGL) {
      const owner = c;
      owner.live++;
      return new Storage(size, null, result as DeviceTexture, () => {
        owner.live--;
        if (owner.evicted && owner.live === 0) this.destroyKernel(owner);
      });
    }
    const arr = result as Float32Array;
    return Storage.fromHost(arr.length === size ? arr : arr.slice(0, size));
  }

  /** Which mode GPU.js really runs (it falls back silently), and the GL renderer if any. */
  probe(): { mode: GpuMode | string; renderer: string | null } {
    const k = this.gpu.createKernel('function (a) { return a[this.thread.x] + 1; }', {
      output: [2],
      precision: 'single',
    });
    let renderer: string | null = null;
    try {
      const out = k(new Float32Array([1, 2])) as Float32Array;
      if (Math.abs(out[0] - 2) > 1e-6 || Math.abs(out[1] - 3) > 1e-6) {
        throw new Error(`gpugrad: GPU.js mode '${this.mode}' computed wrong values in a probe kernel (${Array.from(out)})`);
      }
      const gl = k.kernel?.context;
      if (gl && typeof gl.getParameter === 'function') {
        const ext = gl.getExtension?.('WEBGL_debug_renderer_info');
        renderer = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
      }
      return { mode: kernelMode(k), renderer };
    } finally {
      k.destroy?.(true);
    }
  }

  get cachedKernels(): number {
    return this.cache.size;
  }

  destroy(): void {
    this.cache.clear();
    try {
      this.gpu.destroy?.();
    } catch {
      /* already gone */
    }
  }
}
