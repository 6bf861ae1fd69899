// Minified esbuild bundles of test/bundle/program.ts for test/bundle.test.ts: for Node with gpu.js left
// external or bundled inside, and for the browser (gpu.js's browser build inside). No vitest here.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { gpujsBrowserBuild } from '../browser/bundle.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..');
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

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

function inputsOf(meta: esbuild.Metafile): string[] {
  return Object.keys(meta.inputs).map((f) => path.relative(REPO, path.resolve(process.cwd(), f)).split(path.sep).join('/'));
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
  return { file, inputs: inputsOf(r.metafile), bytes: r.metafile.outputs[path.relative(process.cwd(), file)]?.bytes ?? 0 };
}

/** The browser program, minified, as one IIFE script (gpu.js resolved to its browser build, no Node module). */
export async function bundleForBrowserMinified(dir: string): Promise<BuiltBundle & { js: string }> {
  const gpuBrowser = gpujsBrowserBuild();
  const file = path.join(dir, 'browser.js');
  const r = await esbuild.build({
    entryPoints: [path.join(here, 'browser-entry.ts')],
    bundle: true,
    minify: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [
      {
        name: 'gpugrad-browser',
        setup(b) {
          b.onResolve({ filter: /^gpu\.js$/ }, () => ({ path: gpuBrowser }));
          b.onResolve({ filter: /.*/ }, (a) =>
            builtins.has(a.path)
              ? { errors: [{ text: `'${a.path}' is a Node module, imported by ${a.importer}: the browser bundle must not need it` }] }
              : undefined,
          );
        },
      },
    ],
  });
  const js = r.outputFiles[0].text;
  await writeFile(file, js);
  return { file, js, inputs: inputsOf(r.metafile), bytes: js.length };
}
