// Comparisons and logical ops (bool results, no gradient), `where` and `maskedFill`:
//   where(c, a, b):       da = c ? g : 0     db = c ? 0 : g     (no gradient to the condition)
//   maskedFill(x, m, v):  dx = m ? 0 : g
// The kernel expressions are the ops' rows in the registry (src/ops/registry.ts, rendered in
// docs/DERIVATIVES.md); each runs as one elementwise kernel of map.ts ('map' with op 'lt', 'where.da', ...).

import { checkTensor } from '../autograd/check.js';
import { record } from '../autograd/engine.js';
import { precisionOf } from '../autograd/launch.js';
import { Tensor, type Operand } from '../autograd/tensor.js';
import { isFloat } from '../helpers/dtype.js';
import { broadcastShapes, fmtShape, sameShape } from '../helpers/shape.js';
import { operandsWithTemps } from './binary.js';
import { floatDType } from './checks.js';
import { scalarTensor } from '../autograd/creation.js';
import { mapKernel } from './map.js';
import { OP, type CompareSpec } from './registry.js';
import { full } from './creation.js';
import { checkBoolean, checkOptions, describeValue } from '../helpers/validate.js';

function spec(op: string): CompareSpec {
  const s = OP[op]?.compare;
  if (!s) throw new Error(`gpugrad internal: the registry has no comparison row '${op}'`);
  return s;
}

/** The kernel expression of `op`'s forward, or of its gradient for `operand`. */
function expr(op: string, operand?: string): string {
  const s = spec(op);
  if (operand === undefined) return s.fwd;
  const e = s.grad?.[operand];
  if (e === undefined) throw new Error(`gpugrad internal: the registry row '${op}' has no gradient for '${operand}'`);
  return e;
}

function compare(op: string, x: Operand, y: Operand): Tensor {
  const fwd = expr(op);
  const [a, b, temps] = operandsWithTemps(op, x, y);
  try {
    if (isFloat(a.dtype) && isFloat(b.dtype))
      floatDType(op, [
        ['input', a],
        ['other', b],
      ]);
    const shape = broadcastShapes(op, [a.shape, b.shape], ['input', 'other']);
    return mapKernel(
      op,
      fwd,
      [
        ['a', a],
        ['b', b],
      ],
      shape,
      'bool',
    );
  } finally {
    for (const t of temps) t.dispose();
  }
}

export const eq = (a: Operand, b: Operand): Tensor => compare('eq', a, b);
export const ne = (a: Operand, b: Operand): Tensor => compare('ne', a, b);
export const lt = (a: Operand, b: Operand): Tensor => compare('lt', a, b);
export const le = (a: Operand, b: Operand): Tensor => compare('le', a, b);
export const gt = (a: Operand, b: Operand): Tensor => compare('gt', a, b);
export const ge = (a: Operand, b: Operand): Tensor => compare('ge', a, b);

export function logicalNot(x: Tensor): Tensor {
  // exact on the host whatever x's dtype
  return mapKernel('logicalNot', expr('logicalNot'), [['x', x]], x.shape, 'bool', { precision: 'float64' });
}

function logical(op: string, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(op, [a.shape, b.shape], ['input', 'other']);
  return mapKernel(
    op,
    expr(op),
    [
      ['a', a],
      ['b', b],
    ],
    shape,
    'bool',
    { precision: precisionOf(a, b) },
  );
}

export const logicalAnd = (a: Tensor, b: Tensor): Tensor => logical('logicalAnd', a, b);
export const logicalOr = (a: Tensor, b: Tensor): Tensor => logical('logicalOr', a, b);

function checkMask(op: string, name: string, m: Tensor): void {
  checkTensor(op, name, m);
  if (m.dtype !== 'bool') throw new Error(`${op}: ${name} must be a bool tensor, got ${m.dtype} (shape ${fmtShape(m.shape)})`);
}

/** `condition ? input : other`, elementwise with broadcasting. */
export function where(condition: Tensor, input: Operand, other: Operand): Tensor {
  checkMask('where', 'condition', condition);
  for (const [n, v] of [
    ['input', input],
    ['other', other],
  ] as const)
    if (!(v instanceof Tensor) && typeof v !== 'number')
      throw new Error(`where: ${n} must be a Tensor or a number, got ${describeValue(v)}`);
  let both: Tensor | null = null;
  if (!(input instanceof Tensor) && !(other instanceof Tensor)) {
    // two numbers: float32, or int32 when both are integers (PyTorch's default dtype and int64)
    const dtype = Number.isInteger(input) && Number.isInteger(other) ? 'int32' : 'float32';
    both = full([], input, { dtype });
  }
  const [a, b, temps] = operandsWithTemps('where', both ?? input, other);
  if (both) temps.push(both);
  let out: Tensor;
  try {
    const shape = broadcastShapes('where', [condition.shape, a.shape, b.shape], ['condition', 'input', 'other']);
    const dtype =
      isFloat(a.dtype) || isFloat(b.dtype)
        ? floatDType('where', [
            ['input', a],
            ['other', b],
          ])
        : a.dtype;
    out = mapKernel(
      'where',
      expr('where'),
      [
        ['c', condition],
        ['a', a],
        ['b', b],
      ],
      shape,
      dtype,
    );
  } finally {
    for (const t of temps) t.dispose(); // the backward reads only the condition
  }
  // no gradient to the condition (bool): it is an input only so that the slots line up
  return record(out, {
    name: 'Where',
    inputs: [condition, a, b],
    backwardGraph: (g) => [null, a.requiresGrad ? where(condition, g, 0) : null, b.requiresGrad ? where(condition, 0, g) : null],
    backward: (g) => [
      null,
      a.requiresGrad
        ? mapKernel(
            'where.da',
            expr('where', 'a'),
            [
              ['g', g],
              ['c', condition],
            ],
            g.shape,
            g.dtype,
          )
        : null,
      b.requiresGrad
        ? mapKernel(
            'where.db',
            expr('where', 'b'),
            [
              ['g', g],
              ['c', condition],
            ],
            g.shape,
            g.dtype,
          )
        : null,
    ],
  });
}

