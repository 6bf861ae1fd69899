// The benchmark workloads W1-W5 of bench/workloads.ts written with TensorFlow.js ops, the baseline that
// bench/index.ts compares gpugrad with (on tfjs's cpu and wasm backends). The same sizes, the same token
// stream and batches (tokenStream, batchAt); random tensors come from tfjs's own seeded generators.
//   W1 tf.matMul n×n, read back        W2 a hand-written causal SDPA, forward + tf.valueAndGrads
//   W3 MHA (packed in-projection, out-projection), causal, forward + tf.variableGrads
//   W4 the char transformer (pre-LN, GELU-tanh MLP, final LayerNorm), softmax cross-entropy, tf.train.adam;
//      the token embedding is a one-hot product (tfjs-wasm has no kernel for tf.gather's gradient)
//   W5 greedy generation from the W4 model, the window of the last `context` tokens
import * as tf from '@tensorflow/tfjs';
import { W4, W5_TOKENS, tokenStream, batchAt, type Workload } from './data.js';

export type TfBackend = 'cpu' | 'wasm';

/** Selects a tfjs backend; false when it could not start. `detail` tells how wasm runs (SIMD, threads). */
export async function selectTfBackend(name: TfBackend): Promise<{ ok: boolean; detail: string }> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) return { ok: false, detail: `tf.setBackend('${name}') failed (active: ${tf.getBackend()})` };
  let detail = `tfjs ${tf.version.tfjs}`;
  if (name === 'wasm') {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as { getThreadsCount?: () => number };
    detail += `, SIMD ${simd ? 'on' : 'off'}, threads ${threads ? `on (${wasm.getThreadsCount?.() ?? '?'})` : 'off'}`;
  }
  return { ok: true, detail };
}

let seed = 1;
/** Normal(0, 1) values from tfjs's seeded generator (a fresh seed per call, the same sequence every run). */
const randn = (shape: number[]): tf.Tensor => tf.randomNormal(shape, 0, 1, 'float32', seed++);
/** PyTorch's nn.Linear initialisation: U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
const uniform = (shape: number[], fanIn: number): tf.Tensor =>
  tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn), 'float32', seed++);
/** A trainable variable holding `init` (which is disposed). */
function param(init: tf.Tensor): tf.Variable {
  const v = tf.variable(init);
  init.dispose();
  return v;
}

export function w1(n: number): Workload {
  return {
    setup() {
      seed = 1;
      const a = randn([n, n]);
      const b = randn([n, n]);
      return {
        run: () => {
          const c = tf.matMul(a, b);
          c.dataSync();
          c.dispose();
        },
        dispose: () => tf.dispose([a, b]),
      };
    },
  };
}

/** An additive causal mask (0 on and below the diagonal, -1e9 above), kept out of every tidy. */
function causalMask(L: number): tf.Tensor2D {
  return tf.keep(tf.tidy(() => tf.sub(1, tf.linalg.bandPart(tf.ones([L, L]), -1, 0)).mul(-1e9) as tf.Tensor2D));
}

/** softmax(q·kᵀ/sqrt(E) + mask)·v over the last two dims of (..., L, E) tensors. */
function sdpa(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  const E = q.shape[q.rank - 1];
  const scores = tf
    .matMul(q, k, false, true)
    .mul(1 / Math.sqrt(E))
    .add(mask);
  return tf.matMul(tf.softmax(scores), v);
}

export const w2: Workload = {
  setup() {
    seed = 2;
    const [q, k, v] = [0, 1, 2].map(() => randn([4, 4, 128, 32]));
    const mask = causalMask(128);
    const f = tf.valueAndGrads((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => sdpa(q, k, v, mask).sum());
    return {
      run: () =>
        tf.tidy(() => {
          const { value, grads } = f([q, k, v]);
          value.dataSync();
          tf.dispose(grads);
        }),
      dispose: () => tf.dispose([q, k, v, mask]),
    };
  },
};

interface MhaParams {
  wIn: tf.Variable; // (E, 3E): q, k and v packed like PyTorch's in_proj_weight (transposed)
  bIn: tf.Variable;
  wOut: tf.Variable;
  bOut: tf.Variable;
}

function mhaParams(E: number): MhaParams {
  return {
    wIn: param(uniform([E, 3 * E], E)),
    bIn: param(tf.zeros([3 * E])),
    wOut: param(uniform([E, E], E)),
    bOut: param(tf.zeros([E])),
  };
}

/** Self-attention of x (B·L, E) with H heads: in-projection, per-head causal SDPA, out-projection; (B·L, E). */
function mha(x: tf.Tensor, p: MhaParams, B: number, L: number, H: number, mask: tf.Tensor): tf.Tensor {
  const E = x.shape[1]!;
  const qkv = tf.matMul(x, p.wIn).add(p.bIn);
  const [q, k, v] = tf.split(qkv, 3, 1).map((t) => t.reshape([B, L, H, E / H]).transpose([0, 2, 1, 3]));
  const o = sdpa(q, k, v, mask)
    .transpose([0, 2, 1, 3])
    .reshape([B * L, E]);
  return tf.matMul(o, p.wOut).add(p.bOut);
}

export const w3: Workload = {
  setup() {
    seed = 3;
    const [B, L, E, H] = [8, 64, 128, 4];
    const p = mhaParams(E);
    const x = param(randn([B * L, E]));
    const mask = causalMask(L);
    const vars = [x, p.wIn, p.bIn, p.wOut, p.bOut];
    return {
      run: () =>
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => mha(x, p, B, L, H, mask).sum() as tf.Scalar, vars);
          value.dataSync();
          tf.dispose(grads);
        }),
      dispose: () => tf.dispose([...vars, mask]),
    };
  },
};

