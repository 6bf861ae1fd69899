import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { manualSeed, memory, nn, optim, randn, tensor, zeros, type DType, type Tensor } from '../../src/index.js';
import { MODES, useMode, values, expectClose } from '../support/helpers.js';

const { SGD, Adam, AdamW } = optim;
const { StepLR, CosineAnnealingLR, LambdaLR } = optim.lrScheduler;

interface TJ {
  shape: number[];
  dtype: string;
  data: number[];
}
interface OptCase {
  name: string;
  optimizer: 'SGD' | 'Adam' | 'AdamW';
  options: Record<string, unknown>;
  params: TJ[];
  steps: { grads: TJ[]; params: TJ[] }[];
}
interface SchedCase {
  name: string;
  scheduler: 'StepLR' | 'CosineAnnealingLR';
  lr: number;
  options: Record<string, number>;
  lrs: number[];
}
interface ClipCase {
  name: string;
  options: { maxNorm: number; normType: number | string };
  grads: TJ[];
  totalNorm: number;
  clippedGrads: TJ[];
}
const FIX = JSON.parse(readFileSync(new URL('../fixtures/optim.json', import.meta.url), 'utf8')) as {
  optimizers: OptCase[];
  schedulers: SchedCase[];
  clipGradNorm: ClipCase[];
};
const toT = (j: TJ, dtype: DType): Tensor => tensor(j.data, { shape: j.shape, dtype });

function makeOpt(kind: string, params: Tensor[], options: Record<string, unknown>): optim.Optimizer {
  if (kind === 'SGD') return new SGD(params, options as optim.SGDOptions);
  if (kind === 'Adam') return new Adam(params, options as optim.AdamOptions);
  return new AdamW(params, options as optim.AdamOptions);
}

/** Runs a fixture case, returning the parameter values after each step. */
function runCase(c: OptCase, dtype: DType): number[][][] {
  const ps = c.params.map((p) => toT(p, dtype).requiresGrad_());
  const opt = makeOpt(c.optimizer, ps, c.options);
  return c.steps.map((s) => {
    ps.forEach((p, i) => {
      p.grad = toT(s.grads[i], dtype);
    });
    opt.step();
    return ps.map(values);
  });
}

// ---- hand-written float64 references (PyTorch's single-tensor update rules) ------------------------------

interface Ref {
  p: number[];
  buf?: number[];
  m?: number[];
  v?: number[];
  vmax?: number[];
  t: number;
}

function sgdRef(
  s: Ref,
  g: number[],
  o: { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean; maximize?: boolean },
): void {
  const mom = o.momentum ?? 0;
  const damp = o.dampening ?? 0;
  const wd = o.weightDecay ?? 0;
  const gg = g.map((x, i) => (o.maximize ? -x : x) + wd * s.p[i]);
  let d = gg;
  if (mom !== 0) {
    s.buf = s.buf ? s.buf.map((b, i) => b * mom + (1 - damp) * gg[i]) : [...gg];
    d = o.nesterov ? gg.map((x, i) => x + mom * s.buf![i]) : s.buf;
  }
  s.p = s.p.map((x, i) => x - o.lr * d[i]);
}

function adamRef(
  s: Ref,
  g: number[],
  o: { lr: number; betas: [number, number]; eps: number; weightDecay: number; amsgrad?: boolean },
  decoupled: boolean,
): void {
  const [b1, b2] = o.betas;
  s.t += 1;
  if (decoupled) s.p = s.p.map((x) => x * (1 - o.lr * o.weightDecay));
  const gg = decoupled ? g : g.map((x, i) => x + o.weightDecay * s.p[i]);
  s.m = (s.m ?? g.map(() => 0)).map((m, i) => b1 * m + (1 - b1) * gg[i]);
  s.v = (s.v ?? g.map(() => 0)).map((v, i) => b2 * v + (1 - b2) * gg[i] * gg[i]);
  let v = s.v;
  if (o.amsgrad) v = s.vmax = (s.vmax ?? g.map(() => 0)).map((x, i) => Math.max(x, s.v![i]));
  const bc1 = 1 - b1 ** s.t;
  const bc2 = 1 - b2 ** s.t;
  s.p = s.p.map((x, i) => x - (o.lr / bc1) * (s.m![i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + o.eps)));
}

