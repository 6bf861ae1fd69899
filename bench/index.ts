// `npm run bench`: the workloads W1-W5 (bench/workloads.ts) on every gpugrad backend choice that runs here,
// beside TensorFlow.js's cpu and wasm backends (bench/tfjs-workloads.ts). Each choice runs in its own child
// process (`tsx bench/index.ts --child gpugrad:<name>` or `--child tfjs:<cpu|wasm>`), so its peak RSS is
// its own; the children print JSON lines, this parent prints a table (one row per measure, one column per
// choice, ratios to tfjs-wasm), the same table as markdown, and writes bench/results/last.json.
// Options: --only W1,W4   --choices cpu,webasm,tfjs-wasm   --quick (short runs, 50 generated tokens)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import Benchmark from 'benchmark';
import chalk from 'chalk';
import type { Workload } from './data.js';

const WORKLOADS = ['W1', 'W2', 'W3', 'W4', 'W5'] as const;
type WorkloadId = (typeof WORKLOADS)[number];
const TFJS = ['cpu', 'wasm'] as const;
const REFERENCE = 'tfjs-wasm';
const MARK = '@@bench ';
const CHILD_TIMEOUT_MS = 20 * 60_000;
/** W5's generated tokens under --quick (W5_TOKENS otherwise) */
const QUICK_TOKENS = 50;

/** One measured row of the table: `better` says which direction wins (for the ratios). */
interface Measure {
  id: string;
  label: string;
  better: 'higher' | 'lower' | 'none';
  format: (v: number) => string;
}
const fixed = (d: number) => (v: number) => v.toFixed(d);
const gflops = (v: number): string => v.toFixed(v < 10 ? 2 : 1);
const MEASURES: Measure[] = [
  { id: 'W1-256', label: 'W1 matmul 256² (GFLOP/s)', better: 'higher', format: gflops },
  { id: 'W1-512', label: 'W1 matmul 512² (GFLOP/s)', better: 'higher', format: gflops },
  { id: 'W2', label: 'W2 SDPA B4 H4 L128 E32 causal fwd+bwd (ms)', better: 'lower', format: fixed(1) },
  { id: 'W3', label: 'W3 MHA B8 L64 E128 H4 causal fwd+bwd (ms)', better: 'lower', format: fixed(1) },
  { id: 'W4', label: 'W4 char-transformer train step (tokens/s)', better: 'higher', format: fixed(0) },
  { id: 'W4-first', label: 'W4 first step (ms)', better: 'lower', format: fixed(0) },
  { id: 'W4-rss', label: 'W4 peak RSS (MiB)', better: 'lower', format: fixed(0) },
  { id: 'W4-hit', label: 'W4 kernel-cache hit rate', better: 'none', format: (v) => `${(100 * v).toFixed(1)}%` },
  { id: 'W5', label: 'W5 generation (tokens/s)', better: 'higher', format: fixed(1) },
  { id: 'W5-first', label: 'W5 first token (ms)', better: 'lower', format: fixed(1) },
  { id: 'W5-next10', label: 'W5 tokens 2-11 (ms/token)', better: 'lower', format: fixed(1) },
  { id: 'W5-last10', label: 'W5 last 10 tokens (ms/token)', better: 'lower', format: fixed(1) },
  { id: 'W5-hit', label: 'W5 kernel-cache hit rate', better: 'none', format: (v) => `${(100 * v).toFixed(1)}%` },
  { id: 'rss', label: 'peak RSS, whole child (MiB)', better: 'lower', format: fixed(0) },
];
const MEASURE_OF: Record<WorkloadId, string[]> = {
  W1: ['W1-256', 'W1-512'],
  W2: ['W2'],
  W3: ['W3'],
  W4: ['W4', 'W4-first', 'W4-rss', 'W4-hit'],
  W5: ['W5', 'W5-first', 'W5-next10', 'W5-last10', 'W5-hit'],
};

/** What a child prints, one JSON object per line after MARK. */
type Message =
  | { kind: 'start'; label: string; detail: string }
  | { kind: 'unavailable'; reason: string }
  | { kind: 'result'; id: string; value: number; rme?: number; samples?: number; extra?: Record<string, unknown> }
  | { kind: 'error'; id: string; message: string }
  | { kind: 'done'; maxRssMiB: number };

