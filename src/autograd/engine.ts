// The tape. Each differentiable op records one GradNode: the tensors it was applied to, the tensors it
// saved (with their versions, so an in-place change is caught), and its hand-written backward, which
// returns one gradient per input in the *output's* shape convention; broadcasting is reduced back to
// each input's shape here, in one place.

import { isGradEnabled, noGrad } from './grad-mode.js';
import { forwardTrace, isAnomalyEnabled } from './anomaly.js';
import { Tensor, disposedTensorOf, type GradHook } from './tensor.js';
import { fmtShape, sameShape } from '../helpers/shape.js';
import { memoryCounts, type Precision } from '../backend/index.js';
import { accumulateStorage, copyStorage, sumToShapeStorage } from '../kernels/tape.js';
import { checkBoolean, checkOptions, describeValue } from '../helpers/validate.js';

// ---- the kernels the tape needs -----------------------------------------------------------------
// Gradient accumulation, copies and the reduction of broadcast gradients run kernels of the kernel layer
// (src/kernels/tape.ts) on the gradients' storages; the tape never calls a differentiable op.

const precisionOfGrad = (t: Tensor): Precision => (t.dtype === 'float64' ? 'float64' : 'float32');

/** a + b for two gradients of one shape and dtype. */
function addGrads(a: Tensor, b: Tensor): Tensor {
  const s = accumulateStorage(a._storageForKernel(), b._storageForKernel(), a.numel(), precisionOfGrad(a));
  return Tensor._fromStorage(s, [...a.shape], a.dtype);
}

function copyGrad(g: Tensor): Tensor {
  return Tensor._fromStorage(copyStorage(g._storageForKernel(), g.numel(), precisionOfGrad(g)), [...g.shape], g.dtype);
}

function sumGradToShape(g: Tensor, shape: readonly number[]): Tensor {
  const s = sumToShapeStorage(g._storageForKernel(), g.shape, shape, precisionOfGrad(g));
  return s ? Tensor._fromStorage(s, [...shape], g.dtype) : g;
}

// ---- memory without tidy() ------------------------------------------------------------------------
// Host data needs nothing: the garbage collector takes it with its last tensor. GPU textures need an
// explicit delete, and finalizers never run inside a synchronous training loop, so the graph cleans up
// after itself: the intermediates of a graph (and gradients dropped by zeroGrad) are queued when its
// backward finishes, and at the next backward every one of them still alive and still on the device is
// moved to host memory (one readback; its data stays valid, as in PyTorch). Inside tidy() they are disposed
// before that and cost nothing.

let pending: Tensor[] = [];
let spillWarned = false;
/** Tensors moved to host memory since the last optimizer step, and optimizer steps in a row that saw some. */
let movedSinceStep = 0;
let stepsWithMoves = 0;

/** Queues a tensor whose texture should not outlive the next backward unless someone disposes it. */
export function releaseLater(t: Tensor): void {
  if (!t.isDisposed && t._hasTexture()) pending.push(t);
}

function drainPending(): void {
  if (!pending.length) return;
  const list = pending;
  pending = [];
  let moved = 0;
  for (const t of list) if (!t.isDisposed && t._spill()) moved++;
  movedSinceStep += moved;
}

let lastTextures = -1;
let growingSteps = 0;
let growthWarned = false;

/**
 * Called by every optimizer step: warns once when 10 steps in a row had to move an untidied graph off the
 * device, and once when live textures keep growing across 20 steps in a row (tensors made outside tidy()
 * and outside any graph are freed only by dispose() or the collector).
 */
