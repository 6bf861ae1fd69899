// The main job in a browser: bundles the training page (examples/browser/main.ts, as `npm run
// train:browser` does), serves it from 127.0.0.1 and drives it in Debian's headless Chromium (WebGL from
// SwiftShader) like a user: picks GPU.js mode webgl2, sets the step count, presses Start, waits for the
// run to finish, then downloads the checkpoint. It asserts that GPU.js really ran webgl2, that the loss
// fell, that the page's losses match the Node script's code path (examples/char-model.ts on GPU.js cpu,
// computed here) within float32 tolerance, that the checkpoint parses, and that the page raised no error.
// A screenshot of the page after training goes to /tmp/browser-train.png (override: GPUGRAD_SCREENSHOT).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualSeed, nn, setBackend } from '../src/index.js';
import { CharTransformer, SEED, buildVocab, generate, makeOptimizer, splitIds, trainStep } from '../examples/char-model.js';
import type { PageState } from '../examples/browser/main.js';
import { bundlePage, servePage, type PageServer } from '../examples/browser/serve.js';
import { gpujsBrowserBuild, type BrowserBundle } from './browser/bundle.js';
import { CHROMIUM, haveChromium, launchChromium, type LaunchedChromium } from './browser/chromium.js';

/** Training steps the page runs (the cosine schedule spans them, in the page and in the Node reference). */
const STEPS = 15;
/** Steps the page runs on the simd backend (no GPU). */
const SIMD_STEPS = 6;
/** The page is stopped once after at least this many steps, then resumed. */
const STOP_AT = 5;
/** float32 on SwiftShader vs cpu mode (float64 inside, float32 stored), a few optimizer steps apart. */
const LOSS_ATOL = 2e-3;
/** The mean of the last three losses must be at least this much (nats) below the first loss. */
const MIN_DROP = 0.4;
const SCREENSHOT = process.env.GPUGRAD_SCREENSHOT ?? '/tmp/browser-train.png';

const here = path.dirname(fileURLToPath(import.meta.url));
if (!haveChromium && !process.env.CI) {
  console.warn(
    `\n*** test/browser-train.test.ts: ${CHROMIUM} is missing (apt-get install chromium); the browser training test is skipped\n`,
  );
}

/** The Node script's code path: the shared model, optimizer and trainStep on GPU.js cpu, and the page's sample. */
function nodeRun(steps: number): { losses: number[]; sample: string } {
  setBackend('cpu');
  const vocab = buildVocab(readFileSync(path.join(here, '..', 'examples', 'data', 'corpus.txt'), 'utf8'));
  manualSeed(SEED);
  const model = new CharTransformer(vocab.chars.length);
  const { optimizer, scheduler } = makeOptimizer(model, steps);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    losses.push(trainStep(model, optimizer, splitIds(vocab.ids).train));
    scheduler.step();
  }
  return { losses, sample: generate(model, vocab, 'the ', 80, { fixedLength: true }) };
}

const pageState = (page: Page): Promise<PageState> => page.evaluate(() => globalThis.charTransformerPage.state());

