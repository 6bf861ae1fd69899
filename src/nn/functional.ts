// F: the functional surface (like torch.nn.functional), in JS naming.

import type { Tensor } from '../autograd/tensor.js';
import * as U from '../ops/unary.js';
import { checkOptions } from '../helpers/validate.js';

export { softmax, logSoftmax } from '../ops/softmax.js';
export { layerNorm } from '../ops/layernorm.js';
export { embedding } from '../ops/embedding.js';
export { dropout } from '../ops/dropout.js';
export { crossEntropy, nllLoss, mseLoss } from '../ops/loss.js';
export type { CrossEntropyOptions, NllLossOptions, Reduction } from '../ops/loss.js';
export { scaledDotProductAttention, type SdpaOptions } from '../ops/sdpa.js';

export const relu = (x: Tensor): Tensor => U.relu(x);
export const gelu = (x: Tensor, opts: { approximate?: 'none' | 'tanh' } = {}): Tensor => {
  checkOptions('gelu', opts, ['approximate']);
  return U.gelu(x, opts.approximate ?? 'none');
};
export const tanh = (x: Tensor): Tensor => U.tanh(x);
export const sigmoid = (x: Tensor): Tensor => U.sigmoid(x);
/** x·sigmoid(x) (torch.nn.functional.silu). */
export const silu = (x: Tensor): Tensor => U.silu(x);
export { normalize, rmsNorm, type NormalizeOptions } from '../ops/norm.js';
export { oneHot } from '../ops/onehot.js';

/** y = x·Wᵀ + b, with weight (out, in) as in PyTorch (one fused kernel pair, src/ops/linear.ts). */
export { linear } from '../ops/linear.js';
