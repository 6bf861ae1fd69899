// Optimizers with PyTorch's update rules (torch.optim's single-tensor path), parameter groups and state
// dicts. Each update is one fused elementwise kernel per updated tensor (built with the ops' map-kernel
// generator, so it runs on every GPU.js mode in float32 and on the host path in float64); hyperparameters
// go in as 0-d tensors, so changing lr or the bias correction never recompiles a kernel. Results replace
// the tensors' data in place under noGrad, and every temporary is disposed.
//
// Exports (from src/index.ts as the `optim` namespace, mirroring torch.optim):
//   optim.SGD, optim.Adam, optim.AdamW, optim.Optimizer,
//   optim.lrScheduler.StepLR / CosineAnnealingLR / LambdaLR (like torch.optim.lr_scheduler).
//
//   SGD:   g ← ±g + wd·p;  buf ← g (first step) | μ·buf + (1−dampening)·g;  d ← nesterov ? g + μ·buf : buf;  p ← p − lr·d
//   Adam:  g ← ±g + wd·p;  m ← m + (1−β1)(g − m);  v ← β2·v + (1−β2)g²;  p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)
//   AdamW: as Adam without the wd·p term, and p ← p·(1 − lr·wd) before the update (decoupled decay).

import { Tensor, type DType } from '../autograd/tensor.js';
import { enableGrad, noGrad } from '../autograd/grad-mode.js';
import { noteOptimizerStep } from '../autograd/engine.js';
import { keep } from '../autograd/tidy.js';
import { full, zeros } from '../ops/creation.js';
import { mapKernel } from '../ops/map.js';
import { fusedAdamStep, type AdamItem } from '../ops/optim-step.js';
import { fmtShape } from '../helpers/shape.js';
import { Module, describeValue } from './module.js';
import { checkBoolean, checkOptions } from '../helpers/validate.js';

export interface ParamGroup {
  params: Tensor[];
  lr: number;
  /** Set by the first LR scheduler attached to the optimizer (PyTorch's 'initial_lr'). */
  initialLr?: number;
}

export type ParamGroupInput<G extends ParamGroup> = Partial<Omit<G, 'params'>> & { params: Iterable<Tensor> };
export type ParamsInput<G extends ParamGroup> = Iterable<Tensor> | ParamGroupInput<G>[];

export type OptimizerStateValue = Tensor | number;
export type ParamState = Record<string, OptimizerStateValue>;

/** PyTorch's optimizer state_dict layout: state by parameter index, groups with snake_case keys. */
export interface OptimizerStateDict {
  state: Record<string, ParamState>;
  param_groups: (Record<string, unknown> & { params: number[] })[];
}

const camelToSnake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const snakeToCamel = (k: string): string => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * A value's kind for error messages. gpugrad's own classes are recognised by identity (class names do not
 * survive minifiers); built-ins by their toStringTag (Map, Float32Array, ...); any other object shows its
 * constructor's name, for display only ('Object' for a plain object).
 */
function describe(v: unknown): string {
  return v instanceof Module ? `${describeValue(v)}; pass its parameters()` : describeValue(v);
}

/** 0-d hyperparameter tensors for one step, one set per dtype, disposed together. */
class Scalars {
  private made: Tensor[] = [];
  private cache = new Map<string, Tensor>();
  get(v: number, dtype: DType): Tensor {
    const key = `${dtype}:${v}`;
    let t = this.cache.get(key);
    if (!t) {
      t = full([], v, { dtype });
      this.cache.set(key, t);
      this.made.push(t);
    }
    return t;
  }
  dispose(): void {
    for (const t of this.made) t.dispose();
    this.made = [];
    this.cache.clear();
  }
}

/** Replaces t's data with the kernel result and disposes the result. */
/**
 * Zeros for optimizer state: long-lived like the parameter, so on GL it keeps a device copy from its first
 * kernel on (Storage.deviceResident) and the second step compiles nothing new.
 */
function stateZeros(p: Tensor): Tensor {
  const t = zeros(p.shape, { dtype: p.dtype });
  t._storageForKernel().deviceResident = true;
  return t;
}

/** A parameter with its gradient and its state, for one step. */
interface StepItem {
  p: Tensor;
  g: Tensor;
  st: ParamState;
}

function assignFrom(t: Tensor, result: Tensor, op: string): void {
  t._assign(result, op, true);
  result.dispose();
}

