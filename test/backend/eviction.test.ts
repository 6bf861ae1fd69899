// The kernel cache under constant eviction. GPU.js kernels on one GL context share state, so destroying an
// evicted kernel must leave every kernel still cached computing the right numbers, while the destroyed ones
// really go (gpu.kernels must not pin them) and a destroyed runtime releases its GL context. Focused checks
// on the runtime, then a long mixed workload (test/support/eviction-workload.ts) with a cache of 16 kernels against
// the float64 host path, on every mode under test. The Chromium modes (webgl2, webgl) run the same checks
// in test/browser.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendInfo } from '../../src/index.js';
import { _setKernelCacheLimit } from '../../src/backend/index.js';
import { GpuRuntime } from '../../src/backend/gpujs.js';
import { Storage } from '../../src/backend/storage.js';
import type { GpuMode } from '../../src/backend/gpujs.js';
import { MODES, useMode } from '../support/helpers.js';
import { evictionWorkload, runtimeChecks, RUNTIME_CHECKS, WORKLOAD_CASES } from '../support/eviction-workload.js';

const CACHE_LIMIT = 16;

describe.each(MODES)('kernel cache eviction on %s', (mode) => {
  // the GPU.js runtime's own checks; the 'simd' backend's cache holds host loops only (the workload below runs on it)
  if (mode !== 'simd')
    it('a destroyed kernel leaves the kernels still cached right, and destroyed kernels are unpinned', () => {
      const checks = runtimeChecks(mode as GpuMode);
      console.log(`kernel runtime checks on ${mode}:` + checks.map((c) => `\n  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`).join(''));
      expect(checks.map((c) => c.name)).toEqual([...RUNTIME_CHECKS]);
      const failed = checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
      expect(failed, `${mode}: a kernel destroyed on eviction changed what other kernels compute`).toEqual([]);
    });

  // a GL context exists only on the GL modes: the check is registered there, not skipped elsewhere
  if (mode === 'headlessgl')
    it('destroying a runtime whose kernels were all evicted still releases its GL context', async () => {
      const rt = new GpuRuntime(mode, 1);
      const x = Storage.fromHost(new Float32Array([1, 2]));
      for (let k = 0; k < 3; k++) {
        const s = rt.run(`test:add${k}`, () => `function (a) { return a[this.thread.x] + ${k}; }`, [x], 2);
        s.retain();
        expect(Array.from(s.host())).toEqual([1 + k, 2 + k]);
        s.release();
      }
      expect(rt.destroyed).toBe(2);
      // GPU.js destroys the context through the first kernel left in gpu.kernels, a tick after gpu.destroy()
      const ext = rt.gpu.context.getExtension('STACKGL_destroy_context') as { destroy(): void };
      const original = ext.destroy.bind(ext);
      let released = 0;
      ext.destroy = () => {
        released++;
        original();
      };
      rt.destroy();
      await new Promise((r) => setTimeout(r, 50));
      expect(released, 'the headless-gl context was not destroyed').toBe(1);
    });

  describe(`a long mixed workload with a cache of ${CACHE_LIMIT} kernels matches the float64 path`, () => {
    let previous = 0;
    beforeAll(() => {
      useMode(mode);
      previous = _setKernelCacheLimit(CACHE_LIMIT);
    });
    afterAll(() => {
      _setKernelCacheLimit(previous);
    });
    it('matmul, softmax, layerNorm, element-wise, attention and transformer training steps', () => {
      const r = evictionWorkload(2);
      console.log(
        `eviction workload on ${mode}: ${r.checks.filter((c) => c.ok).length}/${r.checks.length} checks passed in ${r.ms} ms, ${r.compiles} kernels compiled, ${r.cachedKernels} cached at the end` +
          r.checks.map((c) => `\n  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`).join(''),
      );
      expect(r.checks.map((c) => c.name)).toEqual([1, 2].flatMap((round) => WORKLOAD_CASES.map((n) => `round ${round}: ${n}`)));
      const failed = r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
      expect(failed, `${mode}: checks failed with a cache of ${CACHE_LIMIT} kernels`).toEqual([]);
      expect(r.compiles, 'the workload must compile far more kernels than the cache holds').toBeGreaterThan(5 * CACHE_LIMIT);
      expect(backendInfo().cachedKernels).toBeLessThanOrEqual(CACHE_LIMIT);
    });
  });
});
