// autograd.grad (torch.autograd.grad): the gradients of outputs with respect to chosen inputs, returned
// instead of accumulated into `.grad`; only the part of the graph leading to those inputs runs. With
// createGraph the backward records itself, so what it returns can be differentiated again.

import { checkTensor } from './check.js';
import { runGraph, seedGradient } from './engine.js';
import { Tensor } from './tensor.js';
import { zerosLike } from './creation.js';
import { fmtShape } from '../helpers/shape.js';
import { checkBoolean, checkOptions, describeValue } from '../helpers/validate.js';

export interface GradOptions {
  /** One gradient per output (dL/doutput; null or omitted for a scalar output: ones). */
  gradOutputs?: Tensor | readonly (Tensor | null | undefined)[] | null;
  /** Keep the graph for another backward (defaults to createGraph). */
  retainGraph?: boolean;
  /** Record the backward, so the gradients can be differentiated again. */
  createGraph?: boolean;
  /** An input the outputs do not depend on gets null (or zeros with materializeGrads) instead of an error. */
  allowUnused?: boolean;
  /** Zeros instead of null for unused inputs (implies allowUnused). */
  materializeGrads?: boolean;
}

const GRAD_KEYS = ['gradOutputs', 'retainGraph', 'createGraph', 'allowUnused', 'materializeGrads'];

/** A Tensor or an array of Tensors, as a checked list. */
function tensorList(fn: string, name: string, v: unknown): Tensor[] {
  if (v instanceof Tensor) {
    checkTensor(fn, name, v);
    return [v];
  }
  if (!Array.isArray(v) || v.length === 0)
    throw new Error(`${fn}: ${name} must be a Tensor or a non-empty array of Tensors, got ${describeValue(v)}`);
  v.forEach((t, i) => checkTensor(fn, `${name}[${i}]`, t));
  return v as Tensor[];
}

/**
 * The gradients of `outputs` with respect to `inputs` (PyTorch's `torch.autograd.grad`): one per input, in
 * order, without touching any `.grad`. `gradOutputs` weights the outputs (a vector-Jacobian product).
 */
export function grad(outputs: Tensor | readonly Tensor[], inputs: Tensor | readonly Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  const fn = 'autograd.grad';
  checkOptions(fn, opts, GRAD_KEYS);
  const outs = tensorList(fn, 'outputs', outputs);
  const ins = tensorList(fn, 'inputs', inputs);
  const createGraph = checkBoolean(fn, 'createGraph', opts.createGraph, false);
  const retainGraph = checkBoolean(fn, 'retainGraph', opts.retainGraph, createGraph);
  const materialize = checkBoolean(fn, 'materializeGrads', opts.materializeGrads, false);
  if (materialize && opts.allowUnused === false)
    throw new Error(`${fn}: materializeGrads: true needs allowUnused to be true or left out, got allowUnused: false`);
  const allowUnused = checkBoolean(fn, 'allowUnused', opts.allowUnused, materialize);
  let seeds: (Tensor | null | undefined)[];
  const go = opts.gradOutputs;
  if (go === undefined || go === null) seeds = outs.map(() => null);
  else if (go instanceof Tensor) seeds = [go];
  else if (Array.isArray(go)) seeds = [...go];
  else throw new Error(`${fn}: gradOutputs must be a Tensor, an array of Tensors (or nulls) or null, got ${describeValue(go)}`);
  if (seeds.length !== outs.length)
    throw new Error(
      `${fn}: gradOutputs has ${seeds.length} entries but there are ${outs.length} outputs; pass one per output (null for a scalar)`,
    );
  outs.forEach((o, i) => {
    if (!o.requiresGrad)
      throw new Error(`${fn}: outputs[${i}] (shape ${fmtShape(o.shape)}) does not require grad and does not have a gradFn`);
  });
  ins.forEach((t, i) => {
    if (!t.requiresGrad) throw new Error(`${fn}: inputs[${i}] (shape ${fmtShape(t.shape)}) does not require grad; nothing flows to it`);
  });
  const checked = outs.map((o, i) => seedGradient(fn, o, seeds[i], `gradOutputs[${i}]`));
  const got = runGraph(outs, checked, { retainGraph, createGraph, capture: ins })!;
  return got.map((g, i) => {
    if (g) return g;
    if (!allowUnused)
      throw new Error(
        `${fn}: inputs[${i}] (shape ${fmtShape(ins[i].shape)}) appears not to have been used in the graph; ` +
          'pass allowUnused: true if that is intended (its gradient is then null)',
      );
    return materialize ? zerosLike(ins[i]) : null;
  });
}