export abstract class Optimizer<G extends ParamGroup = ParamGroup> {
  /** The parameter groups; change `lr` (or any hyperparameter) here between steps. */
  paramGroups: G[] = [];
  /** Per-parameter state (PyTorch's names: 'step', 'exp_avg', 'exp_avg_sq', 'momentum_buffer', ...). */
  state = new Map<Tensor, ParamState>();
  readonly defaults: Omit<G, 'params'>;
  /**
   * The optimizer's name in error messages (a getter: it is needed while the base constructor runs).
   * Each built-in optimizer returns its own name, never its class name (minifiers rename classes); a
   * subclass that does not override it is called 'Optimizer'.
   */
  protected get name(): string {
    return 'Optimizer';
  }

  constructor(params: ParamsInput<G>, defaults: Omit<G, 'params'>) {
    this.defaults = defaults;
    if (params instanceof Tensor) {
      throw new Error(
        `${this.name}: params argument given to the optimizer should be an iterable of Tensors or of parameter groups, but got a Tensor`,
      );
    }
    if (params === null || params === undefined || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      throw new Error(`${this.name}: params must be an iterable of Tensors or an array of parameter groups, got ${describe(params)}`);
    }
    const list = [...(params as Iterable<unknown>)];
    if (list.length === 0) throw new Error(`${this.name}: optimizer got an empty parameter list`);
    const groups =
      list[0] instanceof Tensor ? [{ params: list as Tensor[] } as unknown as ParamGroupInput<G>] : (list as ParamGroupInput<G>[]);
    for (const g of groups) this.addParamGroup(g);
  }

  /** Validates hyperparameters (each optimizer names its own). */
  protected abstract validate(group: G, where: string): void;

