// The elementwise kernel generator shared by unary, binary and comparison ops: each named input is
// read at its broadcast index and an expression over the names gives the output element.

import type { Tensor, DType } from '../autograd/tensor.js';
import type { Precision } from '../backend/index.js';
import { bcastIndex, launch, sk } from './util.js';

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
  opts: { pre?: string; precision?: Precision } = {},
): Tensor {
  const params = inputs.map((_, k) => `t${k}`);
  const key = `map:${op}:${opts.pre ?? ''}${expr}:${sk(outShape)}:${inputs.map(([, t]) => sk(t.shape)).join(',')}`;
  const build = (): string => {
    const loads = inputs.map(([name, t], k) => `const ${name} = t${k}[${t.numel === 1 ? '0' : bcastIndex(outShape, t.shape)}];`).join(' ');
    return `function (${params.join(', ')}) { const i = this.thread.x; ${loads} ${opts.pre ?? ''} return ${expr}; }`;
  };
  const tensors = inputs.map(([, t]) => t);
  return opts.precision ? launch(key, build, tensors, outShape, dtype, opts.precision) : launch(key, build, tensors, outShape, dtype);
}