export function noteOptimizerStep(): void {
  // a training loop (not one stray backward) that keeps leaving its graphs on the device: say so once
  stepsWithMoves = movedSinceStep > 0 ? stepsWithMoves + 1 : 0;
  if (stepsWithMoves >= 10 && !spillWarned) {
    spillWarned = true;
    console.warn(
      `gpugrad: for ${stepsWithMoves} optimizer steps, tensors of the previous step (graph intermediates, dropped gradients) ` +
        `were never disposed (${movedSinceStep} this step); their GPU textures were read back to host memory and freed. ` +
        `Wrap each training step in tidy(() => { ... }) to free them without the readback.`,
    );
  }
  movedSinceStep = 0;
  const { textures } = memoryCounts();
  growingSteps = textures > lastTextures && lastTextures >= 0 ? growingSteps + 1 : 0;
  lastTextures = textures;
  if (growingSteps >= 20 && !growthWarned) {
    growthWarned = true;
    console.warn(
      `gpugrad: ${textures} GPU textures are live and the count grew at each of the last ${growingSteps} optimizer steps; ` +
        `tensors made outside tidy() are freed only by dispose(), and the garbage collector's finalizers never run ` +
        `inside a synchronous loop. Wrap each step in tidy(() => { ... }) (memory() shows the counts).`,
    );
  }
}

export type BackwardFn = (grad: Tensor) => (Tensor | null | undefined)[];

export class GradNode {
  private backwardFn: BackwardFn | null;
  private saved: { t: Tensor; version: number; as: string | null }[];
  private owned: Tensor[];
  /**
   * `owned`: tensors the op made for its backward only (scalar operands, masks, statistics); disposed when
   * the node is freed. `needs`: tensors the backward reads that are not among its inputs (an index, a
   * target, a mask), by what they are to the op ('index tensor'); version-checked like `saved`.
   */
  constructor(
    readonly name: string,
    readonly inputs: (Tensor | null)[],
    backward: BackwardFn,
    saved: Tensor[],
    owned: Tensor[] = [],
    needs: readonly (readonly [string, Tensor])[] = [],
  ) {
    this.backwardFn = backward;
    this.saved = [...saved.map((t) => ({ t, version: t._version, as: null })), ...needs.map(([as, t]) => ({ t, version: t._version, as }))];
    this.owned = owned;
  }

  /** What `t` is to this op, for errors: 'index tensor', 'input 1', or 'saved tensor'. */
  private roleOf(t: Tensor): string {
    const named = this.saved.find((s) => s.t === t && s.as);
    if (named) return named.as!;
    const i = this.inputs.indexOf(t);
    if (i >= 0) return this.inputs.length > 1 ? `input ${i}` : 'input';
    return 'saved tensor';
  }

  private disposedError(t: Tensor): Error {
    const by = t._disposedBy ?? 'dispose()';
    // a graph intermediate freed by tidy: the backward ran outside the tidy that made the graph
    const fix =
      by !== 'tidy()'
        ? 'dispose it after backward(), or keep a reference until then'
        : t.gradFn
          ? 'call backward() inside the same tidy() as the forward'
          : 'keep() it, or create it outside the tidy()';
    return new Error(
      `backward: ${this.name}'s backward needs its ${this.roleOf(t)} (shape ${fmtShape(t.shape)}, ${t.dtype}), which was disposed by ${by}; ${fix}`,
    );
  }

  get freed(): boolean {
    return this.backwardFn === null;
  }

  apply(grad: Tensor): (Tensor | null | undefined)[] {
    if (!this.backwardFn && this.outputDisposed) {
      throw new Error(
        `backward: the output of ${this.name} was disposed by ${this.outputDisposedBy}, which freed what its backward needed; ` +
          (this.outputDisposedBy === 'tidy()'
            ? 'call backward() inside the same tidy(), or keep() the tensors the backward goes through'
            : 'call backward() before disposing it'),
      );
    }
    if (!this.backwardFn) {
      throw new Error(
        `backward: trying to backward through the graph a second time (through ${this.name}), or to use tensors ` +
          `after the graph was freed; pass { retainGraph: true } to the first backward() if you need to backward twice`,
      );
    }
    for (const { t, version } of this.saved) {
      if (t.isDisposed) throw this.disposedError(t);
      if (t._version !== version) {
        throw new Error(
          `backward: a tensor of shape ${fmtShape(t.shape)} that ${this.name} saved for its backward was modified by an ` +
            `in-place operation (version ${t._version}, expected ${version})`,
        );
      }
    }
    try {
      return this.backwardFn(grad);
    } catch (e) {
      // a tensor the backward read (an input, something its closure holds) was disposed: name the op
      const t = disposedTensorOf(e);
      throw t ? this.disposedError(t) : e;
    }
  }

