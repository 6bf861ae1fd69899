// Runs a command under xvfb-run when there is no display and xvfb-run exists (headlessgl needs one).
import { spawnSync } from 'node:child_process';
const [cmd, ...args] = process.argv.slice(2);
const hasXvfb = spawnSync('sh', ['-c', 'command -v xvfb-run'], { stdio: 'ignore' }).status === 0;
const wrap = !process.env.DISPLAY && hasXvfb;
const r = spawnSync(wrap ? 'xvfb-run' : 'npx', wrap ? ['-a', 'npx', cmd, ...args] : [cmd, ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
