// dtype conversion and copies (strided gathers of the kernel layer: a flat copy).
//   cast:  y = x in another dtype;  dx = dy cast back (only between float dtypes)
//   clone: y = x;                    dx = dy

import { record } from '../autograd/engine.js';
import { launch } from '../autograd/launch.js';
import { Tensor } from '../autograd/tensor.js';
import { DTYPES, isFloat, type DType } from '../helpers/dtype.js';
import { gatherStrided } from '../kernels/copy.js';

/** The `gather` parameters of a flat copy of `n` elements. */
const flatCopy = (n: number): { shape: number[]; strides: number[]; offset: number } => ({ shape: [n], strides: [1], offset: 0 });

export function cast(x: Tensor, dtype: DType): Tensor {
  if (!DTYPES.includes(dtype)) throw new Error(`to: unknown dtype '${String(dtype)}'; expected one of ${DTYPES.join(', ')}`);
  if (dtype === x.dtype) return x;
  // Kernels into int/bool or float64 run on the exact host path.
  const precision = dtype === 'float32' ? 'float32' : 'float64';
  const y = launch(gatherStrided, flatCopy(x.numel()), [x], x.shape, dtype, precision);
  if (isFloat(dtype) && isFloat(x.dtype)) {
    const back = (g: Tensor): Tensor[] => [cast(g, x.dtype)];
    record(y, { name: 'To', inputs: [x], backward: back, backwardGraph: back });
  }
  return y;
}

export function clone(x: Tensor): Tensor {
  // a view is gathered once from its base storage (not through its cached dense copy)
  const y = x._isDense()
    ? launch(gatherStrided, flatCopy(x.numel()), [x], x.shape, x.dtype)
    : Tensor._fromStorage(x._materialize(), [...x.shape], x.dtype);
  const pass = (g: Tensor): Tensor[] => [g];
  return record(y, { name: 'Clone', inputs: [x], backward: pass, backwardGraph: pass });
}