const HAND_CASES: { name: string; make: (ps: Tensor[]) => optim.Optimizer; ref: (s: Ref, g: number[]) => void }[] = [
  { name: 'SGD plain', make: (ps) => new SGD(ps, { lr: 0.1 }), ref: (s, g) => sgdRef(s, g, { lr: 0.1 }) },
  {
    name: 'SGD momentum, dampening, weight decay, maximize',
    make: (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, dampening: 0.2, weightDecay: 0.1, maximize: true }),
    ref: (s, g) => sgdRef(s, g, { lr: 0.05, momentum: 0.9, dampening: 0.2, weightDecay: 0.1, maximize: true }),
  },
  {
    name: 'SGD nesterov',
    make: (ps) => new SGD(ps, { lr: 0.1, momentum: 0.8, nesterov: true, weightDecay: 0.01 }),
    ref: (s, g) => sgdRef(s, g, { lr: 0.1, momentum: 0.8, nesterov: true, weightDecay: 0.01 }),
  },
  {
    name: 'Adam with L2 weight decay',
    make: (ps) => new Adam(ps, { lr: 0.02, betas: [0.8, 0.95], eps: 1e-6, weightDecay: 0.1 }),
    ref: (s, g) => adamRef(s, g, { lr: 0.02, betas: [0.8, 0.95], eps: 1e-6, weightDecay: 0.1 }, false),
  },
  {
    name: 'Adam amsgrad',
    make: (ps) => new Adam(ps, { lr: 0.02, amsgrad: true }),
    ref: (s, g) => adamRef(s, g, { lr: 0.02, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: true }, false),
  },
  {
    name: 'AdamW defaults (weightDecay 0.01)',
    make: (ps) => new AdamW(ps, { lr: 0.05 }),
    ref: (s, g) => adamRef(s, g, { lr: 0.05, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 }, true),
  },
];

function runHand(c: (typeof HAND_CASES)[number], dtype: DType, steps = 3): { got: number[][]; want: number[][] } {
  manualSeed(11);
  const init = [randn([2, 3], { dtype: 'float64' }), randn([3], { dtype: 'float64' })];
  const grads = Array.from({ length: steps }, () => init.map((p) => randn(p.shape, { dtype: 'float64' })));
  const ps = init.map((p) => p.to(dtype).requiresGrad_());
  const refs: Ref[] = init.map((p) => ({ p: values(p), t: 0 }));
  const opt = c.make(ps);
  for (const gs of grads) {
    ps.forEach((p, i) => {
      p.grad = gs[i].to(dtype);
      c.ref(refs[i], values(gs[i]));
    });
    opt.step();
  }
  return { got: ps.map(values), want: refs.map((r) => r.p) };
}

describe('optimizers in float64 (host path)', () => {
  beforeAll(() => useMode(MODES[0]));

  for (const c of HAND_CASES) {
    it(`${c.name}: matches the hand-written float64 update`, () => {
      const { got, want } = runHand(c, 'float64');
      got.forEach((g, i) => expectClose(g, want[i], 1e-13, 1e-12, `${c.name} param ${i}`));
    });
  }

  for (const c of FIX.optimizers) {
    it(`PyTorch fixture: ${c.name}`, () => {
      const got = runCase(c, 'float64');
      got.forEach((ps, s) => ps.forEach((p, i) => expectClose(p, c.steps[s].params[i].data, 1e-12, 1e-10, `step ${s + 1} param ${i}`)));
    });
  }
});