  /** Adds a group; options it leaves out come from the optimizer's defaults. */
  addParamGroup(group: ParamGroupInput<G>): void {
    const where = `param group ${this.paramGroups.length}`;
    if (group === null || typeof group !== 'object' || group instanceof Tensor) {
      throw new Error(`${this.name}: ${where} must be an object with a params list, got ${describe(group)}`);
    }
    if (!group.params || typeof (group.params as Iterable<Tensor>)[Symbol.iterator] !== 'function' || group.params instanceof Tensor) {
      throw new Error(`${this.name}: ${where} needs params as an iterable of Tensors, got ${describe(group.params)}`);
    }
    const params = [...group.params];
    params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new Error(`${this.name}: ${where}: params[${i}] is ${describe(p)}, not a Tensor`);
      if (p.isDisposed)
        throw new Error(`${this.name}: ${where}: params[${i}] (shape ${fmtShape(p.shape)}) was disposed by ${p._disposedBy}`);
      if (p.dtype !== 'float32' && p.dtype !== 'float64') {
        throw new Error(
          `${this.name}: ${where}: params[${i}] (shape ${fmtShape(p.shape)}) is ${p.dtype}; only floating point tensors can be optimized`,
        );
      }
      if (!p.isLeaf)
        throw new Error(
          `${this.name}: ${where}: params[${i}] (shape ${fmtShape(p.shape)}) is not a leaf; can't optimize a non-leaf Tensor`,
        );
    });
    if (new Set(params).size !== params.length) {
      throw new Error(`${this.name}: ${where} contains the same parameter more than once`);
    }
    const taken = new Set(this.paramGroups.flatMap((g) => g.params));
    if (params.some((p) => taken.has(p))) throw new Error(`${this.name}: some parameters appear in more than one parameter group`);
    checkOptions(this.name, group, ['params', 'initialLr', ...Object.keys(this.defaults)], where);
    const full = { ...this.defaults } as Record<string, unknown>;
    for (const [k, v] of Object.entries(group)) if (k !== 'params' && v !== undefined) full[k] = v;
    full.params = params;
    const g = full as unknown as G;
    this.validate(g, where);
    this.paramGroups.push(g);
  }

  /** Drops the gradients (setToNone, PyTorch's default) or zeroes them. */
  zeroGrad(setToNone = true): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        const grad = p._gradInternal();
        if (!grad) continue;
        if (setToNone) p.zeroGrad();
        else noGrad(() => grad.zero_());
      }
    }
  }

  /** One update of every parameter that has a gradient; `closure` re-evaluates the loss (returned). */
  step<T = undefined>(closure?: () => T): T | undefined {
    let loss: T | undefined;
    if (closure) loss = enableGrad(closure);
    noteOptimizerStep();
    const scalars = new Scalars();
    try {
      noGrad(() => {
        for (const group of this.paramGroups) {
          const items: StepItem[] = [];
          for (const p of group.params) {
            const g = p._gradInternal();
            if (!g) continue;
            if (g.dtype !== p.dtype || g.shape.length !== p.shape.length || g.shape.some((d, i) => d !== p.shape[i])) {
              throw new Error(
                `${this.name}.step: the gradient (shape ${fmtShape(g.shape)}, ${g.dtype}) does not match its parameter (shape ${fmtShape(p.shape)}, ${p.dtype})`,
              );
            }
            let st = this.state.get(p);
            if (!st) {
              st = {};
              this.state.set(p, st);
            }
            items.push({ p, g, st });
          }
          if (!this.updateGroup(group, items))
            for (const { p, g, st } of items) this.update(group, p, g, st, (v) => scalars.get(v, p.dtype));
          for (const { st } of items) for (const v of Object.values(st)) if (v instanceof Tensor) keep(v); // optimizer state outlives tidy()
        }
      });
    } finally {
      scalars.dispose();
    }
    return loss;
  }

  /**
   * Updates every parameter of a group with a gradient in one fused call where the optimizer has one and
   * it can run here; false makes step() call update() per parameter instead (called under noGrad).
   */
  protected updateGroup(_group: G, _items: readonly StepItem[]): boolean {
    return false;
  }

  /** Updates one parameter in place (called under noGrad). */
  protected abstract update(group: G, p: Tensor, grad: Tensor, state: ParamState, s: (v: number) => Tensor): void;

  /** PyTorch's layout: { state: {index: {...}}, param_groups: [{lr, ..., params: [indices]}] } (tensors are referenced, not copied). */
  stateDict(): OptimizerStateDict {
    let index = 0;
    const ids = new Map<Tensor, number>();
    const param_groups = this.paramGroups.map((g) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(g)) if (k !== 'params') out[camelToSnake(k)] = Array.isArray(v) ? [...v] : v;
      const params = g.params.map((p) => {
        if (!ids.has(p)) ids.set(p, index++);
        return ids.get(p)!;
      });
      return { ...out, params };
    });
    const state: Record<string, ParamState> = {};
    for (const [p, st] of this.state) {
      const id = ids.get(p);
      if (id !== undefined) state[String(id)] = { ...st };
    }
    return { state, param_groups };
  }

  /** Restores hyperparameters and state (tensors are copied and cast to each parameter's dtype). */
  loadStateDict(sd: OptimizerStateDict): void {
    const fn = `${this.name}.loadStateDict`;
    if (!sd || typeof sd !== 'object' || !Array.isArray(sd.param_groups) || typeof sd.state !== 'object') {
      throw new Error(`${fn}: expects { state, param_groups } as returned by stateDict()`);
    }
    if (sd.param_groups.length !== this.paramGroups.length) {
      throw new Error(
        `${fn}: loaded state dict has ${sd.param_groups.length} parameter groups but the optimizer has ${this.paramGroups.length}`,
      );
    }
    const byId = new Map<number, Tensor>();
    sd.param_groups.forEach((sg, i) => {
      const g = this.paramGroups[i];
      if (!Array.isArray(sg.params) || sg.params.length !== g.params.length) {
        throw new Error(
          `${fn}: loaded state dict contains a parameter group (${i}) of ${sg.params?.length} parameters that doesn't match the size of optimizer's group (${g.params.length})`,
        );
      }
      sg.params.forEach((id, j) => byId.set(id, g.params[j]));
    });
    const newState = new Map<Tensor, ParamState>();
    for (const [id, st] of Object.entries(sd.state)) {
      const p = byId.get(Number(id));
      if (!p) throw new Error(`${fn}: state for parameter ${id} does not belong to any parameter group`);
      const copy: ParamState = {};
      for (const [k, v] of Object.entries(st)) {
        if (v instanceof Tensor) {
          if (k !== 'step' && (v.shape.length !== p.shape.length || v.shape.some((d, i) => d !== p.shape[i]))) {
            throw new Error(
              `${fn}: state '${k}' of parameter ${id} has shape ${fmtShape(v.shape)} but the parameter has shape ${fmtShape(p.shape)}`,
            );
          }
          copy[k] = k === 'step' ? v.item() : noGrad(() => (v.dtype === p.dtype ? v.clone() : v.to(p.dtype)));
        } else if (typeof v === 'number') {
          copy[k] = v;
        } else {
          throw new Error(`${fn}: state '${k}' of parameter ${id} is ${describe(v)}, expected a Tensor or a number`);
        }
      }
      newState.set(p, copy);
    }
    sd.param_groups.forEach((sg, i) => {
      const g = this.paramGroups[i] as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(sg)) if (k !== 'params') g[snakeToCamel(k)] = Array.isArray(v) ? [...v] : v;
      this.validate(this.paramGroups[i], `param group ${i}`);
    });
    for (const st of newState.values()) for (const v of Object.values(st)) if (v instanceof Tensor) keep(v);
    this.state = newState;
  }
}

