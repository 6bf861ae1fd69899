// Copies: a strided gather that serves copy, permute, slice and every other "read x through strides"
// kernel. The tape uses it for copies; the reductions use it to bring non-adjacent reduced dims together.

import type { Precision, Storage } from '../backend/index.js';
import { numelOf, stridesOf } from '../helpers/shape.js';
import { runTemplate } from './run.js';
import { gatherIndex } from './source.js';
import { declareKernel } from './template.js';

/** out[i] = x[offset + Σ_d coord_d(i) · strides[d]] over an output of `shape` (a stride 0 broadcasts). */
export const gatherStrided = declareKernel({
  name: 'gather',
  inputs: ['x'],
  body: (p: { shape: readonly number[]; strides: readonly number[]; offset: number }) => [
    `return x[${gatherIndex(p.shape, p.strides, p.offset)}];`,
  ],
});

/** A copy of `size` elements. */
export function copyStorage(s: Storage, size: number, precision: Precision): Storage {
  return runTemplate(gatherStrided, { shape: [size], strides: [1], offset: 0 }, [s], size, precision);
}

/** The permuted copy of a contiguous array of `shape`: output dim k is input dim perm[k]. */
export function permuteStorage(s: Storage, shape: readonly number[], perm: readonly number[], precision: Precision): Storage {
  const st = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  return runTemplate(gatherStrided, { shape: outShape, strides: perm.map((p) => st[p]), offset: 0 }, [s], numelOf(outShape), precision);
}
