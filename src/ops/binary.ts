// Broadcasting binary ops: out = fwd(a, b); da, db are expressions over g = dL/dout, a and b, and the
// engine sums each gradient back to its input's shape. The expressions and the derivative formulas are
// the ops' rows in the registry (src/ops/registry.ts, rendered in docs/DERIVATIVES.md); each runs as one
// elementwise kernel of map.ts ('map' with op 'mul', 'mul.da', ...).

import { checkTensor } from '../autograd/check.js';
import { record } from '../autograd/engine.js';
import { Tensor, type DType, type Operand } from '../autograd/tensor.js';
import { isFloat } from '../helpers/dtype.js';
import { broadcastShapes, numelOf } from '../helpers/shape.js';
import { floatDType } from './checks.js';
import { scalarTensor } from '../autograd/creation.js';
import { mapKernel, registerMapNative } from './map.js';
import { OP, type BinarySpec } from './registry.js';
import { describeValue } from '../helpers/validate.js';

export { POW } from './registry.js';

// SIMD provider: add, sub and mul of same-shape operands as one vector loop (the same float32 results as
// the expressions: one rounding of an exact sum, difference or product)
for (const [op, expr] of [
  ['add', 'a + b'],
  ['sub', 'a - b'],
  ['mul', 'a * b'],
] as const) {
  if (OP[op]?.binary?.fwd !== expr) throw new Error(`gpugrad internal: the registry's '${op}' is not ${expr}`);
  registerMapNative(op, ([a, b], simd, shapes) => {
    const n = numelOf(shapes.out);
    return shapes.inputs.every((s) => numelOf(s) === n) ? simd.binary(op, a, b, n) : null;
  });
}

export function operands(op: string, a: Operand, b: Operand): [Tensor, Tensor] {
  const [ta, tb] = operandsWithTemps(op, a, b);
  return [ta, tb];
}

/** Like `operands`, plus the 0-d tensors made for number operands (the caller disposes them). */
export function operandsWithTemps(op: string, a: Operand, b: Operand): [Tensor, Tensor, Tensor[]] {
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) throw new Error(`${op}: at least one operand must be a Tensor`);
  for (const [n, v] of [
    ['input', a],
    ['other', b],
  ] as const) {
    if (!(v instanceof Tensor) && typeof v !== 'number')
      throw new Error(`${op}: ${n} must be a Tensor or a number, got ${describeValue(v)}`);
    if (v instanceof Tensor) checkTensor(op, n, v);
  }
  const temps: Tensor[] = [];
  const ta = a instanceof Tensor ? a : scalarTensor(a, b as Tensor);
  if (ta !== a) temps.push(ta);
  const tb = b instanceof Tensor ? b : scalarTensor(b, ta);
  if (tb !== b) temps.push(tb);
  return [ta, tb, temps];
}

function resultDType(op: string, a: Tensor, b: Tensor, intToFloat: boolean): DType {
  if (isFloat(a.dtype) || isFloat(b.dtype))
    return floatDType(op, [
      ['input', a],
      ['other', b],
    ]);
  return intToFloat ? 'float32' : 'int32';
}

/** A binary op's spec, with the kernel and node name it runs under. */
type Named = BinarySpec & { name: string };

function spec(op: string): Named {
  const s = OP[op]?.binary;
  if (!s) throw new Error(`gpugrad internal: the registry has no binary row '${op}'`);
  return { ...s, name: op };
}

function binary(s: Named, x: Operand, y: Operand): Tensor {
  const [a, b, temps] = operandsWithTemps(s.name, x, y);
  let out: Tensor;
  try {
    const shape = broadcastShapes(s.name, [a.shape, b.shape], ['input', 'other']);
    const dtype = resultDType(s.name, a, b, s.intToFloat ?? false);
    out = mapKernel(
      s.name,
      s.fwd,
      [
        ['a', a],
        ['b', b],
      ],
      shape,
      dtype,
    );
  } catch (e) {
    for (const t of temps) t.dispose();
    throw e;
  }
  const args: [string, Tensor][] = [
    ['a', a],
    ['b', b],
  ];
  return record(out, {
    name: s.name[0].toUpperCase() + s.name.slice(1),
    inputs: [a, b],
    backward: (g) => [
      a.requiresGrad && s.da ? gradExpr(`${s.name}.da`, s.da, g, args) : null,
      b.requiresGrad && s.db ? gradExpr(`${s.name}.db`, s.db, g, args) : null,
    ],
    saved: [a, b],
    owns: temps, // the 0-d tensors of number operands: freed with the node, or now when nothing is recorded
    backwardGraph: (g) => {
      const [da, db] = GRAPH[s.name](g, a, b);
      return [a.requiresGrad ? da() : null, b.requiresGrad ? db() : null];
    },
  });
}

// ---- double backward: da and db again, with differentiable ops (createGraph) ----------------------

/** A constant 0 / 0.5 / 1 factor of a derivative (a tie-splitting mask): a kernel, not recorded. */
const factor = (name: string, expr: string, a: Tensor, b: Tensor, g: Tensor): Tensor =>
  mapKernel(
    name,
    expr,
    [
      ['a', a],
      ['b', b],
    ],
    g.shape,
    g.dtype,
  );