function checkNum(opt: string, where: string, name: string, v: unknown, ok: (x: number) => boolean, rule: string): void {
  if (typeof v !== 'number' || Number.isNaN(v) || !ok(v)) throw new Error(`${opt}: ${where}: invalid ${name}: ${String(v)} (${rule})`);
}

// ---- SGD ----------------------------------------------------------------------------------------------

export interface SGDGroup extends ParamGroup {
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

export type SGDOptions = Partial<Omit<SGDGroup, 'params' | 'initialLr'>>;

/** Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay (PyTorch's rule). */
export class SGD extends Optimizer<SGDGroup> {
  protected override get name(): string {
    return 'SGD';
  }

  constructor(params: ParamsInput<SGDGroup>, opts: SGDOptions = {}) {
    checkOptions('SGD', opts, ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'maximize']);
    super(params, {
      lr: opts.lr ?? 1e-3,
      momentum: opts.momentum ?? 0,
      dampening: opts.dampening ?? 0,
      weightDecay: opts.weightDecay ?? 0,
      nesterov: opts.nesterov ?? false,
      maximize: opts.maximize ?? false,
    });
  }

  protected validate(g: SGDGroup, where: string): void {
    checkNum('SGD', where, 'learning rate', g.lr, (x) => x >= 0, 'must be >= 0');
    checkNum('SGD', where, 'momentum value', g.momentum, (x) => x >= 0, 'must be >= 0');
    checkNum('SGD', where, 'dampening value', g.dampening, () => true, 'a number');
    checkNum('SGD', where, 'weight_decay value', g.weightDecay, (x) => x >= 0, 'must be >= 0');
    checkBoolean('SGD', `${where}: nesterov`, g.nesterov, false);
    checkBoolean('SGD', `${where}: maximize`, g.maximize, false);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new Error(
        `SGD: ${where}: Nesterov momentum requires a momentum and zero dampening (momentum=${g.momentum}, dampening=${g.dampening})`,
      );
    }
  }

  protected update(group: SGDGroup, p: Tensor, grad: Tensor, st: ParamState, s: (v: number) => Tensor): void {
    const gg = `const gg = ${group.maximize ? '-g' : 'g'} + wd * p;`;
    const base: [string, Tensor][] = [
      ['p', p],
      ['g', grad],
      ['wd', s(group.weightDecay)],
      ['lr', s(group.lr)],
    ];
    if (group.momentum === 0) {
      assignFrom(p, mapKernel('sgd.p', 'p - lr * gg', base, p.shape, p.dtype, { pre: gg }), 'SGD.step');
      return;
    }
    const mom = s(group.momentum);
    let buf = st.momentum_buffer as Tensor | undefined;
    if (!buf) {
      buf = mapKernel('sgd.buf0', 'gg', base.slice(0, 3), p.shape, p.dtype, { pre: gg });
      st.momentum_buffer = buf;
    } else {
      const nb = mapKernel(
        'sgd.buf',
        'buf * mom + d1 * gg',
        [...base.slice(0, 3), ['buf', buf], ['mom', mom], ['d1', s(1 - group.dampening)]],
        p.shape,
        p.dtype,
        { pre: gg },
      );
      assignFrom(buf, nb, 'SGD.step');
    }
    const expr = group.nesterov ? 'p - lr * (gg + mom * buf)' : 'p - lr * buf';
    const ins: [string, Tensor][] = group.nesterov
      ? [...base, ['buf', buf], ['mom', mom]]
      : [
          ['p', p],
          ['buf', buf],
          ['lr', s(group.lr)],
        ];
    assignFrom(
      p,
      mapKernel(group.nesterov ? 'sgd.pn' : 'sgd.pm', expr, ins, p.shape, p.dtype, group.nesterov ? { pre: gg } : {}),
      'SGD.step',
    );
  }
}

