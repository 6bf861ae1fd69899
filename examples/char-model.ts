// The character-level transformer of the main job, shared by the Node script
// (examples/train-char-transformer.ts) and the browser page (examples/browser/main.ts): hyperparameters,
// vocabulary, the model, batch sampling, one training step, the optimizer and schedule, the checkpoint
// layout and greedy sampling. Nothing here may import a Node-only module: it is bundled for the browser.
import { F, nn, optim, noGrad, randint, tensor, arange, tidy, type Tensor } from '../src/index.js';

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

export class CharTransformer extends nn.Module {
  readonly vocabSize: number;
  tokEmb: nn.Embedding;
  posEmb: nn.Embedding;
  encoder: nn.TransformerEncoder;
  head: nn.Linear;

  constructor(vocabSize: number) {
    super();
    this.vocabSize = vocabSize;
    this.tokEmb = this.registerModule('tok_emb', new nn.Embedding(vocabSize, D_MODEL));
    this.posEmb = this.registerModule('pos_emb', new nn.Embedding(CONTEXT, D_MODEL));
    this.encoder = this.registerModule(
      'encoder',
      new nn.TransformerEncoder(
        new nn.TransformerEncoderLayer(D_MODEL, HEADS, {
          dimFeedforward: 4 * D_MODEL,
          dropout: 0.1,
          activation: 'gelu',
          batchFirst: true,
          normFirst: true,
        }),
        LAYERS,
        { norm: new nn.LayerNorm(D_MODEL) },
      ),
    );
    this.head = this.registerModule('head', new nn.Linear(D_MODEL, vocabSize));
  }

  override forward(idx: Tensor): Tensor {
    const T = idx.shape[1];
    const x = this.tokEmb.forward(idx).add(this.posEmb.forward(arange(T)));
    return this.head.forward(this.encoder.forward(x, { isCausal: true }));
  }
}

/** A random batch of BATCH windows of CONTEXT tokens (x) and the tokens that follow each (y, flattened). */
export function sampleBatch(ids: Int32Array): { x: Tensor; y: Tensor } {
  const starts = randint(0, ids.length - CONTEXT - 1, [BATCH]).toArray();
  const xs = new Int32Array(BATCH * CONTEXT);
  const ys = new Int32Array(BATCH * CONTEXT);
  starts.forEach((s, b) => {
    xs.set(ids.subarray(s, s + CONTEXT), b * CONTEXT);
    ys.set(ids.subarray(s + 1, s + CONTEXT + 1), b * CONTEXT);
  });
  return { x: tensor(xs, { shape: [BATCH, CONTEXT] }), y: tensor(ys, { shape: [BATCH * CONTEXT] }) };
}

/** AdamW and a cosine schedule from LR down to LR_MIN over `steps` steps. */
export function makeOptimizer(
  model: CharTransformer,
  steps: number,
): { optimizer: optim.AdamW; scheduler: optim.lrScheduler.CosineAnnealingLR } {
  const optimizer = new optim.AdamW(model.parameters(), { lr: LR, weightDecay: WEIGHT_DECAY });
  const scheduler = new optim.lrScheduler.CosineAnnealingLR(optimizer, { tMax: steps, etaMin: LR_MIN });
  return { optimizer, scheduler };
}

/**
 * One optimizer step on a fresh batch; returns the loss. tidy() frees every intermediate of the step
 * (textures on the GL modes) when it returns. The caller steps the scheduler.
 */
export function trainStep(model: CharTransformer, optimizer: optim.Optimizer, ids: Int32Array): number {
  return tidy(() => {
    const { x, y } = sampleBatch(ids);
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
 * logits are the same (bit for bit on GPU.js cpu); the browser page uses it, the Node script does not.
 */
export function generate(
  model: CharTransformer,
  vocab: Vocab,
  prompt: string,
  length: number,
  options: { fixedLength?: boolean } = {},
): string {
  const wasTraining = model.training;
  model.eval();
  try {
    return noGrad(() =>
      tidy(() => {
        const ctx = Array.from(prompt, (c) => vocab.stoi.get(c) ?? 0);
        for (let i = 0; i < length; i++) {
          const window = ctx.slice(-CONTEXT);
          const input = options.fixedLength
            ? Int32Array.from({ length: CONTEXT }, (_, j) => (j < window.length ? window[j] : 0))
            : Int32Array.from(window);
          const logits = model.forward(tensor(input, { shape: [1, input.length] }));
          const lastRow = logits.narrow(1, window.length - 1, 1).reshape([model.vocabSize]);
          ctx.push(lastRow.argmax().item());
        }
        return ctx.map((i) => vocab.chars[i]).join('');
      }),
    );
  } finally {
    if (wasTraining) model.train();
  }
}
