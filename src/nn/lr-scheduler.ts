// Learning-rate schedulers (torch.optim.lr_scheduler), exported as `optim.lrScheduler`. They follow
// PyTorch's recursive ("chainable") formulas, so the values match PyTorch's to the last bit, and like
// PyTorch the constructor performs the initial step (lr = base lr at epoch 0). Call `scheduler.step()`
// after `optimizer.step()`.

import type { Optimizer, ParamGroup } from './optimizers.js';
import { checkOptions } from '../helpers/validate.js';

export abstract class LRScheduler {
  readonly optimizer: Optimizer<ParamGroup>;
  /** The initial lr of each group (PyTorch's base_lrs). */
  baseLrs: number[];
  /** The epoch (number of scheduler steps) the current lrs belong to. */
  lastEpoch: number;
  protected stepCount = 0;
  private lastLr: number[] = [];

  /** The scheduler's name in errors (given by each subclass: class names do not survive minifiers). */
  protected readonly name: string;

  constructor(name: string, optimizer: Optimizer<ParamGroup>, lastEpoch = -1) {
    this.name = name;
    if (!optimizer || !Array.isArray((optimizer as { paramGroups?: unknown }).paramGroups)) {
      throw new Error(`${name}: expects an optimizer (with paramGroups), got ${optimizer === null ? 'null' : typeof optimizer}`);
    }
    if (!Number.isInteger(lastEpoch) || lastEpoch < -1)
      throw new Error(`${name}: lastEpoch must be an integer >= -1, got ${String(lastEpoch)}`);
    this.optimizer = optimizer;
    optimizer.paramGroups.forEach((g, i) => {
      if (lastEpoch === -1) g.initialLr ??= g.lr;
      else if (g.initialLr === undefined) {
        throw new Error(
          `${name}: param 'initialLr' is not specified in paramGroups[${i}] when resuming an optimizer (lastEpoch=${lastEpoch})`,
        );
      }
    });
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
  }

  /** Subclasses call this at the end of their constructor (PyTorch's _initial_step). */
  protected initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** The lrs for `lastEpoch` (computed from the groups' current lrs, PyTorch's get_lr). */
  protected abstract getLr(): number[];

  /** Advances one epoch and writes the new lr into each param group. */
  step(): void {
    this.stepCount++;
    this.lastEpoch++;
    const lrs = this.getLr();
    lrs.forEach((lr, i) => {
      // the optimizer refuses a negative or NaN lr in its constructor; a schedule must not set one either
      if (typeof lr !== 'number' || !(lr >= 0) || lr === Infinity)
        throw new Error(
          `${this.name}: the schedule gives param group ${i} the learning rate ${String(lr)} at epoch ${this.lastEpoch}; it must be a finite number >= 0`,
        );
    });
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = lrs[i];
    });
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The lrs the last step set, one per param group. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** The scheduler's own state (not the optimizer's), to checkpoint and resume. */
  stateDict(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this)) {
      if (k === 'optimizer' || typeof v === 'function' || (Array.isArray(v) && v.some((x) => typeof x === 'function'))) continue;
      out[k] = Array.isArray(v) ? [...v] : v;
    }
    return out;
  }

  loadStateDict(sd: Record<string, unknown>): void {
    if (!sd || typeof sd !== 'object') throw new Error(`${this.name}.loadStateDict: expects the object stateDict() returned`);
    const self = this as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(sd)) {
      if (
        k === 'optimizer' ||
        typeof self[k] === 'function' ||
        (Array.isArray(self[k]) && (self[k] as unknown[]).some((x) => typeof x === 'function'))
      )
        continue;
      self[k] = Array.isArray(v) ? [...v] : v;
    }
  }
}