  private outputDisposed = false;
  private outputDisposedBy = 'dispose()';
  /** Anomaly mode: the stack of the forward call that recorded this node. */
  forwardStack: string | null = null;
  /** @internal hooks registered on the node's output (registerHook on a non-leaf). */
  _hooks: GradHook[] = [];
  /** @internal the output, when it retains its gradient (retainGrad). */
  _retained: Tensor | null = null;

  /**
   * The nodes this one's gradients flow to, one per input (PyTorch's `next_functions`): the input's gradFn,
   * `{ name: 'AccumulateGrad', variable }` for a leaf that requires grad, or null; each with the output index 0.
   */
  get nextFunctions(): [GradNode | { name: 'AccumulateGrad'; variable: Tensor } | null, number][] {
    return this.inputs.map((t) => [t?.gradFn ?? (t?.requiresGrad ? { name: 'AccumulateGrad', variable: t } : null), 0]);
  }

  /** The node's output tensor was disposed (by `by`: 'tidy()' or 'dispose()'): free what only this node's backward needs. */
  releaseForDisposedOutput(by = 'dispose()'): void {
    if (this.backwardFn) {
      this.outputDisposed = true;
      this.outputDisposedBy = by;
    }
    this.free();
  }

  free(): void {
    this.backwardFn = null;
    this.saved = [];
    for (const t of this.owned) t.dispose();
    this.owned = [];
    this._hooks = [];
    this._retained = null;
  }
}

/** What one op records on the tape (see record()). */
export interface NodeSpec {
  /** The node's name, as errors and gradFn show it (PyTorch's style: 'Matmul', 'LayerNorm'). */
  name: string;
  /** The op's inputs, in the order the backward returns their gradients (null for a non-tensor slot). */
  inputs: readonly (Tensor | null | undefined)[];
  /** dL/dout → one dL/dinput per input (null where there is none), in the output's broadcast shape. */
  backward: BackwardFn;
  /** Tensors the backward reads: version-checked, so an in-place change before backward is an error. */
  saved?: readonly Tensor[];
  /** Tensors the op made for its backward only (masks, statistics): freed with the node, or at once when nothing is recorded. */
  owns?: readonly Tensor[];
  /**
   * Tensors the backward reads that are not among `inputs`, by what they are to the op ('index tensor',
   * 'target'): version-checked like `saved`, and named when one was disposed before the backward ran.
   */
  needs?: Readonly<Record<string, Tensor | null | undefined>>;
}

/**
 * Records `out = op(inputs)` on the tape when grad mode is on and any input requires grad; otherwise
 * frees what the node would have owned. Returns `out`. This is the one place that decides whether an op
 * is recorded.
 */
export function record(out: Tensor, spec: NodeSpec): Tensor {
  const ins = spec.inputs.map((t) => t ?? null);
  const owns = spec.owns ?? [];
  if (!isGradEnabled() || !ins.some((t) => t !== null && t.requiresGrad)) {
    for (const t of owns) t.dispose();
    return out;
  }
  const needs = Object.entries(spec.needs ?? {}).filter((e): e is [string, Tensor] => e[1] != null);
  const node = new GradNode(spec.name, ins, spec.backward, [...(spec.saved ?? [])], [...owns], needs);
  if (isAnomalyEnabled()) node.forwardStack = forwardTrace();
  out._setGradFn(node);
  return out;
}

export function needsGrad(...ts: (Tensor | null | undefined)[]): boolean {
  return isGradEnabled() && ts.some((t) => t != null && t.requiresGrad);
}

/** Nodes reachable from `root`, in an order where every node comes before the nodes it feeds from. */
function topoOrder(root: GradNode): GradNode[] {
  const order: GradNode[] = [];
  const state = new Map<GradNode, number>(); // 1 = open, 2 = done
  const stack: [GradNode, number][] = [[root, 0]];
  state.set(root, 1);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, idx] = top;
    if (idx < node.inputs.length) {
      top[1]++;
      const child = node.inputs[idx]?.gradFn;
      if (child && !state.has(child)) {
        state.set(child, 1);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      state.set(node, 2);
      order.push(node);
    }
  }
  return order.reverse();
}

