import { describe, expect, it, beforeAll } from 'vitest';
import { F, enableGrad, isGradEnabled, manualSeed, memory, noGrad, randn, setGradEnabled, tensor, type Tensor } from '../../src/index.js';
import { MODES, useMode, expectClose } from '../support/helpers.js';
import { vals } from '../support/check.js';

const f64 = (v: number | number[] | number[][], requiresGrad = true): Tensor => tensor(v, { dtype: 'float64', requiresGrad });

describe('backward: accumulation and graph structure', () => {
  it('a tensor used twice gets the sum of both paths', () => {
    const x = f64([1, 2, -3]);
    x.mul(x).add(x).sum().backward(); // d/dx (x² + x) = 2x + 1
    expect(x.grad!.tolist()).toEqual([3, 5, -5]);
  });
  it('diamond graph: shared intermediate feeding two branches', () => {
    const x = f64([0.5, -1]);
    const h = x.exp();
    const y = h.mul(2).add(h.mul(h)).sum(); // 2e^x + e^{2x}  →  2e^x + 2e^{2x}
    y.backward();
    expectClose(
      x.grad!,
      vals(x).map((v) => 2 * Math.exp(v) + 2 * Math.exp(2 * v)),
      1e-14,
      1e-14,
    );
  });
  it('gradients accumulate across backward calls until zeroGrad', () => {
    const x = f64([1, 2]);
    x.mul(3).sum().backward();
    x.mul(4).sum().backward();
    expect(x.grad!.tolist()).toEqual([7, 7]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
    x.mul(5).sum().backward();
    expect(x.grad!.tolist()).toEqual([5, 5]);
  });
  it('broadcast operands get gradients reduced to their own shape', () => {
    const a = f64([[1], [2], [3]]); // [3, 1]
    const b = f64([10, 20]); // [2]
    a.mul(b).sum().backward();
    expect(a.grad!.tolist()).toEqual([[30], [30], [30]]);
    expect(b.grad!.tolist()).toEqual([6, 6]);
  });
  it('only leaves keep .grad; intermediate tensors require grad but have no .grad', () => {
    const x = f64([1, 2]);
    const h = x.mul(2);
    expect(h.requiresGrad).toBe(true);
    expect(h.isLeaf).toBe(false);
    expect(h.gradFn!.name).toBe('Mul');
    h.sum().backward();
    expect(h.grad).toBeNull();
    expect(x.isLeaf).toBe(true);
  });
  it('inputs that do not require grad get no gradient and record no node', () => {
    const x = f64([1, 2]);
    const c = f64([3, 4], false);
    const y = c.mul(2);
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    x.mul(c).sum().backward();
    expect(c.grad).toBeNull();
    expect(x.grad!.tolist()).toEqual([3, 4]);
  });
  it('backward on a scalar leaf gives a gradient of 1; an explicit gradient is used as given', () => {
    const s = f64(2.5);
    s.backward();
    expect(s.grad!.item()).toBe(1);
    const v = f64([1, 2, 3]);
    v.mul(2).backward(f64([1, 0, -1], false));
    expect(v.grad!.tolist()).toEqual([2, 0, -2]);
  });
  it('a deep chain of 5000 ops backpropagates without recursion limits', () => {
    const x = f64([1, 2]);
    let y = x;
    for (let k = 0; k < 5000; k++) y = k % 2 ? y.mul(1.0001) : y.add(0.001);
    y.sum().backward();
    const g = 1.0001 ** 2500;
    expectClose(x.grad!, [g, g], 1e-12, 1e-12);
    expectClose(
      y,
      vals(x).map((v) => {
        let r = v;
        for (let k = 0; k < 5000; k++) r = k % 2 ? r * 1.0001 : r + 0.001;
        return r;
      }),
      1e-9,
      1e-12,
    );
  });
  it('a wide graph (one tensor used 3000 times) accumulates every use', () => {
    const x = f64([1]);
    let acc = x.mul(0);
    for (let k = 0; k < 3000; k++) acc = acc.add(x);
    acc.sum().backward();
    expect(x.grad!.item()).toBe(3000);
  });
});

describe('backward: retainGraph and errors', () => {
  it('retainGraph allows a second backward; gradients add up', () => {
    const x = f64([1, 2]);
    const y = x.mul(x).sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(x.grad!.tolist()).toEqual([4, 8]);
  });
  it('a second backward through a freed graph throws clearly', () => {
    const x = f64([1, 2]);
    const y = x.exp().sum();
    y.backward();
    expect(() => y.backward()).toThrow(/backward: trying to backward through the graph a second time \(through Sum\).*retainGraph: true/);
    // a new graph that reuses a freed part fails too
    const x2 = f64([1]);
    const h = x2.exp();
    h.sum().backward();
    expect(() => h.mul(2).sum().backward()).toThrow(/backward through the graph a second time \(through Exp\)/);
  });
  it('non-scalar backward without a gradient throws, naming the shape', () => {
    expect(() => f64([1, 2]).mul(2).backward()).toThrow(
      /backward: grad can be implicitly created only for scalar outputs; this output has shape \[2\]/,
    );
  });
  it('backward on a tensor that does not require grad throws', () => {
    expect(() => f64([1, 2], false).sum().backward()).toThrow(
      /backward: the tensor \(shape \[\]\) does not require grad and has no gradFn/,
    );
    expect(() => noGrad(() => f64([1, 2]).sum()).backward()).toThrow(/backward: the tensor \(shape \[\]\) does not require grad/);
  });
  it('a gradient of the wrong shape or dtype throws', () => {
    const y = f64([1, 2]).mul(2);
    expect(() => y.backward(f64([1, 2, 3], false))).toThrow(/backward: gradient has shape \[3\] but the output has shape \[2\]/);
    expect(() => y.backward(tensor([1, 2], { dtype: 'float32' }))).toThrow(
      /backward: gradient is float32 but the output is float64 \(shape \[2\]\)/,
    );
  });
  it('requiresGrad: only floating tensors; cannot be switched off on a non-leaf', () => {
    expect(() => tensor([1], { dtype: 'int32' }).requiresGrad_()).toThrow(
      /requiresGrad: only floating point tensors can require gradients, this one is int32 \(shape \[1\]\)/,
    );
    const h = f64([1]).mul(2);
    expect(() => h.requiresGrad_(false)).toThrow(
      /requiresGrad: cannot turn off requiresGrad on a non-leaf tensor \(one made by an op, shape \[1\]\); use detach\(\)/,
    );
  });
});

describe('grad mode, detach and in-place checks', () => {
  it('noGrad / enableGrad / isGradEnabled / setGradEnabled', () => {
    const x = f64([1]);
    expect(isGradEnabled()).toBe(true);
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      const inner = enableGrad(() => {
        expect(isGradEnabled()).toBe(true);
        return x.mul(2);
      });
      expect(inner.requiresGrad).toBe(true);
      return x.mul(3);
    });
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(isGradEnabled()).toBe(true);
    expect(() =>
      noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(isGradEnabled()).toBe(true);
    expect(() => noGrad(async () => 1)).toThrow(/noGrad\/enableGrad: the function returned a Promise/);
    expect(isGradEnabled()).toBe(true);
    expect(setGradEnabled(false)).toBe(true);
    try {
      expect(x.mul(2).requiresGrad).toBe(false);
    } finally {
      expect(setGradEnabled(true)).toBe(false);
    }
    expect(x.mul(2).requiresGrad).toBe(true);
  });
  it('detach shares the values and cuts the graph', () => {
    const x = f64([1, 2]);
    const h = x.mul(3);
    const d = h.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.gradFn).toBeNull();
    expect(d.tolist()).toEqual([3, 6]);
    x.mul(d).sum().backward(); // d is a constant: grad = d
    expect(x.grad!.tolist()).toEqual([3, 6]);
  });
  it('in-place on a tensor that requires grad throws unless under noGrad', () => {
    const w = f64([1, 2]);
    expect(() => w.mul_(2)).toThrow(/mul_: a tensor that requires grad \(shape \[2\]\) cannot be modified in place while grad mode is on/);
    noGrad(() => w.sub_(w.mul(0.5)));
    expect(w.tolist()).toEqual([0.5, 1]);
    expect(w.requiresGrad).toBe(true);
  });
  it('an in-place change of a tensor saved for backward is detected by its version counter', () => {
    const x = f64([1, 2]);
    const c = f64([3, 4], false);
    const y = x.mul(c).sum();
    expect(c._version).toBe(0);
    c.add_(1);
    expect(c._version).toBe(1);
    expect(() => y.backward()).toThrow(
      /backward: a tensor of shape \[2\] that Mul saved for its backward was modified by an in-place operation \(version 1, expected 0\)/,
    );
    // saved outputs too: exp saves its result
    const x2 = f64([1, 2]);
    const e = x2.exp();
    noGrad(() => e.mul_(2));
    expect(() => e.sum().backward()).toThrow(/that Exp saved for its backward was modified by an in-place operation/);
  });
  it('copy_, fill_, zero_ and add_ with alpha', () => {
    const t = tensor([1, 2, 3], { dtype: 'float64' });
    t.add_(tensor([1, 1, 1], { dtype: 'float64' }), -2);
    expect(t.tolist()).toEqual([-1, 0, 1]);
    t.copy_(tensor([7, 8, 9]));
    expect(t.dtype).toBe('float64');
    expect(t.tolist()).toEqual([7, 8, 9]);
    t.fill_(4);
    expect(t.tolist()).toEqual([4, 4, 4]);
    t.zero_();
    expect(t.tolist()).toEqual([0, 0, 0]);
    expect(t._version).toBe(4);
    expect(() => t.copy_(tensor([1, 2]))).toThrow(/copy_: source has shape \[2\] but the tensor has shape \[3\]/);
  });
});

