// The main job: trains a small character-level transformer (causal self-attention) on a tiny corpus.
// Writes out/train/loss.csv, out/train/loss.svg and out/train/checkpoint.safetensors (model weights,
// optimizer state and the step, in one safetensors file); `--resume` continues from the checkpoint.
//
//   npm run train                      # 300 steps on the fastest GPU.js mode here (auto)
//   npm run train -- --steps 50 --backend cpu --resume
import { mkdirSync, readFileSync, writeFileSync, appendFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nn, optim, manualSeed, setBackend, backendInfo, memory, type BackendName } from '../src/index.js';
import { CharTransformer, SEED, TOKENS_PER_STEP, buildVocab, checkpointTensors, generate, makeOptimizer, trainStep } from './char-model.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const STEPS = Number(opt('steps', '300'));
const BACKEND = opt('backend', process.env.GPUGRAD_BACKEND ?? 'auto') as BackendName;
const OUT = path.resolve(opt('out', 'out/train'));
const RESUME = args.includes('--resume');

setBackend(BACKEND);
const info = backendInfo();
console.log(
  `gpugrad: GPU.js mode ${info.mode}${info.renderer ? ` (${info.renderer})` : ''}${info.requested !== info.mode ? `, asked for ${info.requested}` : ''}`,
);

const here = path.dirname(fileURLToPath(import.meta.url));
const text = readFileSync(path.join(here, 'data', 'corpus.txt'), 'utf8');
const vocab = buildVocab(text);

manualSeed(SEED);
const model = new CharTransformer(vocab.chars.length);
const { optimizer: opt_, scheduler: sched } = makeOptimizer(model, STEPS);
mkdirSync(OUT, { recursive: true });
const ckpt = path.join(OUT, 'checkpoint.safetensors');
const csv = path.join(OUT, 'loss.csv');
let start = 0;
if (RESUME && existsSync(ckpt)) {
  const { tensors, metadata } = await nn.loadSafetensorsWithMetadata(ckpt);
  const modelDict = Object.fromEntries(
    Object.entries(tensors)
      .filter(([k]) => k.startsWith('model.'))
      .map(([k, v]) => [k.slice(6), v]),
  );
  model.loadStateDict(modelDict);
  opt_.loadStateDict(optim.unflattenOptimizerState(tensors, metadata));
  start = Number(metadata.step);
  for (let i = 0; i < start; i++) sched.step();
  manualSeed(SEED + start);
  console.log(`resumed from ${path.relative(process.cwd(), ckpt)} at step ${start}`);
} else {
  writeFileSync(csv, 'step,loss,lr\n');
}

async function save(step: number): Promise<void> {
  const { tensors, metadata } = checkpointTensors(model, opt_, step);
  await nn.saveSafetensors(tensors, ckpt, metadata);
}

const t0 = Date.now();
let last = NaN;
for (let step = start; step < STEPS; step++) {
  // one step inside tidy(): every intermediate (textures on the GL modes) is freed when it returns
  last = trainStep(model, opt_, vocab.ids);
  sched.step();
  appendFileSync(csv, `${step + 1},${last},${opt_.paramGroups[0].lr}\n`);
  const done = step + 1 - start;
  const rate = (done * TOKENS_PER_STEP) / ((Date.now() - t0) / 1000);
  const width = 30;
  const fill = Math.round(((step + 1) / STEPS) * width);
  const line = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] step ${step + 1}/${STEPS} loss ${last.toFixed(4)} ${rate.toFixed(0)} tok/s`;
  if (process.stdout.isTTY) process.stdout.write(`\r${line}`);
  else if ((step + 1) % 25 === 0 || step + 1 === STEPS) console.log(line);
  if ((step + 1) % 100 === 0 || step + 1 === STEPS) await save(step + 1);
}
if (process.stdout.isTTY) process.stdout.write('\n');

// plot: a small SVG line chart of the loss curve
const rows = readFileSync(csv, 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => l.split(',').map(Number));
if (rows.length > 1) {
  const W = 640;
  const H = 320;
  const maxL = Math.max(...rows.map((r) => r[1]));
  const minL = Math.min(...rows.map((r) => r[1]));
  const pts = rows
    .map(
      (r, i) =>
        `${(40 + (i / (rows.length - 1)) * (W - 60)).toFixed(1)},${(20 + ((maxL - r[1]) / (maxL - minL || 1)) * (H - 50)).toFixed(1)}`,
    )
    .join(' ');
  writeFileSync(
    path.join(OUT, 'loss.svg'),
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><rect width="100%" height="100%" fill="white"/>` +
      `<text x="40" y="14" font-size="12" font-family="sans-serif">training loss (${minL.toFixed(3)} to ${maxL.toFixed(3)}) over ${rows.length} steps</text>` +
      `<polyline fill="none" stroke="steelblue" stroke-width="1.5" points="${pts}"/></svg>\n`,
  );
}

// a sample from the trained model
const sample = generate(model, vocab, 'the ', 80);
console.log(
  `final loss ${last.toFixed(4)} after ${STEPS} steps; ${((Date.now() - t0) / 1000).toFixed(1)} s; memory ${JSON.stringify(memory())}`,
);
console.log(`sample: ${JSON.stringify(sample)}`);
console.log(
  `wrote ${path.relative(process.cwd(), csv)}, ${path.relative(process.cwd(), path.join(OUT, 'loss.svg'))}, ${path.relative(process.cwd(), ckpt)}`,
);
