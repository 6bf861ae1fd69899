import { afterAll, describe, expect, it, vi } from 'vitest';
import { backendInfo, destroyBackends, getBackend, randn, setBackend } from '../../src/index.js';
import { isSoftwareRenderer, runKernel } from '../../src/backend/index.js';
import { GpuRuntime } from '../../src/backend/gpujs.js';
import { Storage } from '../../src/backend/storage.js';
import { compileHostKernel } from '../../src/backend/host.js';
import { MODES } from '../support/helpers.js';

describe('backend selection', () => {
  afterAll(() => {
    vi.restoreAllMocks();
    setBackend(MODES[0]);
  });
  it('rejects unknown backends, naming the valid ones', () => {
    expect(() => setBackend('vulkan' as never)).toThrow(
      /setBackend: unknown backend 'vulkan'; expected one of cpu, webasm, simd, headlessgl, webgl2, webgl, auto/,
    );
  });
  it('a mode GPU.js cannot run here falls back, warns, and getBackend() tells the truth', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(setBackend('webgl2')).toBe('webasm');
    expect(getBackend()).toBe('webasm');
    expect(backendInfo().requested).toBe('webgl2');
    expect(String(warn.mock.calls[0][0])).toMatch(/setBackend\('webgl2'\): GPU.js could not start 'webgl2'.*running on 'webasm' instead/);
  });
  it("'auto' takes a GL mode only for a hardware renderer: software or hidden renderers give simd", () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(setBackend('auto')).toBe('simd');
    expect(backendInfo()).toMatchObject({ requested: 'auto', mode: 'simd', simd: expect.stringMatching(/^(relaxed|plain)$/) });
    expect(isSoftwareRenderer('llvmpipe (LLVM 15.0.7, 256 bits)')).toBe(true);
    expect(isSoftwareRenderer('Google SwiftShader')).toBe(true);
    expect(isSoftwareRenderer('ANGLE')).toBe(true); // headless-gl hides the driver
    expect(isSoftwareRenderer(null)).toBe(true);
    expect(isSoftwareRenderer('ANGLE (NVIDIA, NVIDIA GeForce RTX 3080 Direct3D11 vs_5_0 ps_5_0)')).toBe(false);
  });
  it("GPUGRAD_SIMD=0 turns the SIMD provider off: 'auto' gives webasm, 'simd' falls back to it and warns", () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const before = process.env.GPUGRAD_SIMD;
    process.env.GPUGRAD_SIMD = '0';
    try {
      destroyBackends();
      expect(setBackend('auto')).toBe('webasm');
      expect(setBackend('simd')).toBe('webasm');
      expect(String(warn.mock.calls[0][0])).toMatch(
        /setBackend\('simd'\): the SIMD provider is turned off \(GPUGRAD_SIMD=0\); running on 'webasm'/,
      );
    } finally {
      if (before === undefined) delete process.env.GPUGRAD_SIMD;
      else process.env.GPUGRAD_SIMD = before;
      destroyBackends();
    }
    expect(setBackend('simd')).toBe('simd');
  });
  for (const m of MODES.filter((x) => x === 'headlessgl')) {
    it(`${m} reports its renderer`, () => {
      setBackend(m);
      expect(getBackend()).toBe(m);
      expect(backendInfo().renderer).toBe('ANGLE');
    });
  }
  it('each mode computes the same kernel', () => {
    const src = 'function (a, b) { const i = this.thread.x; return a[i] * b[i] + 1; }';
    const a = Storage.fromHost(new Float32Array([1, 2, 3]));
    const b = Storage.fromHost(new Float32Array([4, 5, 6]));
    for (const m of MODES) {
      setBackend(m);
      expect(Array.from(runKernel('float32', 'test:fma', () => src, [a, b], 3).host())).toEqual([5, 11, 19]);
    }
    expect(Array.from(runKernel('float64', 'test:fma', () => src, [a, b], 3).host())).toEqual([5, 11, 19]);
  });
});

describe('kernel runtime', () => {
  it('the kernel cache is bounded and evicted kernels are destroyed and unpinned', () => {
    const rt = new GpuRuntime('cpu', 4);
    const x = Storage.fromHost(new Float32Array([1, 2]));
    for (let k = 0; k < 10; k++) rt.run(`test:add${k}`, () => `function (a) { return a[this.thread.x] + ${k}; }`, [x], 2);
    expect(rt.cachedKernels).toBe(4);
    expect(rt.compiles).toBe(10);
    expect((rt.gpu.kernels as unknown[]).length).toBeLessThanOrEqual(5);
    // a cached kernel is not compiled again
    rt.run('test:add9', () => 'function (a) { return a[this.thread.x] + 9; }', [x], 2);
    expect(rt.compiles).toBe(10);
    rt.destroy();
  });
  for (const m of MODES.filter((x) => x === 'headlessgl')) {
    it(`${m}: an evicted kernel lives until the last texture it produced is released (GPU.js reads textures back through their kernel)`, () => {
      const rt = new GpuRuntime(m, 4);
      const x = Storage.fromHost(new Float32Array([1, 2]));
      const outs: Storage[] = [];
      for (let k = 0; k < 10; k++) {
        const s = rt.run(`test:add${k}`, () => `function (a) { return a[this.thread.x] + ${k}; }`, [x], 2);
        s.retain();
        outs.push(s);
      }
      expect(rt.cachedKernels).toBe(4);
      expect(rt.destroyed).toBe(0);
      outs.forEach((s, k) => expect(Array.from(s.host())).toEqual([1 + k, 2 + k]));
      for (const s of outs) s.release();
      expect(rt.destroyed).toBe(6);
      rt.destroy();
    });
  }
  it('outputs of 2^24 elements or more run on the host executor with exact indices; past 2^31 - 1 they throw naming the op', () => {
    const s = runKernel('float32', 'test:big', () => 'function () { const i = this.thread.x; return i - 16777216; }', [], (1 << 24) + 3);
    const h = s.host();
    expect(h).toBeInstanceOf(Float32Array);
    expect(Array.from(h.subarray(h.length - 3))).toEqual([0, 1, 2]);
    s.release();
    expect(() => runKernel('float32', 'bigop:x', () => 'function () { return 0; }', [], 2 ** 31)).toThrow(
      /^bigop: a tensor of 2147483648 elements is too large/,
    );
  });
  it('the host executor binds this.thread.x to the element index and runs float64', () => {
    const k = compileHostKernel('function (a) { const i = this.thread.x; return a[i] + 1e-12 * i; }');
    const out = new Float64Array(3);
    k(3, out, [new Float64Array([1, 1, 1])]);
    expect(Array.from(out)).toEqual([1, 1 + 1e-12, 1 + 2e-12]);
    expect(() => compileHostKernel('(a) => a')).toThrow(/not a plain function/);
  });
  it('GPUGRAD_BACKEND picks the mode when setBackend was never called', async () => {
    vi.resetModules();
    const prev = process.env.GPUGRAD_BACKEND;
    process.env.GPUGRAD_BACKEND = 'cpu';
    try {
      const fresh = await import('../../src/index.js');
      fresh.randn([2]).add(1);
      expect(fresh.getBackend()).toBe('cpu');
    } finally {
      if (prev === undefined) delete process.env.GPUGRAD_BACKEND;
      else process.env.GPUGRAD_BACKEND = prev;
    }
  });
  it('tensors work after a mode switch', () => {
    setBackend('cpu');
    const a = randn([3]);
    setBackend('webasm');
    expect(a.add(1).toArray().length).toBe(3);
  });
});
