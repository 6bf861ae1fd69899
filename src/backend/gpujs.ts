// The GPU.js executor: one GPU instance per mode, a bounded cache of compiled kernels keyed by the
// kernel's static key (op, shapes, constants) and the kinds of its arguments, and storage in/out.
// This folder is the only code that imports GPU.js.

import gpujs from 'gpu.js';
import { LRU } from './lru.js';
import { Storage, type DeviceTexture, type KernelArg } from './storage.js';

export type GpuMode = 'cpu' | 'webasm' | 'headlessgl' | 'webgl2' | 'webgl';
export const GL_MODES: readonly GpuMode[] = ['headlessgl', 'webgl2', 'webgl'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyKernel = any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const GPUClass: any = (gpujs as any).GPU ?? (globalThis as any).GPU?.GPU ?? (globalThis as any).GPU;

// GPU.js's kernel classes by identity, never by name (minifiers rename classes). HeadlessGLKernel extends
// WebGLKernel, so the exact constructor is compared, not instanceof.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- gpu.js's module shape differs between its Node and browser builds
const GPUJS: any = (gpujs as any).GPU ? gpujs : ((globalThis as any).GPU ?? {});
const KERNEL_CLASSES: [string, GpuMode][] = [
  ['CPUKernel', 'cpu'],
  ['WebAssemblyKernel', 'webasm'],
  ['HeadlessGLKernel', 'headlessgl'],
  ['WebGL2Kernel', 'webgl2'],
  ['WebGLKernel', 'webgl'],
];

/** The mode a compiled GPU.js kernel really runs on. */
export function kernelMode(k: AnyKernel): GpuMode | string {
  const ctor = k?.kernel?.constructor;
  for (const [exported, mode] of KERNEL_CLASSES) if (ctor && ctor === GPUJS[exported]) return mode;
  return 'unknown';
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
  /** Runs that found their kernel compiled already. */
  cacheHits = 0;
  /** The GL renderer string found by probe(), null for cpu/webasm. */
  renderer: string | null = null;

  /** The kernel cache limit a new runtime starts with (tests lower it to make eviction constant). */
  static defaultCacheLimit = 384;

  constructor(
    readonly mode: GpuMode,
    cacheLimit = GpuRuntime.defaultCacheLimit,
  ) {
    if (!GPUClass) throw new Error('gpugrad: GPU.js is not loaded');
    if (mode === 'headlessgl') ensureHeadlessGL();
    this.gpu = new GPUClass({ mode });
    this.isGL = GL_MODES.includes(mode);
    this.cache = new LRU<string, Cached>(cacheLimit, (c) => {
      c.evicted = true;
      if (c.live === 0) this.destroyKernel(c);
    });
  }

  /**
   * GL: the kernel whose first run (GPU.js builds a kernel then) came last. GPU.js points the context's
   * vertex attributes (aPos, aTexCoord) at the building kernel's own vertex buffer in build() and never
   * again in run() (web-gl/kernel.js build(): `this.buffer`, vertexAttribPointer), so every kernel draws
   * through the buffer of the kernel built last; destroy() deletes that buffer (`deleteBuffer(this.buffer)`)
   * and every later draw fails (GL_INVALID_OPERATION: nothing is written, the output keeps stale values).
   * That kernel's destruction waits until another kernel has been built.
   */
  private lastBuilt: Cached | null = null;
  private deferred: Cached | null = null;
  private closed = false;

  /**
   * Frees an evicted kernel (program, shaders, framebuffers, textures) and unpins it. Never
   * `destroy(true)`: GPU.js's WebGL kernels on one canvas share one `maxTexSize` (web-gl/kernel.js,
   * `canvases`/`maxTexSizes` at the top, `updateMaxTexSize()`): it sizes the shared viewport that build()
   * sets, and every kernel's run() scales its quad by `texSize / maxTexSize`. `destroy(true)` drops the
   * canvas's entry, so the next kernel built starts a new, smaller `maxTexSize` and shrinks the viewport,
   * while the kernels still cached keep dividing by the old one: they draw only part of their output and
   * with shifted thread ids (stale or wrong numbers). `destroy(true)` is for the last kernel on a canvas.
   */
  private destroyKernel(c: Cached): void {
    if (this.closed) return; // gpu.destroy() takes every kernel left, then the context
    if (c === this.lastBuilt) {
      this.deferred = c;
      return;
    }
    try {
      c.fn.destroy?.();
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

  /** GL: uploads a deviceResident storage's host data once (an identity kernel per size) and keeps the texture with it. */
  private deviceCopy(s: Storage): DeviceTexture {
    const up = this.run(`gpugrad.upload:${s.size}`, () => 'function (a) { return a[this.thread.x]; }', [s], s.size);
    up.detachTextureTo(s);
    return s.texture!;
  }

  /** Runs a kernel; GL results stay on the device as textures. */
  run(key: string, build: () => string, args: KernelArg[], size: number): Storage {
    // GPU.js cannot take a zero-length array argument; a kernel never reads an empty input, so pad it.
    // A number (a runtime parameter) is passed as it is: GPU.js makes it a float argument (a uniform on
    // GL), so a new value runs the same compiled kernel.
    const inputs = args.map((s) => {
      if (typeof s === 'number') return s;
      if (this.isGL && s.texture) return s.texture;
      if (this.isGL && s.deviceResident && s.size > 0 && !key.startsWith('gpugrad.upload:')) return this.deviceCopy(s);
      return s.size === 0 ? new Float32Array(1) : s.float32();
    });
    const kinds = inputs.map((x) => (typeof x === 'number' ? 'n' : x instanceof Float32Array ? 'a' : 't')).join('');
    const fullKey = `${key}|${kinds}`;
    let c = this.cache.get(fullKey);
    const fresh = !c;
    if (c) this.cacheHits++;
    else {
      c = { fn: this.compile(build(), size), live: 0, evicted: false };
      if (c.fn.kernel && 'moduleCacheLimit' in c.fn.kernel) c.fn.kernel.moduleCacheLimit = 64;
      this.cache.set(fullKey, c);
    }
    const result = c.fn(...inputs);
    if (this.isGL && fresh) {
      // built now: the vertex attributes use this kernel's buffer, so a kernel waiting for that can go
      this.lastBuilt = c;
      const d = this.deferred;
      this.deferred = null;
      if (d) this.destroyKernel(d);
    }
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
      // the probe kernel stays until destroy(): gpu.destroy() releases the GL context only through a
      // kernel still in gpu.kernels, and the cache may have destroyed all of its own by then
      return { mode: kernelMode(k), renderer };
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /** Changes the kernel cache limit; kernels beyond it are evicted now. */
  setCacheLimit(limit: number): void {
    this.cache.setLimit(limit);
  }

  get cachedKernels(): number {
    return this.cache.size;
  }

  /**
   * Destroys the GPU.js instance: every kernel and the GL context. The cache does not destroy its kernels
   * itself: gpu.destroy() destroys the kernels in gpu.kernels and then the context through the first of
   * them (gpu.js destroy()); with none left it would never release the context.
   */
  destroy(): void {
    this.closed = true;
    this.cache.clear();
    try {
      // asynchronous in GPU.js (it waits a tick); a failure there leaves nothing to act on
      Promise.resolve(this.gpu.destroy?.()).catch(() => undefined);
    } catch {
      /* already gone */
    }
  }
}
