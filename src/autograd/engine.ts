// The tape. Each differentiable op records one GradNode: the tensors it was applied to, the tensors it
// saved (with their versions, so an in-place change is caught), and its hand-written backward, which
// returns one gradient per input in the *output's* shape convention; broadcasting is reduced back to
// each input's shape here, in one place.

import { enableGrad, isGradEnabled, noGrad } from './grad-mode.js';
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

// ---- the same, recorded (createGraph) -------------------------------------------------------------
// A backward with createGraph records itself, so the tape's own sums, copies and broadcast reductions of
// gradients are differentiable too: each is recorded as a node whose backward is one of these again.

/** a + b, recorded when either requires grad (the backward of a sum passes g to both). */
function gradSum(a: Tensor, b: Tensor): Tensor {
  const out = addGrads(a, b);
  return record(out, { name: 'AddBackward', inputs: [a, b], backward: (g) => [g, g], backwardGraph: (g) => [g, g] });
}

/** `g` summed to `shape` (the broadcast dims), recorded; its backward broadcasts back. */
function sumToRecorded(g: Tensor, shape: readonly number[]): Tensor {
  const out = sumGradToShape(g, shape);
  if (out === g) return g;
  const back = (h: Tensor): Tensor[] => [expandRecorded(h, g.shape)];
  return record(out, { name: 'SumToSizeBackward', inputs: [g], backward: back, backwardGraph: back });
}

/** `g` broadcast to `shape` (a dense copy), recorded; its backward sums back. */
function expandRecorded(g: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - g.shape.length;
  const dense: number[] = [];
  for (let d = g.shape.length - 1, acc = 1; d >= 0; d--) {
    dense[d] = acc;
    acc *= g.shape[d];
  }
  const base = g._isDense()
    ? g
    : Tensor._fromStorage(copyStorage(g._storageForKernel(), g.numel(), precisionOfGrad(g)), [...g.shape], g.dtype);
  const strides = shape.map((n, d) => (d < lead || (g.shape[d - lead] === 1 && n !== 1) ? 0 : dense[d - lead]));
  const view = base._strided([...shape], strides, 0);
  const out = Tensor._fromStorage(view._materialize(), [...shape], g.dtype);
  view.dispose();
  if (base !== g) base.dispose();
  const back = (h: Tensor): Tensor[] => [sumToRecorded(h, g.shape)];
  return record(out, { name: 'ExpandBackward', inputs: [g], backward: back, backwardGraph: back });
}

/** A gradient the engine keeps (in its sums, or for a leaf): a tensor of its own over the same data, or, while recording, `g` itself. */
function own(g: Tensor, shape: readonly number[]): Tensor {
  return creating ? g : g._view([...shape]);
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
  /** The backward written with differentiable ops, run when a backward records itself (createGraph). */
  private backwardGraphFn: BackwardFn | null;
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
    backwardGraph: BackwardFn | null = null,
  ) {
    this.backwardFn = backward;
    this.backwardGraphFn = backwardGraph;
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

  /**
   * The backward under createGraph: the op's differentiable backward, recorded. An op without one runs its
   * backward kernels and records their results behind a node that throws when a second backward reaches it,
   * naming the op (PyTorch's "derivative ... is not implemented"): never a silent zero.
   */
  applyCreatingGraph(grad: Tensor): (Tensor | null | undefined)[] {
    if (this.backwardGraphFn && this.backwardFn) {
      const fn = this.backwardFn;
      this.backwardFn = this.backwardGraphFn;
      try {
        return this.apply(grad);
      } finally {
        this.backwardFn = fn;
      }
    }
    const gis = noGrad(() => this.apply(grad));
    const why = `${this.name} has no double backward, so it cannot be differentiated again (the ops that have one are listed in docs/DERIVATIVES.md)`;
    return gis.map((gi) => (!gi || gi === grad ? gi : recordNotDifferentiable(this.name, gi, [grad, ...this.inputs], why)));
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
    this.backwardGraphFn = null;
    this.saved = [];
    for (const t of this.owned) t.dispose();
    this.owned = [];
    this._hooks = [];
    this._retained = null;
  }
}

/**
 * Records `gi`, a gradient computed off the tape while a backward records itself, behind a node that throws
 * when a second backward reaches it (naming `op` and `why`): never a silent zero second derivative.
 */
