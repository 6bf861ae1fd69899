// Minified esbuild bundles of test/bundle/program.ts for test/bundle.test.ts: for Node with gpu.js left
// external or bundled inside, and for the browser (test/browser/bundle.ts's bundleForBrowser, minified:
// gpu.js's browser build inside). No vitest here.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { bundleForBrowser } from '../browser/bundle.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..');

/**
 * A fresh directory under the repo's node_modules/.cache: a bundle there resolves what it leaves
 * external (gpu.js, gl) from the repo's node_modules, as an installed app's bundle would.
 */
export async function bundleDir(): Promise<string> {
  const cache = path.join(REPO, 'node_modules', '.cache', 'gpugrad-bundle-test');
  await mkdir(cache, { recursive: true });
  return mkdtemp(path.join(cache, 'run-'));
}

export interface BuiltBundle {
  file: string;
  /** Files in the bundle, relative to the repo (esbuild's metafile). */
  inputs: string[];
  bytes: number;
}

/** esbuild's metafile inputs (relative to the working directory), relative to the repo. */
function inputsOf(inputs: string[]): string[] {
  return inputs.map((f) => path.relative(REPO, path.resolve(process.cwd(), f)).split(path.sep).join('/'));
}

/**
 * The Node program, minified, as an ES module. With `gpujs: 'bundled'` gpu.js (and acorn, gpu-mock.js) go
 * inside and get minified too; only headless-gl's native addon ('gl') stays outside. gpu.js is CommonJS
 * and require()s Node built-ins at run time, which an ES module bundle can only do through a require
 * made by createRequire (esbuild's documented workaround).
 */
export async function bundleForNode(dir: string, gpujs: 'external' | 'bundled'): Promise<BuiltBundle> {
  const file = path.join(dir, `node-${gpujs}.mjs`);
  const r = await esbuild.build({
    entryPoints: [path.join(here, 'node-entry.ts')],
    outfile: file,
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    metafile: true,
    logLevel: 'silent',
    external: gpujs === 'external' ? ['gpu.js'] : ['gl'],
    banner:
      gpujs === 'bundled'
        ? { js: "import{createRequire as __gpugradCreateRequire}from'node:module';const require=__gpugradCreateRequire(import.meta.url);" }
        : undefined,
  });
  return {
    file,
    inputs: inputsOf(Object.keys(r.metafile.inputs)),
    bytes: r.metafile.outputs[path.relative(process.cwd(), file)]?.bytes ?? 0,
  };
}

/** The browser program, minified, as one IIFE script (gpu.js resolved to its browser build, no Node module). */
export async function bundleForBrowserMinified(dir: string): Promise<BuiltBundle & { js: string }> {
  const file = path.join(dir, 'browser.js');
  const { js, inputs } = await bundleForBrowser(path.join(here, 'browser-entry.ts'), { minify: true, sourcemap: false });
  await writeFile(file, js);
  return { file, js, inputs: inputsOf(inputs), bytes: js.length };
}
