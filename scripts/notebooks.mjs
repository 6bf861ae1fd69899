// Executes every notebook in examples/notebooks headless with Jupyter (Debian's jupyter-nbconvert and
// python3-nbclient) on Deno's Jupyter kernel (the `deno` npm package: it imports src/ directly, no build,
// with real tracebacks), and fails on any error cell. Executed notebooks go to a temporary directory:
// outputs are never committed.
//
//   node scripts/notebooks.mjs                   (npm run notebooks; npm test runs it)
//   node scripts/notebooks.mjs --install-kernel  (installs the kernelspec for jupyter notebook, once)
//
// The kernelspec sets "interrupt_mode": "message": Deno's kernel handles Jupyter's interrupt request, and
// a signal (the default) would kill it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dir = path.join(root, 'examples', 'notebooks');
const KERNEL = 'gpugrad-deno';

/** The deno executable of the npm package (its install step links it on first use). */
const deno = require('deno/install_api.cjs').runInstall();

function writeKernelspec(kernelsDir) {
  const spec = path.join(kernelsDir, KERNEL);
  mkdirSync(spec, { recursive: true });
  const kernel = {
    argv: [deno, 'jupyter', '--kernel', '--conn', '{connection_file}'],
    display_name: 'Deno (gpugrad)',
    language: 'typescript',
    interrupt_mode: 'message',
    env: { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
  };
  writeFileSync(path.join(spec, 'kernel.json'), JSON.stringify(kernel, null, 2) + '\n');
  return spec;
}

if (process.argv.includes('--install-kernel')) {
  const base = process.env.JUPYTER_DATA_DIR ?? path.join(homedir(), '.local', 'share', 'jupyter');
  console.log(`installed the kernelspec '${KERNEL}' in ${writeKernelspec(path.join(base, 'kernels'))}`);
  process.exit(0);
}

const has = spawnSync('jupyter', ['nbconvert', '--version'], { encoding: 'utf8' });
if (has.status !== 0) {
  console.error('notebooks: jupyter nbconvert is missing; install: apt-get install jupyter-nbconvert python3-nbclient');
  process.exit(1);
}
const tmp = mkdtempSync(path.join(tmpdir(), 'gpugrad-notebooks-'));
writeKernelspec(path.join(tmp, 'kernels'));
const out = path.join(tmp, 'executed');
let failed = 0;
const books = readdirSync(dir)
  .filter((f) => f.endsWith('.ipynb'))
  .sort();
for (const nb of books) {
  const t0 = Date.now();
  const r = spawnSync(
    'jupyter',
    [
      'nbconvert',
      '--to',
      'notebook',
      '--execute',
      `--ExecutePreprocessor.kernel_name=${KERNEL}`,
      '--ExecutePreprocessor.timeout=600',
      '--output-dir',
      out,
      nb,
    ],
    { cwd: dir, encoding: 'utf8', env: { ...process.env, JUPYTER_PATH: tmp, GPUGRAD_BACKEND: process.env.GPUGRAD_BACKEND ?? '' } },
  );
  // nbconvert fails on a cell whose execution reply is an error; an error output anywhere fails it here too
  const errors = [];
  if (r.status === 0) {
    const done = JSON.parse(readFileSync(path.join(out, nb), 'utf8'));
    for (const c of done.cells) for (const o of c.outputs ?? []) if (o.output_type === 'error') errors.push(`${o.ename}: ${o.evalue}`);
  }
  const ok = r.status === 0 && errors.length === 0;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${nb} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  if (!ok) {
    failed++;
    // nbconvert's report: the failing cell's source and its error (after its own Python traceback)
    const err = r.stderr ?? '';
    const at = err.indexOf('An error occurred while executing the following cell');
    console.error(errors.join('\n') || (at >= 0 ? err.slice(at) : err.split('\n').slice(-40).join('\n')));
  }
}
if (process.env.GPUGRAD_KEEP_NOTEBOOKS) console.log(`executed notebooks kept in ${out}`);
else rmSync(tmp, { recursive: true, force: true });
if (failed) {
  console.error(`notebooks: ${failed} of ${books.length} failed`);
  process.exit(1);
}
console.log(`notebooks: all ${books.length} ran`);
