// The benchmark workloads W1-W5 on gpugrad (issue 9), with seeded inputs; bench/index.ts runs them on
// every backend choice beside TensorFlow.js. Each `setup` builds its tensors on the active backend and
// returns the function to time; `dispose` frees them.
//   W1 matmul n×n (GFLOP/s)      W2 SDPA B4 H4 L128 E32, causal, forward+backward
//   W3 MHA B8 L64 E128 H4, causal, forward+backward
//   W4 char-transformer training step: vocab 65, d_model 64, 2 pre-LN blocks, causal MHA with 4 heads,
//      MLP 4x GELU-tanh, context 64, batch 16, cross-entropy, Adam lr 1e-3 (tokens/s)
//   W5 generation of 200 tokens from a W4 model (greedy, window of the last 64 tokens; tokens/s)
import { F, nn, optim, manualSeed, noGrad, randn, tensor, arange, tidy, type Tensor } from '../src/index.js';
import { W4, W5_TOKENS, tokenStream, batchAt, type Workload } from './data.js';

export { W4, W5_TOKENS, tokenStream, batchAt, type Workload } from './data.js';

export class CharModel extends nn.Module {
  static override moduleName = 'CharModel';
  tokEmb: nn.Embedding;
  posEmb: nn.Embedding;
  encoder: nn.TransformerEncoder;
  head: nn.Linear;

  constructor() {
    super();
    const { vocab, dModel, heads, layers, context } = W4;
    this.tokEmb = this.registerModule('tok_emb', new nn.Embedding(vocab, dModel));
    this.posEmb = this.registerModule('pos_emb', new nn.Embedding(context, dModel));
    const layer = new nn.TransformerEncoderLayer(dModel, heads, {
      dimFeedforward: 4 * dModel,
      dropout: 0,
      activation: (x) => F.gelu(x, { approximate: 'tanh' }),
      batchFirst: true,
      normFirst: true,
    });
    this.encoder = this.registerModule('encoder', new nn.TransformerEncoder(layer, layers, { norm: new nn.LayerNorm(dModel) }));
    this.head = this.registerModule('head', new nn.Linear(dModel, vocab));
  }

  override forward(idx: Tensor): Tensor {
    const T = idx.shape[1];
    const x = this.tokEmb.forward(idx).add(this.posEmb.forward(arange(T)));
    return this.head.forward(this.encoder.forward(x, { isCausal: true }));
  }
}

export function w1(n: number): Workload {
  return {
    setup() {
      manualSeed(1);
      const a = randn([n, n]);
      const b = randn([n, n]);
      return {
        run: () => {
          const c = a.matmul(b);
          c.toArray();
          c.dispose();
        },
        dispose: () => [a, b].forEach((t) => t.dispose()),
      };
    },
  };
}

function fwdBwd(make: () => { inputs: Tensor[]; forward: () => Tensor; params?: Tensor[] }): Workload {
  return {
    setup() {
      manualSeed(2);
      const { inputs, forward, params = [] } = make();
      return {
        run: () => {
          tidy(() => {
            const l = forward().sum();
            l.backward();
            l.item();
          });
          for (const t of [...inputs, ...params]) t.zeroGrad();
        },
        dispose: () => inputs.forEach((t) => t.dispose()),
      };
    },
  };
}

export const w2: Workload = fwdBwd(() => {
  const [q, k, v] = [0, 1, 2].map(() => randn([4, 4, 128, 32], { requiresGrad: true }));
  return { inputs: [q, k, v], forward: () => F.scaledDotProductAttention(q, k, v, { isCausal: true }) };
});

export const w3: Workload = fwdBwd(() => {
  const mha = new nn.MultiheadAttention(128, 4, { batchFirst: true, dropout: 0 });
  const x = randn([8, 64, 128], { requiresGrad: true });
  return {
    inputs: [x],
    params: mha.parameters(),
    forward: () => mha.forward(x, x, x, { isCausal: true, needWeights: false })[0],
  };
});

/** One W4 training step per call; `steps` counts them. `createGraph`: the backward records itself (its cost, bench/create-graph.ts). */
export function w4(opts: { createGraph?: boolean } = {}): Workload & { model(): CharModel } {
  let model: CharModel | null = null;
  return {
    model: () => model!,
    setup() {
      manualSeed(4);
      model = new CharModel();
      const m = model;
      const opt = new optim.Adam(m.parameters(), { lr: W4.lr });
      const stream = tokenStream(100_000, W4.vocab);
      let step = 0;
      return {
        run: () => {
          const { xs, ys } = batchAt(stream, step++);
          tidy(() => {
            const x = tensor(xs, { shape: [W4.batch, W4.context] });
            const y = tensor(ys, { shape: [W4.batch * W4.context] });
            const loss = F.crossEntropy(m.forward(x).reshape([-1, W4.vocab]), y);
            opt.zeroGrad();
            loss.backward(undefined, { createGraph: opts.createGraph ?? false });
            opt.step();
            loss.item();
          });
        },
        dispose: () => {},
      };
    },
  };
}

/**
 * Generates `tokens` tokens greedily from `model`; returns ms per token. The window (the last CONTEXT
 * tokens) is padded at the end to the full context, so every forward has one shape: no kernel is
 * compiled for each new length, and generation runs at one speed from the first token. The causal
 * attention keeps each position blind to the padding after it, so the logits read at the last real
 * position are those of the unpadded window (test/nn/causal-padding.test.ts checks it).
 */
export function generate(model: CharModel, tokens = W5_TOKENS): number[] {
  model.eval();
  const ids = [1];
  const times: number[] = [];
  const window = new Int32Array(W4.context);
  noGrad(() => {
    for (let i = 0; i < tokens; i++) {
      const t0 = performance.now();
      const recent = ids.slice(-W4.context);
      window.fill(0);
      window.set(recent);
      const next = tidy(() => {
        const logits = model.forward(tensor(window, { shape: [1, W4.context] }));
        return logits
          .narrow(1, recent.length - 1, 1)
          .reshape([W4.vocab])
          .argmax(-1)
          .item();
      });
      ids.push(next);
      times.push(performance.now() - t0);
    }
  });
  model.train();
  return times;
}
