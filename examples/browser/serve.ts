// `npm run train:browser`: bundles examples/browser/main.ts for the browser (esbuild, gpu.js's browser
// build: the helper test/browser/bundle.ts shares with the browser tests) and serves the page on
// http://127.0.0.1:8080/ (`-- --port N` for another port; 0 picks a free one). main.js is rebuilt on
// every request, so a reload picks up edits to the page, the model or src/.
//
//   /                 examples/browser/index.html
//   /main.js          the bundle of examples/browser/main.ts
//   /data/corpus.txt  examples/data/corpus.txt
//
// Every answer carries COOP/COEP headers, so the page is cross-origin isolated: it has SharedArrayBuffer,
// and the simd backend runs its matrix products on Web Workers over one shared WebAssembly memory.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleForBrowser, type BrowserBundle } from '../../test/browser/bundle.js';
import { listenLocal } from '../../test/browser/serve.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PAGE_ENTRY = path.join(here, 'main.ts');
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: path.join(here, 'index.html'), type: 'text/html; charset=utf-8' },
  '/index.html': { file: path.join(here, 'index.html'), type: 'text/html; charset=utf-8' },
  '/data/corpus.txt': { file: path.join(here, '..', 'data', 'corpus.txt'), type: 'text/plain; charset=utf-8' },
};

/** The page's script: examples/browser/main.ts bundled for the browser. */
export function bundlePage(): Promise<BrowserBundle> {
  return bundleForBrowser(PAGE_ENTRY);
}

/** What makes a page cross-origin isolated (crossOriginIsolated, SharedArrayBuffer): every resource here is same-origin. */
export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
} as const;

export interface PageServer {
  server: Server;
  url: string;
  /** Every path asked for, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves the page on 127.0.0.1:`port` (0: a free port). `script` gives main.js: a fixed bundle, or a
 * function called on each request (a failed build answers 500 with esbuild's message).
 */
export function servePage(script: string | (() => Promise<string>), port = 0): Promise<PageServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    requests.push(url);
    const send = (status: number, type: string, body: string | Buffer): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...ISOLATION_HEADERS }).end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    if (url === '/main.js') {
      (typeof script === 'string' ? Promise.resolve(script) : script()).then(
        (js) => send(200, 'text/javascript; charset=utf-8', js),
        (e: Error) => {
          console.error(`bundling ${path.relative(process.cwd(), PAGE_ENTRY)} failed:\n${e.message}`);
          send(500, 'text/plain; charset=utf-8', `bundling failed:\n${e.message}\n`);
        },
      );
      return;
    }
    const f = FILES[url];
    if (!f) return send(404, 'text/plain', 'not found\n');
    readFile(f.file).then(
      (body) => send(200, f.type, body),
      (e: Error) => send(500, 'text/plain', `${e.message}\n`),
    );
  });
  return listenLocal(server, requests, port);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--port');
  const port = i >= 0 ? Number(args[i + 1]) : 8080;
  // build once up front, so a broken bundle fails here and not in the browser
  const first = await bundlePage();
  console.log(
    `bundled ${path.relative(process.cwd(), PAGE_ENTRY)}: ${(first.js.length / 1e6).toFixed(1)} MB with its source map, ${first.inputs.length} files`,
  );
  let pending: string | null = first.js;
  const { url } = await servePage(async () => {
    if (pending !== null) {
      const js = pending;
      pending = null;
      return js;
    }
    return (await bundlePage()).js;
  }, port);
  console.log(`gpugrad character transformer: open ${url} (Ctrl-C stops the server)`);
}
