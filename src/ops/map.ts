// The elementwise kernel shared by unary, binary and comparison ops (and by every op that needs one
// elementwise step): each named input is read at its broadcast index and an expression over the names
// gives the output element. One declared template, 'map'; the op's name, the expression, the statements
// before it and every shape are its parameters, so each distinct expression and shape is its own kernel.

import { launch, precisionOf } from '../autograd/launch.js';
import { getBackend } from '../backend/index.js';
import type { DType, Tensor } from '../autograd/tensor.js';
import type { Precision, SimdProvider } from '../backend/index.js';
import type { HostArray } from '../backend/storage.js';
import { numelOf } from '../helpers/shape.js';
import { bcastIndex, gatherIndex, type Body } from '../kernels/source.js';
import { declareKernel, runtimeArg } from '../kernels/template.js';

interface MapParams {
  [k: string]: Body | readonly number[] | readonly MapInput[] | undefined;
  /** The offsets of the inputs that are views (0 for the others), passed when the kernel runs (not baked). */
  offsets: readonly number[];
  /** The op the kernel computes (shown in its key and in GPUGRAD_DEBUG=kernels output, e.g. 'gelu.bwd'). */
  op: string;
  /** Statements before the output expression (over the input names). */
  pre?: Body;
  /** The output element, an expression over the input names. */
  expr: string;
  outShape: readonly number[];
  /** Each input: the name the expressions use, and its shape (broadcast to outShape). */
  inputs: readonly MapInput[];
}

interface MapInput {
  [k: string]: string | number | readonly number[] | undefined;
  name: string;
  shape: readonly number[];
  /** A view read in place: its element strides into the storage passed (else: dense, row-major); its offset is in MapParams.offsets. */
  strides?: readonly number[];
}

/** The index of output element `i` in an input: broadcast, and through the view's strides where it has them. */
function inputIndex(outShape: readonly number[], x: MapInput, k: number): string {
  if (!x.strides) return numelOf(x.shape) === 1 ? '0' : bcastIndex(outShape, x.shape);
  const lead = outShape.length - x.shape.length;
  const strides = outShape.map((_, d) => (d < lead || x.shape[d - lead] === 1 ? 0 : x.strides![d - lead]));
  return gatherIndex(outShape, strides, runtimeArg('offsets', k));
}

/**
 * An op's SIMD-provider implementation of its map kernel: the same values as the expression within float32
 * rounding, from the inputs' arrays and shapes (each broadcast to `outShape`), or null to run the expression.
 * Registered next to the op's formulas.
 */
export type MapNative = (
  inputs: Float32Array[],
  simd: SimdProvider,
  shapes: { out: readonly number[]; inputs: readonly (readonly number[])[] },
) => Float32Array | null;
const mapNatives = new Map<string, MapNative>();

/** Registers the SIMD provider's implementation of the map kernel of op `op` (e.g. 'geluTanh', 'geluTanh.bwd'). */
export function registerMapNative(op: string, fn: MapNative): void {
  if (mapNatives.has(op)) throw new Error(`gpugrad internal: a native map kernel for '${op}' is registered twice`);
  mapNatives.set(op, fn);
}

/** A MapNative for inputs of the output's size (no broadcasting), which most element-wise natives want. */
export function sameShape(fn: (inputs: Float32Array[], simd: SimdProvider) => Float32Array): MapNative {
  return (inputs, simd, shapes) => {
    const n = numelOf(shapes.out);
    return shapes.inputs.every((s) => numelOf(s) === n) ? fn(inputs, simd) : null;
  };
}

function runMapNative(p: MapParams, args: HostArray[], _size: number, simd: SimdProvider): Float32Array | null {
  const fn = mapNatives.get(p.op);
  if (!fn || p.inputs.some((x) => x.strides) || !args.every((a): a is Float32Array => a instanceof Float32Array)) return null;
  return fn(args, simd, { out: p.outShape, inputs: p.inputs.map((x) => x.shape) });
}

/** out[i] = expr, each input read at the broadcast position of i (kernel arguments t0, t1, ...). */
const mapTemplate = declareKernel({
  name: 'map',
  inputs: (p: MapParams) => p.inputs.map((_, k) => `t${k}`),
  // a view's offset is an argument: the same view layout at another offset runs the same kernel
  runtime: ['offsets'],
  body: (p: MapParams) => [
    ...p.inputs.map((x, k) => `const ${x.name} = t${k}[${inputIndex(p.outShape, x, k)}];`),
    p.pre ?? [],
    `return ${p.expr};`,
  ],
  native: runMapNative,
});

/**
 * `out[i] = expr` where each name in `inputs` is bound to that input's element at the broadcast
 * position of `i`, after the statements `pre`. `expr` is a JS expression in the GPU.js subset (no ±Infinity literals).
 */
export function mapKernel(
  op: string,
  expr: string,
  inputs: [string, Tensor][],
  outShape: number[],
  dtype: DType,
  opts: { pre?: Body; precision?: Precision } = {},
): Tensor {
  // A view is read in place (its storage, through its strides), except where a SIMD native would run this
  // op: natives read dense arrays, and on host memory the view's dense copy is cheap next to them.
  const inPlace = !(mapNatives.has(op) && getBackend() === 'simd');
  const temps: Tensor[] = [];
  const mapped: MapInput[] = [];
  const offsets: number[] = inputs.map(() => 0);
  const tensors = inputs.map(([name, t]) => {
    const src = inPlace ? t._stridedSource() : null;
    if (!src) {
      mapped.push({ name, shape: t.shape });
      return t;
    }
    temps.push(src.base);
    mapped.push({ name, shape: t.shape, strides: src.strides });
    offsets[mapped.length - 1] = src.offset;
    return src.base;
  });
  const params: MapParams = { op, pre: opts.pre, expr, outShape, inputs: mapped, offsets };
  // the precision follows the inputs' dtypes (the base tensors have the views' dtypes)
  const precision = opts.precision ?? precisionOf(...inputs.map(([, t]) => t));
  try {
    return launch(mapTemplate, params, tensors, outShape, dtype, precision);
  } finally {
    for (const t of temps) t.dispose();
  }
}