interface Options {
  only: WorkloadId[];
  choices: string[] | null;
  quick: boolean;
  child: string | null;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { only: [...WORKLOADS], choices: null, quick: false, child: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`bench: ${flag} needs a value`);
      return v;
    };
    if (flag === '--quick') opts.quick = true;
    else if (flag === '--child') opts.child = value();
    else if (flag === '--choices') opts.choices = value().split(',').filter(Boolean);
    else if (flag === '--only') {
      opts.only = value()
        .split(',')
        .filter(Boolean)
        .map((w) => {
          const id = w.toUpperCase() as WorkloadId;
          if (!WORKLOADS.includes(id)) throw new Error(`bench: unknown workload '${w}' in --only; expected some of ${WORKLOADS.join(',')}`);
          return id;
        });
    } else throw new Error(`bench: unknown option '${a}'`);
  }
  return opts;
}

const mib = (kib: number): number => kib / 1024;
const mean = (a: number[]): number => a.reduce((s, x) => s + x, 0) / a.length;

// ---------------------------------------------------------------- child: one framework and choice

function emit(m: Message): void {
  process.stdout.write(`${MARK}${JSON.stringify(m)}\n`);
}

/** Mean seconds per call with benchmark.js (synchronous), after `warmup` untimed calls. */
function time(fn: () => void, quick: boolean, warmup = 1): { mean: number; rme: number; samples: number } {
  for (let i = 0; i < warmup; i++) fn();
  const b = new Benchmark('w', fn, { maxTime: quick ? 0.3 : 1.5, minSamples: 3, initCount: 1 });
  b.run({ async: false });
  if (b.error) throw b.error;
  return { mean: b.stats.mean, rme: b.stats.rme, samples: b.stats.sample.length };
}

/** The kernel-cache counters of gpugrad's backendInfo(), read defensively: a hit rate, or hits and misses. */
function cacheCounters(info: Record<string, unknown>): { rate?: number; hits?: number; misses?: number } {
  const num = (k: string): number | undefined =>
    typeof info[k] === 'number' && Number.isFinite(info[k]) ? (info[k] as number) : undefined;
  const hits = num('hits') ?? num('cacheHits');
  const misses = num('misses') ?? num('cacheMisses') ?? (hits !== undefined ? num('compiles') : undefined);
  return { rate: num('cacheHitRate'), hits, misses };
}

/** The hit rate between two readings: from the hit and miss counts where there are both, else the rate now. */
function hitRate(before: ReturnType<typeof cacheCounters> | null, after: ReturnType<typeof cacheCounters> | null): number | undefined {
  if (after?.hits !== undefined && after.misses !== undefined) {
    const dh = after.hits - (before?.hits ?? 0);
    const dm = after.misses - (before?.misses ?? 0);
    // no kernel went through the cache at all (every one a SIMD native): nothing was compiled either
    return dh + dm > 0 ? dh / (dh + dm) : 1;
  }
  return after?.rate;
}

interface Framework {
  w1(n: number): Workload;
  w2: Workload;
  w3: Workload;
  w4(): Workload & { model(): unknown };
  generate(model: unknown, tokens?: number): number[];
  /** the kernel-cache counters now (gpugrad only) */
  counters(): { rate?: number; hits?: number; misses?: number } | null;
}

