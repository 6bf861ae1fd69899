// oneHot (F.one_hot): out[..., c] = 1 where input[...] == c, else 0; an int32 tensor with one more dim of
// size numClasses (-1: the largest class + 1). Built on the host from the index data (no gradient: int32).

import { fromValues } from '../autograd/creation.js';
import type { Tensor } from '../autograd/tensor.js';
import { fmtShape } from '../helpers/shape.js';
import { describeValue } from '../helpers/validate.js';
import { checkTensor } from './indexing.js';

/** One-hot rows of int32 class indices (PyTorch's F.one_hot; int32 here, int64 there). */
export function oneHot(input: Tensor, numClasses = -1): Tensor {
  const x = checkTensor('oneHot', 'input', input);
  if (x.dtype !== 'int32')
    throw new Error(`oneHot: input must be an int32 tensor of class indices, got ${x.dtype} (shape ${fmtShape(x.shape)})`);
  if (typeof numClasses !== 'number' || !Number.isInteger(numClasses) || numClasses < -1)
    throw new Error(`oneHot: numClasses must be -1 or a non-negative integer, got ${describeValue(numClasses)}`);
  const data = x._storageForKernel().host();
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    lo = Math.min(lo, data[i]);
    hi = Math.max(hi, data[i]);
  }
  if (data.length && lo < 0) throw new Error(`oneHot: class values must be non-negative, got ${lo} (input shape ${fmtShape(x.shape)})`);
  let n = numClasses;
  if (n === -1) {
    if (!data.length) throw new Error(`oneHot: cannot infer numClasses from an empty tensor (shape ${fmtShape(x.shape)}); pass numClasses`);
    n = hi + 1;
  } else if (data.length && hi >= n) {
    throw new Error(`oneHot: class values must be smaller than numClasses (${n}), got ${hi} (input shape ${fmtShape(x.shape)})`);
  }
  const out = new Int32Array(data.length * n);
  for (let i = 0; i < data.length; i++) out[i * n + data[i]] = 1;
  return fromValues(out, [...x.shape, n], 'int32');
}