export interface BackwardOptions {
  retainGraph?: boolean;
}

export function runBackward(root: Tensor, gradient: Tensor | undefined, opts: BackwardOptions = {}): void {
  checkOptions('backward', opts, ['retainGraph']);
  checkBoolean('backward', 'retainGraph', opts.retainGraph, false);
  if (gradient !== undefined && gradient !== null && !(gradient instanceof Tensor))
    throw new Error(`backward: gradient must be a Tensor (or undefined for a scalar output), got ${describeValue(gradient)}`);
  if (!root.requiresGrad) {
    throw new Error(
      `backward: the tensor (shape ${fmtShape(root.shape)}) does not require grad and has no gradFn; nothing to differentiate`,
    );
  }
  if (!gradient) {
    if (root.numel() !== 1) {
      throw new Error(
        `backward: grad can be implicitly created only for scalar outputs; this output has shape ${fmtShape(root.shape)}, pass a gradient of that shape`,
      );
    }
  } else if (!sameShape(gradient.shape, root.shape)) {
    throw new Error(`backward: gradient has shape ${fmtShape(gradient.shape)} but the output has shape ${fmtShape(root.shape)}`);
  } else if (gradient.dtype !== root.dtype) {
    throw new Error(
      `backward: gradient is ${gradient.dtype} but the output is ${root.dtype} (shape ${fmtShape(root.shape)})` +
        (gradient.dtype === 'int32' ? "; integer data makes an int32 tensor: tensor(data, { dtype: 'float32' })" : ''),
    );
  }
  drainPending();
  const graphTensors: Tensor[] = [root];
  noGrad(() => {
    const g0 = gradient ? gradient._view(root.shape) : root._onesLikeSelf();
    if (!root.gradFn) {
      accumulateLeaf(root, g0);
      g0.dispose();
      return;
    }
    const grads = new Map<GradNode, Tensor>([[root.gradFn, g0]]);
    const hooked = new Map<Tensor, Tensor>();
    const order = topoOrder(root.gradFn);
    for (const node of order) {
      let g = grads.get(node);
      grads.delete(node);
      if (g && node._hooks.length) {
        const h = runHooks(node._hooks, g, `the output of ${node.name}`);
        if (h !== g) g.dispose(); // the engine's own sum of the gradients arriving here
        g = h;
      }
      if (g && node._retained && !node._retained.isDisposed) retainGradient(node._retained, g);
      if (!g) {
        // reached by no gradient (e.g. only through inputs that do not require grad): nothing to do but free
        if (!opts.retainGraph) node.free();
        continue;
      }
      const gis = node.apply(g);
      if (isAnomalyEnabled()) checkAnomaly(node, gis);
      if (!opts.retainGraph) for (const inp of node.inputs) if (inp?.gradFn) graphTensors.push(inp);
      node.inputs.forEach((inp, i) => {
        const gi = gis[i];
        if (!inp || !inp.requiresGrad || !gi) return;
        const reduced = sameShape(gi.shape, inp.shape) ? gi : reduceTo(node.name, gi, inp);
        if (inp.gradFn) {
          const prev = grads.get(inp.gradFn);
          grads.set(inp.gradFn, prev ? addGrads(prev, reduced) : reduced._view(inp.shape));
          if (prev) prev.dispose();
        } else if (inp._leafHooks.length) {
          // a leaf with hooks: its hooks see the sum of what arrives in this backward, once (AccumulateGrad)
          const prev = hooked.get(inp);
          hooked.set(inp, prev ? addGrads(prev, reduced) : copyGrad(reduced));
          prev?.dispose();
        } else {
          accumulateLeaf(inp, reduced);
        }
        if (reduced !== gi) reduced.dispose();
      });
      for (const gi of gis) if (gi && gi !== g) gi.dispose();
      g.dispose();
      if (!opts.retainGraph) node.free();
    }
    for (const [leaf, sum] of hooked) {
      accumulateLeaf(leaf, sum);
      sum.dispose();
    }
  });
  if (!opts.retainGraph) for (const t of graphTensors) releaseLater(t);
}

