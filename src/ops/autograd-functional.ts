// autograd.functional (torch.autograd.functional): vjp, jvp, jacobian, hessian, hvp and vhp of a function
// of tensors, with PyTorch's shapes for one tensor or a list of tensors in and out. Each is built on
// autograd.grad; jvp and hvp use the double-vjp trick (a vjp differentiated with respect to its gradient),
// so they need the double backward of every op the function uses. It lives in the ops layer because it
// assembles Jacobians with ops (stack, reshape), which a createGraph Jacobian must differentiate through.

import { checkTensor } from '../autograd/check.js';
import { fromValues, onesLike, zerosLike } from '../autograd/creation.js';
import { grad } from '../autograd/grad.js';
import { enableGrad } from '../autograd/grad-mode.js';
import { Tensor } from '../autograd/tensor.js';
import { fmtShape } from '../helpers/shape.js';
import { checkBoolean, checkOptions, describeValue } from '../helpers/validate.js';
import { reshape, stack } from './shape.js';

/** A function of tensors returning a tensor or a list of tensors. */
export type TensorFn = (...inputs: Tensor[]) => Tensor | Tensor[];
export type Tensors = Tensor | Tensor[];

export interface FunctionalOptions {
  /** Record the computation, so the result can be differentiated again with respect to the inputs. */
  createGraph?: boolean;
  /** Throw when an output does not depend on an input, instead of returning zeros. */
  strict?: boolean;
}

/** A tensor or a non-empty list of tensors, as a list, and whether it was a list. */
function tuple(fn: string, name: string, v: unknown): [Tensor[], boolean] {
  if (v instanceof Tensor) {
    checkTensor(fn, name, v);
    return [[v], false];
  }
  if (!Array.isArray(v) || v.length === 0)
    throw new Error(`${fn}: ${name} must be a Tensor or a non-empty array of Tensors, got ${describeValue(v)}`);
  v.forEach((t, i) => checkTensor(fn, `${name}[${i}]`, t));
  return [v as Tensor[], true];
}

function options(fn: string, opts: FunctionalOptions): { createGraph: boolean; strict: boolean } {
  checkOptions(fn, opts, ['createGraph', 'strict']);
  return { createGraph: checkBoolean(fn, 'createGraph', opts.createGraph, false), strict: checkBoolean(fn, 'strict', opts.strict, false) };
}

/** The inputs the function is called on: leaves of their own, or (createGraph) views that keep the caller's graph. */
function prepare(fn: string, xs: Tensor[], createGraph: boolean): Tensor[] {
  return xs.map((t, i) => {
    if (!(t.dtype === 'float32' || t.dtype === 'float64'))
      throw new Error(`${fn}: inputs[${i}] must be a floating point tensor, got ${t.dtype} (shape ${fmtShape(t.shape)})`);
    return createGraph && t.requiresGrad ? reshape(t, [...t.shape]) : t.detach().requiresGrad_(true);
  });
}

function call(fn: string, func: TensorFn, xs: Tensor[]): [Tensor[], boolean] {
  if (typeof func !== 'function') throw new Error(`${fn}: func must be a function of tensors, got ${describeValue(func)}`);
  return tuple(
    fn,
    'the output of func',
    enableGrad(() => func(...xs)),
  );
}

/** What the caller gets back: detached unless createGraph. */
const post = (t: Tensor, createGraph: boolean): Tensor => (createGraph ? t : t.detach());
const shaped = <T>(list: T[], isTuple: boolean): T | T[] => (isTuple ? list : list[0]);
/** Results as the caller gets them: post-processed, one tensor or a list. */
const results = (list: Tensor[], isTuple: boolean, createGraph: boolean): Tensors =>
  shaped(
    list.map((t) => post(t, createGraph)),
    isTuple,
  );

/** `v` for `fn`: one tensor per `like`, of its shape and dtype; omitted only when `like` is one 1-element tensor. */
function vectors(fn: string, v: unknown, like: Tensor[], what: string): Tensor[] {
  if (v === undefined || v === null) {
    if (like.length === 1 && like[0].numel() === 1) return [onesLike(like[0])];
    throw new Error(
      `${fn}: v must be given unless ${what} is a single tensor with one element (got ${like.length} of shapes ${like.map((t) => fmtShape(t.shape)).join(', ')})`,
    );
  }
  const [vs] = tuple(fn, 'v', v);
  if (vs.length !== like.length) throw new Error(`${fn}: v has ${vs.length} tensors but ${what} has ${like.length}`);
  vs.forEach((t, i) => {
    if (t.shape.join() !== like[i].shape.join() || t.dtype !== like[i].dtype)
      throw new Error(
        `${fn}: v${like.length > 1 ? `[${i}]` : ''} has shape ${fmtShape(t.shape)} (${t.dtype}) but ${what}${like.length > 1 ? `[${i}]` : ''} has shape ${fmtShape(like[i].shape)} (${like[i].dtype})`,
      );
  });
  return vs;
}