describe.each(MODES)('optimizers on %s (float32)', (mode) => {
  beforeAll(() => useMode(mode));

  it('each optimizer matches the hand-written float64 update', () => {
    for (const c of HAND_CASES) {
      const { got, want } = runHand(c, 'float32');
      got.forEach((g, i) => expectClose(g, want[i], 2e-6, 2e-5, `${c.name} param ${i}`));
    }
  });

  it('each optimizer matches PyTorch (test/fixtures/optim.json)', () => {
    for (const c of FIX.optimizers) {
      const got = runCase(c, 'float32');
      got.forEach((ps, s) =>
        ps.forEach((p, i) => expectClose(p, c.steps[s].params[i].data, 2e-6, 2e-5, `${c.name} step ${s + 1} param ${i}`)),
      );
    }
  });

  it('a training loop does not leak tensors, storages or textures', () => {
    manualSeed(12);
    const ps = [randn([4, 3]).requiresGrad_(), randn([3]).requiresGrad_()];
    const grads = ps.map((p) => randn(p.shape));
    const opts = [new AdamW(ps, { lr: 0.01, amsgrad: true }), new SGD(ps, { lr: 0.01, momentum: 0.9, nesterov: true })];
    const stepAll = (): void => {
      for (const o of opts) {
        ps.forEach((p, i) => {
          p.grad = grads[i];
        });
        o.step();
      }
    };
    stepAll();
    const before = memory();
    for (let i = 0; i < 5; i++) stepAll();
    const after = memory();
    expect(after.tensors).toBeLessThanOrEqual(before.tensors);
    expect(after.storages).toBeLessThanOrEqual(before.storages);
    expect(after.textures).toBeLessThanOrEqual(before.textures);
  });

  it('clipGradNorm matches PyTorch', () => {
    for (const c of FIX.clipGradNorm) {
      const ps = c.grads.map((g) => zeros(g.shape).requiresGrad_());
      ps.forEach((p, i) => {
        p.grad = toT(c.grads[i], 'float32');
      });
      const nt = c.options.normType === 'Infinity' ? Infinity : Number(c.options.normType);
      const total = nn.clipGradNorm(ps, c.options.maxNorm, nt).item();
      expect(Math.abs(total - c.totalNorm), c.name).toBeLessThan(1e-5 * c.totalNorm);
      ps.forEach((p, i) => expectClose(p.grad!, c.clippedGrads[i].data, 1e-6, 1e-5, `${c.name} grad ${i}`));
    }
  });
});

describe('clipGradNorm (float64)', () => {
  beforeAll(() => useMode(MODES[0]));

  it('matches PyTorch to float64 precision, returns a 0-d tensor, leaves small gradients alone', () => {
    for (const c of FIX.clipGradNorm) {
      const ps = c.grads.map((g) => zeros(g.shape, { dtype: 'float64' }).requiresGrad_());
      const gs = c.grads.map((g) => toT(g, 'float64'));
      ps.forEach((p, i) => {
        p.grad = gs[i];
      });
      const nt = c.options.normType === 'Infinity' ? Infinity : Number(c.options.normType);
      const total = nn.clipGradNorm(ps, c.options.maxNorm, nt).item();
      expect(nn.clipGradNorm(ps, c.options.maxNorm * 1e9, nt).shape).toEqual([]);
      expect(total).toBeCloseTo(c.totalNorm, 12);
      ps.forEach((p, i) => expectClose(p.grad!, c.clippedGrads[i].data, 1e-14, 1e-12, `${c.name} grad ${i}`));
      if (c.totalNorm < c.options.maxNorm) ps.forEach((p, i) => expect(values(p.grad!)).toEqual(c.grads[i].data));
    }
  });

  it('other norm types, no gradients, non-finite norms, clipGradValue', () => {
    const p = zeros([3], { dtype: 'float64' }).requiresGrad_();
    expect(nn.clipGradNorm([p], 1).item()).toBe(0);
    p.grad = tensor([3, -4, 12], { dtype: 'float64' });
    expect(nn.clipGradNorm(p, 100, 1).item()).toBeCloseTo(19, 12);
    expect(nn.clipGradNorm(p, 100, 3).item()).toBeCloseTo((27 + 64 + 1728) ** (1 / 3), 12);
    const total = nn.clipGradNorm(p, 6.5, 2).item();
    expect(total).toBeCloseTo(13, 12);
    expectClose(
      p.grad!,
      [3, -4, 12].map((v) => (v * 6.5) / (13 + 1e-6)),
      1e-14,
      1e-12,
      'clipped',
    );
    p.grad = tensor([1, Number.NaN, 2], { dtype: 'float64' });
    expect(() => nn.clipGradNorm(p, 1, 2, { errorIfNonfinite: true })).toThrow(
      /clipGradNorm: the total norm of order 2 for gradients from `parameters` is non-finite \(NaN\)/,
    );
    expect(() => nn.clipGradNorm(p, 1, 0)).toThrow(/clipGradNorm: normType must be a positive number or Infinity, got 0/);
    p.grad = tensor([-3, 0.5, 2], { dtype: 'float64' });
    nn.clipGradValue([p], 1);
    expect(values(p.grad)).toEqual([-1, 0.5, 1]);
  });
});

