// nanoGPT's model, ported line for line (model.py's GPT: token and position embeddings, pre-LN blocks of
// causal self-attention with a tril mask buffer and a GELU MLP, weight tying in one assignment,
// crop_block_size, and generate's temperature / top-k / multinomial step), against PyTorch's numbers for
// the same weights (test/fixtures/nanogpt.json, made by scripts/make_fixtures.py). Nothing here is
// written by hand that PyTorch has: tril, topk, multinomial, select, maskedFill, the tying.
import { describe, expect, it } from 'vitest';
import { F, nn, optim, arange, manualSeed, multinomial, noGrad, ones, topk, tril, type DType, type Tensor } from '../../src/index.js';
import { MODES, expectClose, useMode } from '../support/helpers.js';
import { fixtureTensor, fixtureValues, readFixture, type TensorJson } from '../support/fixture-io.js';

const fx = readFixture('nanogpt.json').cases[0];
const { vocab: V, block: BLOCK, layers: LAYERS, heads: H, embd: E } = fx.config;

class CausalSelfAttention extends nn.Module {
  cAttn: nn.Linear;
  cProj: nn.Linear;
  bias: Tensor;
  constructor(
    dtype: DType,
    readonly flash: boolean,
  ) {
    super();
    this.cAttn = this.registerModule('c_attn', new nn.Linear(E, 3 * E, { dtype }));
    this.cProj = this.registerModule('c_proj', new nn.Linear(E, E, { dtype }));
    this.bias = this.registerBuffer('bias', tril(ones([BLOCK, BLOCK], { dtype })).view(1, 1, BLOCK, BLOCK));
  }
  override forward(x: Tensor): Tensor {
    const [B, T, C] = x.size();
    const heads = (z: Tensor): Tensor => z.view(B, T, H, C / H).transpose(1, 2);
    const [q, k, v] = this.cAttn.forward(x).split(E, 2).map(heads);
    let y: Tensor;
    if (this.flash) y = F.scaledDotProductAttention(q, k, v, { isCausal: true });
    else {
      let att = q.matmul(k.transpose(-2, -1)).mul(1 / Math.sqrt(k.size(-1)));
      att = att.maskedFill(this.bias.narrow(2, 0, T).narrow(3, 0, T).eq(0), -Infinity);
      y = F.softmax(att, -1).matmul(v);
    }
    return this.cProj.forward(y.transpose(1, 2).contiguous().view(B, T, C));
  }
}

class Block extends nn.Module {
  ln1: nn.LayerNorm;
  attn: CausalSelfAttention;
  ln2: nn.LayerNorm;
  mlp: nn.ModuleDict<{ c_fc: nn.Linear; c_proj: nn.Linear }>;
  constructor(dtype: DType, flash: boolean) {
    super();
    this.ln1 = this.registerModule('ln_1', new nn.LayerNorm(E, { dtype }));
    this.attn = this.registerModule('attn', new CausalSelfAttention(dtype, flash));
    this.ln2 = this.registerModule('ln_2', new nn.LayerNorm(E, { dtype }));
    this.mlp = this.registerModule(
      'mlp',
      new nn.ModuleDict({ c_fc: new nn.Linear(E, 4 * E, { dtype }), c_proj: new nn.Linear(4 * E, E, { dtype }) }),
    );
  }
  override forward(x: Tensor): Tensor {
    x = x.add(this.attn.forward(this.ln1.forward(x)));
    return x.add(this.mlp.c_proj.forward(F.gelu(this.mlp.c_fc.forward(this.ln2.forward(x)))));
  }
}

class GPT extends nn.Module {
  transformer: nn.ModuleDict<{ wte: nn.Embedding; wpe: nn.Embedding; h: nn.ModuleList<Block>; ln_f: nn.LayerNorm }>;
  lmHead: nn.Linear;
  constructor(dtype: DType, flash = false) {
    super();
    this.transformer = this.registerModule(
      'transformer',
      new nn.ModuleDict({
        wte: new nn.Embedding(V, E, { dtype }),
        wpe: new nn.Embedding(BLOCK, E, { dtype }),
        h: new nn.ModuleList(Array.from({ length: LAYERS }, () => new Block(dtype, flash))),
        ln_f: new nn.LayerNorm(E, { dtype }),
      }),
    );
    this.lmHead = this.registerModule('lm_head', new nn.Linear(E, V, { bias: false, dtype }));
    this.transformer.wte.weight = this.lmHead.weight; // https://paperswithcode.com/method/weight-tying
  }
  override forward(idx: Tensor, targets?: Tensor): { logits: Tensor; loss: Tensor | null } {
    const T = idx.size(1);
    let x = this.transformer.wte.forward(idx).add(this.transformer.wpe.forward(arange(0, T)));
    for (const block of this.transformer.h) x = block.forward(x);
    const logits = this.lmHead.forward(this.transformer.ln_f.forward(x));
    const loss = targets ? F.crossEntropy(logits.view(-1, V), targets.view(-1)) : null;
    return { logits, loss };
  }
  cropBlockSize(blockSize: number): void {
    const wpe = this.transformer.wpe;
    wpe.weight = nn.parameter(wpe.weight.narrow(0, 0, blockSize));
    for (const block of this.transformer.h) block.attn.bias = block.attn.bias.narrow(2, 0, blockSize).narrow(3, 0, blockSize);
  }
  /** One step of generate(): the next token's distribution after temperature and top-k, and a sample. */
  nextToken(idx: Tensor, temperature: number, topK: number): { probs: Tensor; next: Tensor } {
    return noGrad(() => {
      let logits = this.forward(idx).logits.select(1, -1).div(temperature);
      const { values } = topk(logits, Math.min(topK, logits.size(-1)));
      logits = logits.maskedFill(logits.lt(values.select(1, -1).unsqueeze(1)), -Infinity);
      const probs = F.softmax(logits, -1);
      return { probs, next: multinomial(probs, 1) };
    });
  }
}

