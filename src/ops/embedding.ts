// embedding: out[..., :] = weight[index[...], :]
//   dweight[v, :] = sum of g[p, :] over positions p with index[p] == v (scatter-add), 0 for paddingIdx

import { checkTensor } from '../autograd/check.js';
import { record, recordLinear } from '../autograd/engine.js';
import { launch } from '../autograd/launch.js';
import type { Tensor } from '../autograd/tensor.js';
import { allocFloat32 } from '../backend/storage.js';
import { isFloat } from '../helpers/dtype.js';
import { fmtShape } from '../helpers/shape.js';
import { copyRun } from '../kernels/copy.js';
import { floorDiv } from '../kernels/source.js';
import { declareKernel } from '../kernels/template.js';
import { checkIndex, reshape, scatterAdd } from './shape.js';
import { fromValues } from '../autograd/creation.js';
import { mul } from './binary.js';

/** out[p, c] = w[idx[p], c] over rows of D (the backward is shape.ts's scatterAdd). */
const embeddingForward = declareKernel({
  name: 'embedding.forward',
  inputs: ['w', 'idx'],
  body: (p: { D: number }) => [
    '// pos: the position in the index tensor, c: the column',
    `const pos = ${floorDiv('i', p.D)};`,
    `const c = i - pos * ${p.D};`,
    `return w[idx[pos] * ${p.D} + c];`,
  ],
  // one row copy per position; declines an index outside the table
  native: ({ D }, [w, idx], size) => {
    const L = size / D;
    if (!Number.isInteger(L) || idx.length < L) return null;
    const V = Math.floor(w.length / D);
    for (let q = 0; q < L; q++) if (!(Number.isInteger(idx[q]) && idx[q] >= 0 && idx[q] < V)) return null;
    const out = allocFloat32(size);
    for (let q = 0; q < L; q++) copyRun(out, q * D, w, idx[q] * D, D);
    return out;
  },
});

export function embedding(input: Tensor, weight: Tensor, paddingIdx?: number | null): Tensor {
  checkTensor('embedding', 'input', input);
  checkTensor('embedding', 'weight', weight);
  if (weight.ndim !== 2)
    throw new Error(`embedding: weight must be 2-D (numEmbeddings, embeddingDim), got shape ${fmtShape(weight.shape)}`);
  if (!isFloat(weight.dtype))
    throw new Error(`embedding: weight must be floating point, got ${weight.dtype} (shape ${fmtShape(weight.shape)})`);
  const [V, D] = weight.shape;
  checkIndex('embedding', input, V, `an embedding table of shape ${fmtShape(weight.shape)}`);
  let pad = -1;
  if (paddingIdx != null) {
    pad = paddingIdx < 0 ? paddingIdx + V : paddingIdx;
    if (!Number.isInteger(pad) || pad < 0 || pad >= V)
      throw new Error(`embedding: paddingIdx ${paddingIdx} is out of range for ${V} embeddings (weight shape ${fmtShape(weight.shape)})`);
  }
  const L = input.numel();
  const precision = weight.dtype === 'float64' ? 'float64' : 'float32';
  const y = launch(embeddingForward, { D }, [weight, input], [...input.shape, D], weight.dtype, precision);
  return record(y, {
    name: 'Embedding',
    inputs: [null, weight],
    needs: { 'index tensor': input },
    backward: (g) => {
      const g2 = g._view([L, D]);
      const flat = input._view([L]);
      const dw = scatterAdd(g2, flat, [V, D], 0, pad);
      g2.dispose();
      flat.dispose();
      return [null, dw];
    },
    // dw = the scatter-add of g's rows, as an op whose backward looks the rows up again (0 for paddingIdx)
    backwardGraph: (g) => {
      const g2 = reshape(g, [L, D]);
      const flat = input._view([L]);
      const keep =
        pad < 0
          ? null
          : fromValues(
              Array.from(flat.toArray(), (c) => (c === pad ? 0 : 1)),
              [L, 1],
              g.dtype,
            );
      const dw = recordLinear('EmbeddingBackward', scatterAdd(g2, flat, [V, D], 0, pad), g2, (h) => {
        const rows = embedding(flat, h);
        return keep ? mul(rows, keep) : rows;
      });
      return [null, dw];
    },
  });
}
