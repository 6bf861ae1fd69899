// The README as a newcomer meets it: the package packed as npm would publish it (`npm pack`, which runs
// the `prepare` build) and installed into a fresh project, where every TypeScript block of the README
// runs by package name, `require('gpugrad')` works from CommonJS, and every `npm run` script and file the
// README names exists.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const README = readFileSync('README.md', 'utf8');
const BLOCKS = [...README.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
const require = createRequire(import.meta.url);
const TSX = path.join(path.dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs');
const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
let project = '';

beforeAll(() => {
  project = mkdtempSync(path.join(tmpdir(), 'gpugrad-readme-'));
  execFileSync(npm[0], [...npm.slice(1), 'pack', '--silent', '--pack-destination', project], { stdio: ['ignore', 'pipe', 'inherit'] });
  const tarball = readdirSync(project).find((f) => f.endsWith('.tgz'))!;
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'newcomer', version: '1.0.0', type: 'module', private: true }));
  // --omit=optional: no headless-GL build (gpu.js's optional `gl`), as the README tells people who do not need it
  execFileSync(
    npm[0],
    [...npm.slice(1), 'install', path.join(project, tarball), '--omit=optional', '--no-audit', '--no-fund', '--prefer-offline', '--silent'],
    {
      cwd: project,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
}, 240_000);
afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('the README, from the packed package', () => {
  it('has TypeScript blocks to run', () => {
    expect(BLOCKS.length).toBeGreaterThanOrEqual(4);
    for (const b of BLOCKS) expect(b).toMatch(/from 'gpugrad'/);
  });

  it.each(BLOCKS.map((b, k) => [k, b.split('\n')[0], b]))('block %i (%s) runs as written', (k, _first, block) => {
    const file = path.join(project, `block${k}.ts`);
    writeFileSync(file, block as string);
    const r = spawnSync(process.execPath, ['--import', TSX, file], {
      cwd: project,
      encoding: 'utf8',
      env: { ...process.env, GPUGRAD_BACKEND: 'cpu' },
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  });

  it("require('gpugrad') works from CommonJS, and the package ships dist/ with its types", () => {
    writeFileSync(
      path.join(project, 'cjs.cjs'),
      "const g = require('gpugrad'); console.log(typeof g.tensor, g.tensor([1, 2]).add(1).tolist().join(','));",
    );
    const r = spawnSync(process.execPath, ['cjs.cjs'], { cwd: project, encoding: 'utf8', env: { ...process.env, GPUGRAD_BACKEND: 'cpu' } });
    expect(r.stdout.trim(), r.stderr).toBe('function 2,3');
    expect(existsSync(path.join(project, 'node_modules', 'gpugrad', 'dist', 'index.d.ts'))).toBe(true);
  });

  it('every npm script and file it names exists', () => {
    const scripts = JSON.parse(readFileSync('package.json', 'utf8')).scripts as Record<string, string>;
    for (const m of README.matchAll(/npm run ([\w:-]+)/g)) expect(Object.keys(scripts), `npm run ${m[1]}`).toContain(m[1]);
    for (const m of README.matchAll(/`((?:examples|src|test|scripts|bench|docs)\/[\w./-]+\.(?:ts|md|txt|mjs|sh|py|json))`/g))
      expect(existsSync(m[1]), m[1]).toBe(true);
  });
});
