// The elementwise kernel shared by unary, binary and comparison ops (and by every op that needs one
// elementwise step): each named input is read at its broadcast index and an expression over the names
// gives the output element. One declared template, 'map'; the op's name, the expression, the statements
// before it and every shape are its parameters, so each distinct expression and shape is its own kernel.

import { launch } from '../autograd/launch.js';
import type { DType, Tensor } from '../autograd/tensor.js';
import type { Precision } from '../backend/index.js';
import { numelOf } from '../helpers/shape.js';
import { bcastIndex, type Body } from '../kernels/source.js';
import { declareKernel } from '../kernels/template.js';

interface MapParams {
  [k: string]: Body | readonly number[] | readonly MapInput[] | undefined;
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
  [k: string]: string | readonly number[];
  name: string;
  shape: readonly number[];
}

/** out[i] = expr, each input read at the broadcast position of i (kernel arguments t0, t1, ...). */
const mapTemplate = declareKernel({
  name: 'map',
  inputs: (p: MapParams) => p.inputs.map((_, k) => `t${k}`),
  body: (p: MapParams) => [
    ...p.inputs.map(({ name, shape }, k) => `const ${name} = t${k}[${numelOf(shape) === 1 ? '0' : bcastIndex(p.outShape, shape)}];`),
    p.pre ?? [],
    `return ${p.expr};`,
  ],
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
  const params: MapParams = { op, pre: opts.pre, expr, outShape, inputs: inputs.map(([name, t]) => ({ name, shape: t.shape })) };
  const tensors = inputs.map(([, t]) => t);
  return opts.precision
    ? launch(mapTemplate, params, tensors, outShape, dtype, opts.precision)
    : launch(mapTemplate, params, tensors, outShape, dtype);
}