/** ln a, recorded, for pow's db (unary.ts's log would make an import cycle): d/da = 1/a, itself a recorded div. */
function lnRecorded(a: Tensor): Tensor {
  const y = mapKernel('pow.db.log', 'Math.log(x)', [['x', a]], a.shape, a.dtype);
  const back = (g: Tensor): Tensor[] => [binary(DIV, g, a)];
  return record(y, { name: 'Log', inputs: [a], backward: back, backwardGraph: back, saved: [a] });
}

type Pair = [() => Tensor, () => Tensor];
/** da and db for each binary op (lazily: only the ones that flow), the same formulas as the registry's kernels. */
const GRAPH: Readonly<Record<string, (g: Tensor, a: Tensor, b: Tensor) => Pair>> = {
  add: (g) => [() => g, () => g],
  sub: (g) => [() => g, () => binary(MUL, g, -1)],
  mul: (g, a, b) => [() => binary(MUL, g, b), () => binary(MUL, g, a)],
  div: (g, a, b) => [() => binary(DIV, g, b), () => binary(MUL, binary(DIV, binary(DIV, g, b), b), binary(MUL, a, -1))],
  pow: (g, a, b) => [
    // b == 0: 0 (also where a == 0); a == 0 and b >= 0: 0 for db
    // where b == 0 the exponent b - 1 becomes 1, so b * a^(b-1) is 0 (not 0 * Infinity at a == 0)
    () => {
      const e = binary(ADD, binary(SUB, b, 1), factor('pow.da.shift', '(b == 0 ? 2 : 0)', a, b, g));
      return binary(MUL, g, binary(MUL, b, binary(POWS, a, e)));
    },
    () => {
      const keep = factor('pow.db.mask', '((a == 0 && b >= 0) ? 0 : 1)', a, b, g);
      // log(a) only where it is used: a == 0 would make 0 * -Infinity = NaN
      const safeA = binary(ADD, a, binary(SUB, 1, keep));
      return binary(MUL, keep, binary(MUL, g, binary(MUL, binary(POWS, a, b), lnRecorded(safeA))));
    },
  ],
  maximum: (g, a, b) => [
    () => binary(MUL, g, factor('maximum.da.mask', '(a > b ? 1 : (a == b ? 0.5 : 0))', a, b, g)),
    () => binary(MUL, g, factor('maximum.db.mask', '(b > a ? 1 : (a == b ? 0.5 : 0))', a, b, g)),
  ],
  minimum: (g, a, b) => [
    () => binary(MUL, g, factor('minimum.da.mask', '(a < b ? 1 : (a == b ? 0.5 : 0))', a, b, g)),
    () => binary(MUL, g, factor('minimum.db.mask', '(b < a ? 1 : (a == b ? 0.5 : 0))', a, b, g)),
  ],
};

function gradExpr(op: string, expr: string, g: Tensor, args: [string, Tensor][]): Tensor {
  if (expr === 'g') return g;
  const used = args.filter(([n]) => new RegExp(`\\b${n}\\b`).test(expr));
  return mapKernel(op, expr, [['g', g], ...used], g.shape, g.dtype);
}

// every binary row has its double backward here (a row without one would fail only under createGraph)
for (const r of Object.values(OP)) {
  if (r.binary && !(r.name in GRAPH)) throw new Error(`gpugrad internal: binary op '${r.name}' has no double backward in binary.ts`);
}

const ADD = spec('add');
const SUB = spec('sub');
const MUL = spec('mul');
const DIV = spec('div');
const POWS = spec('pow');
const MAXIMUM = spec('maximum');
const MINIMUM = spec('minimum');

/** `b · alpha` for add/sub's alpha (PyTorch's `alpha=`): a number, checked. */
function scaled(op: string, b: Operand, alpha: number | undefined): Operand {
  if (alpha === undefined || alpha === 1) return b;
  if (typeof alpha !== 'number' || Number.isNaN(alpha)) throw new Error(`${op}: alpha must be a number, got ${describeValue(alpha)}`);
  return b instanceof Tensor ? binary(MUL, b, alpha) : b * alpha;
}

/** a + alpha·b (torch.add with alpha) */
export const add = (a: Operand, b: Operand, alpha?: number): Tensor => binary(ADD, a, scaled('add', b, alpha));
/** a − alpha·b (torch.sub with alpha) */
export const sub = (a: Operand, b: Operand, alpha?: number): Tensor => binary(SUB, a, scaled('sub', b, alpha));
export const mul = (a: Operand, b: Operand): Tensor => binary(MUL, a, b);
export const div = (a: Operand, b: Operand): Tensor => binary(DIV, a, b);
export const pow = (a: Operand, b: Operand): Tensor => binary(POWS, a, b);
export const maximum = (a: Operand, b: Operand): Tensor => binary(MAXIMUM, a, b);
export const minimum = (a: Operand, b: Operand): Tensor => binary(MINIMUM, a, b);