function load(dtype: DType, flash = false): GPT {
  const m = new GPT(dtype, flash);
  const sd: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(fx.stateDict as Record<string, TensorJson>)) sd[k] = fixtureTensor(t, dtype);
  m.loadStateDict(sd);
  return m;
}

/** `t` has PyTorch's shape and its values within `atol` (non-finite ones matched exactly). */
const expectFixture = (t: Tensor, want: TensorJson, atol: number, what: string): void => {
  expect(t.shape, `${what} shape`).toEqual(want.shape);
  expectClose(t, fixtureValues(want), atol, 0, what);
};

describe('nanoGPT ported line for line, against PyTorch (float64)', () => {
  it('the tied model has PyTorch’s parameters, state dict, logits, loss and gradients', () => {
    for (const flash of [false, true]) {
      const m = load('float64', flash);
      expect(m.namedParameters().map(([n]) => n)).toEqual(fx.grads.map(([n]: [string]) => n));
      expect(Object.keys(m.stateDict())).toEqual(Object.keys(fx.stateDict));
      const { logits, loss } = m.forward(fixtureTensor(fx.idx), fixtureTensor(fx.targets));
      expectFixture(logits, fx.logits, 1e-12, `logits, flash=${flash}`);
      expect(Math.abs(loss!.item() - fx.loss)).toBeLessThan(1e-12);
      loss!.backward();
      for (const [name, g] of fx.grads as [string, TensorJson][])
        expectFixture(m.getParameter(name).grad!, g, 1e-12, `grad of ${name}, flash=${flash}`);
    }
  });

  it('cropBlockSize and one generate step (temperature, top-k, multinomial)', () => {
    const m = load('float64');
    m.cropBlockSize(fx.config.cropped);
    expect(m.transformer.wpe.weight.shape).toEqual([fx.config.cropped, E]);
    expect(m.getParameter('transformer.wpe.weight')).toBe(m.transformer.wpe.weight);
    const idx = fixtureTensor(fx.idx).narrow(1, 0, fx.config.cropped);
    expectFixture(
      noGrad(() => m.forward(idx).logits),
      fx.croppedLogits,
      1e-12,
      'cropped logits',
    );
    manualSeed(5);
    const { probs, next } = m.nextToken(idx, fx.config.temperature, fx.config.topK);
    expectFixture(probs, fx.probs, 1e-12, 'probs');
    // the sample is one of the top-k tokens of its row, and a seed reproduces it
    const p = probs.tolist() as number[][];
    (next.tolist() as number[][]).forEach(([tok], row) => expect(p[row][tok]).toBeGreaterThan(0));
    manualSeed(5);
    expect(m.nextToken(idx, fx.config.temperature, fx.config.topK).next.tolist()).toEqual(next.tolist());
  });
});

describe.each(MODES)('nanoGPT ported, float32 on %s', (mode) => {
  it('logits, loss and a tied AdamW step follow PyTorch’s float64 values', () => {
    useMode(mode);
    const m = load('float32');
    const opt = new optim.AdamW(m.parameters(), { lr: 1e-2, weightDecay: 0.1 });
    const { logits, loss } = m.forward(fixtureTensor(fx.idx), fixtureTensor(fx.targets));
    expectFixture(logits, fx.logits, 2e-4, 'logits');
    expect(Math.abs(loss!.item() - fx.loss)).toBeLessThan(2e-5);
    loss!.backward();
    for (const [name, g] of fx.grads as [string, TensorJson][]) expectFixture(m.getParameter(name).grad!, g, 2e-4, `grad of ${name}`);
    // the step moves the one tied tensor: the embedding and the head stay the same weights
    const before = m.lmHead.weight.toArray();
    opt.step();
    expect(m.transformer.wte.weight).toBe(m.lmHead.weight);
    expect(m.transformer.wte.weight.toArray()).not.toEqual(before);
    expect(opt.paramGroups[0].params).toHaveLength(fx.grads.length);
  });
});
