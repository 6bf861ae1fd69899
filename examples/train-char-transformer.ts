// The main job: trains a character-level transformer (causal self-attention, pre-LN blocks) on a real
// corpus, the first five books of the King James Bible (examples/data/), with a progress display,
// validation loss, samples, checkpoints that survive Ctrl-C and resume exactly, and a loss plot.
//
//   npm run train                                   # defaults: a falling validation loss in a few minutes
//   npm run train -- --steps 200 --backend cpu --out out/small
//   npm run train -- --resume                       # continue the run in --out (default out/train)
//   npm run train -- --help
//
// Writes, in --out: checkpoint.safetensors (model, optimizer, scheduler, random generator and the run's
// settings; written atomically), loss.csv (step, loss, lr, validation loss) and loss.svg.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import chalk from 'chalk';
import {
  nn,
  optim,
  manualSeed,
  setBackend,
  backendInfo,
  getRngState,
  setRngState,
  BACKENDS,
  type BackendName,
  type Tensor,
} from '../src/index.js';
import {
  CharTransformer,
  buildVocab,
  checkpointTensors,
  evalLoss,
  generate,
  makeOptimizer,
  splitIds,
  trainStep,
  type ModelConfig,
} from './char-model.js';
import { lossPlotSvg, type LossPoint } from './plot.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_DATA = path.join(here, 'data', 'kjv-pentateuch.txt');

/** The run's settings: they define the model, the data and the schedule, and are saved with the checkpoint. */
interface RunConfig extends ModelConfig {
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  /** The corpus file, as given. */
  data: string;
}

const DEFAULTS: RunConfig = {
  steps: 1000,
  batch: 16,
  context: 64,
  layers: 2,
  heads: 4,
  embd: 64,
  lr: 3e-3,
  dropout: 0,
  seed: 1234,
  data: DEFAULT_DATA,
};

const USAGE = `usage: npm run train -- [options]

  --steps N          training steps (default ${DEFAULTS.steps})
  --batch N          sequences per step (default ${DEFAULTS.batch})
  --context N        characters per sequence (default ${DEFAULTS.context})
  --layers N         transformer blocks (default ${DEFAULTS.layers})
  --heads N          attention heads, dividing --embd (default ${DEFAULTS.heads})
  --embd N           embedding width (default ${DEFAULTS.embd})
  --lr X             peak learning rate, cosine-annealed to a tenth (default ${DEFAULTS.lr})
  --dropout X        dropout probability in [0, 1) (default ${DEFAULTS.dropout})
  --seed N           random seed (default ${DEFAULTS.seed})
  --data FILE        a text file to train on (default examples/data/kjv-pentateuch.txt); 90% train, 10% validation
  --backend NAME     ${BACKENDS.join(' | ')} (default auto, or GPUGRAD_BACKEND)
  --out DIR          where the checkpoint, loss.csv and loss.svg go (default out/train)
  --resume           continue the run in --out with its saved settings
  --force            start a new run in --out even though one is there (it is overwritten)
  --eval-every N     validation loss every N steps, 0 for only at the end (default 100)
  --sample-every N   print a sample every N steps, 0 for none (default 0)
  --save-every N     checkpoint every N steps, 0 for only at the end (default 100)
  --stop-at N        stop after step N as Ctrl-C would (save; --resume continues)
  --temperature X    sampling temperature > 0 (default 0.8)
  --top-k N          sample among the N likeliest characters, 0 for all (default 10)
  --help             this text

Ctrl-C stops after the current step, saves, writes the plot and exits with 130.`;

/** A bad command line: the message, then the usage, on stderr; exit 2. */
class UsageError extends Error {}

function fail(message: string, code = 1): never {
  console.error(chalk.red(`train: ${message}`));
  process.exit(code);
}

const int = (name: string, v: string, min: number): number => {
  if (!/^-?\d+$/.test(v.trim()) || Number(v) < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${v}'`);
  return Number(v);
};
const num = (name: string, v: string, ok: (x: number) => boolean, what: string): number => {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || !ok(x)) throw new UsageError(`--${name} must be ${what}, got '${v}'`);
  return x;
};