function layerNorm(x: tf.Tensor, g: tf.Variable, b: tf.Variable): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return x
    .sub(mean)
    .mul(tf.rsqrt(variance.add(1e-5)))
    .mul(g)
    .add(b);
}

/** GELU with the tanh approximation (tfjs has no GELU op). */
function geluTanh(x: tf.Tensor): tf.Tensor {
  const inner = x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
  return x.mul(0.5).mul(tf.tanh(inner).add(1));
}

interface Block {
  ln1g: tf.Variable;
  ln1b: tf.Variable;
  attn: MhaParams;
  ln2g: tf.Variable;
  ln2b: tf.Variable;
  w1: tf.Variable;
  b1: tf.Variable;
  w2: tf.Variable;
  b2: tf.Variable;
}

/** W4's model: token + position embeddings, `layers` pre-LN encoder blocks, a final LayerNorm, the head. */
export class TfCharModel {
  readonly tokEmb: tf.Variable;
  readonly posEmb: tf.Variable;
  readonly blocks: Block[];
  readonly lnFg: tf.Variable;
  readonly lnFb: tf.Variable;
  readonly headW: tf.Variable;
  readonly headB: tf.Variable;
  private masks = new Map<number, tf.Tensor2D>();

  constructor() {
    const { vocab, dModel: D, layers, context } = W4;
    const ones = (): tf.Variable => param(tf.ones([D]));
    const zeros = (n: number = D): tf.Variable => param(tf.zeros([n]));
    this.tokEmb = param(randn([vocab, D]));
    this.posEmb = param(randn([context, D]));
    this.blocks = Array.from({ length: layers }, () => ({
      ln1g: ones(),
      ln1b: zeros(),
      attn: mhaParams(D),
      ln2g: ones(),
      ln2b: zeros(),
      w1: param(uniform([D, 4 * D], D)),
      b1: zeros(4 * D),
      w2: param(uniform([4 * D, D], 4 * D)),
      b2: zeros(),
    }));
    this.lnFg = ones();
    this.lnFb = zeros();
    this.headW = param(uniform([D, vocab], D));
    this.headB = zeros(vocab);
  }

  variables(): tf.Variable[] {
    const b = this.blocks.flatMap((k) => [
      k.ln1g,
      k.ln1b,
      k.attn.wIn,
      k.attn.bIn,
      k.attn.wOut,
      k.attn.bOut,
      k.ln2g,
      k.ln2b,
      k.w1,
      k.b1,
      k.w2,
      k.b2,
    ]);
    return [this.tokEmb, this.posEmb, ...b, this.lnFg, this.lnFb, this.headW, this.headB];
  }

  private mask(T: number): tf.Tensor2D {
    let m = this.masks.get(T);
    if (!m) this.masks.set(T, (m = causalMask(T)));
    return m;
  }

  /** idx (B, T) int32 → logits (B·T, vocab). */
  forward(idx: tf.Tensor2D): tf.Tensor2D {
    const [B, T] = idx.shape;
    const D = W4.dModel;
    // embeddings as one-hot products and a slice: tf.gather's gradient (UnsortedSegmentSum) has no wasm kernel
    const tok = tf.matMul(tf.oneHot(idx.reshape([B * T]), W4.vocab), this.tokEmb).reshape([B, T, D]);
    let x = tok.add(this.posEmb.slice([0, 0], [T, D])).reshape([B * T, D]);
    for (const k of this.blocks) {
      x = x.add(mha(layerNorm(x, k.ln1g, k.ln1b), k.attn, B, T, W4.heads, this.mask(T)));
      const h = geluTanh(tf.matMul(layerNorm(x, k.ln2g, k.ln2b), k.w1).add(k.b1));
      x = x.add(tf.matMul(h, k.w2).add(k.b2));
    }
    return tf.matMul(layerNorm(x, this.lnFg, this.lnFb), this.headW).add(this.headB) as tf.Tensor2D;
  }
}

/** One W4 training step per call, as bench/workloads.ts's w4: the same stream and batches, Adam(lr 1e-3). */
export function w4(): Workload & { model(): TfCharModel } {
  let model: TfCharModel | null = null;
  return {
    model: () => model!,
    setup() {
      seed = 4;
      model = new TfCharModel();
      const m = model;
      const vars = m.variables();
      // PyTorch's (and gpugrad's) Adam defaults: betas 0.9/0.999, eps 1e-8 (tfjs's default eps is 1e-7)
      const opt = tf.train.adam(W4.lr, 0.9, 0.999, 1e-8);
      const stream = tokenStream(100_000, W4.vocab);
      let step = 0;
      return {
        run: () => {
          const { xs, ys } = batchAt(stream, step++);
          tf.tidy(() => {
            const x = tf.tensor2d(xs, [W4.batch, W4.context], 'int32');
            const y = tf.oneHot(tf.tensor1d(ys, 'int32'), W4.vocab);
            const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, m.forward(x)) as tf.Scalar, true, vars);
            loss!.dataSync();
          });
        },
        dispose: () => opt.dispose(),
      };
    },
  };
}

/** Generates `tokens` tokens greedily from `model` (as bench/workloads.ts's generate); returns ms per token. */
export function generate(model: TfCharModel, tokens = W5_TOKENS): number[] {
  const ids = [1];
  const times: number[] = [];
  for (let i = 0; i < tokens; i++) {
    const t0 = performance.now();
    const next = tf.tidy(() => {
      const window = ids.slice(-W4.context);
      const logits = model.forward(tf.tensor2d(Int32Array.from(window), [1, window.length], 'int32'));
      return logits
        .slice([window.length - 1, 0], [1, W4.vocab])
        .argMax(-1)
        .dataSync()[0];
    });
    ids.push(next);
    times.push(performance.now() - t0);
  }
  return times;
}
