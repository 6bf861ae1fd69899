// Samples text from a checkpoint of the main job (nanoGPT's sample.py):
//
//   npm run sample -- --checkpoint out/train/checkpoint.safetensors --prompt "And Moses" --tokens 300 \
//     --temperature 0.8 --top-k 10 --seed 1
import { parseArgs } from 'node:util';
import { nn, manualSeed, setBackend, BACKENDS, type BackendName } from '../src/index.js';
import { CharTransformer, generate, type ModelConfig } from './char-model.js';

const USAGE = `usage: npm run sample -- --checkpoint FILE [options]

  --checkpoint FILE  a checkpoint.safetensors written by npm run train (required)
  --prompt TEXT      the text to continue (default "And God said")
  --tokens N         characters to generate (default 300)
  --temperature X    > 0; lower is more conservative (default 0.8)
  --top-k N          sample among the N likeliest characters, 0 for all (default 10)
  --seed N           random seed (default 1)
  --backend NAME     ${BACKENDS.join(' | ')} (default auto)
  --help             this text`;

function usage(message: string): never {
  console.error(`sample: ${message}\n\n${USAGE}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    strict: true,
    allowPositionals: false,
    options: {
      checkpoint: { type: 'string' },
      prompt: { type: 'string' },
      tokens: { type: 'string' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      seed: { type: 'string' },
      backend: { type: 'string' },
      help: { type: 'boolean' },
    },
  }));
} catch (e) {
  usage((e as Error).message);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const intArg = (name: string, v: string | undefined, dflt: number, min: number): number => {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min) usage(`--${name} must be an integer >= ${min}, got '${v}'`);
  return Number(v);
};
if (!values.checkpoint) usage('--checkpoint FILE is required');
const tokens = intArg('tokens', values.tokens, 300, 1);
const topK = intArg('top-k', values['top-k'], 10, 0);
const seed = intArg('seed', values.seed, 1, 0);
const temperature = values.temperature === undefined ? 0.8 : Number(values.temperature);
if (!(temperature > 0) || !Number.isFinite(temperature)) usage(`--temperature must be a number > 0, got '${values.temperature}'`);
const backend = (values.backend ?? 'auto') as BackendName;
if (!BACKENDS.includes(backend)) usage(`--backend must be one of ${BACKENDS.join(', ')}, got '${backend}'`);

setBackend(backend);
let loaded;
try {
  loaded = await nn.loadSafetensorsWithMetadata(values.checkpoint);
} catch (e) {
  console.error(`sample: cannot read ${values.checkpoint}: ${(e as Error).message}`);
  process.exit(1);
}
const { tensors, metadata } = loaded;
let config: ModelConfig;
let chars: string[];
try {
  config = JSON.parse(metadata.config) as ModelConfig;
  chars = JSON.parse(metadata.vocab) as string[];
} catch {
  console.error(`sample: ${values.checkpoint} has no readable 'config' and 'vocab' metadata: it was not written by npm run train`);
  process.exit(1);
}
const model = new CharTransformer(chars.length, { ...config, dropout: 0 });
model.loadStateDict(
  Object.fromEntries(
    Object.entries(tensors)
      .filter(([k]) => k.startsWith('model.'))
      .map(([k, v]) => [k.slice(6), v]),
  ),
);
const prompt = values.prompt ?? 'And God said';
const unknown = [...new Set(prompt)].filter((c) => !chars.includes(c));
if (unknown.length)
  console.error(
    `sample: the vocabulary has no ${JSON.stringify(unknown.join(''))}; those characters are read as ${JSON.stringify(chars[0])}`,
  );
manualSeed(seed);
const vocab = { chars, stoi: new Map(chars.map((c, i) => [c, i])), ids: new Int32Array(0) };
console.log(generate(model, vocab, prompt, tokens, { fixedLength: true, temperature, topK }));