// Values printed by torch 1.13's clip_grad_norm_ (float32 unless noted).
describe.each(MODES)('clipGradNorm with non-finite norms on %s (as PyTorch)', (mode) => {
  beforeAll(() => useMode(mode));
  const setup = (a: number[], b: number[], dtypeB: DType = 'float32'): Tensor[] => {
    const p = zeros([a.length]).requiresGrad_();
    const q = zeros([b.length], { dtype: dtypeB }).requiresGrad_();
    p.grad = tensor(a, { dtype: 'float32' });
    q.grad = tensor(b, { dtype: dtypeB });
    return [p, q];
  };
  const grads = (ps: Tensor[]): number[][] => ps.map((p) => values(p.grad!));

  it('a NaN gradient makes the total and every gradient NaN, for every norm type', () => {
    for (const nt of [2, 1, 3, Infinity]) {
      const ps = setup([1, Number.NaN, 2], [0.5, -0.5]);
      expect(nn.clipGradNorm(ps, 1, nt).item(), `normType ${nt}`).toBeNaN();
      for (const g of grads(ps)) for (const v of g) expect(v, `normType ${nt}`).toBeNaN();
    }
  });

  it('an infinite gradient makes the total Infinity, finite entries (signed) 0 and infinite ones NaN', () => {
    for (const nt of [2, 1, 3, Infinity]) {
      for (const inf of [Infinity, -Infinity]) {
        const ps = setup([1, inf, 2], [0.5, -0.5]);
        expect(nn.clipGradNorm(ps, 1, nt).item(), `normType ${nt}`).toBe(Infinity);
        expect(grads(ps), `normType ${nt}, ${inf}`).toEqual([
          [0, Number.NaN, 0],
          [0, -0],
        ]);
      }
    }
  });

  it('float32 overflow of the norm is an infinite norm; the float64 one is not (and errorIfNonfinite throws, touching nothing)', () => {
    let ps = setup([1e30, 1e30, 2], [0.5, -0.5]);
    expect(nn.clipGradNorm(ps, 1).item()).toBe(Infinity);
    expect(grads(ps)).toEqual([
      [0, 0, 0],
      [0, -0],
    ]);
    ps = setup([1e30, 1e30, 2], [0.5, -0.5]);
    expect(nn.clipGradNorm(ps, 1, 1).item()).toBe(Math.fround(2.0000000300949324e30));
    expectClose(ps[0].grad!, [0.5, 0.5, 1.0000000031710769e-30], 0, 1e-6);
    // per-gradient norms fit in float32, the norm of the two does not: PyTorch stacks them in float32...
    ps = setup([1.5e19], [-1.5e19]);
    expect(nn.clipGradNorm(ps, 1).item()).toBe(Infinity);
    expect(grads(ps)).toEqual([[0], [-0]]);
    // ...or in float64 when one gradient is float64
    ps = setup([1.5e19], [-1.5e19], 'float64');
    expect(nn.clipGradNorm(ps, 1).item() / 2.121320380365646e19).toBeCloseTo(1, 12);
    expectClose(ps[0].grad!, [0.7071067690849304], 0, 1e-7);
    expectClose(ps[1].grad!, [-0.70710676891788], 0, 1e-12);
    for (const bad of [
      [1, Number.NaN],
      [Infinity, 1],
      [3e38, 3e38],
    ]) {
      ps = setup(bad, [0.5]);
      expect(() => nn.clipGradNorm(ps, 1, 2, { errorIfNonfinite: true })).toThrow(
        /^clipGradNorm: the total norm of order 2 for gradients from `parameters` is non-finite \((NaN|Infinity)\), so it cannot be clipped \(gradient shapes: \[2\], \[1\]\)\. To disable this error and scale the gradients by the non-finite norm anyway, pass `errorIfNonfinite: false`$/,
      );
      expect(values(ps[1].grad!)).toEqual([0.5]);
    }
  });

  it('a finite clip matches to float32 precision', () => {
    const ps = setup([3, 4, 12], [0.1, -7]);
    expect(Math.abs(nn.clipGradNorm(ps, 0.7).item() / 14.765161514282227 - 1)).toBeLessThan(2e-7);
    expectClose(ps[0].grad!, [0.1422266811132431, 0.18963557481765747, 0.5689067244529724], 0, 2e-7);
    expectClose(ps[1].grad!, [0.004740889649838209, -0.33186227083206177], 0, 2e-7);
  });
});

