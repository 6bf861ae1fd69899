// TRANSITIONAL (being removed while the ops move onto src/kernels/ templates): re-exports of the pure
// helpers (src/helpers/, src/kernels/source.ts) and the old hand-keyed launcher. New code imports from
// those modules directly and launches declared kernels with autograd/launch.ts.

import { runKernel, type Precision } from '../backend/index.js';
import { Tensor, type DType } from '../autograd/tensor.js';
import { precisionOf } from '../autograd/launch.js';
import { castStorage } from '../kernels/run.js';
import { numelOf } from '../helpers/shape.js';

export { fmtShape, sameShape, numelOf, stridesOf, normDim, broadcastShapes, broadcastStrides } from '../helpers/shape.js';
export { isFloat } from '../helpers/dtype.js';
export { paren, lit, gatherIndex, bcastIndex } from '../kernels/source.js';
export { floatDType } from './checks.js';
export { precisionOf };

/** Runs a kernel over tensors and wraps the result in a new tensor of `shape` and `dtype`. */
export function launch(
  key: string,
  build: () => string,
  args: Tensor[],
  shape: readonly number[],
  dtype: DType,
  precision: Precision = precisionOf(...args),
): Tensor {
  const size = numelOf(shape);
  const storage = runKernel(precision, key, build, args.map((t) => t._storageForKernel()), size);
  return Tensor._fromStorage(castStorage(storage, dtype), [...shape], dtype);
}

/** Key fragment for a shape. */
export const sk = (s: readonly number[]): string => s.join('x');
