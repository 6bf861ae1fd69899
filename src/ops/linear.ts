// F.linear, fused: y = x·Wᵀ + b in one kernel (W read transposed in place, bias added in the kernel),
// with x flattened to rows R = numel/in and W of shape (out, in), as PyTorch.
//   dx = g·W        dW = gᵀ·x        db = Σ_rows g

import { checkTensor } from '../autograd/check.js';
import { record } from '../autograd/engine.js';
import { launch } from '../autograd/launch.js';
import { Tensor } from '../autograd/tensor.js';
import { allocFloat32 } from '../backend/storage.js';
import { isFloat } from '../helpers/dtype.js';
import { fmtShape } from '../helpers/shape.js';
import { dotLoop, unravel } from '../kernels/source.js';
import { declareKernel } from '../kernels/template.js';
import { mapKernel } from './map.js';
import { DOT_CHUNK, matmul, mm } from './matmul.js';
import { reshape, transpose } from './shape.js';
import { sum } from './reduce.js';

type LinearParams = { rows: number; inFeatures: number; outFeatures: number; bias: boolean };

/** y[r, o] = Σ_k x[r, k]·W[o, k] (+ b[o]): row r of x times row o of W. */
const linearKernel = declareKernel({
  name: 'linear',
  // each operand element is read once per row or column of the other: views come as dense copies
  denseInputs: true,
  inputs: (p: LinearParams) => (p.bias ? ['x', 'w', 'b'] : ['x', 'w']),
  body: (p: LinearParams) => {
    const I = p.inFeatures;
    return [
      ...unravel('i', [p.rows, p.outFeatures], ['r', 'o']),
      `const xStart = r * ${I};`,
      `const wStart = o * ${I};`,
      dotLoop('x', 'xStart', 1, 'w', 'wStart', 1, I, 's'),
      `return s${p.bias ? ' + b[o]' : ''};`,
    ];
  },
  // the WebAssembly GEMM with W packed transposed once and the bias added in the store
  native: (p, args, size, simd) => {
    const [x, w, b] = args;
    if (!(x instanceof Float32Array) || !(w instanceof Float32Array) || (p.bias && !(b instanceof Float32Array))) return null;
    const out = allocFloat32(size);
    const bias = p.bias ? (b as Float32Array) : null;
    simd.gemmBatch(x, [0], false, w, [0], true, p.rows, p.outFeatures, p.inFeatures, 1, bias, out);
    return out;
  },
});

export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  checkTensor('linear', 'input', x);
  checkTensor('linear', 'weight', weight);
  if (bias != null) checkTensor('linear', 'bias', bias);
  if (weight.ndim !== 2) throw new Error(`linear: weight must be 2-D (outFeatures, inFeatures), got shape ${fmtShape(weight.shape)}`);
  const [O, I] = weight.shape;
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== I) {
    throw new Error(
      `linear: input has ${x.ndim ? x.shape[x.ndim - 1] : 0} features (shape ${fmtShape(x.shape)}) but weight expects ${I} (shape ${fmtShape(weight.shape)})`,
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== O)) throw new Error(`linear: bias must have shape [${O}], got ${fmtShape(bias.shape)}`);
  for (const [n, t] of [
    ['input', x],
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (t && (!isFloat(t.dtype) || t.dtype !== weight.dtype)) {
      throw new Error(`linear: ${n} is ${t.dtype} but weight is ${weight.dtype}; input, weight and bias must share one floating dtype`);
    }
  }
  const R = x.numel() / I;
  const shape = [...x.shape.slice(0, -1), O];
  const y =
    I > DOT_CHUNK
      ? longForward(x, weight, bias ?? null, R)
      : launch(
          linearKernel,
          { rows: R, inFeatures: I, outFeatures: O, bias: !!bias },
          bias ? [x, weight, bias] : [x, weight],
          shape,
          weight.dtype,
        );
  return record(y, {
    name: 'Linear',
    inputs: [x, weight, bias ?? null],
    backward: (g) => {
      const g2 = g._view([R, O]); // the output gradient as rows
      const dx = x.requiresGrad ? reshaped(mm(g2, weight), x.shape) : null; // dx = g·W
      let dW: Tensor | null = null;
      if (weight.requiresGrad) {
        const x2 = x._view([R, I]);
        dW = mm(g2, x2, { transA: true }); // dW = gᵀ·x
        x2.dispose();
      }
      const db = bias?.requiresGrad ? sum(g2, 0) : null; // db = Σ_rows g
      g2.dispose();
      return [dx, dW, db];
    },
    // the same products with ops
    backwardGraph: (g) => {
      const g2 = reshape(g, [R, O]);
      return [
        x.requiresGrad ? matmul(g, weight) : null,
        weight.requiresGrad ? matmul(transpose(g2, 0, 1), reshape(x, [R, I])) : null,
        bias?.requiresGrad ? sum(g2, 0) : null,
      ];
    },
    saved: [x, weight],
  });
}

/** Inner dims past DOT_CHUNK: the product kernel, which splits the inner dim (W read transposed in place), then the bias. */
function longForward(x: Tensor, weight: Tensor, bias: Tensor | null, R: number): Tensor {
  const [O, I] = weight.shape;
  const x2 = x._view([R, I]);
  const xw = reshaped(mm(x2, weight, { transB: true }), [...x.shape.slice(0, -1), O]); // x·Wᵀ
  x2.dispose();
  if (!bias) return xw;
  const y = mapKernel(
    'linear.bias',
    'y + b',
    [
      ['y', xw],
      ['b', bias],
    ],
    xw.shape,
    weight.dtype,
  );
  xw.dispose();
  return y;
}

/** `t`'s data in another shape of the same size; `t` itself is released. */
function reshaped(t: Tensor, shape: readonly number[]): Tensor {
  const v = t._view([...shape]);
  t.dispose();
  return v;
}