/** grad of `outs` (those that require grad) weighted by `gs`, zeros (or strict: an error) for inputs they do not reach. */
function vjpOf(
  fn: string,
  outs: Tensor[],
  gs: Tensor[],
  xs: Tensor[],
  createGraph: boolean,
  strict: boolean,
  retainGraph = createGraph,
): Tensor[] {
  const live = outs.map((o, i) => [o, gs[i]] as const).filter(([o]) => o.requiresGrad);
  if (strict && live.length < outs.length)
    throw new Error(
      `${fn}: output ${outs.findIndex((o) => !o.requiresGrad)} of the user-provided function does not require gradients; this is not allowed in strict mode`,
    );
  const got = live.length
    ? grad(
        live.map(([o]) => o),
        xs,
        { gradOutputs: live.map(([, g]) => g), createGraph, retainGraph, allowUnused: true },
      )
    : xs.map(() => null);
  return got.map((g, i) => {
    if (g) return g;
    if (strict)
      throw new Error(`${fn}: the output of the user-provided function is independent of input ${i}; this is not allowed in strict mode`);
    return zerosLike(xs[i]);
  });
}

/** [func(inputs), vᵀ·J] (torch.autograd.functional.vjp); vjp has the structure of `inputs`. */
export function vjp(func: TensorFn, inputs: Tensors, v?: Tensors | null, opts: FunctionalOptions = {}): [Tensors, Tensors] {
  const fn = 'autograd.functional.vjp';
  const { createGraph, strict } = options(fn, opts);
  const [ins, inTuple] = tuple(fn, 'inputs', inputs);
  const xs = prepare(fn, ins, createGraph);
  const [outs, outTuple] = call(fn, func, xs);
  const vs = vectors(fn, v, outs, 'the output of func');
  const r = vjpOf(fn, outs, vs, xs, createGraph, strict);
  return [results(outs, outTuple, createGraph), results(r, inTuple, createGraph)];
}

/** [func(inputs), J·v] (torch.autograd.functional.jvp), by the double-vjp trick; jvp has the structure of the output. */
export function jvp(func: TensorFn, inputs: Tensors, v?: Tensors | null, opts: FunctionalOptions = {}): [Tensors, Tensors] {
  const fn = 'autograd.functional.jvp';
  const { createGraph, strict } = options(fn, opts);
  const [ins] = tuple(fn, 'inputs', inputs);
  const vs = vectors(fn, v, ins, 'inputs');
  const xs = prepare(fn, ins, createGraph);
  const [outs, outTuple] = call(fn, func, xs);
  // u ↦ uᵀJ is linear in u; its vjp with v is J·v
  const us = outs.map((o) => zerosLike(o).requiresGrad_(true));
  const uJ = vjpOf(fn, outs, us, xs, true, strict);
  const r = vjpOf(fn, uJ, vs, us, createGraph, strict);
  return [results(outs, outTuple, createGraph), results(r, outTuple, createGraph)];
}

/** J[i][j] of shape out_i.shape + in_j.shape, one vjp per output element. */
function jacobianOf(fn: string, outs: Tensor[], xs: Tensor[], createGraph: boolean, strict: boolean): Tensor[][] {
  return outs.map((o) => {
    const n = o.numel();
    const rows: Tensor[][] = xs.map(() => []);
    for (let r = 0; r < n; r++) {
      const e = new Float64Array(n);
      e[r] = 1;
      const gs = vjpOf(fn, [o], [fromValues(e, [...o.shape], o.dtype)], xs, createGraph, strict, true);
      gs.forEach((g, j) => rows[j].push(g));
    }
    return xs.map((x, j) =>
      n ? reshape(stack(rows[j], 0), [...o.shape, ...x.shape]) : fromValues(new Float64Array(0), [...o.shape, ...x.shape], x.dtype),
    );
  });
}

export interface JacobianOptions extends FunctionalOptions {
  /** Only false (one vjp per output element, as PyTorch's default). */
  vectorize?: boolean;
  /** Only 'reverseMode' (PyTorch's "reverse-mode"). */
  strategy?: 'reverseMode';
}

/**
 * The Jacobian of func at inputs (torch.autograd.functional.jacobian): for one input and one output a
 * tensor of shape output.shape + input.shape; for a list of inputs, a list over them; for a list of
 * outputs, a list over the outputs (of lists over the inputs when both are lists).
 */
