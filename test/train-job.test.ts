// The main job as a user runs it (examples/train-char-transformer.ts, examples/sample.ts), in child
// processes with a tiny model: resuming is exact (30 steps straight and 15 + 15 with a resume agree bit
// for bit, on cpu and webasm), Ctrl-C saves and exits 130, a run is never overwritten without --resume or
// --force, bad flags print the usage, bad checkpoints are refused by field, and the plot has its parts.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nn } from '../src/index.js';

const SCRIPT = 'examples/train-char-transformer.ts';
const TINY = [
  '--batch',
  '4',
  '--context',
  '16',
  '--embd',
  '16',
  '--heads',
  '2',
  '--layers',
  '1',
  '--dropout',
  '0.1',
  '--eval-every',
  '10',
  '--save-every',
  '0',
];
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), 'gpugrad-train-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function run(args: string[], script = SCRIPT): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe.each(['cpu', 'webasm'])('the training job on %s', (backend) => {
  it('30 steps straight and 15 + 15 with --resume agree bit for bit (losses, checkpoint)', async () => {
    const a = tmp();
    const b = tmp();
    const whole = run([...TINY, '--steps', '30', '--backend', backend, '--out', a]);
    expect(whole.code, whole.err).toBe(0);
    const first = run([...TINY, '--steps', '30', '--backend', backend, '--out', b, '--stop-at', '15']);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toMatch(/stopped at step 15 of 30/);
    const second = run([...TINY, '--backend', backend, '--out', b, '--resume']);
    expect(second.code, second.err).toBe(0);
    expect(second.out).toMatch(/resumed .* at step 15 of 30/);
    expect(readFileSync(path.join(b, 'loss.csv'), 'utf8')).toBe(readFileSync(path.join(a, 'loss.csv'), 'utf8'));
    const ta = (await nn.loadSafetensorsWithMetadata(path.join(a, 'checkpoint.safetensors'))).tensors;
    const tb = (await nn.loadSafetensorsWithMetadata(path.join(b, 'checkpoint.safetensors'))).tensors;
    expect(Object.keys(tb).sort()).toEqual(Object.keys(ta).sort());
    for (const k of Object.keys(ta)) expect(Array.from(tb[k].toArray()), k).toEqual(Array.from(ta[k].toArray()));
  });
});