/** Entries where `mask` is true take `value` (mask broadcasts to the input's shape). */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  checkTensor('maskedFill', 'input', x);
  checkMask('maskedFill', 'mask', mask);
  if (typeof value !== 'number') throw new Error(`maskedFill: value must be a number, got ${typeof value}`);
  const shape = broadcastShapes('maskedFill', [x.shape, mask.shape], ['input', 'mask']);
  if (!sameShape(shape, x.shape)) {
    throw new Error(`maskedFill: mask of shape ${fmtShape(mask.shape)} must broadcast to the input's shape ${fmtShape(x.shape)}`);
  }
  // The fill value travels as a 0-d tensor: -Infinity literals are not safe inside GL kernels.
  const v = scalarTensor(value, x);
  const out = mapKernel(
    'maskedFill',
    expr('maskedFill'),
    [
      ['x', x],
      ['m', mask],
      ['v', v],
    ],
    x.shape,
    x.dtype,
  );
  v.dispose();
  return record(out, {
    name: 'MaskedFill',
    inputs: [x],
    backwardGraph: (g) => [maskedFill(g, mask, 0)],
    backward: (g) => [
      mapKernel(
        'maskedFill.dx',
        expr('maskedFill', 'x'),
        [
          ['g', g],
          ['m', mask],
        ],
        g.shape,
        g.dtype,
      ),
    ],
  });
}

/** isclose/allclose's options (PyTorch's rtol, atol, equal_nan). */
export interface IscloseOptions {
  rtol?: number;
  atol?: number;
  equalNan?: boolean;
}

function closeness(fn: string, input: Tensor, other: Tensor, opts: IscloseOptions): Tensor {
  checkOptions(fn, opts, ['rtol', 'atol', 'equalNan']);
  for (const [n, v] of [
    ['input', input],
    ['other', other],
  ] as const)
    checkTensor(fn, n, v);
  const tol = (n: string, v: unknown, dflt: number): number => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !(v >= 0)) throw new Error(`${fn}: ${n} must be a non-negative number, got ${describeValue(v)}`);
    return v;
  };
  const rtol = tol('rtol', opts.rtol, 1e-5);
  const atol = tol('atol', opts.atol, 1e-8);
  const equalNan = checkBoolean(fn, 'equalNan', opts.equalNan, false);
  if (input.dtype !== other.dtype)
    throw new Error(
      `${fn}: input and other must have the same dtype, got ${input.dtype} (shape ${fmtShape(input.shape)}) and ${other.dtype} (shape ${fmtShape(other.shape)})`,
    );
  const shape = broadcastShapes(fn, [input.shape, other.shape], ['input', 'other']);
  const params = [
    full([], rtol, { dtype: 'float64' }),
    full([], atol, { dtype: 'float64' }),
    full([], equalNan ? 1 : 0, { dtype: 'float64' }),
  ];
  try {
    // on the exact host path: |a - b| and the finiteness test are exact there on every mode
    return mapKernel(
      'isclose',
      expr('isclose'),
      [
        ['a', input],
        ['b', other],
        ['rt', params[0]],
        ['at', params[1]],
        ['en', params[2]],
      ],
      shape,
      'bool',
      { precision: 'float64' },
    );
  } finally {
    for (const t of params) t.dispose();
  }
}

/** Elementwise |input - other| <= atol + rtol·|other| (equal infinities are close; NaN only with equalNan): a bool tensor. */
export function isclose(input: Tensor, other: Tensor, opts: IscloseOptions = {}): Tensor {
  return closeness('isclose', input, other, opts);
}

/** Whether isclose holds everywhere (PyTorch's allclose): a JS boolean. */
export function allclose(input: Tensor, other: Tensor, opts: IscloseOptions = {}): boolean {
  const c = closeness('allclose', input, other, opts);
  try {
    const data = c._storageForKernel().host();
    for (let i = 0; i < data.length; i++) if (data[i] === 0) return false;
    return true;
  } finally {
    c.dispose();
  }
}
