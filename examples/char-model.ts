// The character-level transformer of the main job, shared by the Node script
// (examples/train-char-transformer.ts) and the browser page (examples/browser/main.ts): hyperparameters,
// vocabulary, the model, batch sampling, one training step, the optimizer and schedule, the checkpoint
// layout and greedy sampling. Nothing here may import a Node-only module: it is bundled for the browser.
import { F, nn, optim, noGrad, randint, tensor, arange, tidy, multinomial, topk, type Tensor } from '../src/index.js';

export const SEED = 1234;
export const BATCH = 16;
export const CONTEXT = 32;
export const D_MODEL = 48;
export const HEADS = 4;
export const LAYERS = 2;
export const LR = 3e-3;
export const LR_MIN = 3e-4;
export const WEIGHT_DECAY = 0.01;
export const CLIP_NORM = 1.0;
/** Tokens seen per training step. */
export const TOKENS_PER_STEP = BATCH * CONTEXT;

export interface Vocab {
  /** The characters of the corpus, sorted; a token id is an index into it. */
  chars: string[];
  stoi: Map<string, number>;
  /** The corpus as token ids. */
  ids: Int32Array;
}

export function buildVocab(text: string): Vocab {
  const chars = [...new Set(text)].sort();
  const stoi = new Map(chars.map((c, i) => [c, i]));
  const ids = Int32Array.from(text, (c) => stoi.get(c)!);
  return { chars, stoi, ids };
}

/** The model's shape: context length, embedding width, heads, layers, dropout. */
export interface ModelConfig {
  context: number;
  embd: number;
  heads: number;
  layers: number;
  dropout: number;
}

/** The browser page's model (the constants above). */
export const PAGE_MODEL: ModelConfig = { context: CONTEXT, embd: D_MODEL, heads: HEADS, layers: LAYERS, dropout: 0.1 };

export class CharTransformer extends nn.Module {
  readonly vocabSize: number;
  readonly config: ModelConfig;
  tokEmb: nn.Embedding;
  posEmb: nn.Embedding;
  encoder: nn.TransformerEncoder;
  head: nn.Linear;

  constructor(vocabSize: number, config: ModelConfig = PAGE_MODEL) {
    super();
    this.vocabSize = vocabSize;
    this.config = { ...config };
    const { context, embd, heads, layers, dropout } = config;
    this.tokEmb = this.registerModule('tok_emb', new nn.Embedding(vocabSize, embd));
    this.posEmb = this.registerModule('pos_emb', new nn.Embedding(context, embd));
    this.encoder = this.registerModule(
      'encoder',
      new nn.TransformerEncoder(
        new nn.TransformerEncoderLayer(embd, heads, {
          dimFeedforward: 4 * embd,
          dropout,
          activation: 'gelu',
          batchFirst: true,
          normFirst: true,
        }),
        layers,
        { norm: new nn.LayerNorm(embd) },
      ),
    );
    this.head = this.registerModule('head', new nn.Linear(embd, vocabSize));
  }

  override forward(idx: Tensor): Tensor {
    const T = idx.shape[1];
    const x = this.tokEmb.forward(idx).add(this.posEmb.forward(arange(T)));
    return this.head.forward(this.encoder.forward(x, { isCausal: true }));
  }
}

/** The corpus split as the main job and the page use it: the first 90% to train on, the last 10% to validate. */
export function splitIds(ids: Int32Array): { train: Int32Array; val: Int32Array } {
  const cut = Math.floor(ids.length * 0.9);
  return { train: ids.subarray(0, cut), val: ids.subarray(cut) };
}

/** A random batch of `batch` windows of `context` tokens (x) and the tokens that follow each (y, flattened). */
export function sampleBatch(ids: Int32Array, batch = BATCH, context = CONTEXT): { x: Tensor; y: Tensor } {
  return batchAt(ids, Array.from(randint(0, ids.length - context - 1, [batch]).toArray()), context);
}

/** The windows of `context` tokens starting at `starts` (x) and the tokens that follow each (y, flattened). */
export function batchAt(ids: Int32Array, starts: readonly number[], context = CONTEXT): { x: Tensor; y: Tensor } {
  const B = starts.length;
  const C = context;
  const xs = new Int32Array(B * C);
  const ys = new Int32Array(B * C);
  starts.forEach((s, b) => {
    xs.set(ids.subarray(s, s + C), b * C);
    ys.set(ids.subarray(s + 1, s + C + 1), b * C);
  });
  return { x: tensor(xs, { shape: [B, C] }), y: tensor(ys, { shape: [B * C] }) };
}

