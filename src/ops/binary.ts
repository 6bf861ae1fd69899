// Broadcasting binary ops. Forward and backward kernels are expressions over the broadcast operands;
// the engine sums each gradient back to its input's shape.
//   add: da = g            db = g
//   sub: da = g            db = -g
//   mul: da = g*b          db = g*a
//   div: da = g/b          db = -g*a/b^2
//   pow: da = g*b*a^(b-1)  db = g*a^b*ln(a)   (0 where a == 0 and b >= 0, as PyTorch)
//   maximum/minimum: the gradient goes to the larger/smaller operand, split in half on ties

import { needsGrad, record } from '../autograd/engine.js';
import { Tensor, type DType, type Operand } from '../autograd/tensor.js';
import { scalarTensor } from './creation.js';
import { mapKernel } from './map.js';
import { broadcastShapes, floatDType, isFloat, paren } from './util.js';

/** Signed power that matches Math.pow for negative bases with integer exponents on every mode
 * (GLSL's pow is undefined for negative bases, and for a zero base with an exponent <= 0: GL gives 0
 * for 0^-1; here it is 1 / (0 * 0) = Infinity at run time, as PyTorch). */
export const POW = (base: string, exponent: string): string => {
  const a = paren(base);
  const b = paren(exponent);
  // NaN first: the signed-power branches below would turn a NaN base into ±0 on GL
  return (
    `(${a} != ${a} ? ${a} : (${b} != ${b} ? ${b} : ` +
    `(${a} == 0 ? (${b} > 0 ? 0 : (${b} == 0 ? 1 : 1 / (${a} * ${a}))) : (${a} > 0 ? Math.pow(${a}, ${b}) : ` +
    `(${b} == Math.floor(${b}) ? ((${b} - 2 * Math.floor(${b} / 2)) == 1 ? -Math.pow(-${a}, ${b}) : Math.pow(-${a}, ${b})) : Math.sqrt(-1 - ${a} * 0))))))`
  );
};

export function operands(op: string, a: Operand, b: Operand): [Tensor, Tensor] {
  const [ta, tb] = operandsWithTemps(op, a, b);
  return [ta, tb];
}

/** Like `operands`, plus the 0-d tensors made for number operands (the caller disposes them). */
export function operandsWithTemps(op: string, a: Operand, b: Operand): [Tensor, Tensor, Tensor[]] {
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) throw new Error(`${op}: at least one operand must be a Tensor`);
  for (const [n, v] of [['input', a], ['other', b]] as const) {
    if (!(v instanceof Tensor) && typeof v !== 'number') throw new Error(`${op}: ${n} must be a Tensor or a number, got ${typeof v}`);
  }
  const temps: Tensor[] = [];
  const ta = a instanceof Tensor ? a : scalarTensor(a, b as Tensor);
  if (ta !== a) temps.push(ta);
  const tb = b instanceof Tensor ? b : scalarTensor(b, ta);
  if (tb !== b) temps.push(tb);
  return [ta, tb, temps];
}

function resultDType(op: string, a: Tensor, b: Tensor, intToFloat: boolean): DType {
  if (isFloat(a.dtype) || isFloat(b.dtype)) return floatDType(op, [['input', a], ['other', b]]);
  return intToFloat ? 'float32' : 'int32';
}

interface BinarySpec {
  name: string;
  fwd: string; // over a, b
  da: string | null; // over g, a, b
  db: string | null;
  intToFloat?: boolean;
}

function binary(spec: BinarySpec, x: Operand, y: Operand): Tensor {
  const [a, b, temps] = operandsWithTemps(spec.name, x, y);
  let out: Tensor;
  try {
    const shape = broadcastShapes(spec.name, [a.shape, b.shape], ['input', 'other']);
    const dtype = resultDType(spec.name, a, b, spec.intToFloat ?? false);
    out = mapKernel(spec.name, spec.fwd, [['a', a], ['b', b]], shape, dtype);
  } catch (e) {
    for (const t of temps) t.dispose();
    throw e;
  }
  if (!needsGrad(a, b)) {
    for (const t of temps) t.dispose();
    return out;
  }
  const args: [string, Tensor][] = [['a', a], ['b', b]];
  return record(
    out,
    spec.name[0].toUpperCase() + spec.name.slice(1),
    [a, b],
    (g) => [
      a.requiresGrad && spec.da ? gradExpr(spec.name + '.da', spec.da, g, args) : null,
      b.requiresGrad && spec.db ? gradExpr(spec.name + '.db', spec.db, g, args) : null,
    ],
    [a, b],
    temps,
  );
}

function gradExpr(op: string, expr: string, g: Tensor, args: [string, Tensor][]): Tensor {
  if (expr === 'g') return g;
  const used = args.filter(([n]) => new RegExp(`\\b${n}\\b`).test(expr));
  return mapKernel(op, expr, [['g', g], ...used], g.shape, g.dtype);
}

const ADD: BinarySpec = { name: 'add', fwd: 'a + b', da: 'g', db: 'g' };
const SUB: BinarySpec = { name: 'sub', fwd: 'a - b', da: 'g', db: '-g' };
const MUL: BinarySpec = { name: 'mul', fwd: 'a * b', da: 'g * b', db: 'g * a' };
const DIV: BinarySpec = { name: 'div', fwd: 'a / b', da: 'g / b', db: '-g * a / (b * b)', intToFloat: true };
const POWS: BinarySpec = {
  name: 'pow',
  fwd: POW('a', 'b'),
  da: `(b == 0 ? 0 : g * b * ${POW('a', 'b - 1')})`,
  db: `((a == 0 && b >= 0) ? 0 : g * ${POW('a', 'b')} * Math.log(a))`,
  intToFloat: true,
};
// NaN propagates (as PyTorch): `a != a` is the NaN test that every mode keeps.
const MAXIMUM: BinarySpec = {
  name: 'maximum',
  fwd: '((a >= b || a != a) ? a : b)',
  da: '(a > b ? g : (a == b ? 0.5 * g : 0))',
  db: '(b > a ? g : (a == b ? 0.5 * g : 0))',
};
const MINIMUM: BinarySpec = {
  name: 'minimum',
  fwd: '((a <= b || a != a) ? a : b)',
  da: '(a < b ? g : (a == b ? 0.5 * g : 0))',
  db: '(b < a ? g : (a == b ? 0.5 * g : 0))',
};

export const add = (a: Operand, b: Operand): Tensor => binary(ADD, a, b);
export const sub = (a: Operand, b: Operand): Tensor => binary(SUB, a, b);
export const mul = (a: Operand, b: Operand): Tensor => binary(MUL, a, b);
export const div = (a: Operand, b: Operand): Tensor => binary(DIV, a, b);
export const pow = (a: Operand, b: Operand): Tensor => binary(POWS, a, b);
export const maximum = (a: Operand, b: Operand): Tensor => binary(MAXIMUM, a, b);
export const minimum = (a: Operand, b: Operand): Tensor => binary(MINIMUM, a, b);