// ---- Adam / AdamW -------------------------------------------------------------------------------------

export interface AdamGroup extends ParamGroup {
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

const ADAM_OPTIONS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize'];
export type AdamOptions = Partial<Omit<AdamGroup, 'params' | 'initialLr'>>;

abstract class AdamBase extends Optimizer<AdamGroup> {
  protected abstract get decoupled(): boolean;

  protected validate(g: AdamGroup, where: string): void {
    const n = this.name;
    checkNum(n, where, 'learning rate', g.lr, (x) => x >= 0, 'must be >= 0');
    checkNum(n, where, 'epsilon value', g.eps, (x) => x >= 0, 'must be >= 0');
    if (!Array.isArray(g.betas) || g.betas.length !== 2)
      throw new Error(`${n}: ${where}: betas must be a pair [beta1, beta2], got ${JSON.stringify(g.betas)}`);
    checkNum(n, where, 'beta parameter at index 0', g.betas[0], (x) => x >= 0 && x < 1, 'must be in [0, 1)');
    checkNum(n, where, 'beta parameter at index 1', g.betas[1], (x) => x >= 0 && x < 1, 'must be in [0, 1)');
    checkNum(n, where, 'weight_decay value', g.weightDecay, (x) => x >= 0, 'must be >= 0');
    checkBoolean(n, `${where}: amsgrad`, g.amsgrad, false);
    checkBoolean(n, `${where}: maximize`, g.maximize, false);
  }

  private initState(group: AdamGroup, p: Tensor, st: ParamState): void {
    if (st.step !== undefined) return;
    st.step = 0;
    st.exp_avg = stateZeros(p);
    st.exp_avg_sq = stateZeros(p);
    if (group.amsgrad) st.max_exp_avg_sq = stateZeros(p);
  }

  /** The fused multi-tensor step (ops/optim-step.ts) where it runs: every parameter of the group in one call. */
  protected override updateGroup(group: AdamGroup, items: readonly StepItem[]): boolean {
    if (items.length === 0) return true;
    for (const { p, st } of items) this.initState(group, p, st);
    const fusedItems: AdamItem[] = items.map(({ p, g, st }) => ({
      p,
      g,
      m: st.exp_avg as Tensor,
      v: st.exp_avg_sq as Tensor,
      vmax: group.amsgrad ? (st.max_exp_avg_sq as Tensor) : null,
      step: (st.step as number) + 1,
    }));
    const hyper = { ...group, decoupled: this.decoupled };
    if (!fusedAdamStep(fusedItems, hyper)) return false;
    for (const { st } of items) st.step = (st.step as number) + 1;
    return true;
  }

  protected update(group: AdamGroup, p: Tensor, grad: Tensor, st: ParamState, s: (v: number) => Tensor): void {
    const [b1, b2] = group.betas;
    this.initState(group, p, st);
    const step = (st.step as number) + 1;
    st.step = step;
    const m = st.exp_avg as Tensor;
    const v = st.exp_avg_sq as Tensor;
    const sign = group.maximize ? '-g' : 'g';
    const l2 = !this.decoupled && group.weightDecay !== 0;
    const gg = `const gg = ${sign}${l2 ? ' + wd * p' : ''};`;
    const gIns: [string, Tensor][] = [
      ['g', grad],
      ...(l2
        ? ([
            ['p', p],
            ['wd', s(group.weightDecay)],
          ] as [string, Tensor][])
        : []),
    ];
    assignFrom(
      m,
      mapKernel('adam.m', 'm + (gg - m) * c1', [['m', m], ...gIns, ['c1', s(1 - b1)]], p.shape, p.dtype, { pre: gg }),
      `${this.name}.step`,
    );
    assignFrom(
      v,
      mapKernel('adam.v', 'v * b2 + gg * gg * c2', [['v', v], ...gIns, ['b2', s(b2)], ['c2', s(1 - b2)]], p.shape, p.dtype, { pre: gg }),
      `${this.name}.step`,
    );
    let vhat = v;
    if (group.amsgrad) {
      const vmax = st.max_exp_avg_sq as Tensor;
      assignFrom(
        vmax,
        mapKernel(
          'adam.vmax',
          '(a >= b ? a : b)',
          [
            ['a', vmax],
            ['b', v],
          ],
          p.shape,
          p.dtype,
        ),
        `${this.name}.step`,
      );
      vhat = vmax;
    }
    const bc1 = 1 - b1 ** step;
    const bc2 = 1 - b2 ** step;
    const ins: [string, Tensor][] = [
      ['p', p],
      ['m', m],
      ['v', vhat],
      ['ss', s(group.lr / bc1)],
      ['bc2s', s(Math.sqrt(bc2))],
      ['eps', s(group.eps)],
    ];
    const decay = this.decoupled && group.weightDecay !== 0;
    if (decay) ins.push(['dec', s(1 - group.lr * group.weightDecay)]);
    const expr = `${decay ? 'p * dec' : 'p'} - ss * m / (Math.sqrt(v) / bc2s + eps)`;
    assignFrom(p, mapKernel('adam.p', expr, ins, p.shape, p.dtype), `${this.name}.step`);
  }
}

/** Adam (Kingma & Ba) with PyTorch's bias correction; weightDecay adds an L2 term to the gradient. */
export class Adam extends AdamBase {
  protected override get name(): string {
    return 'Adam';
  }
  protected get decoupled(): boolean {
    return false;
  }