describe('clipGradNorm arguments', () => {
  beforeAll(() => useMode(MODES[0]));
  it('checks options', () => {
    const p = zeros([2]).requiresGrad_();
    p.grad = tensor([1, 2], { dtype: 'float32' });
    expect(() => nn.clipGradNorm(p, 1, 2, { errorIfNonFinite: true } as never)).toThrow(
      /clipGradNorm: unknown option 'errorIfNonFinite' \(allowed: errorIfNonfinite\)/,
    );
    expect(() => nn.clipGradNorm(p, 1, 2, { errorIfNonfinite: 1 } as never)).toThrow(
      /clipGradNorm: errorIfNonfinite must be a boolean, got 1/,
    );
    expect(() => nn.clipGradNorm(p, 1, 2, null as never)).toThrow(/clipGradNorm: options must be an object.*got null/);
    expect(() => nn.clipGradNorm(p, Number.NaN)).toThrow(/clipGradNorm: maxNorm must be a number >= 0, got NaN/);
    expect(() => nn.clipGradNorm(p, -1)).toThrow(/clipGradNorm: maxNorm must be a number >= 0, got -1/);
    expect(values(p.grad)).toEqual([1, 2]);
  });
});

describe('learning-rate schedulers', () => {
  beforeAll(() => useMode(MODES[0]));
  const opt1 = (lr: number): optim.SGD => new SGD([zeros([2]).requiresGrad_()], { lr });

  for (const c of FIX.schedulers) {
    it(`PyTorch fixture: ${c.name}`, () => {
      const opt = opt1(c.lr);
      const sch =
        c.scheduler === 'StepLR'
          ? new StepLR(opt, c.options as { stepSize: number; gamma: number })
          : new CosineAnnealingLR(opt, c.options as { tMax: number; etaMin: number });
      const lrs = [sch.getLastLr()[0]];
      for (let i = 0; i < c.lrs.length - 1; i++) {
        opt.step();
        sch.step();
        lrs.push(sch.getLastLr()[0]);
      }
      expectClose(lrs, c.lrs, 1e-15, 1e-12, c.name);
      expect(opt.paramGroups[0].lr).toBe(lrs[lrs.length - 1]);
    });
  }

  it('StepLR and CosineAnnealingLR closed forms over several groups', () => {
    const opt = new SGD([{ params: [zeros([1]).requiresGrad_()] }, { params: [zeros([1]).requiresGrad_()], lr: 1 }], { lr: 0.1 });
    const sch = new StepLR(opt, { stepSize: 2 });
    expect(sch.getLastLr()).toEqual([0.1, 1]);
    for (let e = 1; e <= 7; e++) {
      sch.step();
      expectClose(sch.getLastLr(), [0.1 * 0.1 ** Math.floor(e / 2), 0.1 ** Math.floor(e / 2)], 1e-18, 1e-12, `epoch ${e}`);
    }
    const opt2 = opt1(0.5);
    const cos = new CosineAnnealingLR(opt2, { tMax: 6, etaMin: 0.1 });
    for (let e = 1; e <= 6; e++) {
      cos.step();
      expect(cos.getLastLr()[0]).toBeCloseTo(0.1 + (0.4 * (1 + Math.cos((Math.PI * e) / 6))) / 2, 12);
    }
  });

  it('LambdaLR: base lr times the lambda of the epoch, one per group or shared; errors', () => {
    const opt = new SGD([{ params: [zeros([1]).requiresGrad_()] }, { params: [zeros([1]).requiresGrad_()], lr: 0.2 }], { lr: 0.1 });
    const warm = (e: number): number => Math.min(1, (e + 1) / 4);
    const sch = new LambdaLR(opt, [warm, (e) => 0.5 ** e]);
    expect(sch.getLastLr()).toEqual([0.025, 0.2]);
    sch.step();
    sch.step();
    expectClose(sch.getLastLr(), [0.075, 0.05], 1e-17, 1e-14, 'epoch 2');
    expect(opt.paramGroups.map((g) => g.lr)).toEqual(sch.getLastLr());
    expect(opt.paramGroups[1].initialLr).toBe(0.2);
    const shared = new LambdaLR(opt1(1), (e) => 1 / (e + 1));
    shared.step();
    expect(shared.getLastLr()).toEqual([0.5]);
    expect(() => new LambdaLR(opt, [warm])).toThrow(/LambdaLR: expected 2 lrLambdas \(one per param group\), but got 1/);
    expect(() => new StepLR(opt1(1), { stepSize: 0 })).toThrow(/StepLR: stepSize must be a positive integer, got 0/);
    expect(() => new CosineAnnealingLR(opt1(1), { tMax: 5, lastEpoch: 3 })).toThrow(
      /param 'initialLr' is not specified in paramGroups\[0\] when resuming/,
    );
  });

  it('a scheduler state dict resumes the schedule', () => {
    const a = opt1(0.1);
    const sa = new CosineAnnealingLR(a, { tMax: 10 });
    for (let i = 0; i < 3; i++) sa.step();
    const b = opt1(0.1);
    const sb = new CosineAnnealingLR(b, { tMax: 10 });
    sb.loadStateDict(JSON.parse(JSON.stringify(sa.stateDict())));
    b.paramGroups[0].lr = a.paramGroups[0].lr;
    for (let i = 0; i < 3; i++) {
      sa.step();
      sb.step();
      expect(sb.getLastLr()).toEqual(sa.getLastLr());
    }
  });
});

