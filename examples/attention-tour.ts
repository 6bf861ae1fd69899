// Attention step by step, top to bottom like a notebook: scaled dot product attention by hand and by
// F.scaledDotProductAttention, a boolean mask, the causal mask, grouped-query attention, dropout in
// training and in eval, and nn.MultiheadAttention with its attention weights.
//
//   npx tsx examples/attention-tour.ts
import { pathToFileURL } from 'node:url';
import { F, manualSeed, nn, randn, tensor, tril, ones, type Tensor } from '../src/index.js';

const maxDiff = (a: Tensor, b: Tensor): number => a.sub(b).abs().amax().item();
const rows = (t: Tensor): string =>
  (t.tolist() as number[][]).map((r) => `    [${r.map((v) => v.toFixed(3).padStart(6)).join(' ')}]`).join('\n');

export function main(log: (s: string) => void = console.log): Record<string, number> {
  manualSeed(0);
  const [N, H, L, E] = [1, 2, 4, 8];
  const q = randn([N, H, L, E]);
  const k = randn([N, H, L, E]);
  const v = randn([N, H, L, E]);

  // 1. the formula: softmax(q·kᵀ / √E)·v
  const weights = F.softmax(q.matmul(k.transpose(-2, -1)).div(Math.sqrt(E)), -1);
  const byHand = weights.matmul(v);
  const fused = F.scaledDotProductAttention(q, k, v);
  log(`1. by hand vs F.scaledDotProductAttention: max |diff| ${maxDiff(byHand, fused).toExponential(1)}`);
  log(`   head 0's attention weights (each row sums to 1):\n${rows(weights.select(0, 0).select(0, 0))}`);

  // 2. a boolean mask: true = may attend (PyTorch's convention); here key 3 is hidden from every query
  const mask = tensor([true, true, true, false], { dtype: 'bool' });
  const masked = F.scaledDotProductAttention(q, k, v, { attnMask: mask });
  const byHandMasked = F.softmax(q.matmul(k.transpose(-2, -1)).div(Math.sqrt(E)).maskedFill(mask.logicalNot(), -Infinity), -1).matmul(v);
  log(`2. attnMask hiding key 3: max |diff| from the formula ${maxDiff(masked, byHandMasked).toExponential(1)}`);

  // 3. causal: query i sees keys 0..i, the same as a lower-triangular boolean mask
  const causal = F.scaledDotProductAttention(q, k, v, { isCausal: true });
  const lower = tril(ones([L, L])).gt(0);
  log(
    `3. isCausal vs a tril mask: max |diff| ${maxDiff(causal, F.scaledDotProductAttention(q, k, v, { attnMask: lower })).toExponential(1)}`,
  );

  // 4. grouped-query attention: 4 query heads share 2 key/value heads (enableGqa)
  const q4 = randn([N, 4, L, E]);
  const gqa = F.scaledDotProductAttention(q4, k, v, { enableGqa: true });
  const repeated = F.scaledDotProductAttention(q4, k.repeatInterleave(2, 1), v.repeatInterleave(2, 1));
  log(`4. GQA (4 query heads, 2 kv heads) vs repeating the kv heads: max |diff| ${maxDiff(gqa, repeated).toExponential(1)}`);

  // 5. dropout on the attention weights: only in training; a module's train()/eval() decides for it
  const mha = new nn.MultiheadAttention(E, 2, { dropout: 0.5, batchFirst: true });
  const x = randn([N, L, E]);
  mha.train();
  const t1 = mha.forward(x, x, x, { needWeights: false })[0];
  const t2 = mha.forward(x, x, x, { needWeights: false })[0];
  mha.eval();
  const e1 = mha.forward(x, x, x, { needWeights: false })[0];
  const e2 = mha.forward(x, x, x, { needWeights: false })[0];
  log(
    `5. MultiheadAttention dropout 0.5: two training calls differ by ${maxDiff(t1, t2).toFixed(3)}; two eval calls by ${maxDiff(e1, e2)}`,
  );

  // 6. MultiheadAttention's weights, averaged over heads (needWeights, averageAttnWeights: PyTorch's defaults)
  const [, w] = mha.forward(x, x, x, { isCausal: true, attnMask: lower.logicalNot() });
  log(`6. causal self-attention weights of nn.MultiheadAttention (averaged over heads):\n${rows(w!.select(0, 0))}`);
  return {
    formula: maxDiff(byHand, fused),
    mask: maxDiff(masked, byHandMasked),
    gqa: maxDiff(gqa, repeated),
    evalDiff: maxDiff(e1, e2),
    trainDiff: maxDiff(t1, t2),
    upperWeight: w!.select(0, 0).triu(1).abs().amax().item(),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
