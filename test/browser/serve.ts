// A page for headless Chromium: an HTML shell that loads one script, served from 127.0.0.1 on a free port.
// Shared by test/browser.test.ts and test/bundle.test.ts; listenLocal() is the part any local page server
// needs (examples/browser/serve.ts's servePage has the same lines). No vitest or playwright here.
import { createServer, type Server } from 'node:http';

export interface ScriptServer {
  server: Server;
  /** The page: http://127.0.0.1:PORT/ */
  url: string;
  /** Every path asked for, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves `/` (an HTML page titled `title` whose only script is `scriptPath`) and `scriptPath` (`js`);
 * anything else is a 404.
 */
export function serveScript(js: string, options: { title: string; scriptPath: string }): Promise<ScriptServer> {
  const { title, scriptPath } = options;
  const requests: string[] = [];
  const html = `<!doctype html><meta charset="utf-8"><title>${title}</title><link rel="icon" href="data:,"><script src="${scriptPath}"></script>`;
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    else if (req.url === scriptPath) res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(js);
    else res.writeHead(404).end();
  });
  return listenLocal(server, requests);
}

/**
 * Starts `server` on 127.0.0.1:`port` (0: a free port); `requests` is the list its handler records paths
 * in. Rejects if the port cannot be had.
 */
export function listenLocal(server: Server, requests: string[], port = 0): Promise<ScriptServer> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      if (!addr || typeof addr === 'string') return reject(new Error('no port'));
      resolve({
        server,
        url: `http://127.0.0.1:${addr.port}/`,
        requests,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
