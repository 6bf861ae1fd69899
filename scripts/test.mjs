// `npm test`: runs the vitest suite once with every backend that can run here (GPU.js's cpu, webasm, and
// headlessgl under xvfb-run; gpugrad's WebAssembly SIMD provider, simd), plus the browser tests
// test/browser*.test.ts (webgl2 and webgl in Debian's headless Chromium, /usr/bin/chromium; the character
// transformer training page on webgl2).
// It type-checks and lints first (npm run lint:deps: the src/ layers; npm run lint: eslint and prettier).
// GPUGRAD_TEST_MODES=cpu,webasm narrows the Node modes. Under CI a missing headlessgl or Chromium is a
// failure, not a silent skip.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
let glBuilt = false;
try {
  glBuilt = existsSync(path.join(path.dirname(require.resolve('gl/package.json')), 'build', 'Release', 'webgl.node'));
} catch {
  glBuilt = false;
}
const xvfb = has('xvfb-run');
let modes = process.env.GPUGRAD_TEST_MODES;
if (!modes) {
  if (glBuilt && xvfb) modes = 'cpu,webasm,simd,headlessgl';
  else {
    const why = !glBuilt ? "the optional 'gl' package is not built" : 'xvfb-run is not installed';
    const msg = `headlessgl cannot run here (${why}); install: apt-get install build-essential libxi-dev libglu1-mesa-dev libglew-dev pkg-config xvfb, then npm ci`;
    if (process.env.CI) {
      console.error(`npm test: ${msg}`);
      process.exit(1);
    }
    console.warn(`\n*** npm test: ${msg}\n*** running cpu, webasm and simd only\n`);
    modes = 'cpu,webasm,simd';
  }
}
const CHROMIUM = '/usr/bin/chromium';
const vitestExtra = [];
if (!existsSync(CHROMIUM)) {
  const msg = `the browser test (GPU.js webgl2/webgl in headless Chromium) cannot run here: ${CHROMIUM} is missing; install: apt-get install chromium`;
  if (process.env.CI) {
    console.error(`npm test: ${msg}`);
    process.exit(1);
  }
  console.warn(`\n*** npm test: ${msg}\n*** the browser tests (test/browser*.test.ts) are excluded\n`);
  vitestExtra.push('--exclude', 'test/browser*.test.ts');
}
// the SIMD provider's WebAssembly (src/backend/simd/*.wat, built by wabt; `npm ci` builds it too, as prepare)
const wasm = spawnSync(process.execPath, [fileURLToPath(new URL('./build-wasm.mjs', import.meta.url))], { stdio: 'inherit' });
if (wasm.status !== 0) {
  console.error('npm test: building the WebAssembly kernels failed');
  process.exit(wasm.status ?? 1);
}
// type-check first: a type error fails the run before any test does
const tsc = spawnSync(
  process.execPath,
  [path.join(path.dirname(require.resolve('typescript/package.json')), 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit'],
  { stdio: 'inherit' },
);
if (tsc.status !== 0) {
  console.error('npm test: type-check failed');
  process.exit(tsc.status ?? 1);
}
// lint next: src/'s import layering (npm run lint:deps), then eslint and prettier --check (npm run lint)
const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
for (const script of ['lint:deps', 'lint']) {
  const lint = spawnSync(npm[0], [...npm.slice(1), 'run', '--silent', script], { stdio: 'inherit' });
  if (lint.status !== 0) {
    console.error(`npm test: npm run ${script} failed`);
    process.exit(lint.status ?? 1);
  }
}
const needsX = modes.split(',').some((m) => m.includes('gl')) && !process.env.DISPLAY;
const vitest = path.join(path.dirname(require.resolve('vitest/package.json')), 'vitest.mjs');
const args = [vitest, 'run', ...vitestExtra, ...process.argv.slice(2)];
const cmd = needsX ? 'xvfb-run' : process.execPath;
const cmdArgs = needsX ? ['-a', '-s', '-screen 0 1024x768x24', process.execPath, ...args] : args;
console.log(
  `npm test: GPU.js modes ${modes}${needsX ? ' (under xvfb-run)' : ''}${vitestExtra.length ? '' : '; webgl2 and webgl in headless Chromium'}`,
);
const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit', env: { ...process.env, GPUGRAD_TEST_MODES: modes } });
if (r.status !== 0) process.exit(r.status ?? 1);
// the notebooks (examples/notebooks), executed headless on Deno's Jupyter kernel; jupyter comes from Debian
if (spawnSync('jupyter', ['nbconvert', '--version'], { stdio: 'ignore' }).status !== 0) {
  const msg = 'the notebooks cannot run here: jupyter nbconvert is missing; install: apt-get install jupyter-nbconvert python3-nbclient';
  if (process.env.CI) {
    console.error(`npm test: ${msg}`);
    process.exit(1);
  }
  console.warn(`\n*** npm test: ${msg}\n*** the notebooks were not run\n`);
  process.exit(0);
}
const nb = spawnSync(process.execPath, [fileURLToPath(new URL('./notebooks.mjs', import.meta.url))], { stdio: 'inherit' });
process.exit(nb.status ?? 1);
