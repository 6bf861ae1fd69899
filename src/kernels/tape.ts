// The kernels the tape itself needs, on storages: accumulating a gradient, copying one, and summing a
// broadcast gradient back to its input's shape.

import type { Precision, Storage } from '../backend/index.js';
import { allocFloat32 } from '../backend/storage.js';
import { reducedDimsTo, sameShape } from '../helpers/shape.js';
import { copyStorage } from './copy.js';
import { sumDimsStorage } from './reduce.js';
import { runTemplate } from './run.js';
import { declareKernel } from './template.js';

/** a + b, elementwise over two arrays of the same size. */
export const accumulateKernel = declareKernel({
  name: 'tape.accumulate',
  inputs: ['a', 'b'],
  body: () => ['return a[i] + b[i];'],
  // WebAssembly SIMD over float32 arrays, else one loop over the two arrays (the sum of two float32s rounds
  // to float32 as the source's store does; the vector add gives the same bits)
  native: (_p, [a, b], size, simd) => {
    if (a.length < size || b.length < size) return null;
    if (a instanceof Float32Array && b instanceof Float32Array) return simd.binary('add', a, b, size);
    const out = allocFloat32(size);
    let i = 0;
    for (; i + 3 < size; i += 4) {
      out[i] = a[i] + b[i];
      out[i + 1] = a[i + 1] + b[i + 1];
      out[i + 2] = a[i + 2] + b[i + 2];
      out[i + 3] = a[i + 3] + b[i + 3];
    }
    for (; i < size; i++) out[i] = a[i] + b[i];
    return out;
  },
});

export function accumulateStorage(a: Storage, b: Storage, size: number, precision: Precision): Storage {
  return runTemplate(accumulateKernel, {}, [a, b], size, precision);
}

export { copyStorage };

/** `g` (of shape `from`) summed over the dims that broadcasting added or stretched, to shape `to`; null when the shapes agree. */
export function sumToShapeStorage(g: Storage, from: readonly number[], to: readonly number[], precision: Precision): Storage | null {
  if (sameShape(from, to)) return null;
  return sumDimsStorage(g, from, reducedDimsTo(from, to), precision);
}
