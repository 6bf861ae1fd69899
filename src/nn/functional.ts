// F: the functional surface (like torch.nn.functional), in JS naming.

import type { Tensor } from '../autograd/tensor.js';
import { add } from '../ops/binary.js';
import { matmul } from '../ops/matmul.js';
import { transpose } from '../ops/shape.js';
import * as U from '../ops/unary.js';
import { fmtShape } from '../ops/util.js';

export { softmax, logSoftmax } from '../ops/softmax.js';
export { layerNorm } from '../ops/layernorm.js';
export { embedding } from '../ops/embedding.js';
export { dropout } from '../ops/dropout.js';
export { crossEntropy, nllLoss, mseLoss } from '../ops/loss.js';
export type { CrossEntropyOptions, Reduction } from '../ops/loss.js';
export { scaledDotProductAttention, type SdpaOptions } from '../ops/sdpa-backend.js';

export const relu = (x: Tensor): Tensor => U.relu(x);
export const gelu = (x: Tensor, opts: { approximate?: 'none' | 'tanh' } = {}): Tensor => U.gelu(x, opts.approximate ?? 'none');
export const tanh = (x: Tensor): Tensor => U.tanh(x);
export const sigmoid = (x: Tensor): Tensor => U.sigmoid(x);

/** y = x·Wᵀ + b, with weight (out, in) as in PyTorch. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (weight.ndim !== 2) throw new Error(`linear: weight must be 2-D (outFeatures, inFeatures), got shape ${fmtShape(weight.shape)}`);
  if (x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new Error(`linear: input has ${x.shape[x.ndim - 1]} features (shape ${fmtShape(x.shape)}) but weight expects ${weight.shape[1]} (shape ${fmtShape(weight.shape)})`);
  }
  const y = matmul(x, transpose(weight, 0, 1));
  return bias ? add(y, bias) : y;
}
