// Argument checks for tensors, shared by every public function (ops, nn, optim): an Error naming the
// function, the argument and what was given, before anything reads the value.

import { fmtShape } from '../helpers/shape.js';
import { describeValue } from '../helpers/validate.js';
import { Tensor } from './tensor.js';

/** `v` is a live Tensor: otherwise "fn: name must be a Tensor, got ..." or "fn: name ... was disposed by ...". */
export function checkTensor(fn: string, name: string, v: unknown): asserts v is Tensor {
  if (!(v instanceof Tensor)) throw new Error(`${fn}: ${name} must be a Tensor, got ${describeValue(v)}`);
  if (v.isDisposed)
    throw new Error(`${fn}: ${name} (shape ${fmtShape(v.shape)}, ${v.dtype}) was disposed by ${v._disposedBy}; it has no data to use`);
}

/** `v` is an array (or, with `iterable`, any iterable) of live Tensors; `nonEmpty` refuses none. */
export function checkTensorList(fn: string, name: string, v: unknown, opts: { nonEmpty?: boolean; iterable?: boolean } = {}): Tensor[] {
  const isIterable = v !== null && typeof v === 'object' && typeof (v as Iterable<unknown>)[Symbol.iterator] === 'function';
  if (!(Array.isArray(v) || (opts.iterable && isIterable)) || v instanceof Tensor)
    throw new Error(`${fn}: ${name} must be ${opts.iterable ? 'an iterable' : 'an array'} of Tensors, got ${describeValue(v)}`);
  const list = [...(v as Iterable<unknown>)];
  if (opts.nonEmpty && list.length === 0) throw new Error(`${fn}: ${name} must hold at least one Tensor, got an empty list`);
  list.forEach((t, i) => checkTensor(fn, `${name}[${i}]`, t));
  return list as Tensor[];
}
