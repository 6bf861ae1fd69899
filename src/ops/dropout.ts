// dropout: y = x * m / (1 - p) with m ~ Bernoulli(1 - p) drawn on the host from the seeded generator,
// so the same seed gives the same mask on every mode;  dx = g * m / (1 - p) with the forward's mask.

import { checkBoolean } from '../helpers/validate.js';
import { checkTensor } from '../autograd/check.js';
import { record } from '../autograd/engine.js';
import { launch } from '../autograd/launch.js';
import type { Tensor } from '../autograd/tensor.js';
import { uniform } from '../autograd/random.js';
import { allocFloat32, type HostArray } from '../backend/storage.js';
import { isFloat } from '../helpers/dtype.js';
import { fmtShape, numelOf } from '../helpers/shape.js';
import { lit } from '../kernels/source.js';
import { declareKernel } from '../kernels/template.js';
import { fromValues, onesLike } from './creation.js';
import { mul } from './binary.js';

/** v[i] · scale where mask[i] != 0, else 0: the native of both dropout kernels (the same arithmetic as their source). */
function maskedScale(scale: number, [v, mask]: HostArray[], size: number): Float32Array | null {
  if (v.length < size || mask.length < size) return null;
  const out = allocFloat32(size);
  for (let i = 0; i < size; i++) out[i] = mask[i] !== 0 ? v[i] * scale : 0;
  return out;
}

/** y = x · scale where the mask keeps the entry, 0 elsewhere (scale = 1 / (1 - p)); x and the mask of one shape. */
const dropoutForward = declareKernel({
  name: 'dropout.forward',
  inputs: ['x', 'mask'],
  body: (p: { scale: number }) => ['const v = x[i];', 'const m = mask[i];', `return (m != 0 ? v * ${lit(p.scale)} : 0);`],
  native: (p, args, size) => maskedScale(p.scale, args, size),
});

/** dx = g · scale where the forward's mask kept the entry, 0 elsewhere. */
const dropoutBackward = declareKernel({
  name: 'dropout.backward',
  inputs: ['g', 'mask'],
  body: (p: { scale: number }) => ['const gv = g[i];', 'const m = mask[i];', `return (m != 0 ? gv * ${lit(p.scale)} : 0);`],
  native: (p, args, size) => maskedScale(p.scale, args, size),
});

export function checkP(op: string, p: number): void {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`${op}: dropout probability has to be between 0 and 1, but got ${p}`);
}

/** A bool keep-mask (true = kept) of `shape`, each entry kept with probability 1 - p. */
export function dropoutMask(shape: number[], p: number): Tensor {
  const n = numelOf(shape);
  const m = new Uint8Array(n);
  for (let i = 0; i < n; i++) m[i] = uniform() >= p ? 1 : 0;
  return fromValues(m, shape, 'bool');
}

export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  checkTensor('dropout', 'input', x);
  checkP('dropout', p);
  checkBoolean('dropout', 'training', training, true);
  if (!isFloat(x.dtype)) throw new Error(`dropout: expects a floating point tensor, got ${x.dtype} (shape ${fmtShape(x.shape)})`);
  if (!training || p === 0) return x;
  const mask = dropoutMask(x.shape, p);
  const scale = p === 1 ? 0 : 1 / (1 - p);
  const y = launch(dropoutForward, { scale }, [x, mask], x.shape, x.dtype);
  return record(y, {
    name: 'Dropout',
    inputs: [x],
    backward: (g) => [launch(dropoutBackward, { scale }, [g, mask], g.shape, g.dtype)],
    // dx = g · (mask · scale), the factor a constant
    backwardGraph: (g) => {
      const ones = onesLike(g);
      const f = launch(dropoutBackward, { scale }, [ones, mask], g.shape, g.dtype);
      ones.dispose();
      return [mul(g, f)];
    },
    // the mask lives as long as the backward needs it (record disposes it at once when nothing is recorded)
    owns: [mask],
  });
}
