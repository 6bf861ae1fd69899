// Views (PyTorch semantics): transpose/permute/slice/narrow/select/expand/t() share their input's storage,
// in-place changes go both ways, view() refuses what only reshape() can do, and gradients and a training
// step are unchanged, on every mode under test.
import { beforeAll, describe, expect, it } from 'vitest';
import { F, gradcheck, manualSeed, nn, noGrad, optim, randn, tensor, zeros, type Tensor } from '../../src/index.js';
import { MODES, expectClose, useMode, values } from '../support/helpers.js';
import { comparePaths, r64 } from '../support/check.js';
import { _kernelProfile, _profileKernels } from '../../src/kernels/run.js';
import { rewriteIndexing } from '../../src/kernels/strided.js';
import { _viewCopyCount } from '../../src/autograd/tensor.js';

/** 0, 1, 2, ... as a float32 tensor of `shape`. */
function iota(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(
    Float32Array.from({ length: n }, (_, k) => k),
    { dtype: 'float32' },
  ).reshape(shape);
}

/** The nested values of `t` as a JS reference built from `base` values by an index map. */
function refFrom(base: number[], shape: number[], at: (ix: number[]) => number): number[] {
  const out: number[] = [];
  const n = shape.reduce((a, b) => a * b, 1);
  for (let k = 0; k < n; k++) {
    const ix: number[] = [];
    let r = k;
    for (let d = shape.length - 1; d >= 0; d--) {
      ix.unshift(r % shape[d]);
      r = Math.floor(r / shape[d]);
    }
    out.push(base[at(ix)]);
  }
  return out;
}

