// gpugrad in a browser: bundles test/browser/page.ts (which imports src/index.ts) for the browser with
// esbuild, gpu.js resolved to its browser build, serves it from a local HTTP server and runs it in
// Debian's headless Chromium (playwright-core, /usr/bin/chromium; WebGL from SwiftShader, no GPU needed).
// On GPU.js modes webgl2 and webgl the page runs ops, attention, MultiheadAttention, optimizer steps and
// a safetensors round trip in float32 and compares each result and gradient with the float64 host path
// in the same page; this file asserts on the JSON report it returns. Then, per mode, the kernel-cache
// eviction workload (test/support/eviction-workload.ts) runs with a cache of 16 kernels, against the float64 path.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnvReport, EvictionReport, ModeReport } from './browser/page.js';
import { RUNTIME_CHECKS, WORKLOAD_CASES } from './support/eviction-workload.js';
import { steadyFailures, type SteadyReport } from './support/steady-workload.js';
import type { GenerationReport } from './support/generation-workload.js';
import { bundleForBrowser, gpujsBrowserBuild, type BrowserBundle } from './browser/bundle.js';
import { CHROMIUM, haveChromium, launchChromium, type LaunchedChromium } from './browser/chromium.js';
import { serveScript, type ScriptServer } from './browser/serve.js';

const MODES = ['webgl2', 'webgl'] as const;
/** Steps of the steady-state workload per mode (test/support/steady-workload.ts). */
const STEADY_STEPS = 1000;

const here = path.dirname(fileURLToPath(import.meta.url));
if (!haveChromium && !process.env.CI) {
  console.warn(`\n*** test/browser.test.ts: ${CHROMIUM} is missing (apt-get install chromium); the browser test is skipped\n`);
}