/** Anomaly mode: the first gradient of `gis` holding NaN or Infinity throws, naming the op and its forward call. */
function checkAnomaly(node: GradNode, gis: (Tensor | null | undefined)[]): void {
  gis.forEach((gi, i) => {
    if (!gi) return;
    const data = gi.toArray();
    let bad: number | null = null;
    for (let k = 0; k < data.length && bad === null; k++) if (!Number.isFinite(data[k])) bad = data[k];
    if (bad === null) return;
    const what = Number.isNaN(bad) ? 'NaN' : bad > 0 ? 'Infinity' : '-Infinity';
    const trace = node.forwardStack
      ? `\nThe forward call that created it:\n${node.forwardStack}`
      : '\n(no forward trace: the op was recorded before anomaly detection was turned on)';
    throw new Error(
      `backward: anomaly detected: ${node.name}'s backward returned ${what} in its gradient for input ${i} ` +
        `(shape ${fmtShape(gi.shape)})${trace}`,
    );
  });
}

function reduceTo(op: string, g: Tensor, inp: Tensor): Tensor {
  try {
    return sumGradToShape(g, inp.shape);
  } catch (e) {
    throw new Error(
      `backward of ${op}: gradient of shape ${fmtShape(g.shape)} does not reduce to the input's shape ${fmtShape(inp.shape)} (${(e as Error).message})`,
    );
  }
}

/** Runs gradient hooks in order, each on the previous result; a returned tensor must match the gradient. */
function runHooks(hooks: readonly GradHook[], g: Tensor, what: string): Tensor {
  let cur = g;
  for (const h of [...hooks]) {
    const r = h(cur);
    if (r === undefined || r === null) continue;
    if (!(r instanceof Tensor)) throw new Error(`backward: a hook on ${what} returned ${describeValue(r)}, expected a Tensor or nothing`);
    if (!sameShape(r.shape, cur.shape) || r.dtype !== cur.dtype)
      throw new Error(
        `backward: a hook on ${what} returned a gradient of shape ${fmtShape(r.shape)} (${r.dtype}) for a gradient of shape ${fmtShape(cur.shape)} (${cur.dtype})`,
      );
    if (cur !== g) cur.dispose();
    cur = r;
  }
  return cur; // the caller frees g when it was replaced
}

/** retainGrad(): the non-leaf's gradient is accumulated into its `.grad`, as a leaf's is. */
function retainGradient(t: Tensor, g: Tensor): void {
  const prev = t._gradInternal();
  if (prev) prev._assign(addGrads(prev, g), 'backward (gradient accumulation)', true);
  else t._setGrad(copyGrad(g));
}

function accumulateLeaf(leaf: Tensor, g0: Tensor): void {
  if (!leaf._leafHooks.length) return accumulateInto(leaf, g0);
  const g = runHooks(leaf._leafHooks, g0, `a leaf of shape ${fmtShape(leaf.shape)}`);
  accumulateInto(leaf, g);
  if (g !== g0) g.dispose();
}

function accumulateInto(leaf: Tensor, g: Tensor): void {
  if (g.dtype !== leaf.dtype)
    throw new Error(`backward: gradient dtype ${g.dtype} does not match the leaf's dtype ${leaf.dtype} (shape ${fmtShape(leaf.shape)})`);
  const prev = leaf._gradInternal();
  if (prev) {
    // accumulate in place, as PyTorch does: a reference to .grad taken earlier stays valid and current
    prev._assign(addGrads(prev, g), 'backward (gradient accumulation)', true);
  } else if (g._isDense() && g._storageForKernel().refCount === 1) {
    leaf._setGrad(g._view(leaf.shape));
  } else {
    // the gradient's data is shared (another leaf's grad, the graph): give this leaf its own copy, so
    // accumulating into one .grad later never changes another
    const c = copyGrad(g);
    leaf._setGrad(c._view(leaf.shape));
    c.dispose();
  }
}
