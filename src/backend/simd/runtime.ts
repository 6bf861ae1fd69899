// The 'simd' backend: float32 tensors live in host arrays; kernels with a WebAssembly SIMD implementation
// (declared next to their GPU.js source, see kernels/template.ts `native`) run it, every other kernel runs
// its GPU.js source on the host executor in float32. GPU.js is not involved at all.

import { HostExecutor } from '../host.js';
import { allocFloat32, hostArg, Storage, type KernelArg } from '../storage.js';
import { simd, simdAvailable } from './provider.js';

export class SimdRuntime {
  readonly mode = 'simd' as const;
  readonly isGL = false;
  renderer: string | null = null;
  private readonly host: HostExecutor;

  constructor(cacheLimit: number) {
    this.host = new HostExecutor(cacheLimit);
    if (!simdAvailable()) throw new Error('this JavaScript engine has no WebAssembly 128-bit SIMD');
    simd(); // compile the modules now: a failure shows at selection, not in the first op
  }

  run(key: string, build: () => string, args: KernelArg[], size: number): Storage {
    const out = this.host.run(key, build, args.map(hostArg), allocFloat32(size));
    return Storage.fromHost(out);
  }

  probe(): { mode: 'simd'; renderer: null } {
    return { mode: 'simd', renderer: null };
  }

  get compiles(): number {
    return this.host.misses;
  }

  get cacheHits(): number {
    return this.host.hits;
  }

  get cachedKernels(): number {
    return this.host.size;
  }

  /** The host executor's cache holds compiled loops only (nothing on a device): the limit bounds their memory. */
  setCacheLimit(limit: number): void {
    this.host.setLimit(limit);
  }

  destroy(): void {
    /* nothing outside the JavaScript heap */
  }
}