describe.each(MODES)('views on %s', (mode) => {
  beforeAll(() => useMode(mode));

  it('transpose, permute, slice, narrow, select, expand and t() read the right elements and share storage', () => {
    const x = iota([3, 4]);
    const b = values(x);
    const cases: [string, Tensor, number[]][] = [
      ['transpose', x.transpose(0, 1), refFrom(b, [4, 3], ([i, j]) => j * 4 + i)],
      ['t', x.t(), refFrom(b, [4, 3], ([i, j]) => j * 4 + i)],
      ['permute', x.permute(1, 0), refFrom(b, [4, 3], ([i, j]) => j * 4 + i)],
      ['slice', x.slice(1, 1, 4, 2), refFrom(b, [3, 2], ([i, j]) => i * 4 + 1 + 2 * j)],
      ['narrow', x.narrow(0, 1, 2), refFrom(b, [2, 4], ([i, j]) => (i + 1) * 4 + j)],
      ['select', x.select(1, 2), refFrom(b, [3], ([i]) => i * 4 + 2)],
      ['expand', x.select(1, 0).unsqueeze(1).expand(3, 5), refFrom(b, [3, 5], ([i]) => i * 4)],
    ];
    for (const [name, v, ref] of cases) {
      expect(values(v), name).toEqual(ref);
      expect(v._version, name).toBe(x._version);
      expect(v.stride().length, name).toBe(v.ndim);
    }
    expect(x.transpose(0, 1).stride()).toEqual([1, 4]);
    expect(x.slice(1, 1, 4, 2).stride()).toEqual([4, 2]);
    expect(x.slice(1, 1, 4, 2).storageOffset()).toBe(1);
    expect(x.select(1, 0).unsqueeze(1).expand(3, 5).stride()).toEqual([4, 0]);
  });

  it('an in-place change through a view (noGrad) is seen by the base, and the other way around', () => {
    const x = zeros([3, 4]);
    const tr = x.transpose(0, 1);
    noGrad(() => tr.select(0, 1).fill_(7)); // column 1 of x, through a view of a view
    expect(values(x)).toEqual([0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0]);
    const before = values(tr);
    x.add_(1);
    expect(values(tr)).toEqual(before.map((v) => v + 1));

    const y = iota([2, 6]);
    const stepped = y.slice(1, 0, 6, 3); // columns 0 and 3
    stepped.mul_(-1);
    expect(values(y)).toEqual([-0, 1, 2, -3, 4, 5, -6, 7, 8, -9, 10, 11]);
    y.zero_();
    expect(values(stepped)).toEqual([0, 0, 0, 0]);

    const z = iota([4, 3]);
    const ts = z.narrow(0, 1, 2).t(); // a transpose of a slice: rows 1 and 2 of z, transposed
    expect(values(ts)).toEqual([3, 6, 4, 7, 5, 8]);
    ts.copy_(
      tensor(
        [
          [10, 20],
          [11, 21],
          [12, 22],
        ],
        { dtype: 'float32' },
      ),
    );
    expect(values(z)).toEqual([0, 1, 2, 10, 11, 12, 20, 21, 22, 9, 10, 11]);

    const k = tensor(Int32Array.from([1, 2, 3, 4, 5, 6])).reshape(2, 3);
    k.t().select(0, 2).fill_(9); // int data: the scatter runs on the exact host path
    expect(values(k)).toEqual([1, 2, 9, 4, 5, 9]);
    expect(k.dtype).toBe('int32');
    const m = tensor([true, false, true, false]).reshape(2, 2);
    expect(values(m.t().select(0, 0).logicalNot())).toEqual([0, 0]); // reading a bool view
    noGrad(() =>
      m
        .t()
        .select(0, 1)
        .copy_(tensor([true, true])),
    );
    expect(values(m)).toEqual([1, 1, 1, 1]);
    expect(x.t().stride(-1)).toBe(4);
    expect(() => x.t().stride(2)).toThrow(/stride: Dimension out of range/);

    const p = iota([2, 3, 4]);
    const pv = p.permute(2, 0, 1);
    pv.select(0, 3).sub_(100);
    expect(values(p)).toEqual(values(iota([2, 3, 4])).map((v, k) => (k % 4 === 3 ? v - 100 : v)));
    noGrad(() => p.narrow(2, 0, 1).copy_(zeros([2, 3, 1])));
    expect(values(pv.select(0, 0))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('isContiguous() and contiguous()', () => {
    const x = iota([3, 4]);
    expect(x.isContiguous()).toBe(true);
    expect(x.transpose(0, 1).isContiguous()).toBe(false);
    expect(x.t().isContiguous()).toBe(false);
    expect(x.permute(1, 0).isContiguous()).toBe(false);
    expect(x.slice(1, 0, 4, 2).isContiguous()).toBe(false);
    expect(x.narrow(1, 1, 2).isContiguous()).toBe(false);
    expect(x.narrow(0, 1, 2).isContiguous()).toBe(true);
    expect(x.select(1, 1).isContiguous()).toBe(false);
    expect(x.select(0, 1).isContiguous()).toBe(true);
    expect(x.select(0, 1).unsqueeze(0).expand(2, 4).isContiguous()).toBe(false);
    expect(x.contiguous()).toBe(x);
    const n = x.narrow(0, 1, 2);
    expect(n.contiguous()).toBe(n);
    const t = x.t();
    const c = t.contiguous();
    expect(c).not.toBe(t);
    expect(c.isContiguous()).toBe(true);
    expect(values(c)).toEqual(values(t));
    c.add_(1); // a copy: the base does not change
    expect(values(x)).toEqual(values(iota([3, 4])));
  });

  it("view() on a transposed tensor throws PyTorch's error; reshape() copies there", () => {
    const x = iota([2, 3]);
    const t = x.t();
    expect(() => t.view(6)).toThrow(
      "view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead.",
    );
    const r = t.reshape(6);
    expect(values(r)).toEqual([0, 3, 1, 4, 2, 5]);
    r.add_(1);
    expect(values(x)).toEqual([0, 1, 2, 3, 4, 5]);
    // where strides allow it, view() of a view is a view
    const u = t.view(3, 1, 2);
    u.mul_(2);
    expect(values(x)).toEqual([0, 2, 4, 6, 8, 10]);
  });

  it('writing into an expand()ed view throws', () => {
    const x = zeros([3, 1]);
    const e = x.expand(3, 4);
    const msg =
      'unsupported operation: more than one element of the written-to tensor refers to a single memory location. Please clone() the tensor before performing the operation.';
    expect(() => e.fill_(1)).toThrow(msg);
    expect(() => e.add_(1)).toThrow(msg);
    expect(values(x)).toEqual([0, 0, 0]);
    const c = e.clone();
    c.fill_(2);
    expect(values(c)).toEqual(new Array(12).fill(2));
  });

  it('a view changed after an op saved its base makes backward throw', () => {
    const w = randn([3, 4], { requiresGrad: true });
    const x = randn([3, 4]);
    const y = w.mul(x); // saves x
    noGrad(() => x.t().select(0, 1).fill_(0));
    expect(() => y.sum().backward()).toThrow(/modified by an in-place operation/);
  });

  it('in place through a view of a tensor that requires grad: refused under grad mode, works under noGrad', () => {
    const w = randn([3, 4], { requiresGrad: true });
    const a = w.mul(2);
    expect(() => a.t().add_(1)).toThrow(/requires grad/);
    const v = noGrad(() => a.t());
    expect(() => v.add_(1)).toThrow(/view of a tensor that requires grad.*CopySlices/);
    const before = values(w);
    noGrad(() => w.t().select(0, 0).fill_(5));
    expect(values(w)).toEqual(before.map((b, k) => (k % 4 === 0 ? 5 : b)));
    // detach() of a view is a view that is cut from the graph: it may be changed
    const d = w.t().detach();
    d.select(0, 1).fill_(-1);
    expect(values(w).filter((_, k) => k % 4 === 1)).toEqual([-1, -1, -1]);
  });

  it('a view of a parameter-sized texture or array reads right after repeated changes (cached copy refreshed)', () => {
    const x = randn([5, 7]);
    const y = x.matmul(randn([7, 6])); // a kernel result (a texture on GL)
    const v = y.t().slice(0, 1, 6, 2);
    const ref = (): number[] => refFrom(values(y), [3, 5], ([i, j]) => j * 6 + 1 + 2 * i);
    expectClose(v, ref(), 0, 0);
    expectClose(
      v.mul(2),
      ref().map((r) => 2 * r),
      1e-6,
      1e-6,
    );
    y.mul_(3);
    expectClose(v, ref(), 0, 0);
    expectClose(v.sum(), [ref().reduce((a, b) => a + b, 0)], 1e-4, 1e-4);
  });

  it('gradients through every view op match the float64 path', () => {
    manualSeed(3);
    const fns: [string, (x: Tensor) => Tensor][] = [
      ['transpose', (x) => x.transpose(0, 2).mul(x.transpose(0, 2))],
      ['permute', (x) => x.permute(2, 0, 1).exp()],
      ['slice', (x) => x.slice(2, 1, 5, 2).mul(3)],
      ['narrow', (x) => x.narrow(1, 1, 2).tanh()],
      ['select', (x) => x.select(1, 2).sigmoid()],
      ['expand', (x) => x.narrow(2, 0, 1).expand(2, 3, 4).mul(x)],
      ['t', (x) => x.select(0, 1).t().matmul(x.select(0, 0))],
      ['view of view', (x) => x.permute(1, 0, 2).slice(0, 0, 3, 2).reshape(-1).exp()],
    ];
    for (const [name, f] of fns) comparePaths(name, f, [r64([2, 3, 5].map((n, d) => (name === 'expand' && d === 2 ? 4 : n)))]);
    for (const [name, f] of fns) {
      const x = r64(name === 'expand' ? [2, 3, 4] : [2, 3, 5]);
      expect(gradcheck(f, [x]), name).toBe(true);
    }
  });

  it('a training step (nn.Linear + crossEntropy + AdamW, weights read through t()) matches float64 math', () => {
    manualSeed(11);
    const lin = new nn.Linear(5, 4);
    const w64 = lin.weight.detach().double().requiresGrad_();
    const b64 = lin.bias!.detach().double().requiresGrad_();
    const x = randn([6, 5]);
    const target = tensor(Int32Array.from([0, 3, 1, 2, 3, 0]));
    const opt = new optim.AdamW(lin.parameters(), { lr: 0.05, weightDecay: 0.1 });
    const opt64 = new optim.AdamW([w64, b64], { lr: 0.05, weightDecay: 0.1 });
    for (let step = 0; step < 3; step++) {
      opt.zeroGrad();
      const loss = F.crossEntropy(lin.forward(x), target);
      loss.backward();
      opt.step();
      opt64.zeroGrad();
      const loss64 = F.crossEntropy(x.double().matmul(w64.t()).add(b64), target);
      loss64.backward();
      opt64.step();
      expectClose(loss, loss64, 1e-5, 1e-5, `loss ${step}`);
      expectClose(lin.weight, w64, 1e-5, 1e-4, `weight ${step}`);
      expectClose(lin.bias!, b64, 1e-5, 1e-4, `bias ${step}`);
    }
    expect(lin.weight.isContiguous()).toBe(true);
  });

  it('a view given as a parameter becomes a dense copy', () => {
    const base = iota([3, 4]);
    const p = nn.parameter(base.t());
    expect(p.isContiguous()).toBe(true);
    expect(values(p)).toEqual(values(base.t()));
    noGrad(() => p.fill_(0));
    expect(values(base)).toEqual(values(iota([3, 4])));
  });
});

describe.each(MODES)('matrix products read transposed views in place on %s', (mode) => {
  beforeAll(() => useMode(mode));
  const kernelsRun = (fn: () => void): string[] => {
    _profileKernels(true);
    try {
      fn();
      return _kernelProfile().map((e) => e.kernel);
    } finally {
      _profileKernels(false);
    }
  };
  it("w.t() and k.transpose(-2, -1) are not copied before the product, forward or backward; values match the copies'", () => {
    manualSeed(12);
    const x = randn([3, 4], { requiresGrad: true });
    const w = randn([5, 4], { requiresGrad: true });
    const q = randn([2, 3, 6, 4], { requiresGrad: true });
    const k = randn([2, 3, 7, 4], { requiresGrad: true });
    let y!: Tensor;
    let s!: Tensor;
    const forward = kernelsRun(() => {
      y = x.matmul(w.t());
      s = q.matmul(k.transpose(-2, -1));
    });
    expect(forward.filter((n) => /gather|strided/i.test(n))).toEqual([]);
    // backward: the products read the transposed views in place too; the one copy left is the transpose of
    // w's and k's gradients back into their own layout (the view ops' backward)
    const backward = kernelsRun(() => y.sum().add(s.sum()).backward());
    expect(backward.filter((n) => /gather|strided/i.test(n)).length).toBeLessThanOrEqual(1);
    expect(s.shape).toEqual([2, 3, 6, 7]);
    // the same products of dense copies
    const [x2, w2, q2, k2] = [x, w, q, k].map((t) => t.detach().requiresGrad_(true));
    const y2 = x2.matmul(w2.t().contiguous());
    const s2 = q2.matmul(k2.transpose(-2, -1).contiguous());
    y2.sum().add(s2.sum()).backward();
    expectClose(y, values(y2), 1e-6, 1e-6, 'x·wᵀ');
    expectClose(s, values(s2), 1e-6, 1e-6, 'q·kᵀ');
    for (const [a, b, n] of [
      [x, x2, 'dx'],
      [w, w2, 'dw'],
      [q, q2, 'dq'],
      [k, k2, 'dk'],
    ] as const)
      expectClose(a.grad!, values(b.grad!), 1e-6, 1e-6, n);
    // a transposed view that is not its storage's dense data (a slice of it) is still right
    const part = w.detach().narrow(0, 1, 3).t();
    expectClose(
      x.detach().narrow(1, 0, 4).matmul(part),
      values(x.detach().matmul(w.detach().narrow(0, 1, 3).t().contiguous())),
      1e-6,
      1e-6,
      'slice',
    );
  });
});

describe.each(MODES)('elementwise kernels read views in place on %s', (mode) => {
  beforeAll(() => useMode(mode));
  it('a transposed, a stepped-slice and a broadcast view feed map kernels with no copy first; values and gradients match', () => {
    manualSeed(13);
    const a = randn([4, 6], { requiresGrad: true });
    const b = randn([6, 4], { requiresGrad: true });
    const c = randn([6], { requiresGrad: true });
    _profileKernels(true);
    let y!: Tensor;
    let m!: Tensor;
    try {
      // a.t() (transposed), a stepped slice of b (offset and step), c expanded against it (broadcast)
      y = a.t().mul(b).add(a.t().tanh());
      m = b
        .slice(0, 1, 6, 2)
        .sub(c.narrow(0, 2, 4))
        .gt(0);
      const ran = _kernelProfile().map((e) => e.kernel);
      // on simd the ops with a SIMD native (tanh, mul, ...) read a dense copy on purpose (host memory)
      if (mode !== 'simd') expect(ran.filter((n) => /gather|strided/i.test(n))).toEqual([]);
    } finally {
      _profileKernels(false);
    }
    const [a2, b2, c2] = [a, b, c].map((t) => t.detach().requiresGrad_(true));
    const y2 = a2.t().contiguous().mul(b2).add(a2.t().contiguous().tanh());
    expectClose(y, values(y2), 1e-6, 1e-6, 'y');
    expect(values(m)).toEqual(
      values(
        b2
          .slice(0, 1, 6, 2)
          .contiguous()
          .sub(c2.narrow(0, 2, 4).contiguous())
          .gt(0),
      ),
    );
    y.sum().backward();
    y2.sum().backward();
    expectClose(a.grad!, values(a2.grad!), 1e-6, 1e-6, 'da');
    expectClose(b.grad!, values(b2.grad!), 1e-6, 1e-6, 'db');
  });
});

describe('rewriteIndexing (kernels reading views in place)', () => {
  it('rewrites each input read, innermost first, and leaves properties, longer names and comments alone', () => {
    const ix = new Map([
      ['x', (e: string) => `X(${e})`],
      ['idx', (e: string) => `I(${e})`],
    ]);
    expect(rewriteIndexing('return x[idx[p] * 3 + c] + ix[i] + a.x[i]; // x[i] here', ix)).toBe(
      'return x[X(idx[I(p)] * 3 + c)] + ix[i] + a.x[i]; // x[i] here',
    );
    expect(rewriteIndexing('const v = x[(i + 1) * w[j]];', ix)).toBe('const v = x[X((i + 1) * w[j])];');
  });
});

describe.each(MODES)('every kernel reads views in place on %s', (mode) => {
  beforeAll(() => useMode(mode));
  it('reductions, softmax and layerNorm over transposed and sliced views make no dense copy (except simd natives), products one per strided operand; values match', () => {
    manualSeed(14);
    const x = randn([5, 6], { requiresGrad: true });
    const q = randn([2, 7, 3, 4], { requiresGrad: true }); // (B, T, H, hs), attention wants (B, H, T, hs)
    const before = _viewCopyCount();
    const outs = [x.t().sum(1), x.t().softmax(-1), F.layerNorm(x.narrow(1, 1, 4), [4])];
    const copies = _viewCopyCount() - before;
    if (mode !== 'simd') expect(copies, 'reductions, softmax, layerNorm').toBe(0);
    // a product reads each operand element once per row or column of the other: a strided view comes as a
    // dense copy (kernels' denseInputs), not as a strided index worked out in the inner loop. The scores
    // q·kᵀ copy q and k, the output P·v copies v.
    const beforeAttention = _viewCopyCount();
    outs.push(F.scaledDotProductAttention(q.transpose(1, 2), q.transpose(1, 2), q.transpose(1, 2), { isCausal: true }));
    expect(_viewCopyCount() - beforeAttention, 'attention: q, k and v copied once each').toBe(3);
    const x2 = x.detach().requiresGrad_(true);
    const q2 = q.detach().requiresGrad_(true);
    const qt = q2.transpose(1, 2).contiguous();
    const want = [
      x2.t().contiguous().sum(1),
      x2.t().contiguous().softmax(-1),
      F.layerNorm(x2.narrow(1, 1, 4).contiguous(), [4]),
      F.scaledDotProductAttention(qt, qt, qt, { isCausal: true }),
    ];
    outs.forEach((o, k) => expectClose(o, values(want[k]), 1e-5, 1e-5, `output ${k}`));
    outs.reduce((a, o) => a.add(o.sum()), outs[0].sum().mul(0)).backward();
    want.reduce((a, o) => a.add(o.sum()), want[0].sum().mul(0)).backward();
    expectClose(x.grad!, values(x2.grad!), 1e-5, 1e-5, 'dx');
    expectClose(q.grad!, values(q2.grad!), 1e-5, 1e-5, 'dq');
  });
});
