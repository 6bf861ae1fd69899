// dropout: y = x * m / (1 - p) with m ~ Bernoulli(1 - p) drawn on the host from the seeded generator,
// so the same seed gives the same mask on every mode;  dx = g * m / (1 - p) with the forward's mask.

import { record } from '../autograd/engine.js';
import type { Tensor } from '../autograd/tensor.js';
import { uniform } from '../autograd/random.js';
import { fromValues } from './creation.js';
import { mapKernel } from './map.js';
import { fmtShape, isFloat, lit, numelOf } from './util.js';

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
  checkP('dropout', p);
  if (!isFloat(x.dtype)) throw new Error(`dropout: expects a floating point tensor, got ${x.dtype} (shape ${fmtShape(x.shape)})`);
  if (!training || p === 0) return x;
  const mask = dropoutMask(x.shape, p);
  const scale = p === 1 ? 0 : 1 / (1 - p);
  const y = mapKernel('dropout', `(m != 0 ? x * ${lit(scale)} : 0)`, [['x', x], ['m', mask]], x.shape, x.dtype);
  // the mask lives as long as the backward needs it (record disposes it at once when nothing is recorded)
  return record(y, 'Dropout', [x], (g) => [mapKernel('dropout.bwd', `(m != 0 ? g * ${lit(scale)} : 0)`, [['g', g], ['m', mask]], g.shape, g.dtype)], [], [mask]);
}