export function recordNotDifferentiable(op: string, gi: Tensor, inputs: readonly (Tensor | null)[], why: string): Tensor {
  const fail = (): never => {
    throw new Error(`backward: ${op}'s backward is not differentiable: its gradient was computed with createGraph, but ${why}`);
  };
  return record(gi, { name: `${op}Backward`, inputs, backward: fail, backwardGraph: fail });
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
  /**
   * The same backward written with differentiable ops (the same contract as `backward`), run when a backward
   * records itself (createGraph) so its gradients can be differentiated again. Without one, such a gradient
   * throws naming the op when a second backward reaches it. It may be `backward` itself where that one's
   * results are recorded ops (recordLinear, record): record() does nothing while a plain backward runs.
   */
  backwardGraph?: BackwardFn;
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
  const node = new GradNode(spec.name, ins, spec.backward, [...(spec.saved ?? [])], [...owns], needs, spec.backwardGraph ?? null);
  if (isAnomalyEnabled()) node.forwardStack = forwardTrace();
  out._setGradFn(node);
  return out;
}

export function needsGrad(...ts: (Tensor | null | undefined)[]): boolean {
  return isGradEnabled() && ts.some((t) => t != null && t.requiresGrad);
}

/** Nodes reachable from `roots`, in an order where every node comes before the nodes it feeds from. */
function topoOrder(roots: readonly GradNode[], stop: ReadonlySet<GradNode | null> = new Set()): GradNode[] {
  const order: GradNode[] = [];
  const state = new Map<GradNode, number>(); // 1 = open, 2 = done
  for (const root of roots) {
    if (state.has(root)) continue;
    const stack: [GradNode, number][] = [[root, 0]];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [node, idx] = top;
      if (idx < node.inputs.length && !stop.has(node)) {
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
  }
  return order.reverse();
}

export interface BackwardOptions {
  retainGraph?: boolean;
  /** Record the backward pass itself, so the gradients can be differentiated again (retainGraph defaults to it). */
  createGraph?: boolean;
}

/** The seed gradient of `root` for `fn` (backward, autograd.grad): checked against the output, or ones for a scalar. */
export function seedGradient(fn: string, root: Tensor, gradient: Tensor | null | undefined, what = 'gradient'): Tensor | null {
  if (gradient !== undefined && gradient !== null && !(gradient instanceof Tensor))
    throw new Error(`${fn}: ${what} must be a Tensor (or undefined for a scalar output), got ${describeValue(gradient)}`);
  if (!gradient) {
    if (root.numel() !== 1) {
      throw new Error(
        `${fn}: grad can be implicitly created only for scalar outputs; this output has shape ${fmtShape(root.shape)}, pass a ${what} of that shape`,
      );
    }
    return null;
  }
  if (gradient.isDisposed) throw new Error(`${fn}: ${what} (shape ${fmtShape(gradient.shape)}) was disposed by ${gradient._disposedBy}`);
  if (!sameShape(gradient.shape, root.shape))
    throw new Error(`${fn}: ${what} has shape ${fmtShape(gradient.shape)} but the output has shape ${fmtShape(root.shape)}`);
  if (gradient.dtype !== root.dtype) {
    throw new Error(
      `${fn}: ${what} is ${gradient.dtype} but the output is ${root.dtype} (shape ${fmtShape(root.shape)})` +
        (gradient.dtype === 'int32' ? "; integer data makes an int32 tensor: tensor(data, { dtype: 'float32' })" : ''),
    );
  }
  return gradient;
}

export function runBackward(root: Tensor, gradient: Tensor | undefined, opts: BackwardOptions = {}): void {
  checkOptions('backward', opts, ['retainGraph', 'createGraph']);
  const createGraph = checkBoolean('backward', 'createGraph', opts.createGraph, false);
  const retainGraph = checkBoolean('backward', 'retainGraph', opts.retainGraph, createGraph);
  if (!root.requiresGrad) {
    if (gradient !== undefined && gradient !== null && !(gradient instanceof Tensor)) seedGradient('backward', root, gradient);
    throw new Error(
      `backward: the tensor (shape ${fmtShape(root.shape)}) does not require grad and has no gradFn; nothing to differentiate`,
    );
  }
  const seed = seedGradient('backward', root, gradient);
  runGraph([root], [seed], { retainGraph, createGraph, capture: null });
}

/** One run of the engine over the graph behind `roots`. */
export interface GraphRun {
  retainGraph: boolean;
  createGraph: boolean;
  /**
   * autograd.grad: the tensors whose gradients are returned (in order; null for one no gradient reached);
   * `.grad` of every tensor is left alone and only the part of the graph that leads to them runs.
   * null: backward(), which accumulates into the leaves' `.grad`.
   */
  capture: readonly Tensor[] | null;
  /** With capture: nothing below the captured tensors is needed (a composite's inputs), so the walk stops at them. */
  boundary?: boolean;
}

/** Whether the running backward records itself (createGraph): the tape's own sums and copies are then ops too. */
let creating = false;

/**
 * Runs the backward of the graph behind `roots`, seeded with `seeds` (null: ones, for a scalar root).
 * Returns the captured gradients (autograd.grad) or null (backward).
 */
export function runGraph(roots: readonly Tensor[], seeds: readonly (Tensor | null)[], run: GraphRun): (Tensor | null)[] | null {
  drainPending();
  const prevCreating = creating;
  creating = run.createGraph;
  try {
    return run.createGraph ? enableGrad(() => walk(roots, seeds, run)) : noGrad(() => walk(roots, seeds, run));
  } finally {
    creating = prevCreating;
  }
}

/** A gradient the engine made and no longer needs: freed now, or (createGraph: it may be part of the new graph) later. */
function drop(t: Tensor): void {
  if (creating) releaseLater(t);
  else t.dispose();
}

/** The nodes whose backward must run for `capture`: those from which a captured tensor is reached. */
function neededNodes(order: readonly GradNode[], capture: readonly Tensor[]): Set<GradNode> {
  const targets = new Set(capture);
  const capturedNodes = new Set(capture.map((t) => t.gradFn).filter((n): n is GradNode => n !== null));
  const needed = new Set<GradNode>();
  // children come after their parents in `order`: walk it backwards, so each input's node is decided first
  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k];
    if (node.inputs.some((t) => t && (targets.has(t) || (t.gradFn && (needed.has(t.gradFn) || capturedNodes.has(t.gradFn))))))
      needed.add(node);
  }
  return needed;
}

