// gpugrad in a minified bundle. esbuild `minify: true` renames classes (MaxResult, Linear, GPU.js's
// CPUKernel become single letters) and rewrites function text, so anything that gives a class name or a
// function's source meaning at run time breaks there and nowhere else. test/bundle/program.ts checks tidy
// keeping a returned max(dim) result, setBackend/getBackend telling GPU.js's mode from its kernel classes,
// module reprs, optimizer error names and one training step; it is bundled
//   - for Node (ESM) with gpu.js external (gpugrad minified, gpu.js as installed) and with gpu.js inside
//     (both minified: a class-name check on GPU.js's kernel classes fails only here), run in a child
//     process on cpu, webasm (and headlessgl when GPUGRAD_TEST_MODES names it);
//   - for the browser (IIFE, gpu.js's browser build inside), run in headless Chromium on webgl2 and webgl.
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODES } from './support/helpers.js';
import { bundleDir, bundleForBrowserMinified, bundleForNode, REPO, type BuiltBundle } from './bundle/build.js';
import type { ProgramReport } from './bundle/program.js';
import { CHROMIUM, haveChromium, launchChromium, type LaunchedChromium } from './browser/chromium.js';
import { serveScript, type ScriptServer } from './browser/serve.js';

const NODE_MODES = MODES.filter((m) => m === 'cpu' || m === 'webasm' || m === 'headlessgl');
const BROWSER_MODES = ['webgl2', 'webgl'];
const MARKER = 'GPUGRAD_BUNDLE_REPORT ';

const EXPECTED_REPR =
  'Sequential(\n' +
  '  (0): Linear(in_features=2, out_features=3, bias=True)\n' +
  '  (1): ReLU()\n' +
  '  (2): Dropout(p=0.25, inplace=False)\n' +
  '  (3): LayerNorm((3,), eps=1e-05, elementwise_affine=True)\n' +
  ')';
const EXPECTED_OPTIMIZER_ERRORS = [
  'SGD: optimizer got an empty parameter list',
  'Adam: optimizer got an empty parameter list',
  'AdamW: optimizer got an empty parameter list',
];

/** Everything wrong with a report, as readable lines (empty when all is well). */
function problems(r: ProgramReport, modes: string[], gpujsMinified: boolean): string[] {
  const out: string[] = [];
  const bad = (what: string, got: unknown, want: string) => out.push(`${what}: got ${JSON.stringify(got)}, expected ${want}`);
  // the bundle really renames classes (else this test proves nothing)
  if (r.classNames.maxResult === 'MaxResult') bad('MaxResult.name in the bundle', r.classNames.maxResult, 'a minified name');
  if (r.classNames.linear === 'Linear') bad('nn.Linear.name in the bundle', r.classNames.linear, 'a minified name');
  if (r.classNames.sgd === 'SGD') bad('optim.SGD.name in the bundle', r.classNames.sgd, 'a minified name');
  if (gpujsMinified && r.classNames.gpuCPUKernel === 'CPUKernel')
    bad("gpu.js's CPUKernel.name in the bundle", r.classNames.gpuCPUKernel, 'a minified name');
  if (!gpujsMinified && r.classNames.gpuCPUKernel !== 'CPUKernel')
    bad("gpu.js's CPUKernel.name (gpu.js external)", r.classNames.gpuCPUKernel, '"CPUKernel"');
  if (r.reprError || r.repr !== EXPECTED_REPR)
    bad('repr of Sequential(Linear, ReLU, Dropout, LayerNorm)', r.reprError ?? r.repr, JSON.stringify(EXPECTED_REPR));
  const userRepr = 'UserNet(\n  (fc): Linear(in_features=2, out_features=1, bias=False)\n)';
  if (r.userRepr !== userRepr) bad('repr of a user module declaring its moduleName', r.userRepr, JSON.stringify(userRepr));
  if (r.subclassName[0] !== r.subclassName[1])
    bad('an undeclared subclass of Linear: _getName()', r.subclassName, 'the nearest declared name, "Linear"');
  if (JSON.stringify(r.optimizerErrors) !== JSON.stringify(EXPECTED_OPTIMIZER_ERRORS))
    bad('optimizer errors', r.optimizerErrors, JSON.stringify(EXPECTED_OPTIMIZER_ERRORS));
  if (JSON.stringify(r.modes.map((m) => m.requested)) !== JSON.stringify(modes))
    bad(
      'modes run',
      r.modes.map((m) => m.requested),
      JSON.stringify(modes),
    );
  for (const m of r.modes) {
    const at = (what: string) => `${m.requested}: ${what}`;
    if (m.error) out.push(at(`threw ${m.error}`));
    if (m.backend !== m.requested) bad(at('getBackend() after setBackend'), m.backend, JSON.stringify(m.requested));
    if (m.warnings.length) bad(at('warnings'), m.warnings, 'none');
    const x = m.max;
    if (!x) out.push(at('tidy(() => x.max(1)) did not run'));
    else {
      if (!x.isMaxResult) bad(at('tidy(() => x.max(1)) instanceof MaxResult'), x.isMaxResult, 'true');
      if (x.className === 'MaxResult') bad(at("the result's class name"), x.className, 'a minified name');
      if (!x.valuesAlive || !x.indicesAlive)
        bad(at('tidy(() => x.max(1)): values and indices alive'), [x.valuesAlive, x.indicesAlive], '[true, true]');
      if (JSON.stringify(x.values) !== '[10,14]') bad(at('max(1) values'), x.values, '[10, 14]');
      if (JSON.stringify(x.indices) !== '[1,0]') bad(at('max(1) indices'), x.indices, '[1, 0]');
      if (x.liveAfter !== x.liveBefore)
        bad(at('live tensors after tidy and disposing its result'), x.liveAfter, `${x.liveBefore} (as before)`);
    }
    const t = m.train;
    if (!t) out.push(at('the training step did not run'));
    else {
      if (!Number.isFinite(t.lossBefore) || !Number.isFinite(t.lossAfter) || !(t.lossAfter < t.lossBefore))
        bad(at('loss before → after one Adam step'), [t.lossBefore, t.lossAfter], 'finite and falling');
      if (!t.paramsChanged) bad(at('parameters changed by the step'), t.paramsChanged, 'true');
      if (!t.gradsAfterStep) bad(at('gradients kept by tidy after the step'), t.gradsAfterStep, 'true');
    }
  }
  return out;
}