describe('the training job as a user meets it', () => {
  it('prints progress with validation loss and ETA, a summary, a sample; refuses to overwrite; --force starts over', () => {
    const d = tmp();
    const r = run([...TINY, '--steps', '20', '--backend', 'cpu', '--out', d]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/GPU\.js mode cpu/);
    expect(r.out).toMatch(/step 20\/20 .* loss \d\.\d{4} val \d\.\d{4} @20 · [\d,]+ tok\/s · 0:\d\d elapsed, ETA 0:00 · cpu/);
    expect(r.out).toMatch(/done: 20 steps .* validation loss \d\.\d{4}/);
    expect(r.out).toMatch(/sample \(temperature 0\.8, top-k 10\):\nAnd God said/);
    expect(r.out.includes('\u001b[')).toBe(false); // NO_COLOR and no TTY: plain text
    const csv = readFileSync(path.join(d, 'loss.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('step,loss,lr,val_loss');
    expect(csv).toHaveLength(21);
    const again = run([...TINY, '--steps', '20', '--backend', 'cpu', '--out', d]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already holds a run .*pass --resume to continue it, --force to start over/);
    expect(run([...TINY, '--steps', '5', '--backend', 'cpu', '--out', d, '--force']).code).toBe(0);
    expect(readFileSync(path.join(d, 'loss.csv'), 'utf8').trim().split('\n')).toHaveLength(6);
    const finished = run(['--resume', '--out', d, '--backend', 'cpu']);
    expect(finished.code).toBe(1);
    expect(finished.err).toMatch(/is finished \(step 5 of 5\)/);
    const svg = readFileSync(path.join(d, 'loss.svg'), 'utf8');
    for (const part of [
      '<line',
      'cross-entropy loss (nats)',
      '>step<',
      '>train<',
      '>validation<',
      'stroke="steelblue"',
      'stroke="darkorange"',
    ])
      expect(svg, part).toContain(part);
    const sample = run(
      ['--checkpoint', path.join(d, 'checkpoint.safetensors'), '--prompt', 'And', '--tokens', '20', '--backend', 'cpu'],
      'examples/sample.ts',
    );
    expect(sample.code, sample.err).toBe(0);
    expect(sample.out).toMatch(/^And.{20}\n$/s);
  });

  it('bad flags print the usage and exit 2; --help prints it and exits 0', () => {
    for (const [args, msg] of [
      [['--stpes', '20'], /Unknown option '--stpes'/],
      [['--steps'], /argument missing/],
      [['--steps', 'abc'], /--steps must be an integer >= 1, got 'abc'/],
      [['--lr=-1'], /--lr must be a number > 0, got '-1'/],
      [['--heads', '3'], /--heads \(3\) must divide --embd \(64\)/],
      [['--backend', 'gpu'], /--backend must be one of/],
      [['extra'], /Unexpected argument 'extra'/],
    ] as const) {
      const r = run([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(msg);
      expect(r.err).toMatch(/usage: npm run train -- \[options\]/);
    }
    const h = run(['--help']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/--eval-every N/);
    expect(run(['--tokns', '3'], 'examples/sample.ts').code).toBe(2);
  });

  it('a checkpoint of another model shape, or with a missing or wrong field, is refused by name', async () => {
    const d = tmp();
    expect(run([...TINY, '--steps', '4', '--stop-at', '2', '--backend', 'cpu', '--out', d]).code).toBe(0);
    const ck = path.join(d, 'checkpoint.safetensors');
    const shape = run(['--resume', '--out', d, '--embd', '32', '--backend', 'cpu']);
    expect(shape.code).toBe(1);
    expect(shape.err).toMatch(
      /does not fit this model [\s\S]*size mismatch for tok_emb\.weight: copying a param with shape \[62, 16\] from checkpoint, the shape in current model is \[62, 32\]/,
    );
    const { tensors, metadata } = await nn.loadSafetensorsWithMetadata(ck);
    const config = JSON.parse(metadata.config);
    for (const [edit, msg] of [
      [{ step: 'abc' }, /malformed 'step'|bad 'step' \("abc"\): expected an integer step from 0 to 4/],
      [{ step: '-5' }, /bad 'step' \("-5"\)/],
      [{ step: '99' }, /bad 'step' \("99"\): expected an integer step from 0 to 4/],
      [{ config: '{' }, /malformed 'config'/],
      [{ rng: undefined }, /has no 'rng' in its metadata/],
    ] as const) {
      const e = tmp();
      const meta: Record<string, string> = { ...metadata, config: JSON.stringify({ ...config, steps: 4 }) };
      for (const [k, v] of Object.entries(edit)) {
        if (v === undefined) delete meta[k];
        else meta[k] = v;
      }
      await nn.saveSafetensors(tensors, path.join(e, 'checkpoint.safetensors'), meta);
      const r = run(['--resume', '--out', e, '--backend', 'cpu']);
      expect(r.code, JSON.stringify(edit)).toBe(1);
      expect(r.err).toMatch(/the checkpoint .*checkpoint\.safetensors/);
      expect(r.err).toMatch(msg);
    }
    writeFileSync(path.join(d, 'not.txt'), 'x');
    expect(run(['--data', path.join(d, 'not.txt'), '--out', tmp(), '--backend', 'cpu']).err).toMatch(/too few for --context 64/);
  });

  it('Ctrl-C stops after the current step, saves, writes the plot and exits 130; --resume continues', async () => {
    const d = tmp();
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...TINY, '--steps', '100000', '--backend', 'cpu', '--out', d], {
      env: { ...process.env, NO_COLOR: '1' },
    });
    let out = '';
    child.stdout.on('data', (b) => (out += String(b)));
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (/step \d+\/100000/.test(out)) {
          clearInterval(poll);
          resolve();
        }
      }, 50);
    });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(130);
    expect(out).toMatch(/Ctrl-C: stopping after this step/);
    expect(out).toMatch(/interrupted at step (\d+) of 100000 .*wrote .*checkpoint\.safetensors/);
    const at = Number(/interrupted at step (\d+)/.exec(out)![1]);
    expect(existsSync(path.join(d, 'loss.svg'))).toBe(true);
    const { metadata } = await nn.loadSafetensorsWithMetadata(path.join(d, 'checkpoint.safetensors'));
    expect(Number(metadata.step)).toBe(at);
    const rows = readFileSync(path.join(d, 'loss.csv'), 'utf8').trim().split('\n').slice(1);
    expect(rows.map((r) => Number(r.split(',')[0]))).toEqual(Array.from({ length: at }, (_, k) => k + 1));
    const more = run([...TINY, '--backend', 'cpu', '--out', d, '--resume', '--stop-at', String(at + 3)]);
    expect(more.code, more.err).toBe(0);
    const rows2 = readFileSync(path.join(d, 'loss.csv'), 'utf8').trim().split('\n').slice(1);
    expect(rows2.map((r) => Number(r.split(',')[0]))).toEqual(Array.from({ length: at + 3 }, (_, k) => k + 1)); // no step twice
  });
});