describe('optimizer API', () => {
  beforeAll(() => useMode(MODES[0]));

  it('parameter groups override the defaults; lr can be changed between steps', () => {
    const a = tensor([1, 1], { requiresGrad: true });
    const b = tensor([1, 1], { requiresGrad: true });
    const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.5, momentum: 0.9 }], { lr: 0.1 });
    expect(opt.paramGroups[0]).toMatchObject({ lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false });
    expect(opt.paramGroups[1]).toMatchObject({ lr: 0.5, momentum: 0.9 });
    a.grad = tensor([1, 2], { dtype: 'float32' });
    b.grad = tensor([1, 2], { dtype: 'float32' });
    opt.step();
    expectClose(a, [0.9, 0.8], 1e-7, 0, 'group 0');
    expectClose(b, [0.5, 0], 1e-7, 0, 'group 1');
    opt.paramGroups[0].lr = 1;
    opt.step();
    expectClose(a, [-0.1, -1.2], 1e-6, 0, 'new lr');
    opt.zeroGrad();
    expect(a.grad).toBeNull();
    expect(b.grad).toBeNull();
    opt.step(); // parameters without gradients are skipped
    expectClose(a, [-0.1, -1.2], 1e-6, 0, 'skipped');
    const c = tensor([1], { requiresGrad: true });
    opt.addParamGroup({ params: [c], lr: 2 });
    expect(opt.paramGroups[2]).toMatchObject({ lr: 2, momentum: 0 });
    a.grad = tensor([1, 1], { dtype: 'float32' });
    opt.zeroGrad(false);
    expect(values(a.grad!)).toEqual([0, 0]);
  });

  it('validates its arguments with errors naming the optimizer', () => {
    const p = zeros([2]).requiresGrad_();
    expect(() => new SGD([], { lr: 0.1 })).toThrow(/SGD: optimizer got an empty parameter list/);
    expect(() => new SGD(p as unknown as Tensor[])).toThrow(
      /SGD: params argument given to the optimizer should be an iterable of Tensors or of parameter groups, but got a Tensor/,
    );
    expect(() => new SGD([p], { lr: -1 })).toThrow(/SGD: param group 0: invalid learning rate: -1/);
    expect(() => new SGD([p], { nesterov: true })).toThrow(/SGD: param group 0: Nesterov momentum requires a momentum and zero dampening/);
    expect(() => new Adam([p], { betas: [0.9, 1] })).toThrow(/Adam: param group 0: invalid beta parameter at index 1: 1/);
    expect(() => new AdamW([p], { eps: -1 })).toThrow(/AdamW: param group 0: invalid epsilon value: -1/);
    expect(() => new Adam([{ params: [p] }, { params: [p] }])).toThrow(/Adam: some parameters appear in more than one parameter group/);
    expect(() => new Adam([p.mul(2)])).toThrow(
      /Adam: param group 0: params\[0\] \(shape \[2\]\) is not a leaf; can't optimize a non-leaf Tensor/,
    );
    expect(() => new Adam([zeros([2], { dtype: 'int32' })])).toThrow(/Adam: param group 0: params\[0\] \(shape \[2\]\) is int32/);
    new Adam([p]);
    // a mismatched gradient is refused where it is assigned
    expect(() => (p.grad = zeros([3]))).toThrow(
      /grad: assigned gradient \(shape \[3\], float32\) must match the tensor \(shape \[2\], float32\)/,
    );
  });

  it('step(closure) re-evaluates the loss with grad enabled and returns it', () => {
    const p = tensor([2], { requiresGrad: true });
    const opt = new SGD([p], { lr: 0.25 });
    const loss = opt.step(() => {
      opt.zeroGrad();
      const l = p.mul(p).sum();
      l.backward();
      return l.item();
    });
    expect(loss).toBe(4);
    expect(values(p)).toEqual([1]);
  });

  it('stateDict / loadStateDict resume training exactly, also through a safetensors file', () => {
    manualSeed(13);
    const init = [randn([3, 2]), randn([2])];
    const grads = [0, 1, 2, 3].map(() => init.map((p) => randn(p.shape)));
    const run = (ps: Tensor[], opt: optim.Optimizer, from: number, to: number): void => {
      for (let s = from; s < to; s++) {
        ps.forEach((p, i) => {
          p.grad = grads[s][i];
        });
        opt.step();
      }
    };
    const pa = init.map((t) => t.clone().requiresGrad_());
    const oa = new Adam(pa, { lr: 0.05, weightDecay: 0.1 });
    run(pa, oa, 0, 2);
    const sd = oa.stateDict();
    expect(Object.keys(sd.state)).toEqual(['0', '1']);
    expect(sd.state['0'].step).toBe(2);
    expect(Object.keys(sd.state['0'])).toEqual(['step', 'exp_avg', 'exp_avg_sq']);
    expect(sd.param_groups[0]).toMatchObject({
      lr: 0.05,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weight_decay: 0.1,
      amsgrad: false,
      params: [0, 1],
    });
    const flat = optim.flattenOptimizerState(sd);
    const bytes = nn.serializeSafetensors(flat.tensors, flat.metadata);
    const back = nn.parseSafetensorsWithMetadata(bytes);

    const pb = pa.map((t) => t.detach().clone().requiresGrad_());
    const ob = new Adam(pb, { lr: 1 });
    ob.loadStateDict(optim.unflattenOptimizerState(back.tensors, back.metadata));
    expect(ob.paramGroups[0].lr).toBe(0.05);
    expect(ob.paramGroups[0].weightDecay).toBe(0.1);
    run(pa, oa, 2, 4);
    run(pb, ob, 2, 4);
    pa.forEach((p, i) => expect(values(pb[i])).toEqual(values(p)));

    const wrong = new Adam([{ params: [pb[0]] }, { params: [pb[1]] }]);
    expect(() => wrong.loadStateDict(sd)).toThrow(/Adam\.loadStateDict: loaded state dict has 1 parameter groups but the optimizer has 2/);
    const small = new Adam([pb[0]]);
    expect(() => small.loadStateDict(sd)).toThrow(
      /loaded state dict contains a parameter group \(0\) of 2 parameters that doesn't match the size of optimizer's group \(1\)/,
    );
  });
});