describe.skipIf(!haveChromium && !process.env.CI)('gpugrad in headless Chromium (GPU.js webgl2 and webgl)', () => {
  let built: BrowserBundle;
  let served: ScriptServer | undefined;
  let browser: LaunchedChromium | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    if (!haveChromium)
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); CI must run the browser test`);
    built = await bundleForBrowser(path.join(here, 'browser', 'page.ts'));
    served = await serveScript(built.js, { title: 'gpugrad browser test', scriptPath: '/page.js' });
    browser = await launchChromium();
    page = browser.page;
    page.on('pageerror', (e) => pageErrors.push(`${e.name}: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await page.goto(served.url, { waitUntil: 'load', timeout: 60_000 });
    await page.waitForFunction(() => typeof globalThis.gpugradBrowserTest === 'object', null, { timeout: 30_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await served?.close();
  });

  it("the page bundle holds src/ and gpu.js's browser build, and no Node entry points", () => {
    const gpuBrowser = path.relative(process.cwd(), gpujsBrowserBuild()).split(path.sep).join('/');
    expect(built.inputs, 'gpu.js browser build in the bundle').toContain(gpuBrowser);
    expect(built.inputs.filter((f) => f.startsWith('src/')).length, 'src/ files in the bundle').toBeGreaterThan(10);
    expect(
      built.inputs.filter((f) => /node_modules\/(gl|gpu\.js\/src)\//.test(f)),
      'Node-only code in the bundle',
    ).toEqual([]);
    expect(served!.requests).toEqual(['/', '/page.js']);
  });

  it('Chromium gives WebGL2 and WebGL contexts', async () => {
    const env = (await page.evaluate(() => globalThis.gpugradBrowserTest.environment())) as EnvReport;
    console.log(`browser: ${env.userAgent}\n  webgl2 renderer: ${env.webgl2}\n  webgl renderer: ${env.webgl}`);
    expect(env.webgl2, 'no WebGL2 context: check the Chromium flags (SwiftShader)').not.toBeNull();
    expect(env.webgl, 'no WebGL context: check the Chromium flags (SwiftShader)').not.toBeNull();
  });

  it('a page that is not cross-origin isolated runs simd on one thread (no shared memory for workers)', async () => {
    const env = (await page.evaluate(() => globalThis.gpugradBrowserTest.environment())) as EnvReport;
    expect(env.isolated).toBe(false);
    expect(env.simdThreads).toBe(1);
  });

  for (const mode of MODES) {
    it(`${mode}: ops, attention, MultiheadAttention, optimizers and safetensors match the float64 path`, async () => {
      const checkNames = (await page.evaluate(() => globalThis.gpugradBrowserTest.checkNames)) as string[];
      const r = (await page.evaluate((m) => globalThis.gpugradBrowserTest.run(m), mode)) as ModeReport;
      console.log(
        `browser ${mode}: GPU.js ran '${r.backend}' on renderer ${JSON.stringify(r.renderer)}; ${r.checks.filter((c) => c.ok).length}/${r.checks.length} checks passed in ${r.ms} ms (${r.compiles} kernels compiled; live at the end: ${JSON.stringify(r.memory)})` +
          r.checks.map((c) => `\n  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`).join(''),
      );
      expect(r.backend, `GPU.js fell back from '${mode}' to '${r.backend}' (renderer ${r.renderer})`).toBe(mode);
      expect(r.renderer, `no renderer reported for ${mode}`).toBeTruthy();
      const failed = r.checks.filter((c) => !c.ok).map((c) => `${mode} / ${c.name}: ${c.detail}`);
      expect(failed, `failed checks in Chromium on ${mode}:\n${failed.join('\n')}`).toEqual([]);
      const missing = checkNames.filter((n) => !r.checks.some((c) => c.name === n));
      expect(missing, `checks that did not run on ${mode}`).toEqual([]);
      expect(r.warnings, `gpugrad warned on ${mode}`).toEqual([]);
      expect(pageErrors, 'uncaught errors in the page').toEqual([]);
      expect(consoleErrors, 'console errors in the page').toEqual([]);
    });
  }

  // GPU.js kernels on one canvas share GL state: destroying evicted kernels must not change what the
  // cached ones compute. test/backend/eviction.test.ts runs the same checks on the Node modes, with two
  // rounds of the workload; here one round (about 970 compiles) keeps it near 17 s per mode on SwiftShader.
  const CACHE_LIMIT = 16;
  const ROUNDS = 1;
  for (const mode of MODES) {
    it(`${mode}: ${STEADY_STEPS} training steps in steady state: no compile after the first, flat textures, state on the device, one readback per step`, async () => {
      const r = (await page.evaluate(([m, n]) => globalThis.gpugradBrowserTest.runSteady(m, n), [
        mode,
        STEADY_STEPS,
      ] as const)) as SteadyReport & {
        backend: string;
        ms: number;
      };
      console.log(
        `browser ${mode} steady state: ${STEADY_STEPS} steps in ${r.ms} ms; after step 1 ${JSON.stringify(r.afterStep1)}, at the end ${JSON.stringify(r.end)}; ` +
          `${r.heldTextures}/${r.held} parameters and states on the device`,
      );
      expect(r.backend, `GPU.js fell back from '${mode}' to '${r.backend}'`).toBe(mode);
      expect(steadyFailures(r, STEADY_STEPS)).toEqual([]);
      expect(pageErrors, 'uncaught errors in the page').toEqual([]);
    });
  }
  for (const mode of MODES) {
    it(`${mode}: generation with the padded window compiles nothing after its first token`, async () => {
      const r = (await page.evaluate((m) => globalThis.gpugradBrowserTest.runGeneration(m), mode)) as GenerationReport & {
        backend: string;
      };
      expect(r.backend, `GPU.js fell back from '${mode}' to '${r.backend}'`).toBe(mode);
      expect(r.text).toHaveLength(16);
      expect(r.compilesAfterFirst, 'kernels compiled after the first token').toBe(0);
      expect(pageErrors, 'uncaught errors in the page').toEqual([]);
    });
  }
  for (const mode of MODES) {
    it(`${mode}: a long mixed workload with a cache of ${CACHE_LIMIT} kernels (constant eviction) matches the float64 path`, async () => {
      const r = (await page.evaluate(([m, n, r]) => globalThis.gpugradBrowserTest.runEviction(m, n, r), [
        mode,
        CACHE_LIMIT,
        ROUNDS,
      ] as const)) as EvictionReport;
      console.log(
        `browser ${mode} eviction workload: ${r.checks.filter((c) => c.ok).length}/${r.checks.length} checks passed in ${r.ms} ms, ${r.compiles} kernels compiled, ${r.cachedKernels} cached at the end` +
          [...r.runtime, ...r.checks].map((c) => `\n  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`).join(''),
      );
      expect(r.backend, `GPU.js fell back from '${mode}' to '${r.backend}'`).toBe(mode);
      expect(r.runtime.map((c) => c.name)).toEqual([...RUNTIME_CHECKS]);
      const runtimeFailed = r.runtime.filter((c) => !c.ok).map((c) => `${mode} / ${c.name}: ${c.detail}`);
      expect(runtimeFailed, `a kernel destroyed on eviction changed what other kernels compute in Chromium on ${mode}`).toEqual([]);
      expect(r.checks.map((c) => c.name)).toEqual(
        Array.from({ length: ROUNDS }, (_, i) => WORKLOAD_CASES.map((n) => `round ${i + 1}: ${n}`)).flat(),
      );
      const failed = r.checks.filter((c) => !c.ok).map((c) => `${mode} / ${c.name}: ${c.detail}`);
      expect(failed, `failed checks in Chromium on ${mode} with a cache of ${CACHE_LIMIT} kernels:\n${failed.join('\n')}`).toEqual([]);
      expect(r.compiles, 'the workload must compile far more kernels than the cache holds').toBeGreaterThan(10 * CACHE_LIMIT);
      expect(r.cachedKernels).toBeLessThanOrEqual(CACHE_LIMIT);
      expect(r.warnings, `gpugrad warned on ${mode}`).toEqual([]);
      expect(pageErrors, 'uncaught errors in the page').toEqual([]);
      expect(consoleErrors, 'console errors in the page').toEqual([]);
    });
  }
});