describe.skipIf(!haveChromium && !process.env.CI)('the character transformer trains in headless Chromium (GPU.js webgl2)', () => {
  let built: BrowserBundle;
  let served: PageServer | undefined;
  let browser: LaunchedChromium | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    if (!haveChromium)
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); CI must run the browser tests`);
    built = await bundlePage();
    served = await servePage(built.js);
    browser = await launchChromium({ viewport: { width: 900, height: 1000 } });
    page = browser.page;
    page.on('pageerror', (e) => pageErrors.push(`${e.name}: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await page.goto(served.url, { waitUntil: 'load', timeout: 60_000 });
    await page.waitForFunction(() => globalThis.charTransformerPage?.state().status !== 'loading', null, { timeout: 30_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await served?.close();
  });

  it("the page bundle holds the shared model, src/ and gpu.js's browser build, and no Node entry points", () => {
    const gpuBrowser = path.relative(process.cwd(), gpujsBrowserBuild()).split(path.sep).join('/');
    expect(built.inputs).toContain('examples/char-model.ts');
    expect(built.inputs).toContain('examples/browser/main.ts');
    expect(built.inputs, 'gpu.js browser build in the bundle').toContain(gpuBrowser);
    expect(built.inputs.filter((f) => f.startsWith('src/')).length, 'src/ files in the bundle').toBeGreaterThan(10);
    expect(
      built.inputs.filter((f) => /node_modules\/(gl|gpu\.js\/src)\//.test(f)),
      'Node-only code in the bundle',
    ).toEqual([]);
  });

  it(`webgl2: ${STEPS} steps with Start, Stop and Resume; the loss falls and matches the Node code path on cpu; the checkpoint downloads`, async () => {
    const ready = await pageState(page);
    expect(ready.status, `page not ready: ${ready.error}`).toBe('ready');
    expect(ready.corpusChars, 'the page fetched the corpus').toBeGreaterThan(1000);

    const status = (want: string[]) =>
      page.waitForFunction((w) => w.includes(globalThis.charTransformerPage.state().status), want, { timeout: 90_000, polling: 100 });
    await page.selectOption('#mode', 'webgl2');
    await page.fill('#steps', String(STEPS));
    const t0 = Date.now();
    await page.click('#start');
    // Stop part-way (the page finishes the step it is in and shows a sample), then Resume
    await page.waitForFunction((n) => globalThis.charTransformerPage.state().step >= n, STOP_AT, { timeout: 90_000, polling: 50 });
    expect(await page.textContent('#start')).toBe('Stop');
    // a click in the page itself: page.click()'s actionability checks take a dozen round trips, each of
    // which waits for a training step (~0.6 s on SwiftShader), so it would land after the run ended
    await page.evaluate(() => document.querySelector<HTMLButtonElement>('#start')!.click());
    await status(['stopped', 'done', 'error']);
    const stopped = await pageState(page);
    expect(stopped.status, `stopping: ${stopped.error}`).toBe('stopped');
    expect(await page.textContent('#start')).toBe('Resume');
    await page.click('#start');
    await status(['done', 'stopped', 'error']);
    const wallS = (Date.now() - t0) / 1000;
    const s = await pageState(page);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    const ref = nodeRun(STEPS);
    const diffs = ref.losses.map((r, i) => Math.abs(r - s.losses[i]));
    console.log(
      `browser training: GPU.js ran '${s.backend}' (asked ${s.requested}) on ${JSON.stringify(s.renderer)}; ${s.step}/${s.totalSteps} steps (stopped at ${stopped.step}, resumed) in ${wallS.toFixed(1)} s wall, ` +
        `${s.tokensPerSec?.toFixed(0)} tokens/s over the run, ${s.recentTokensPerSec?.toFixed(0)} over the last 10 steps; sample in ${((s.sampleMs ?? 0) / 1000).toFixed(1)} s; live at the end ${JSON.stringify(s.memory)}; kernels ${JSON.stringify(s.kernels)}\n` +
        `  page losses: ${s.losses.map((l) => l.toFixed(4)).join(' ')}\n` +
        `  node cpu:    ${ref.losses.map((l) => l.toFixed(4)).join(' ')} (max |diff| ${Math.max(...diffs).toExponential(2)})\n` +
        `  page sample: ${JSON.stringify(s.sample)}\n  node sample: ${JSON.stringify(ref.sample)}\n  screenshot: ${SCREENSHOT}`,
    );

    expect(s.error, 'the page reported an error').toBeNull();
    expect(s.status).toBe('done');
    expect(s.backend, `GPU.js fell back from webgl2 to '${s.backend}' (renderer ${s.renderer})`).toBe('webgl2');
    expect(s.renderer, 'no renderer reported for webgl2').toBeTruthy();
    expect(s.step).toBe(STEPS);
    expect(s.losses).toHaveLength(STEPS);
    expect(s.losses.every(Number.isFinite), `non-finite loss: ${s.losses}`).toBe(true);
    const first = s.losses[0];
    const lastMean = s.losses.slice(-3).reduce((a, b) => a + b, 0) / 3;
    expect(lastMean, `loss ${first.toFixed(4)} -> ${lastMean.toFixed(4)} (mean of the last 3): it must fall by ${MIN_DROP}`).toBeLessThan(
      first - MIN_DROP,
    );
    // same seed, same batches and dropout masks (drawn on the host), and stopping/resuming draws nothing
    for (let i = 0; i < STEPS; i++) {
      expect(diffs[i], `loss at step ${i + 1}: page ${s.losses[i]} vs Node cpu ${ref.losses[i]}`).toBeLessThanOrEqual(LOSS_ATOL);
    }
    expect(s.tokensPerSec, 'tokens/s shown').toBeGreaterThan(0);
    // the validation loss, every 10 steps and at the end, and the plot with both curves (examples/plot.ts)
    expect(s.valLosses.map((v) => v.step)).toEqual(Array.from({ length: Math.ceil(STEPS / 10) }, (_, k) => Math.min((k + 1) * 10, STEPS)));
    expect(s.valLosses.every((v) => Number.isFinite(v.loss))).toBe(true);
    const chart = await page.locator('#chart').innerHTML();
    for (const part of ['>train<', '>validation<', '>step<', 'cross-entropy loss', 'stroke="darkorange"'])
      expect(chart, part).toContain(part);
    // greedy decoding on the same weights (up to float32 rounding): a wrong kernel or a lost texture shows here
    expect(s.sample, "the page's greedy sample vs the Node code path on cpu").toBe(ref.sample);
    expect(s.sample!.length).toBe(4 + 80);
    const shown = await page.evaluate(() => ({
      step: document.getElementById('step')!.textContent,
      backend: document.getElementById('backend')!.textContent,
      sample: document.getElementById('sample')!.textContent,
      start: document.getElementById('start')!.textContent,
    }));
    expect(shown).toEqual({ step: `${STEPS} / ${STEPS}`, backend: 'webgl2', sample: s.sample, start: 'Start' });

    // the checkpoint: the Node script's layout, readable here
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click('#download')]);
    expect(dl.suggestedFilename()).toBe(`char-transformer-step${STEPS}.safetensors`);
    const file = await dl.path();
    const { tensors, metadata } = nn.parseSafetensorsWithMetadata(readFileSync(file));
    expect(metadata.step).toBe(String(STEPS));
    const modelKeys = Object.keys(tensors)
      .filter((k) => k.startsWith('model.'))
      .map((k) => k.slice(6))
      .sort();
    const vocabSize = buildVocab(readFileSync(path.join(here, '..', 'examples', 'data', 'corpus.txt'), 'utf8')).chars.length;
    manualSeed(SEED);
    expect(modelKeys).toEqual(Object.keys(new CharTransformer(vocabSize).stateDict()).sort());
    expect(
      Object.keys(tensors).some((k) => k.startsWith('state.')),
      'optimizer state in the checkpoint',
    ).toBe(true);
    expect(tensors['model.head.weight'].shape).toEqual([vocabSize, 48]);

    expect(pageErrors, 'uncaught errors in the page').toEqual([]);
    expect(consoleErrors, 'console errors in the page').toEqual([]);
    expect(served!.requests.slice(0, 3).sort()).toEqual(['/', '/data/corpus.txt', '/main.js']);
  });

  it(`simd (WebAssembly SIMD on the CPU, no GPU): ${SIMD_STEPS} steps in the page match the Node code path on cpu, on Web Workers (the page is cross-origin isolated); tokens/s shown`, async () => {
    await page.selectOption('#mode', 'simd');
    await page.fill('#steps', String(SIMD_STEPS));
    await page.click('#start');
    await page.waitForFunction((w) => w.includes(globalThis.charTransformerPage.state().status), ['done', 'stopped', 'error'], {
      timeout: 90_000,
      polling: 100,
    });
    const s = await pageState(page);
    const ref = nodeRun(SIMD_STEPS);
    const diffs = ref.losses.map((r, i) => Math.abs(r - s.losses[i]));
    console.log(
      `browser training on simd: ran '${s.backend}' (${await page.textContent('#renderer')}); ${s.step} steps, ${s.tokensPerSec?.toFixed(0)} tokens/s ` +
        `(webgl2 above on SwiftShader); max |loss - node cpu| ${Math.max(...diffs).toExponential(2)}; kernels ${JSON.stringify(s.kernels)}; ` +
        `threads ${JSON.stringify(s.simdThreads)}`,
    );
    const cores = (await page.evaluate(() => navigator.hardwareConcurrency)) as number;
    const threads = Math.min(4, cores);
    expect(s.error, 'the page reported an error').toBeNull();
    expect(s.status).toBe('done');
    expect(s.backend).toBe('simd');
    expect(s.isolated, 'the dev server makes the page cross-origin isolated (COOP/COEP)').toBe(true);
    expect(await page.textContent('#renderer')).toMatch(
      new RegExp(`^none \\(simd runs on the CPU: (relaxed|plain) WebAssembly SIMD, ${threads} threads?\\)$`),
    );
    expect(s.simdThreads?.threads).toBe(threads);
    if (threads > 1) {
      // the workers start asynchronously; by the end of the run they are up and have taken product rows
      expect(s.simdThreads?.workersStarted).toBe(threads - 1);
      expect(s.simdThreads?.workerItems, 'matrix-product items run on Web Workers').toBeGreaterThan(0);
    }
    expect(s.step).toBe(SIMD_STEPS);
    for (let i = 0; i < SIMD_STEPS; i++) {
      expect(diffs[i], `loss at step ${i + 1}: page ${s.losses[i]} vs Node cpu ${ref.losses[i]}`).toBeLessThanOrEqual(LOSS_ATOL);
    }
    expect(s.tokensPerSec, 'tokens/s shown').toBeGreaterThan(0);
    expect(await page.textContent('#backend')).toBe('simd');
    expect(pageErrors, 'uncaught errors in the page').toEqual([]);
  });
});
