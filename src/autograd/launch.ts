// Runs a declared kernel over tensors: the kernel layer works on storages, this wraps its inputs' storages
// and its result (cast to the result's dtype) as tensors. No graph is recorded here; ops do that.

import type { Precision } from '../backend/index.js';
import { precisionOfDTypes, type DType } from '../helpers/dtype.js';
import { numelOf } from '../helpers/shape.js';
import { castStorage, runTemplate } from '../kernels/run.js';
import { readingViews, type ViewArg } from '../kernels/strided.js';
import { getBackend } from '../backend/index.js';
import type { KernelParams, KernelTemplate } from '../kernels/template.js';
import { Tensor } from './tensor.js';

/** The precision a kernel over these tensors runs in: float64 (host) when any input is float64 or
 * when none is floating (int/bool data stays exact), float32 (GPU.js) otherwise. */
export function precisionOf(...ts: (Tensor | null | undefined)[]): Precision {
  return precisionOfDTypes(ts.filter((t): t is Tensor => !!t).map((t) => t.dtype));
}

/** Runs `kernel` with `params` over `inputs` into a new tensor of `shape` and `dtype`. */
export function launch<P extends KernelParams>(
  kernel: KernelTemplate<P>,
  params: P,
  inputs: readonly Tensor[],
  shape: readonly number[],
  dtype: DType,
  precision: Precision = precisionOf(...inputs),
): Tensor {
  // Views are read in place (their storage, through their strides: kernels/strided.ts), except by a
  // kernel that reads each input element many times (a product: `denseInputs`), where a strided index
  // worked out on every read of the inner loop costs far more than one dense copy, and by a kernel with a
  // SIMD native on the simd backend in float32 (natives run only there): natives read dense arrays, and
  // there the view's dense copy is cheap host memory next to them.
  const inPlace = !kernel.denseInputs && !(kernel.native && precision === 'float32' && getBackend() === 'simd');
  const views: ViewArg[] = [];
  const temps: Tensor[] = [];
  const args = inputs.map((t, k) => {
    const src = inPlace ? t._stridedSource() : null;
    if (!src) return t._storageForKernel();
    temps.push(src.base);
    views.push({ k, shape: [...t.shape], strides: src.strides, offset: src.offset });
    return src.base._storageForKernel();
  });
  try {
    const n = numelOf(shape);
    const storage = views.length
      ? runTemplate(readingViews(kernel, views), { base: params, offsets: views.map((v) => v.offset) }, args, n, precision)
      : runTemplate(kernel, params, args, n, precision);
    return Tensor._fromStorage(castStorage(storage, dtype), [...shape], dtype);
  } finally {
    for (const t of temps) t.dispose();
  }
}