function walk(roots: readonly Tensor[], seeds: readonly (Tensor | null)[], run: GraphRun): (Tensor | null)[] | null {
  const { retainGraph, capture } = run;
  const graphTensors: Tensor[] = [...roots];
  const grads = new Map<GradNode, Tensor>();
  /** Gradients arriving at leaves: summed here when hooks or capture must see the sum (AccumulateGrad). */
  const leafSums = new Map<Tensor, Tensor>();
  const captured = new Map<GradNode, Tensor>();
  const capturing = capture !== null;
  const addTo = <K>(map: Map<K, Tensor>, key: K, g: Tensor, shape: readonly number[]): void => {
    const prev = map.get(key);
    map.set(key, prev ? gradSum(prev, g) : own(g, shape));
    if (prev) drop(prev);
  };
  roots.forEach((root, r) => {
    // the caller's gradient is never freed: the sums hold their own tensors over its data
    const g0 = seeds[r] ?? root._onesLikeSelf();
    if (root.gradFn) addTo(grads, root.gradFn, g0, root.shape);
    else if (root.requiresGrad) addTo(leafSums, root, g0, root.shape);
    if (!seeds[r]) drop(g0);
  });
  const captureNodes = new Set(capturing ? capture.map((t) => t.gradFn) : []);
  const roots_ = roots.map((t) => t.gradFn).filter((n): n is GradNode => n !== null);
  const order = topoOrder(roots_, run.boundary ? captureNodes : undefined);
  const needed = capturing ? neededNodes(order, capture) : null;
  for (const node of order) {
    let g = grads.get(node);
    grads.delete(node);
    if (g && node._hooks.length) {
      const h = runHooks(node._hooks, g, `the output of ${node.name}`);
      if (h !== g) drop(g); // the engine's own sum of the gradients arriving here
      g = h;
    }
    if (g && captureNodes.has(node)) captured.set(node, own(g, g.shape));
    if (g && !capturing && node._retained && !node._retained.isDisposed) retainGradient(node._retained, g);
    if (!g || (needed && !needed.has(node))) {
      // reached by no gradient (only through inputs that do not require grad): nothing to do but free; not on
      // the way to what autograd.grad asked for: left as it is (the graph may be used again)
      if (g) drop(g);
      if (!retainGraph && !capturing) node.free();
      continue;
    }
    const gis = run.createGraph ? node.applyCreatingGraph(g) : node.apply(g);
    if (isAnomalyEnabled()) checkAnomaly(node, gis);
    if (!retainGraph) for (const inp of node.inputs) if (inp?.gradFn) graphTensors.push(inp);
    node.inputs.forEach((inp, i) => {
      const gi = gis[i];
      if (!inp || !inp.requiresGrad || !gi) return;
      const reduced = sameShape(gi.shape, inp.shape) ? gi : reduceTo(node.name, gi, inp);
      if (inp.gradFn) addTo(grads, inp.gradFn, reduced, inp.shape);
      else if (capturing || inp._leafHooks.length) addTo(leafSums, inp, reduced, inp.shape);
      else accumulateInto(inp, reduced);
      if (reduced !== gi) drop(reduced);
    });
    for (const gi of gis) if (gi && gi !== g) drop(gi);
    drop(g);
    if (!retainGraph) node.free();
  }
  for (const g of grads.values()) drop(g); // nodes below what autograd.grad asked for
  let result: (Tensor | null)[] | null = null;
  if (capturing) {
    result = capture.map((t) => {
      if (t.gradFn) return captured.get(t.gradFn) ?? null;
      const sum = leafSums.get(t);
      if (!sum) return null;
      leafSums.delete(t);
      const h = t._leafHooks.length ? runHooks(t._leafHooks, sum, `a leaf of shape ${fmtShape(t.shape)}`) : sum;
      if (h !== sum) drop(sum);
      return h;
    });
    for (const s of leafSums.values()) drop(s);
  } else {
    for (const [leaf, sum] of leafSums) {
      accumulateLeaf(leaf, sum);
      drop(sum);
    }
  }
  if (!retainGraph) for (const t of graphTensors) releaseLater(t);
  return result;
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
    return creating ? sumToRecorded(g, inp.shape) : sumGradToShape(g, inp.shape);
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
  if (creating || prev?.requiresGrad) t._setGrad(prev ? gradSum(prev, g) : g);
  else if (prev) prev._assign(addGrads(prev, g), 'backward (gradient accumulation)', true);
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
  if (creating || prev?.requiresGrad) {
    // createGraph (or a .grad that is itself part of a graph): out of place, so the sum is differentiable, as PyTorch
    leaf._setGrad(prev ? gradSum(prev, g) : g);
  } else if (prev) {
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

// ---- double backward by composition ---------------------------------------------------------------

/**
 * A `backwardGraph` for an op that has a composite definition (its forward written with other ops): under
 * createGraph, the composite forward runs on the op's inputs and is differentiated with createGraph, so
 * the gradients it returns are recorded through those ops (as PyTorch routes a fused kernel's double
 * backward through its math path). `inputs` are the op's inputs in its gradient order.
 */
export function viaComposite(inputs: readonly (Tensor | null | undefined)[], composite: (...xs: (Tensor | null)[]) => Tensor): BackwardFn {
  return (g) => {
    // each input behind an identity node, so that only the op's own partial derivatives are captured
    // (an input that is computed from another input would otherwise collect both paths)
    const alias = inputs.map((t) => (t && t.requiresGrad ? aliasOf(t) : (t ?? null)));
    const out = composite(...alias);
    const targets = alias.filter((a, i): a is Tensor => a !== null && a !== inputs[i]);
    if (!out.requiresGrad) return inputs.map(() => null);
    // the composite's graph stays: the gradients it returns are computed through it
    const got = runGraph([out], [g], { retainGraph: true, createGraph: true, capture: targets, boundary: true });
    let k = 0;
    return alias.map((a, i) => (a !== null && a !== inputs[i] ? got![k++] : null));
  };
}

function aliasOf(t: Tensor): Tensor {
  const pass = (g: Tensor): Tensor[] => [g];
  return record(t._view([...t.shape]), { name: 'Alias', inputs: [t], backward: pass, backwardGraph: pass });
}

/**
 * Records `out`, a backward's result that is linear in its gradient `g` alone (a scatter, a placement), as
 * an op of `g` (createGraph): its own backward is `adjoint` (the forward op again, itself recorded).
 */
export function recordLinear(name: string, out: Tensor, g: Tensor, adjoint: (h: Tensor) => Tensor): Tensor {
  const back = (h: Tensor): Tensor[] => [adjoint(h)];
  return record(out, { name, inputs: [g], backward: back, backwardGraph: back });
}