/** lr = base lr · gamma^⌊epoch / stepSize⌋. */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: Optimizer<ParamGroup>, opts: { stepSize: number; gamma?: number; lastEpoch?: number }) {
    checkOptions('StepLR', opts, ['stepSize', 'gamma', 'lastEpoch']);
    super('StepLR', optimizer, opts?.lastEpoch ?? -1);
    if (!opts || !Number.isInteger(opts.stepSize) || opts.stepSize < 1)
      throw new Error(`StepLR: stepSize must be a positive integer, got ${String(opts?.stepSize)}`);
    this.stepSize = opts.stepSize;
    this.gamma = opts.gamma ?? 0.1;
    if (typeof this.gamma !== 'number' || !Number.isFinite(this.gamma) || this.gamma < 0)
      throw new Error(`StepLR: gamma must be a finite number >= 0, got ${String(opts.gamma)}`);
    this.initialStep();
  }

  protected getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }
}

/** Cosine annealing from the base lr to etaMin over tMax epochs (PyTorch's recursive form, SGDR-style beyond tMax). */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;

  constructor(optimizer: Optimizer<ParamGroup>, opts: { tMax: number; etaMin?: number; lastEpoch?: number }) {
    checkOptions('CosineAnnealingLR', opts, ['tMax', 'etaMin', 'lastEpoch']);
    super('CosineAnnealingLR', optimizer, opts?.lastEpoch ?? -1);
    if (!opts || !Number.isInteger(opts.tMax) || opts.tMax < 1)
      throw new Error(`CosineAnnealingLR: tMax must be a positive integer, got ${String(opts?.tMax)}`);
    this.tMax = opts.tMax;
    this.etaMin = opts.etaMin ?? 0;
    if (typeof this.etaMin !== 'number' || !Number.isFinite(this.etaMin) || this.etaMin < 0)
      throw new Error(`CosineAnnealingLR: etaMin must be a finite number >= 0, got ${String(opts.etaMin)}`);
    this.initialStep();
  }

  protected getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    const T = this.tMax;
    const e = this.lastEpoch;
    const eta = this.etaMin;
    if (e === 0) return groups.map((g) => g.lr);
    if (this.stepCount === 1 && e > 0) {
      return this.baseLrs.map((b) => eta + ((b - eta) * (1 + Math.cos((e * Math.PI) / T))) / 2);
    }
    if (pyMod(e - 1 - T, 2 * T) === 0) {
      return groups.map((g, i) => g.lr + ((this.baseLrs[i] - eta) * (1 - Math.cos(Math.PI / T))) / 2);
    }
    return groups.map((g) => ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (g.lr - eta) + eta);
  }
}

function pyMod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/** lr = base lr · lrLambda(epoch), one function for all groups or one per group. */
export class LambdaLR extends LRScheduler {
  private readonly lambdas: ((epoch: number) => number)[];

  constructor(
    optimizer: Optimizer<ParamGroup>,
    lrLambda: ((epoch: number) => number) | ((epoch: number) => number)[],
    opts: { lastEpoch?: number } = {},
  ) {
    checkOptions('LambdaLR', opts, ['lastEpoch']);
    super('LambdaLR', optimizer, opts.lastEpoch ?? -1);
    const n = optimizer.paramGroups.length;
    if (Array.isArray(lrLambda)) {
      if (lrLambda.length !== n) throw new Error(`LambdaLR: expected ${n} lrLambdas (one per param group), but got ${lrLambda.length}`);
      this.lambdas = [...lrLambda];
    } else {
      this.lambdas = Array.from({ length: n }, () => lrLambda);
    }
    this.lambdas.forEach((f, i) => {
      if (typeof f !== 'function') throw new Error(`LambdaLR: lrLambda ${i} is ${typeof f}, expected a function of the epoch`);
    });
    this.initialStep();
  }

  protected getLr(): number[] {
    return this.baseLrs.map((b, i) => {
      const f = this.lambdas[i](this.lastEpoch);
      if (typeof f !== 'number' || Number.isNaN(f))
        throw new Error(`LambdaLR: lrLambda ${i} returned ${String(f)} at epoch ${this.lastEpoch}, expected a number`);
      return b * f;
    });
  }
}