export function jacobian(func: TensorFn, inputs: Tensors, opts: JacobianOptions = {}): Tensor | Tensor[] | Tensor[][] {
  const fn = 'autograd.functional.jacobian';
  checkOptions(fn, opts, ['createGraph', 'strict', 'vectorize', 'strategy']);
  if (opts.vectorize !== undefined && opts.vectorize !== false)
    throw new Error(`${fn}: vectorize must be false (gpugrad computes one vjp per output element), got ${describeValue(opts.vectorize)}`);
  if (opts.strategy !== undefined && opts.strategy !== 'reverseMode')
    throw new Error(`${fn}: strategy must be 'reverseMode' (forward mode is not implemented), got ${describeValue(opts.strategy)}`);
  const { createGraph, strict } = options(fn, { createGraph: opts.createGraph, strict: opts.strict });
  const [ins, inTuple] = tuple(fn, 'inputs', inputs);
  const xs = prepare(fn, ins, createGraph);
  const [outs, outTuple] = call(fn, func, xs);
  const J = jacobianOf(fn, outs, xs, createGraph, strict).map((row) => row.map((t) => post(t, createGraph)));
  const perOut = J.map((row) => shaped(row, inTuple));
  return shaped(perOut, outTuple) as Tensor | Tensor[] | Tensor[][];
}

/** func's gradient as a function of the inputs (hessian, hvp, vhp): func must return one 1-element tensor. */
function scalarOut(fn: string, func: TensorFn, xs: Tensor[]): Tensor {
  const [outs, isTuple] = call(fn, func, xs);
  if (isTuple || outs[0].numel() !== 1)
    throw new Error(
      `${fn}: the function given to ${fn.split('.').pop()} must return a single Tensor with one element, got ` +
        (isTuple ? `${outs.length} tensors` : `shape ${fmtShape(outs[0].shape)}`),
    );
  return outs[0];
}

/**
 * The Hessian of a scalar func at inputs (torch.autograd.functional.hessian): for one input a tensor of
 * shape input.shape + input.shape; for a list of inputs, H[i][j] of shape in_i.shape + in_j.shape.
 */
export function hessian(func: TensorFn, inputs: Tensors, opts: FunctionalOptions = {}): Tensor | Tensor[][] {
  const fn = 'autograd.functional.hessian';
  const { createGraph, strict } = options(fn, opts);
  const [ins, inTuple] = tuple(fn, 'inputs', inputs);
  const xs = prepare(fn, ins, createGraph);
  const out = scalarOut(fn, func, xs);
  const gs = vjpOf(fn, [out], [onesLike(out)], xs, true, strict);
  const H = jacobianOf(fn, gs, xs, createGraph, strict).map((row) => row.map((t) => post(t, createGraph)));
  return inTuple ? H : H[0][0];
}

/** vhp and hvp's common part: the checked arguments, func's output and its gradient (with a graph). */
function gradOfScalar(fn: string, func: TensorFn, inputs: Tensors, v: Tensors | null | undefined, opts: FunctionalOptions) {
  const { createGraph, strict } = options(fn, opts);
  const [ins, inTuple] = tuple(fn, 'inputs', inputs);
  const vs = vectors(fn, v, ins, 'inputs');
  const xs = prepare(fn, ins, createGraph);
  const out = scalarOut(fn, func, xs);
  const gs = vjpOf(fn, [out], [onesLike(out)], xs, true, strict);
  const result = (r: Tensor[]): [Tensor, Tensors] => [post(out, createGraph), results(r, inTuple, createGraph)];
  return { createGraph, strict, vs, xs, gs, result };
}

/** [func(inputs), vᵀ·H] (torch.autograd.functional.vhp) of a scalar func. */
export function vhp(func: TensorFn, inputs: Tensors, v?: Tensors | null, opts: FunctionalOptions = {}): [Tensor, Tensors] {
  const fn = 'autograd.functional.vhp';
  const { createGraph, strict, vs, xs, gs, result } = gradOfScalar(fn, func, inputs, v, opts);
  return result(vjpOf(fn, gs, vs, xs, createGraph, strict));
}

/**
 * [func(inputs), H·v] (torch.autograd.functional.hvp) of a scalar func, by the double-vjp trick as
 * PyTorch: u ↦ Hᵀu is linear in u, and its vjp with v is H·v.
 */
export function hvp(func: TensorFn, inputs: Tensors, v?: Tensors | null, opts: FunctionalOptions = {}): [Tensor, Tensors] {
  const fn = 'autograd.functional.hvp';
  const { createGraph, strict, vs, xs, gs, result } = gradOfScalar(fn, func, inputs, v, opts);
  const us = xs.map((x) => zerosLike(x).requiresGrad_(true));
  const uH = vjpOf(fn, gs, us, xs, true, strict);
  return result(vjpOf(fn, uH, vs, us, createGraph, strict));
}
