// Comparisons and logical ops (bool results, no gradient), `where` and `maskedFill`.
//   where(c, a, b):       da = c ? g : 0     db = c ? 0 : g     (no gradient to the condition)
//   maskedFill(x, m, v):  dx = m ? 0 : g

import { needsGrad, record } from '../autograd/engine.js';
import { Tensor, type Operand } from '../autograd/tensor.js';
import { operandsWithTemps } from './binary.js';
import { scalarTensor } from './creation.js';
import { mapKernel } from './map.js';
import { broadcastShapes, floatDType, fmtShape, isFloat, precisionOf, sameShape } from './util.js';

function compare(op: string, expr: string, x: Operand, y: Operand): Tensor {
  const [a, b, temps] = operandsWithTemps(op, x, y);
  try {
    if (isFloat(a.dtype) && isFloat(b.dtype)) floatDType(op, [['input', a], ['other', b]]);
    const shape = broadcastShapes(op, [a.shape, b.shape], ['input', 'other']);
    return mapKernel(op, expr, [['a', a], ['b', b]], shape, 'bool');
  } finally {
    for (const t of temps) t.dispose();
  }
}

export const eq = (a: Operand, b: Operand): Tensor => compare('eq', '(a == b ? 1 : 0)', a, b);
export const ne = (a: Operand, b: Operand): Tensor => compare('ne', '(a != b ? 1 : 0)', a, b);
export const lt = (a: Operand, b: Operand): Tensor => compare('lt', '(a < b ? 1 : 0)', a, b);
export const le = (a: Operand, b: Operand): Tensor => compare('le', '(a <= b ? 1 : 0)', a, b);
export const gt = (a: Operand, b: Operand): Tensor => compare('gt', '(a > b ? 1 : 0)', a, b);
export const ge = (a: Operand, b: Operand): Tensor => compare('ge', '(a >= b ? 1 : 0)', a, b);

export function logicalNot(x: Tensor): Tensor {
  return mapKernel('logicalNot', '(x != 0 ? 0 : 1)', [['x', x]], x.shape, 'bool', { precision: 'float64' });
}

function logical(op: string, expr: string, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(op, [a.shape, b.shape], ['input', 'other']);
  return mapKernel(op, expr, [['a', a], ['b', b]], shape, 'bool', { precision: precisionOf(a, b) });
}

export const logicalAnd = (a: Tensor, b: Tensor): Tensor => logical('logicalAnd', '((a != 0 && b != 0) ? 1 : 0)', a, b);
export const logicalOr = (a: Tensor, b: Tensor): Tensor => logical('logicalOr', '((a != 0 || b != 0) ? 1 : 0)', a, b);

function checkMask(op: string, name: string, m: Tensor): void {
  if (!(m instanceof Tensor)) throw new Error(`${op}: ${name} must be a bool Tensor`);
  if (m.dtype !== 'bool') throw new Error(`${op}: ${name} must be a bool tensor, got ${m.dtype} (shape ${fmtShape(m.shape)})`);
}

/** `condition ? input : other`, elementwise with broadcasting. */
export function where(condition: Tensor, input: Operand, other: Operand): Tensor {
  checkMask('where', 'condition', condition);
  const [a, b, temps] = operandsWithTemps('where', input, other);
  let out: Tensor;
  try {
    const shape = broadcastShapes('where', [condition.shape, a.shape, b.shape], ['condition', 'input', 'other']);
    const dtype = isFloat(a.dtype) || isFloat(b.dtype) ? floatDType('where', [['input', a], ['other', b]]) : a.dtype;
    out = mapKernel('where', '(c != 0 ? a : b)', [['c', condition], ['a', a], ['b', b]], shape, dtype);
  } finally {
    for (const t of temps) t.dispose(); // the backward reads only the condition
  }
  if (!needsGrad(a, b)) return out;
  return record(out, 'Where', [condition, a, b], (g) => [
    null,
    a.requiresGrad ? mapKernel('where.da', '(c != 0 ? g : 0)', [['g', g], ['c', condition]], g.shape, g.dtype) : null,
    b.requiresGrad ? mapKernel('where.db', '(c != 0 ? 0 : g)', [['g', g], ['c', condition]], g.shape, g.dtype) : null,
  ]);
}

/** Entries where `mask` is true take `value` (mask broadcasts to the input's shape). */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  checkMask('maskedFill', 'mask', mask);
  if (typeof value !== 'number') throw new Error(`maskedFill: value must be a number, got ${typeof value}`);
  const shape = broadcastShapes('maskedFill', [x.shape, mask.shape], ['input', 'mask']);
  if (!sameShape(shape, x.shape)) {
    throw new Error(`maskedFill: mask of shape ${fmtShape(mask.shape)} must broadcast to the input's shape ${fmtShape(x.shape)}`);
  }
  // The fill value travels as a 0-d tensor: -Infinity literals are not safe inside GL kernels.
  const v = scalarTensor(value, x);
  const out = mapKernel('maskedFill', '(m != 0 ? v : x)', [['x', x], ['m', mask], ['v', v]], x.shape, x.dtype);
  v.dispose();
  if (!needsGrad(x)) return out;
  return record(out, 'MaskedFill', [x], (g) => [mapKernel('maskedFill.dx', '(m != 0 ? 0 : g)', [['g', g], ['m', mask]], g.shape, g.dtype)]);
}
