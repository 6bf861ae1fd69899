// clamp (clip): every element limited to [min, max], min and max numbers or tensors (broadcasting), either
// one optional. PyTorch's semantics: out = min(max(x, lo), hi), so where lo > hi the result is hi; a NaN
// input gives NaN, a NaN element of a tensor bound gives NaN there, and a NaN number bound is ignored
// (PyTorch's scalar kernel: max(x, NaN) keeps x).
//   dx   = g where lo <= x <= hi (both ends inclusive), 0 elsewhere (and 0 at a NaN x)
//   dlo  = g where x < lo (and lo < hi when both are given), 0 elsewhere      (tensor bounds only)
//   dhi  = g where x > hi (or hi < lo when both are given), 0 elsewhere
// The expressions below run as map.ts's elementwise kernel; number bounds travel as 0-d tensors, so a
// bound of ±Infinity is never a literal inside a GL kernel.

import { checkTensor } from '../autograd/check.js';
import { record } from '../autograd/engine.js';
import { onesLike, scalarTensor } from '../autograd/creation.js';
import { Tensor, type DType } from '../autograd/tensor.js';
import { isFloat } from '../helpers/dtype.js';
import { broadcastShapes } from '../helpers/shape.js';
import { describeValue } from '../helpers/validate.js';
import { floatDType } from './checks.js';
import { cast } from './convert.js';
import { mapKernel } from './map.js';
import { mul } from './binary.js';

/** The kernel expressions, over x and the bounds that are given (lo, hi); NaN propagates from tensor bounds. */
export function clampExprs(
  hasLo: boolean,
  hasHi: boolean,
  nanLo = false,
  nanHi = false,
): { fwd: string; dx: string; dlo: string; dhi: string } {
  const nan = [hasLo && nanLo ? '(lo != lo) ? lo' : '', hasHi && nanHi ? '(hi != hi) ? hi' : ''].filter(Boolean);
  let core: string;
  if (hasLo && hasHi) core = '(x < lo ? (lo > hi ? hi : lo) : (x > hi ? hi : x))';
  else if (hasLo) core = '(x < lo ? lo : x)';
  else core = '(x > hi ? hi : x)';
  const fwd = `(x != x ? x : ${nan.map((n) => `(${n} : `).join('')}${core}${')'.repeat(nan.length)})`;
  const keep = [hasLo ? 'x >= lo' : '', hasHi ? 'x <= hi' : ''].filter(Boolean).join(' && ');
  return {
    fwd,
    dx: `((${keep}) ? g : 0)`,
    dlo: hasHi ? '((x < lo && lo < hi) ? g : 0)' : '(x < lo ? g : 0)',
    dhi: hasLo ? '((x > hi || hi < lo) ? g : 0)' : '(x > hi ? g : 0)',
  };
}

type Bound = Tensor | number | null | undefined;

function checkBound(fn: string, name: string, v: unknown): void {
  if (v === null || v === undefined) return;
  if (v instanceof Tensor) return checkTensor(fn, name, v);
  if (typeof v !== 'number') throw new Error(`${fn}: ${name} must be a number, a Tensor or null, got ${describeValue(v)}`);
}

/** The result dtype: the input's if floating; int input with int bounds stays int32, a float bound promotes. */
function resultDType(fn: string, x: Tensor, lo: Bound, hi: Bound): DType {
  const named: [string, Tensor][] = [['input', x]];
  if (lo instanceof Tensor) named.push(['min', lo]);
  if (hi instanceof Tensor) named.push(['max', hi]);
  if (named.some(([, t]) => isFloat(t.dtype)))
    return floatDType(
      fn,
      named.filter(([, t]) => isFloat(t.dtype)),
    );
  const fractional = [lo, hi].some((b) => typeof b === 'number' && !Number.isInteger(b));
  return fractional ? 'float32' : x.dtype === 'bool' ? 'int32' : x.dtype;
}

function clampOp(fn: string, input: Tensor, min: Bound, max: Bound): Tensor {
  checkTensor(fn, 'input', input);
  checkBound(fn, 'min', min);
  checkBound(fn, 'max', max);
  const hasLo = min !== null && min !== undefined;
  const hasHi = max !== null && max !== undefined;
  if (!hasLo && !hasHi) throw new Error(`${fn}: at least one of min or max must not be null (both were ${describeValue(min)})`);
  const dtype = resultDType(fn, input, min, max);
  const x = input.dtype === dtype ? input : cast(input, dtype);
  const temps: Tensor[] = x === input ? [] : [x];
  const asTensor = (b: Bound): Tensor | null => {
    if (b === null || b === undefined) return null;
    if (b instanceof Tensor) {
      if (b.dtype === dtype) return b;
      const c = cast(b, dtype);
      temps.push(c);
      return c;
    }
    const t = scalarTensor(b, x);
    temps.push(t);
    return t;
  };
  const lo = asTensor(min);
  const hi = asTensor(max);
  const e = clampExprs(hasLo, hasHi, min instanceof Tensor, max instanceof Tensor);
  const named: [string, Tensor][] = [['x', x]];
  if (lo) named.push(['lo', lo]);
  if (hi) named.push(['hi', hi]);
  const shape = broadcastShapes(
    fn,
    named.map(([, t]) => t.shape),
    named.map(([n]) => (n === 'x' ? 'input' : n === 'lo' ? 'min' : 'max')),
  );
  let out: Tensor;
  try {
    out = mapKernel(fn === 'clip' ? 'clamp' : fn, e.fwd, named, shape, dtype);
  } catch (err) {
    for (const t of temps) t.dispose();
    throw err;
  }
  const grad = (op: string, expr: string, g: Tensor): Tensor => mapKernel(op, expr, [['g', g], ...named], g.shape, g.dtype);
  return record(out, {
    name: 'Clamp',
    inputs: [x, min instanceof Tensor ? lo : null, max instanceof Tensor ? hi : null],
    backward: (g) => [
      x.requiresGrad ? grad('clamp.dx', e.dx, g) : null,
      min instanceof Tensor && lo!.requiresGrad ? grad('clamp.dmin', e.dlo, g) : null,
      max instanceof Tensor && hi!.requiresGrad ? grad('clamp.dmax', e.dhi, g) : null,
    ],
    // each gradient is g times a constant 0/1 mask: the kernels at g = 1
    backwardGraph: (g) => {
      const ones = onesLike(g);
      const masked = (op: string, expr: string): Tensor => mul(g, grad(op, expr, ones));
      const r = [
        x.requiresGrad ? masked('clamp.dx', e.dx) : null,
        min instanceof Tensor && lo!.requiresGrad ? masked('clamp.dmin', e.dlo) : null,
        max instanceof Tensor && hi!.requiresGrad ? masked('clamp.dmax', e.dhi) : null,
      ];
      ones.dispose();
      return r;
    },
    saved: named.map(([, t]) => t).filter((t) => !temps.includes(t)),
    owns: temps,
  });
}

/** Every element limited to [min, max] (numbers or broadcasting tensors, either one null); NaN stays NaN. */
export function clamp(input: Tensor, min?: Tensor | number | null, max?: Tensor | number | null): Tensor {
  return clampOp('clamp', input, min, max);
}

/** An alias of clamp (torch.clip). */
export function clip(input: Tensor, min?: Tensor | number | null, max?: Tensor | number | null): Tensor {
  return clampOp('clip', input, min, max);
}