function runNode(
  b: BuiltBundle,
  modes: string[],
): Promise<{ report: ProgramReport | null; code: number | null; stderr: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [b.file, modes.join(',')],
      { cwd: REPO, encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 24 },
      (err, stdout, stderr) => {
        const line = stdout.split('\n').find((l) => l.startsWith(MARKER));
        // a minified bundle's error is one long line: keep short lines only
        const shortErr = stderr
          .split('\n')
          .filter((l) => l.length < 400 && !/^\s+at /.test(l))
          .slice(-6)
          .join('\n');
        resolve({
          report: line ? (JSON.parse(line.slice(MARKER.length)) as ProgramReport) : null,
          code: err ? ((err as { code?: number }).code ?? 1) : 0,
          stderr: shortErr,
          ms: Date.now() - t0,
        });
      },
    );
  });
}

let dir = '';
const built: { external?: BuiltBundle; bundled?: BuiltBundle; browser?: BuiltBundle & { js: string } } = {};

beforeAll(async () => {
  dir = await bundleDir();
  const t0 = Date.now();
  [built.external, built.bundled, built.browser] = await Promise.all([
    bundleForNode(dir, 'external'),
    bundleForNode(dir, 'bundled'),
    haveChromium ? bundleForBrowserMinified(dir) : undefined,
  ]);
  console.log(
    `bundle test: 3 minified bundles in ${Date.now() - t0} ms (${Object.entries(built)
      .map(([k, b]) => `${k} ${Math.round(b!.bytes / 1024)} KiB`)
      .join(', ')})`,
  );
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.each(['external', 'bundled'] as const)('a minified Node bundle with gpu.js %s', (variant) => {
  it(`runs tidy/max, setBackend on ${NODE_MODES.join(', ')}, reprs and a training step as unbundled`, async () => {
    const b = built[variant]!;
    const gpuInside = b.inputs.some((f) => f.startsWith('node_modules/gpu.js/'));
    expect(gpuInside, `gpu.js inside the ${variant} bundle`).toBe(variant === 'bundled');
    expect(b.inputs.filter((f) => f.startsWith('src/')).length, 'src/ files in the bundle').toBeGreaterThan(10);
    const r = await runNode(b, NODE_MODES);
    console.log(`bundle test: node, gpu.js ${variant}: ${NODE_MODES.join(', ')} in ${r.ms} ms`);
    expect(r.report, `no report from the bundle (exit ${r.code}):\n${r.stderr}`).not.toBeNull();
    expect(problems(r.report!, NODE_MODES, variant === 'bundled')).toEqual([]);
    expect(r.code, r.stderr).toBe(0);
  });
});

if (!haveChromium && !process.env.CI)
  console.warn(`\n*** test/bundle.test.ts: ${CHROMIUM} is missing (apt-get install chromium); the browser half is skipped\n`);

describe.skipIf(!haveChromium && !process.env.CI)('a minified browser bundle (gpu.js inside) in headless Chromium', () => {
  let served: ScriptServer | undefined;
  let browser: LaunchedChromium | undefined;

  afterAll(async () => {
    await browser?.close();
    await served?.close();
  });

  it(`runs tidy/max, setBackend on ${BROWSER_MODES.join(', ')}, reprs and a training step as unbundled`, async () => {
    if (!haveChromium)
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); CI must run the browser test`);
    const b = built.browser!;
    expect(
      b.inputs.filter((f) => /node_modules\/(gl|gpu\.js\/src)\//.test(f)),
      'Node-only code in the browser bundle',
    ).toEqual([]);
    const t0 = Date.now();
    served = await serveScript(b.js, { title: 'gpugrad bundle test', scriptPath: '/bundle.js' });
    browser = await launchChromium();
    const page = browser.page;
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(`${e.name}: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`console.error: ${m.text()}`);
    });
    await page.goto(served.url, { waitUntil: 'load', timeout: 60_000 });
    await page.waitForFunction(() => typeof globalThis.gpugradBundleTest === 'object', null, { timeout: 30_000 });
    const report = (await page.evaluate((modes) => globalThis.gpugradBundleTest.run(modes), BROWSER_MODES)) as ProgramReport;
    console.log(`bundle test: chromium ${BROWSER_MODES.join(', ')} in ${Date.now() - t0} ms`);
    expect(problems(report, BROWSER_MODES, true)).toEqual([]);
    expect(pageErrors, 'errors in the page').toEqual([]);
  });
});