/** AdamW and a cosine schedule from `lr` down to a tenth of it (LR_MIN for LR) over `steps` steps. */
export function makeOptimizer(
  model: CharTransformer,
  steps: number,
  lr = LR,
): { optimizer: optim.AdamW; scheduler: optim.lrScheduler.CosineAnnealingLR } {
  const optimizer = new optim.AdamW(model.parameters(), { lr, weightDecay: WEIGHT_DECAY });
  const scheduler = new optim.lrScheduler.CosineAnnealingLR(optimizer, { tMax: steps, etaMin: lr === LR ? LR_MIN : lr / 10 });
  return { optimizer, scheduler };
}

/**
 * One optimizer step on a fresh batch; returns the loss. tidy() frees every intermediate of the step
 * (textures on the GL modes) when it returns. The caller steps the scheduler.
 */
export function trainStep(model: CharTransformer, optimizer: optim.Optimizer, ids: Int32Array, batch = BATCH): number {
  return tidy(() => {
    const { x, y } = sampleBatch(ids, batch, model.config.context);
    const logits = model.forward(x);
    const loss = F.crossEntropy(logits.reshape([-1, model.vocabSize]), y);
    optimizer.zeroGrad();
    loss.backward();
    nn.clipGradNorm(model.parameters(), CLIP_NORM);
    optimizer.step();
    return loss.item();
  });
}

/** The checkpoint layout: model weights under `model.`, optimizer state, and the step in the metadata. */
export function checkpointTensors(
  model: CharTransformer,
  optimizer: optim.Optimizer,
  step: number,
): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const { tensors, metadata } = optim.flattenOptimizerState(optimizer.stateDict());
  const all: Record<string, Tensor> = { ...tensors };
  for (const [k, v] of Object.entries(model.stateDict())) all[`model.${k}`] = v;
  return { tensors: all, metadata: { ...metadata, step: String(step) } };
}

/**
 * Greedy continuation of `prompt` by `length` characters (eval mode: no dropout, no random numbers drawn).
 * With `fixedLength`, every forward pass sees a window of exactly CONTEXT tokens (a short window is padded
 * on the right and the logits are read at its last real position: causal attention keeps the padding
 * out of them), so the kernels are compiled once for one shape instead of once per window length. The
 * logits are the same (bit for bit on GPU.js cpu); the browser page and the Node scripts use it.
 */
export function generate(
  model: CharTransformer,
  vocab: Vocab,
  prompt: string,
  length: number,
  options: { fixedLength?: boolean; temperature?: number; topK?: number } = {},
): string {
  const wasTraining = model.training;
  model.eval();
  try {
    return noGrad(() =>
      tidy(() => {
        const ctx = Array.from(prompt, (c) => vocab.stoi.get(c) ?? 0);
        for (let i = 0; i < length; i++) {
          const C = model.config.context;
          const window = ctx.slice(-C);
          const input = options.fixedLength
            ? Int32Array.from({ length: C }, (_, j) => (j < window.length ? window[j] : 0))
            : Int32Array.from(window);
          const logits = model.forward(tensor(input, { shape: [1, input.length] }));
          const lastRow = logits.narrow(1, window.length - 1, 1).reshape([model.vocabSize]);
          ctx.push(options.temperature ? pick(lastRow, options.temperature, options.topK ?? 0) : lastRow.argmax().item());
        }
        return ctx.map((i) => vocab.chars[i]).join('');
      }),
    );
  } finally {
    if (wasTraining) model.train();
  }
}

/**
 * A token drawn from `logits / temperature`, keeping only the `topK` largest (0: all), from the seeded
 * generator (nanoGPT's sample.py).
 */
function pick(logits: Tensor, temperature: number, topK: number): number {
  let l = logits.div(temperature);
  if (topK > 0 && topK < l.numel()) {
    const kth = topk(l, topK).values.narrow(0, topK - 1, 1);
    l = l.maskedFill(l.lt(kth), -Infinity);
  }
  return multinomial(F.softmax(l, -1), 1).item();
}

/** The mean loss over fixed windows of `ids` (the validation split), in eval mode without a graph. */
export function evalLoss(model: CharTransformer, ids: Int32Array, batches: number, batch: number): number {
  const wasTraining = model.training;
  model.eval();
  try {
    const C = model.config.context;
    const span = ids.length - C - 1;
    let total = 0;
    for (let b = 0; b < batches; b++) {
      // evenly spaced windows: the same every time, and no draw from the training's random stream
      const starts = Array.from({ length: batch }, (_, k) => Math.floor(((b * batch + k) * span) / (batches * batch)));
      total += noGrad(() =>
        tidy(() => {
          const { x, y } = batchAt(ids, starts, C);
          return F.crossEntropy(model.forward(x).reshape([-1, model.vocabSize]), y).item();
        }),
      );
    }
    return total / batches;
  } finally {
    if (wasTraining) model.train();
  }
}