  constructor(params: ParamsInput<AdamGroup>, opts: AdamOptions = {}) {
    checkOptions('Adam', opts, ADAM_OPTIONS);
    super(params, {
      lr: opts.lr ?? 1e-3,
      betas: opts.betas ? [...opts.betas] : [0.9, 0.999],
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 0,
      amsgrad: opts.amsgrad ?? false,
      maximize: opts.maximize ?? false,
    });
  }
}

/** AdamW: Adam with decoupled weight decay p ← p·(1 − lr·weightDecay) (default weightDecay 0.01). */
export class AdamW extends AdamBase {
  protected override get name(): string {
    return 'AdamW';
  }
  protected get decoupled(): boolean {
    return true;
  }

  constructor(params: ParamsInput<AdamGroup>, opts: AdamOptions = {}) {
    checkOptions('AdamW', opts, ADAM_OPTIONS);
    super(params, {
      lr: opts.lr ?? 1e-3,
      betas: opts.betas ? [...opts.betas] : [0.9, 0.999],
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 0.01,
      amsgrad: opts.amsgrad ?? false,
      maximize: opts.maximize ?? false,
    });
  }
}

// ---- checkpoints ---------------------------------------------------------------------------------

/**
 * Splits an optimizer state dict into tensors ('state.0.exp_avg', ...) and one metadata string (the
 * param groups and the numeric state as JSON under 'optimizer'), ready for `saveSafetensors`.
 */
export function flattenOptimizerState(sd: OptimizerStateDict): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const tensors: Record<string, Tensor> = {};
  const numbers: Record<string, Record<string, number>> = {};
  for (const [id, st] of Object.entries(sd.state)) {
    for (const [k, v] of Object.entries(st)) {
      if (v instanceof Tensor) tensors[`state.${id}.${k}`] = v;
      else (numbers[id] ??= {})[k] = v;
    }
  }
  return { tensors, metadata: { optimizer: JSON.stringify({ param_groups: sd.param_groups, state: numbers }) } };
}

/** The inverse of flattenOptimizerState (extra tensors, e.g. model weights in the same file, are ignored). */
export function unflattenOptimizerState(tensors: Record<string, Tensor>, metadata: Record<string, string>): OptimizerStateDict {
  const raw = metadata?.optimizer;
  if (typeof raw !== 'string')
    throw new Error(`unflattenOptimizerState: metadata has no 'optimizer' entry (keys: ${JSON.stringify(Object.keys(metadata ?? {}))})`);
  let parsed: { param_groups: OptimizerStateDict['param_groups']; state: Record<string, Record<string, number>> };
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new Error(`unflattenOptimizerState: metadata 'optimizer' is not valid JSON: ${(e as Error).message}`);
  }
  const state: Record<string, ParamState> = {};
  for (const [id, nums] of Object.entries(parsed.state ?? {})) state[id] = { ...nums };
  for (const [key, t] of Object.entries(tensors)) {
    const m = /^state\.(\d+)\.(.+)$/.exec(key);
    if (!m) continue;
    (state[m[1]] ??= {})[m[2]] = t;
  }
  return { state, param_groups: parsed.param_groups };
}