describe.each(MODES)('dispose and memory() on %s', (mode) => {
  beforeAll(() => useMode(mode));
  it('tensor and storage counts go back down after dispose; GL textures are counted and released', () => {
    manualSeed(1);
    const base = memory();
    const x = randn([64]);
    const y = x.mul(2);
    const z = x.add(1);
    const m1 = memory();
    expect(m1.tensors - base.tensors).toBe(3);
    expect(m1.storages - base.storages).toBe(3);
    expect(m1.textures - base.textures).toBe(mode === 'headlessgl' ? 2 : 0); // kernel results stay on the device
    expect(y.toArray().length).toBe(64); // reading back keeps the tensor alive
    expect(memory().textures).toBe(m1.textures);
    for (const t of [x, y, z]) t.dispose();
    expect(y.isDisposed).toBe(true);
    expect(() => y.toArray()).toThrow(/this tensor \(shape \[64\], float32\) was disposed by dispose\(\)/);
    y.dispose(); // twice is harmless
    expect(memory()).toEqual(base);
  });
  it('a view keeps the storage alive until its last tensor is disposed', () => {
    const x = randn([8]).mul(1);
    const base = memory();
    const v = x.reshape(2, 4);
    expect(memory().tensors).toBe(base.tensors + 1);
    expect(memory().storages).toBe(base.storages);
    x.dispose();
    expect(v.tolist()).toHaveLength(2);
    expect(memory().storages).toBe(base.storages);
    v.dispose();
    expect(memory().storages).toBe(base.storages - 1);
    if (mode === 'headlessgl') expect(memory().textures).toBe(base.textures - 1);
  });
  it('backward leaks nothing but the leaf gradients', () => {
    manualSeed(2);
    const a = randn([5, 4], { requiresGrad: true });
    const b = randn([4, 3], { requiresGrad: true });
    const run = (): Tensor[] => {
      const h = a.matmul(b);
      const m = h.mul(2); // a number operand becomes a 0-d tensor the node owns
      const r = m.relu();
      const d = F.dropout(r, 0.5); // so does the dropout mask
      const s = d.sum();
      return [h, m, r, d, s];
    };
    const warm = run(); // compile kernels first
    warm[4].backward();
    a.zeroGrad();
    b.zeroGrad();
    const base = memory();
    const ts = run();
    expect(memory().tensors - base.tensors).toBe(5 + 2); // 5 results, the scalar 2 and the mask
    ts[4].backward();
    const after = memory();
    expect(after.tensors - base.tensors).toBe(5 + 2); // 5 results and the two leaf grads
    if (mode === 'headlessgl') expect(after.textures - base.textures).toBeLessThanOrEqual(7);
    for (const t of ts) t.dispose();
    a.zeroGrad();
    b.zeroGrad();
    const end = memory();
    expect(end.tensors).toBe(base.tensors);
    expect(end.storages).toBe(base.storages);
    // the warm-up run's results were never disposed: the second backward moved their textures to host memory
    if (mode === 'headlessgl') expect(end.textures).toBeLessThanOrEqual(base.textures);
  });
});