async function gpugradFramework(name: string): Promise<Framework | { unavailable: string; label?: string }> {
  const g = await import('../src/index.js');
  try {
    g.setBackend(name as Parameters<typeof g.setBackend>[0]);
  } catch (e) {
    return { unavailable: (e as Error).message };
  }
  const info = g.backendInfo() as unknown as Record<string, unknown> & { mode: string; renderer: string | null };
  if (name !== 'auto' && info.mode !== name) return { unavailable: `setBackend('${name}') fell back to '${info.mode}'` };
  const label = name === 'auto' ? `auto (${info.mode})` : name;
  const detail = [
    info.renderer ? `renderer ${info.renderer}` : '',
    typeof info.simd === 'string' ? `SIMD variant ${info.simd}` : '',
    typeof info.threads === 'number' ? `threads ${info.threads}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  emit({ kind: 'start', label: `gpugrad ${label}`, detail });
  const w = await import('./workloads.js');
  return {
    w1: w.w1,
    w2: w.w2,
    w3: w.w3,
    w4: w.w4,
    generate: (m, n) => w.generate(m as InstanceType<typeof w.CharModel>, n),
    counters: () => cacheCounters(g.backendInfo() as unknown as Record<string, unknown>),
  };
}

async function tfjsFramework(name: string): Promise<Framework | { unavailable: string }> {
  if (!(TFJS as readonly string[]).includes(name)) return { unavailable: `unknown tfjs backend '${name}'` };
  const t = await import('./tfjs-workloads.js');
  const { ok, detail } = await t.selectTfBackend(name as (typeof TFJS)[number]);
  if (!ok) return { unavailable: detail };
  emit({ kind: 'start', label: `tfjs ${name}`, detail });
  return {
    w1: t.w1,
    w2: t.w2,
    w3: t.w3,
    w4: t.w4,
    generate: (m, n) => t.generate(m as InstanceType<typeof t.TfCharModel>, n),
    counters: () => null,
  };
}

async function child(spec: string, opts: Options): Promise<void> {
  const [framework, name] = spec.split(':');
  const fw = framework === 'gpugrad' ? await gpugradFramework(name) : framework === 'tfjs' ? await tfjsFramework(name) : null;
  if (!fw) throw new Error(`bench --child: unknown framework in '${spec}' (gpugrad:<backend> or tfjs:<cpu|wasm>)`);
  if ('unavailable' in fw) {
    emit({ kind: 'unavailable', reason: fw.unavailable });
    return;
  }
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const attempt = (ids: string[], body: () => void): void => {
    try {
      body();
    } catch (e) {
      const message = (e as Error).message ?? String(e);
      for (const id of ids) emit({ kind: 'error', id, message });
      log(`${ids[0]}: error: ${message}`);
    }
  };
  const { W4, W5_TOKENS } = await import('./data.js');
  const sel = new Set(opts.only);
  // W4 first, so that its peak RSS is not W1's or W3's; W5 generates from the W4 model
  const trained: { w4?: ReturnType<Framework['w4']> } = {};
  if (sel.has('W4') || sel.has('W5')) {
    attempt(sel.has('W4') ? MEASURE_OF.W4 : MEASURE_OF.W5, () => {
      const w4 = (trained.w4 = fw.w4());
      const before = fw.counters();
      const { run } = w4.setup();
      const t0 = performance.now();
      run();
      const first = performance.now() - t0;
      if (!sel.has('W4')) {
        for (let i = 0; i < 2; i++) run();
        return;
      }
      const s = time(run, opts.quick);
      const tokens = (W4.batch * W4.context) / s.mean;
      const rss = mib(process.resourceUsage().maxRSS);
      emit({ kind: 'result', id: 'W4', value: tokens, rme: s.rme, samples: s.samples, extra: { stepMs: s.mean * 1000 } });
      emit({ kind: 'result', id: 'W4-first', value: first });
      emit({ kind: 'result', id: 'W4-rss', value: rss });
      const rate = hitRate(before, fw.counters());
      if (rate !== undefined) emit({ kind: 'result', id: 'W4-hit', value: rate });
      log(`W4 ${tokens.toFixed(0)} tokens/s ±${s.rme.toFixed(1)}% (first step ${first.toFixed(0)} ms, peak RSS ${rss.toFixed(0)} MiB)`);
    });
  }
  if (sel.has('W5') && trained.w4) {
    const model = trained.w4.model();
    attempt(MEASURE_OF.W5, () => {
      const before = fw.counters();
      const t0 = performance.now();
      const ms = fw.generate(model, opts.quick ? QUICK_TOKENS : W5_TOKENS);
      const total = performance.now() - t0;
      const tps = (ms.length / total) * 1000;
      emit({ kind: 'result', id: 'W5', value: tps, extra: { tokens: ms.length, totalMs: total } });
      emit({ kind: 'result', id: 'W5-first', value: ms[0] });
      emit({ kind: 'result', id: 'W5-next10', value: mean(ms.slice(1, 11)) });
      emit({ kind: 'result', id: 'W5-last10', value: mean(ms.slice(-10)) });
      const rate = hitRate(before, fw.counters());
      if (rate !== undefined) emit({ kind: 'result', id: 'W5-hit', value: rate });
      log(
        `W5 ${tps.toFixed(1)} tokens/s (first token ${ms[0].toFixed(1)} ms, tokens 2-11 ${mean(ms.slice(1, 11)).toFixed(1)} ms/token, last 10 ${mean(ms.slice(-10)).toFixed(1)})`,
      );
    });
  }
  const timed = (id: string, w: Workload, value: (meanS: number) => number, unit: string): void =>
    attempt([id], () => {
      const { run, dispose } = w.setup();
      try {
        const s = time(run, opts.quick);
        const v = value(s.mean);
        emit({ kind: 'result', id, value: v, rme: s.rme, samples: s.samples, extra: { meanMs: s.mean * 1000 } });
        log(`${id} ${v.toFixed(2)} ${unit} ±${s.rme.toFixed(1)}% (${s.samples} samples)`);
      } finally {
        dispose();
      }
    });
  if (sel.has('W1')) for (const n of [256, 512]) timed(`W1-${n}`, fw.w1(n), (s) => (2 * n ** 3) / s / 1e9, 'GFLOP/s');
  if (sel.has('W2')) timed('W2', fw.w2, (s) => s * 1000, 'ms');
  if (sel.has('W3')) timed('W3', fw.w3, (s) => s * 1000, 'ms');
  emit({ kind: 'done', maxRssMiB: mib(process.resourceUsage().maxRSS) });
}

// ---------------------------------------------------------------- parent: the runner

interface Choice {
  id: string; // what --choices takes: a gpugrad backend name, or tfjs-cpu / tfjs-wasm
  spec: string; // what --child takes
  label: string;
  /** the child said which backend it runs (it got past selecting one) */
  started: boolean;
  available: boolean;
  reason?: string;
  detail?: string;
  results: Record<string, { value: number; rme?: number; samples?: number; extra?: Record<string, unknown> }>;
  errors: Record<string, string>;
  maxRssMiB?: number;
  seconds?: number;
}

function runChild(c: Choice, opts: Options): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  // under tsx, process.execArgv holds its loader; otherwise go through tsx's command line
  const viaTsx = process.execArgv.some((a) => a.includes('tsx'));
  const pre = viaTsx ? process.execArgv : [createRequire(import.meta.url).resolve('tsx/cli')];
  const args = [...pre, self, '--child', c.spec, '--only', opts.only.join(','), ...(opts.quick ? ['--quick'] : [])];
  const t0 = performance.now();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      process.stderr.write(`  [${c.spec}] killed after ${CHILD_TIMEOUT_MS / 60_000} minutes\n`);
      p.kill('SIGKILL');
    }, CHILD_TIMEOUT_MS);
    // the child's stderr (its progress, warnings) goes to this stderr, each line prefixed with the choice
    let errBuf = '';
    const errLines = (flush: boolean): void => {
      const parts = errBuf.split('\n');
      errBuf = flush ? '' : parts.pop()!;
      for (const l of parts) if (l.trim()) process.stderr.write(`  [${c.spec}] ${l}\n`);
    };
    p.stderr.setEncoding('utf8');
    p.stderr.on('data', (d: string) => {
      errBuf += d;
      errLines(false);
    });
    let buf = '';
    const line = (l: string): void => {
      if (!l.startsWith(MARK)) {
        if (l.trim()) process.stderr.write(`  [${c.spec}] ${l}\n`); // keep this process's stdout for the tables
        return;
      }
      const m = JSON.parse(l.slice(MARK.length)) as Message;
      if (m.kind === 'start') {
        c.started = true;
        c.label = m.label;
        c.detail = m.detail;
        process.stderr.write(`  [${c.spec}] ${m.label}${m.detail ? ` (${m.detail})` : ''}\n`);
      } else if (m.kind === 'unavailable') {
        c.available = false;
        c.reason = m.reason;
      } else if (m.kind === 'result') c.results[m.id] = { value: m.value, rme: m.rme, samples: m.samples, extra: m.extra };
      else if (m.kind === 'error') c.errors[m.id] = m.message;
      else if (m.kind === 'done') c.maxRssMiB = m.maxRssMiB;
    };
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        line(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      if (buf) line(buf);
      errLines(true);
      c.seconds = (performance.now() - t0) / 1000;
      if (c.maxRssMiB !== undefined) c.results.rss = { value: c.maxRssMiB };
      if (c.available && c.maxRssMiB === undefined) {
        const why = `the child exited with ${signal ?? `code ${code}`}`;
        if (!c.started) {
          c.available = false;
          c.reason = `${why} before selecting its backend`;
        }
        for (const w of opts.only) for (const id of MEASURE_OF[w]) if (!c.results[id]) c.errors[id] ??= why;
      }
      resolve();
    });
  });
}

/** '2.1x' when `v` beats the reference by 2.1 times (in the measure's direction), '0.50x' when it is half as good. */
function ratio(m: Measure, v: number, ref: number | undefined): number | undefined {
  if (ref === undefined || m.better === 'none' || !(v > 0) || !(ref > 0)) return undefined;
  return m.better === 'higher' ? v / ref : ref / v;
}
const fmtRatio = (r: number): string => `${r.toFixed(r >= 10 ? 0 : r >= 1 ? 1 : 2)}x`;

function cells(m: Measure, c: Choice, ref: Choice | undefined): { text: string; ratio?: number } {
  if (!c.available) return { text: '-' };
  const r = c.results[m.id];
  if (!r) return { text: c.errors[m.id] ? 'error' : '-' };
  const q = c === ref ? undefined : ratio(m, r.value, ref?.results[m.id]?.value);
  return { text: `${m.format(r.value)}${q !== undefined ? ` (${fmtRatio(q)})` : ''}`, ratio: q };
}

function render(choices: Choice[], opts: Options): { terminal: string; markdown: string } {
  const cols = choices.filter((c) => c.available);
  const ref = cols.find((c) => c.id === REFERENCE);
  const wanted = new Set(opts.only.flatMap((w) => MEASURE_OF[w]).concat('rss'));
  const rows = MEASURES.filter((m) => wanted.has(m.id)).map((m) => ({ m, cells: cols.map((c) => cells(m, c, ref)) }));
  const head = ['workload', ...cols.map((c) => c.label)];
  const width = head.map((h, j) => Math.max(h.length, ...rows.map((r) => (j === 0 ? r.m.label : r.cells[j - 1].text).length)));
  const pad = (s: string, j: number): string => (j === 0 ? s.padEnd(width[j]) : s.padStart(width[j]));
  const colour = (cell: { text: string; ratio?: number }, j: number): string => {
    const s = pad(cell.text, j);
    if (cell.text === 'error') return chalk.red(s);
    if (cell.ratio === undefined) return s;
    return cell.ratio >= 1.05 ? chalk.green(s) : cell.ratio <= 0.95 ? chalk.red(s) : chalk.yellow(s);
  };
  const lines = [
    head.map((h, j) => chalk.bold(pad(h, j))).join('  '),
    width.map((w) => chalk.dim('─'.repeat(w))).join('  '),
    ...rows.map((r) => [pad(r.m.label, 0), ...r.cells.map((c, j) => colour(c, j + 1))].join('  ')),
  ];
  const md = [
    `| workload | ${cols.map((c) => c.label).join(' | ')} |`,
    `|---|${cols.map(() => '---:').join('|')}|`,
    ...rows.map((r) => `| ${r.m.label} | ${r.cells.map((c) => c.text).join(' | ')} |`),
  ];
  return { terminal: lines.join('\n'), markdown: md.join('\n') };
}

async function parent(opts: Options): Promise<void> {
  const { BACKENDS } = await import('../src/backend/index.js');
  const all: Choice[] = [
    ...BACKENDS.map((b) => ({ id: b as string, spec: `gpugrad:${b}` })),
    ...TFJS.map((b) => ({ id: `tfjs-${b}`, spec: `tfjs:${b}` })),
  ].map((c) => ({ ...c, label: c.spec, started: false, available: true, results: {}, errors: {} }));
  let choices = all;
  if (opts.choices) {
    const byName = (n: string): Choice | undefined => all.find((c) => c.id === n || c.spec === n);
    const unknown = opts.choices.filter((n) => !byName(n));
    if (unknown.length) {
      console.error(`bench: unknown choice(s) ${unknown.join(', ')}; expected some of ${all.map((c) => c.id).join(', ')}`);
      process.exit(2);
    }
    choices = opts.choices.map((n) => byName(n)!);
  }
  const t0 = performance.now();
  process.stderr.write(
    `gpugrad bench: ${opts.only.join(',')} on ${choices.map((c) => c.id).join(', ')}${opts.quick ? ' (quick)' : ''}; progress on stderr\n`,
  );
  for (const c of choices) {
    if (c.id === 'headlessgl' && !process.env.DISPLAY) {
      c.available = false;
      c.reason = 'no DISPLAY (npm run bench starts xvfb-run when it is installed)';
    } else await runChild(c, opts);
    if (!c.available) process.stderr.write(`  [${c.spec}] skipped: ${c.reason}\n`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const git = (...a: string[]): string => spawnSync('git', a, { encoding: 'utf8' }).stdout?.trim() ?? '';
  const commit = `${git('rev-parse', '--short', 'HEAD') || 'unknown'}${git('status', '--porcelain', 'src') ? ' (src/ modified)' : ''}`;
  const { terminal, markdown } = render(choices, opts);
  const cpu = os.cpus();
  const machine = `${cpu[0]?.model.trim() ?? 'unknown CPU'} (${cpu.length} cores), Node ${process.version}, ${os.platform()} ${os.arch()}`;
  const skipped = choices.filter((c) => !c.available).map((c) => `${c.id}: ${c.reason}`);
  const details = choices.filter((c) => c.available && c.detail).map((c) => `${c.label}: ${c.detail}`);
  const errors = choices.flatMap((c) => {
    const byMessage = new Map<string, string[]>();
    for (const [id, e] of Object.entries(c.errors)) byMessage.set(e, [...(byMessage.get(e) ?? []), id]);
    return [...byMessage].map(([e, ids]) => `${c.label} ${ids.join(', ')}: ${e}`);
  });
  console.log('');
  console.log(terminal);
  console.log('');
  console.log(chalk.dim(`ratios: how many times better than ${REFERENCE} (higher or lower, as the row wants); ${machine}`));
  for (const d of details) console.log(chalk.dim(d));
  for (const s of skipped) console.log(chalk.dim(`skipped ${s}`));
  for (const e of errors) console.log(chalk.red(`error ${e}`));
  console.log(chalk.dim(`${seconds.toFixed(0)} s in all${opts.quick ? ' (--quick)' : ''}, gpugrad at ${commit}`));
  console.log('\nMarkdown (for bench/README.md):\n');
  console.log(markdown);
  console.log('');
  const out = new URL('./results/', import.meta.url);
  mkdirSync(out, { recursive: true });
  const json = { date: new Date().toISOString(), commit, machine, quick: opts.quick, only: opts.only, seconds, choices, markdown };
  writeFileSync(new URL('last.json', out), JSON.stringify(json, null, 2) + '\n');
  console.log(chalk.dim(`written: ${fileURLToPath(new URL('last.json', out))}`));
}

const USAGE = `usage: npm run bench [-- --only W1,W4] [--choices cpu,webasm,tfjs-wasm] [--quick]
  --only     workloads among ${WORKLOADS.join(',')} (W1 is matmul at 256² and 512²; W5 trains a W4 model first)
  --choices  gpugrad backends (BACKENDS: cpu, webasm, ..., auto) and tfjs-cpu, tfjs-wasm; all by default
  --quick    benchmark.js maxTime 0.3 s instead of 1.5 s, ${QUICK_TOKENS} generated tokens instead of 200`;

let opts: Options;
try {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(USAGE);
    process.exit(0);
  }
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error(`${(e as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (opts.child) {
  await child(opts.child, opts);
  // a backend's worker threads or GL context must not keep the child alive once it has reported
  process.stdout.write('', () => process.exit(0));
} else await parent(opts);
