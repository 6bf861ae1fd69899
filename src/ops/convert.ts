// dtype conversion and copies.
//   cast:  y = x in another dtype;  dx = dy cast back (only between float dtypes)
//   clone: y = x;                    dx = dy

import { record } from '../autograd/engine.js';
import { DTYPES, Tensor, type DType } from '../autograd/tensor.js';
import { isFloat, launch } from './util.js';

const copySrc = () => 'function (a) { return a[this.thread.x]; }';

export function cast(x: Tensor, dtype: DType): Tensor {
  if (!DTYPES.includes(dtype)) throw new Error(`to: unknown dtype '${String(dtype)}'; expected one of ${DTYPES.join(', ')}`);
  if (dtype === x.dtype) return x;
  // Kernels into int/bool or float64 run on the exact host path.
  const precision = dtype === 'float32' ? 'float32' : 'float64';
  const y = launch(`copy:${x.numel}`, copySrc, [x], x.shape, dtype, precision);
  if (isFloat(dtype) && isFloat(x.dtype)) {
    record(y, 'To', [x], (g) => [cast(g, x.dtype)]);
  }
  return y;
}

export function clone(x: Tensor): Tensor {
  const y = launch(`copy:${x.numel}`, copySrc, [x], x.shape, x.dtype);
  return record(y, 'Clone', [x], (g) => [g]);
}