interface Options {
  config: RunConfig;
  /** The flags given on the command line (their run-setting names). */
  given: Set<keyof RunConfig>;
  backend: BackendName;
  out: string;
  resume: boolean;
  force: boolean;
  evalEvery: number;
  sampleEvery: number;
  saveEvery: number;
  stopAt: number | null;
  temperature: number;
  topK: number;
}

function parseOptions(argv: string[]): Options | 'help' {
  const str = { type: 'string' } as const;
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      steps: str,
      batch: str,
      context: str,
      layers: str,
      heads: str,
      embd: str,
      lr: str,
      dropout: str,
      seed: str,
      data: str,
      backend: str,
      out: str,
      resume: { type: 'boolean' },
      force: { type: 'boolean' },
      'eval-every': str,
      'sample-every': str,
      'save-every': str,
      'stop-at': str,
      temperature: str,
      'top-k': str,
      help: { type: 'boolean' },
    },
  });
  if (values.help) return 'help';
  const config = { ...DEFAULTS };
  const given = new Set<keyof RunConfig>();
  const set = <K extends keyof RunConfig>(k: K, v: RunConfig[K]): void => {
    config[k] = v;
    given.add(k);
  };
  for (const k of ['steps', 'batch', 'context', 'layers', 'heads', 'embd'] as const)
    if (values[k] !== undefined) set(k, int(k, values[k]!, 1));
  if (values.seed !== undefined) set('seed', int('seed', values.seed, 0));
  if (values.lr !== undefined)
    set(
      'lr',
      num('lr', values.lr, (x) => x > 0, 'a number > 0'),
    );
  if (values.dropout !== undefined)
    set(
      'dropout',
      num('dropout', values.dropout, (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    );
  if (values.data !== undefined) set('data', path.resolve(values.data));
  if (config.embd % config.heads !== 0) throw new UsageError(`--heads (${config.heads}) must divide --embd (${config.embd})`);
  const backend = (values.backend ?? process.env.GPUGRAD_BACKEND ?? 'auto') as BackendName;
  if (!BACKENDS.includes(backend)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}, got '${backend}'`);
  if (values.resume && values.force) throw new UsageError('--resume and --force exclude each other');
  const stopAt = values['stop-at'] === undefined ? null : int('stop-at', values['stop-at'], 1);
  return {
    config,
    given,
    backend,
    out: path.resolve(values.out ?? 'out/train'),
    resume: values.resume ?? false,
    force: values.force ?? false,
    evalEvery: values['eval-every'] === undefined ? 100 : int('eval-every', values['eval-every'], 0),
    sampleEvery: values['sample-every'] === undefined ? 0 : int('sample-every', values['sample-every'], 0),
    saveEvery: values['save-every'] === undefined ? 100 : int('save-every', values['save-every'], 0),
    stopAt,
    temperature: values.temperature === undefined ? 0.8 : num('temperature', values.temperature, (x) => x > 0, 'a number > 0'),
    topK: values['top-k'] === undefined ? 10 : int('top-k', values['top-k'], 0),
  };
}

// ---- checkpoints ------------------------------------------------------------------------------------

interface Saved {
  step: number;
  config: RunConfig;
  chars: string[];
  rng: number[];
  scheduler: Record<string, unknown>;
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/** Reads a checkpoint's settings, refusing a missing or wrong field by name. */
async function readCheckpoint(file: string): Promise<Saved> {
  const rel = path.relative(process.cwd(), file);
  let loaded;
  try {
    loaded = await nn.loadSafetensorsWithMetadata(file);
  } catch (e) {
    fail(`cannot read the checkpoint ${rel}: ${(e as Error).message}`);
  }
  const { tensors, metadata } = loaded;
  const field = <T>(name: string, parse: (s: string) => T, ok: (v: T) => boolean, what: string): T => {
    const raw = metadata[name];
    if (raw === undefined) fail(`the checkpoint ${rel} has no '${name}' in its metadata; it was not written by this job`);
    let v: T;
    try {
      v = parse(raw);
    } catch {
      fail(`the checkpoint ${rel} has a malformed '${name}' (${JSON.stringify(raw.slice(0, 60))}): expected ${what}`);
    }
    if (!ok(v)) fail(`the checkpoint ${rel} has a bad '${name}' (${JSON.stringify(raw.slice(0, 60))}): expected ${what}`);
    return v;
  };
  const config = field(
    'config',
    (s) => JSON.parse(s) as RunConfig,
    (c) => {
      const keys = ['steps', 'batch', 'context', 'layers', 'heads', 'embd', 'seed'] as const;
      return (
        c !== null &&
        typeof c === 'object' &&
        keys.every((k) => Number.isInteger(c[k]) && c[k] >= (k === 'seed' ? 0 : 1)) &&
        typeof c.lr === 'number' &&
        c.lr > 0 &&
        typeof c.dropout === 'number' &&
        typeof c.data === 'string'
      );
    },
    'the run settings as JSON',
  );
  const step = field(
    'step',
    (s) => (/^\d+$/.test(s) ? Number(s) : NaN),
    (n) => Number.isInteger(n) && n >= 0 && n <= config.steps,
    `an integer step from 0 to ${config.steps}`,
  );
  const chars = field(
    'vocab',
    (s) => JSON.parse(s) as string[],
    (v) => Array.isArray(v) && v.length > 0 && v.every((c) => typeof c === 'string'),
    'the vocabulary as a JSON array of characters',
  );
  const rng = field(
    'rng',
    (s) => JSON.parse(s) as number[],
    (v) => Array.isArray(v) && v.length === 5,
    'the random generator state as a JSON array of 5 numbers',
  );
  const scheduler = field(
    'scheduler',
    (s) => JSON.parse(s) as Record<string, unknown>,
    (v) => v !== null && typeof v === 'object',
    "the scheduler's state as JSON",
  );
  return { step, config, chars, rng, scheduler, tensors, metadata };
}

// ---- the run ---------------------------------------------------------------------------------------------

const fmtTime = (s: number): string => {
  if (!Number.isFinite(s)) return '--:--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const mm = String(Math.floor((t % 3600) / 60)).padStart(h ? 2 : 1, '0');
  const ss = String(t % 60).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
};

async function main(): Promise<void> {
  let o: Options | 'help';
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (e) {
    console.error(`train: ${(e as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (o === 'help') {
    console.log(USAGE);
    return;
  }
  if (!process.stdout.isTTY || process.env.NO_COLOR) chalk.level = 0;
  const ckpt = path.join(o.out, 'checkpoint.safetensors');
  const csv = path.join(o.out, 'loss.csv');
  const svg = path.join(o.out, 'loss.svg');
  const rel = (p: string): string => path.relative(process.cwd(), p) || '.';

  // a new run never overwrites an old one unless asked to
  let saved: Saved | null = null;
  if (o.resume) {
    if (!existsSync(ckpt)) fail(`--resume: there is no checkpoint at ${rel(ckpt)} to continue`);
    saved = await readCheckpoint(ckpt);
  } else if (existsSync(ckpt) && !o.force) {
    fail(
      `${rel(o.out)} already holds a run (${rel(ckpt)}); pass --resume to continue it, --force to start over, or --out for another directory`,
    );
  }
  let cfg = o.config;
  if (saved) {
    // the saved run's settings fix the schedule and the data; a model-shape flag given now is kept, so that
    // a checkpoint of another shape is refused by name below
    const shape = ['context', 'embd', 'heads', 'layers'] as const;
    for (const k of Object.keys(saved.config) as (keyof RunConfig)[]) {
      if (o.given.has(k) && o.config[k] !== saved.config[k] && !(shape as readonly string[]).includes(k))
        console.log(chalk.yellow(`resuming: the run's --${k} is ${String(saved.config[k])}; --${k} ${String(o.config[k])} is ignored`));
    }
    cfg = { ...saved.config, ...Object.fromEntries(shape.filter((k) => o.given.has(k)).map((k) => [k, o.config[k]])) };
    if (saved.step >= cfg.steps)
      fail(`the run in ${rel(o.out)} is finished (step ${saved.step} of ${cfg.steps}); start a new one with --force or another --out`);
  }

  setBackend(o.backend);
  const info = backendInfo();
  let text: string;
  try {
    text = readFileSync(cfg.data, 'utf8');
  } catch (e) {
    fail(`cannot read --data ${cfg.data}: ${(e as Error).message}`);
  }
  const vocab = buildVocab(text);
  if (saved) {
    const missing = vocab.chars.filter((c) => !saved!.chars.includes(c));
    if (missing.length) fail(`the corpus has characters the checkpoint's vocabulary lacks: ${JSON.stringify(missing.join(''))}`);
    vocab.chars = saved.chars;
    vocab.stoi = new Map(saved.chars.map((c, i) => [c, i]));
    vocab.ids = Int32Array.from(text, (c) => vocab.stoi.get(c)!);
  }
  const { train: trainIds, val: valIds } = splitIds(vocab.ids);
  if (valIds.length <= cfg.context + 1 || trainIds.length <= cfg.context + 1)
    fail(
      `--data ${rel(cfg.data)} has ${vocab.ids.length} characters: too few for --context ${cfg.context} (its last 10% is the validation split)`,
    );

  manualSeed(cfg.seed);
  const model = new CharTransformer(vocab.chars.length, cfg);
  const { optimizer, scheduler } = makeOptimizer(model, cfg.steps, cfg.lr);
  mkdirSync(o.out, { recursive: true });
  let start = 0;
  if (saved) {
    const modelDict = Object.fromEntries(
      Object.entries(saved.tensors)
        .filter(([k]) => k.startsWith('model.'))
        .map(([k, v]) => [k.slice(6), v]),
    );
    try {
      model.loadStateDict(modelDict);
      optimizer.loadStateDict(optim.unflattenOptimizerState(saved.tensors, saved.metadata));
    } catch (e) {
      fail(
        `the checkpoint ${rel(ckpt)} does not fit this model (${JSON.stringify({ context: cfg.context, embd: cfg.embd, heads: cfg.heads, layers: cfg.layers })}): ${(e as Error).message}`,
      );
    }
    scheduler.loadStateDict(saved.scheduler);
    setRngState(saved.rng);
    start = saved.step;
    // loss.csv keeps the rows up to the checkpoint: the steps after it are run again
    const rows = existsSync(csv) ? readFileSync(csv, 'utf8').trim().split('\n').slice(1) : [];
    writeFileSync(csv, ['step,loss,lr,val_loss', ...rows.filter((r) => Number(r.split(',')[0]) <= start)].join('\n') + '\n');
  } else {
    writeFileSync(csv, 'step,loss,lr,val_loss\n');
  }

  const save = async (step: number): Promise<void> => {
    const { tensors, metadata } = checkpointTensors(model, optimizer, step);
    const meta = {
      ...metadata,
      config: JSON.stringify(cfg),
      vocab: JSON.stringify(vocab.chars),
      rng: JSON.stringify(getRngState()),
      scheduler: JSON.stringify(scheduler.stateDict()),
    };
    // atomically: a crash mid-write leaves the previous checkpoint
    const tmp = `${ckpt}.tmp`;
    await nn.saveSafetensors(tensors, tmp, meta);
    renameSync(tmp, ckpt);
  };
  /** A sample that leaves the training's random stream as it was. */
  const sample = (prompt: string, n: number): string => {
    const state = getRngState();
    try {
      return generate(model, vocab, prompt, n, { fixedLength: true, temperature: o.temperature, topK: o.topK });
    } finally {
      setRngState(state);
    }
  };

  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130); // a second Ctrl-C: now
    interrupted = true;
    if (process.stdout.isTTY) process.stdout.write('\n');
    console.log(chalk.yellow('Ctrl-C: stopping after this step (Ctrl-C again to quit without saving)'));
  });

  const end = Math.min(cfg.steps, o.stopAt ?? cfg.steps);
  const tokensPerStep = cfg.batch * cfg.context;
  const params = model.parameters().reduce((a, p) => a + p.numel(), 0);
  console.log(
    `${chalk.bold('gpugrad')} ${chalk.dim('·')} GPU.js mode ${chalk.cyan(info.mode)}${info.renderer ? ` (${info.renderer})` : ''}` +
      `${info.requested !== info.mode ? `, asked for ${info.requested}` : ''}\n` +
      `corpus ${rel(cfg.data)}: ${text.length.toLocaleString('en')} characters, vocabulary ${vocab.chars.length}; ` +
      `model ${cfg.layers} layers, d_model ${cfg.embd}, ${cfg.heads} heads, context ${cfg.context}, ${params.toLocaleString('en')} parameters; ` +
      `batch ${cfg.batch}, lr ${cfg.lr}\n` +
      (saved ? `resumed ${rel(ckpt)} at step ${start} of ${cfg.steps}\n` : '') +
      `${chalk.dim('steps')} ${start} → ${end}`,
  );
  const t0 = Date.now();
  let smooth = NaN;
  let lastVal: { step: number; loss: number } | null = null;
  let step = start;
  const every = Math.max(1, Math.floor((end - start) / 20));
  const status = (): string => {
    const done = step - start;
    const secs = (Date.now() - t0) / 1000;
    const rate = done / secs;
    const width = 24;
    const fill = Math.round((step / cfg.steps) * width);
    return (
      `${chalk.bold(`step ${step}/${cfg.steps}`)} ${chalk.green('━'.repeat(fill))}${chalk.dim('─'.repeat(width - fill))} ` +
      `loss ${chalk.yellow(smooth.toFixed(4))}` +
      (lastVal ? ` val ${chalk.cyan(lastVal.loss.toFixed(4))} ${chalk.dim(`@${lastVal.step}`)}` : '') +
      ` ${chalk.dim('·')} ${Math.round(rate * tokensPerStep).toLocaleString('en')} tok/s ${chalk.dim('·')} ` +
      `${fmtTime(secs)} elapsed, ETA ${fmtTime((cfg.steps - step) / rate)} ${chalk.dim('·')} ${info.mode}`
    );
  };
  while (step < end && !interrupted) {
    const loss = trainStep(model, optimizer, trainIds, cfg.batch);
    scheduler.step();
    step++;
    const k = step - start;
    smooth = k === 1 ? loss : 0.95 * smooth + 0.05 * loss;
    let val: number | null = null;
    if ((o.evalEvery > 0 && step % o.evalEvery === 0) || step === cfg.steps) {
      val = evalLoss(model, valIds, 4, cfg.batch);
      lastVal = { step, loss: val };
    }
    appendFileSync(csv, `${step},${loss},${optimizer.paramGroups[0].lr},${val ?? ''}\n`);
    if (process.stdout.isTTY) process.stdout.write(`\r\x1b[2K${status()}`);
    else if (k % every === 0 || val !== null || step === end) console.log(status());
    if (o.sampleEvery > 0 && step % o.sampleEvery === 0) {
      if (process.stdout.isTTY) process.stdout.write('\n');
      console.log(chalk.dim(`sample: ${JSON.stringify(sample('\n', 120))}`));
    }
    if (o.saveEvery > 0 && step % o.saveEvery === 0) await save(step);
    // one turn of the event loop per step, so that Ctrl-C is seen
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (process.stdout.isTTY) process.stdout.write('\n');
  await save(step);

  // the plot: train and validation loss from loss.csv
  const points: LossPoint[] = readFileSync(csv, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => {
      const [s, loss, , v] = l.split(',');
      return { step: Number(s), loss: Number(loss), val: v ? Number(v) : null };
    });
  writeFileSync(svg, lossPlotSvg(points, `char transformer on ${path.basename(cfg.data)}`));
  const secs = (Date.now() - t0) / 1000;
  const wrote = `wrote ${rel(ckpt)}, ${rel(csv)}, ${rel(svg)}`;
  if (interrupted || step < cfg.steps) {
    console.log(
      `${interrupted ? 'interrupted' : 'stopped'} at step ${step} of ${cfg.steps} after ${fmtTime(secs)}; ${wrote}\n` +
        `continue with: npm run train -- --resume --out ${rel(o.out)}`,
    );
    if (interrupted) process.exit(130);
    return;
  }
  console.log(
    `${chalk.bold('done')}: ${step - start} steps in ${fmtTime(secs)} (${Math.round(((step - start) * tokensPerStep) / secs).toLocaleString('en')} tok/s); ` +
      `train loss ${smooth.toFixed(4)} (smoothed), validation loss ${lastVal ? lastVal.loss.toFixed(4) : 'n/a'}\n${wrote}`,
  );
  console.log(`${chalk.bold('sample')} (temperature ${o.temperature}, top-k ${o.topK}):\n${sample('And God said', 300)}`);
}

await main();
