// embedding: out[..., :] = weight[index[...], :]
//   dweight[v, :] = sum of g[p, :] over positions p with index[p] == v (scatter-add), 0 for paddingIdx

import { needsGrad, record } from '../autograd/engine.js';
import type { Tensor } from '../autograd/tensor.js';
import { checkIndex, scatterAdd } from './shape.js';
import { fmtShape, isFloat, launch } from './util.js';

export function embedding(input: Tensor, weight: Tensor, paddingIdx?: number | null): Tensor {
  if (weight.ndim !== 2) throw new Error(`embedding: weight must be 2-D (numEmbeddings, embeddingDim), got shape ${fmtShape(weight.shape)}`);
  if (!isFloat(weight.dtype)) throw new Error(`embedding: weight must be floating point, got ${weight.dtype} (shape ${fmtShape(weight.shape)})`);
  const [V, D] = weight.shape;
  checkIndex('embedding', input, V, `an embedding table of shape ${fmtShape(weight.shape)}`);
  let pad = -1;
  if (paddingIdx != null) {
    pad = paddingIdx < 0 ? paddingIdx + V : paddingIdx;
    if (!Number.isInteger(pad) || pad < 0 || pad >= V) throw new Error(`embedding: paddingIdx ${paddingIdx} is out of range for ${V} embeddings (weight shape ${fmtShape(weight.shape)})`);
  }
  const L = input.numel;
  const key = `embedding:${L}:${V}:${D}`;
  const build = (): string =>
    `function (w, idx) { const i = this.thread.x; const p = Math.floor((i + 0.5) / ${D}); const c = i - p * ${D}; return w[idx[p] * ${D} + c]; }`;
  const y = launch(key, build, [weight, input], [...input.shape, D], weight.dtype, weight.dtype === 'float64' ? 'float64' : 'float32');
  if (!needsGrad(weight)) return y;
  return record(y, 'Embedding', [null, weight], (g) => {
    const g2 = g._view([L, D]);
    const flat = input._view([L]);
    const dw = scatterAdd(g2, flat, [V, D], 0, pad);
    g2.dispose();
    flat.dispose();
    return [null, dw];
  });
}
