// F.linear, fused: y = x·Wᵀ + b in one kernel (W read transposed in place, bias added in the kernel),
// with x flattened to rows R = numel/in and W of shape (out, in), as PyTorch.
//   dx = g·W        dW = gᵀ·x        db = Σ_rows g

import { needsGrad, record } from '../autograd/engine.js';
import { Tensor } from '../autograd/tensor.js';
import { mapKernel } from './map.js';
import { DOT_CHUNK, bmmKernel, dotLoop } from './matmul.js';
import { sum } from './reduce.js';
import { fmtShape, isFloat, launch } from './util.js';

export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (!(x instanceof Tensor) || !(weight instanceof Tensor)) throw new Error('linear: input and weight must be Tensors');
  if (weight.ndim !== 2) throw new Error(`linear: weight must be 2-D (outFeatures, inFeatures), got shape ${fmtShape(weight.shape)}`);
  const [O, I] = weight.shape;
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== I) {
    throw new Error(`linear: input has ${x.ndim ? x.shape[x.ndim - 1] : 0} features (shape ${fmtShape(x.shape)}) but weight expects ${I} (shape ${fmtShape(weight.shape)})`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== O)) throw new Error(`linear: bias must have shape [${O}], got ${fmtShape(bias.shape)}`);
  for (const [n, t] of [['input', x], ['weight', weight], ['bias', bias]] as const) {
    if (t && (!isFloat(t.dtype) || t.dtype !== weight.dtype)) {
      throw new Error(`linear: ${n} is ${t.dtype} but weight is ${weight.dtype}; input, weight and bias must share one floating dtype`);
    }
  }
  const R = x.numel / I;
  const key = `linear:${R}:${I}:${O}:${bias ? 'b' : ''}`;
  const build = (): string =>
    `function (a, w${bias ? ', b' : ''}) { const i = this.thread.x; const r = Math.floor((i + 0.5) / ${O}); const o = i - r * ${O}; ` +
    `const ab = r * ${I}; const wb = o * ${I}; ${dotLoop('a', 'ab', 1, 'w', 'wb', 1, I, 's')} return s${bias ? ' + b[o]' : ''}; }`;
  const y = I > DOT_CHUNK ? longForward(x, weight, bias ?? null, R) : launch(key, build, bias ? [x, weight, bias] : [x, weight], [...x.shape.slice(0, -1), O], weight.dtype);
  if (!needsGrad(x, weight, bias)) return y;
  return record(
    y,
    'Linear',
    [x, weight, bias ?? null],
    (g) => {
      const dx = x.requiresGrad ? bmmKernel({ t: g, batch: [], rows: R, cols: O, trans: false }, { t: weight, batch: [], rows: O, cols: I, trans: false }, []) : null;
      const dw = weight.requiresGrad ? bmmKernel({ t: g, batch: [], rows: R, cols: O, trans: true }, { t: x, batch: [], rows: R, cols: I, trans: false }, []) : null;
      let db: Tensor | null = null;
      if (bias?.requiresGrad) {
        const g2 = g._view([R, O]);
        db = sum(g2, 0);
        g2.dispose();
      }
      const dxs = dx ? dx._view([...x.shape]) : null;
      dx?.dispose();
      return [dxs, dw, db];
    },
    [x, weight],
  );
}

/** Inner dims past DOT_CHUNK: the product kernel, which splits the inner dim (W read transposed in place), then the bias. */
function longForward(x: Tensor, weight: Tensor, bias: Tensor | null, R: number): Tensor {
  const [O, I] = weight.shape;
  const xw = bmmKernel({ t: x, batch: [], rows: R, cols: I, trans: false }, { t: weight, batch: [], rows: O, cols: I, trans: true }, []);
  const shape = [...x.shape.slice(0, -1), O];
  const xv = xw._view(shape);
  xw.dispose();
  if (!bias) return xv;
  const y = mapKernel('linear.bias', 'y + b', [['y', xv], ['b', bias]], shape, weight.dtype);
  xv.dispose();
  return y;
}
