// Bundles a TypeScript entry (which imports src/index.ts) for the browser with esbuild, gpu.js resolved to
// its browser build (its package.json "browser" field), never its Node entry; a Node built-in imported
// anywhere in the bundle is a build error. Shared by test/browser.test.ts, test/browser-train.test.ts,
// test/bundle.test.ts (minified, through test/bundle/build.ts) and `npm run train:browser`
// (examples/browser/serve.ts). No vitest or playwright here.
import { createRequire, builtinModules } from 'node:module';
import path from 'node:path';
import * as esbuild from 'esbuild';

const require = createRequire(import.meta.url);

/** gpu.js's browser build (its package.json "browser" field), never its Node entry. */
export function gpujsBrowserBuild(): string {
  const pkgPath = require.resolve('gpu.js/package.json');
  const pkg = require(pkgPath) as { browser?: string };
  if (typeof pkg.browser !== 'string') throw new Error(`gpu.js's package.json has no "browser" field (${pkgPath})`);
  return path.join(path.dirname(pkgPath), pkg.browser);
}

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

export interface BrowserBundle {
  /** The bundle: one IIFE script (with an inline source map unless `sourcemap: false`). */
  js: string;
  /** The files in it, relative to the working directory (esbuild's metafile). */
  inputs: string[];
}

export interface BrowserBundleOptions {
  /** Minify the script (default false). */
  minify?: boolean;
  /** Append an inline source map (default true). */
  sourcemap?: boolean;
}

/** One IIFE script for the browser from `entry`, by default unminified with an inline source map. */
export async function bundleForBrowser(entry: string, options: BrowserBundleOptions = {}): Promise<BrowserBundle> {
  const { minify = false, sourcemap = true } = options;
  const gpuBrowser = gpujsBrowserBuild();
  const r = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    minify,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    write: false,
    metafile: true,
    sourcemap: sourcemap ? 'inline' : false,
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
  return { js: r.outputFiles[0].text, inputs: Object.keys(r.metafile.inputs) };
}
