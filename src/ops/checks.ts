// Argument checks shared by ops: clear errors naming the op, the argument and the shapes.

import type { Tensor } from '../autograd/tensor.js';
import { isFloat, type DType } from '../helpers/dtype.js';
import { fmtShape } from '../helpers/shape.js';

/** The float dtype of a set of operands: float32 and float64 do not mix silently. */
export function floatDType(op: string, named: [string, Tensor][]): DType {
  let found: DType | null = null;
  let who = '';
  let whoShape: readonly number[] = [];
  for (const [name, t] of named) {
    if (!isFloat(t.dtype)) continue;
    if (found && found !== t.dtype) {
      throw new Error(
        `${op}: dtype mismatch: ${who} is ${found} but ${name} is ${t.dtype} (shapes ${fmtShape(whoShape)} and ${fmtShape(t.shape)}); ` +
          `convert one with .float() or .double()`,
      );
    }
    found = t.dtype;
    who = name;
    whoShape = t.shape;
  }
  return found ?? 'float32';
}
