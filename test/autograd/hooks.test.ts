// Tensor hooks and graph inspection (PyTorch's register_hook, retain_grad, is_leaf, grad_fn.next_functions).
import { describe, expect, it } from 'vitest';
import { randn, tensor, type Tensor } from '../../src/index.js';
import { MODES, useMode, values } from '../support/helpers.js';

describe.each(MODES)('tensor hooks on %s', (mode) => {
  it('leaf hooks run in order on the gradient, may replace it, and are removed by their handle', () => {
    useMode(mode);
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const seen: number[][] = [];
    const h1 = x.registerHook((g) => {
      seen.push(values(g));
      return g.mul(2);
    });
    x.registerHook((g) => void seen.push(values(g))); // observes the doubled gradient, returns nothing
    x.mul(x).sum().backward(); // d/dx = 2x
    expect(seen).toEqual([
      [2, 4, 6],
      [4, 8, 12],
    ]);
    expect(values(x.grad!)).toEqual([4, 8, 12]);
    h1.remove();
    h1.remove(); // twice is harmless
    x.zeroGrad();
    seen.length = 0;
    x.mul(x).sum().backward();
    expect(values(x.grad!)).toEqual([2, 4, 6]);
    expect(seen).toEqual([[2, 4, 6]]);
  });

  it('a non-leaf hook changes what flows on; retainGrad keeps a non-leaf gradient (after its hooks)', () => {
    useMode(mode);
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.mul(2);
    expect(y.isLeaf).toBe(false);
    expect(x.isLeaf).toBe(true);
    y.registerHook((g) => g.mul(3));
    y.retainGrad();
    expect(y.retainsGrad).toBe(true);
    const z = y.mul(y).sum(); // dz/dy = 2y = [4, 8]
    z.backward();
    expect(values(y.grad!)).toEqual([12, 24]);
    expect(values(x.grad!)).toEqual([24, 48]);
    x.retainGrad(); // a no-op on a leaf
    expect(x.retainsGrad).toBe(false);
  });

  it('errors: no hook on a tensor without grad, a hook returning the wrong shape or a non-tensor', () => {
    useMode(mode);
    expect(() => randn([2]).registerHook((g) => g)).toThrow(
      "registerHook: cannot register a hook on a tensor that doesn't require gradient (shape [2])",
    );
    expect(() => randn([2]).retainGrad()).toThrow(/^retainGrad: can't retain the gradient of a tensor that doesn't require grad/);
    const a = randn([2], { requiresGrad: true });
    a.registerHook(() => randn([3]));
    expect(() => a.mul(2).sum().backward()).toThrow(
      'backward: a hook on a leaf of shape [2] returned a gradient of shape [3] (float32) for a gradient of shape [2] (float32)',
    );
    const b = randn([2], { requiresGrad: true });
    const c = b.exp();
    c.registerHook((() => 5) as unknown as (g: Tensor) => Tensor);
    expect(() => c.sum().backward()).toThrow('backward: a hook on the output of Exp returned 5, expected a Tensor or nothing');
  });
});

describe('graph inspection', () => {
  it('gradFn.name and nextFunctions draw the graph as PyTorch does', () => {
    const a = randn([2], { requiresGrad: true });
    const b = randn([2]);
    const y = a.mul(b).exp();
    expect(y.gradFn!.name).toBe('Exp');
    const [[mul, idx]] = y.gradFn!.nextFunctions;
    expect(idx).toBe(0);
    expect((mul as { name: string }).name).toBe('Mul');
    const next = (mul as NonNullable<typeof y.gradFn>).nextFunctions;
    expect(next.map(([f]) => (f === null ? null : f.name))).toEqual(['AccumulateGrad', null]);
    expect((next[0][0] as { variable: unknown }).variable).toBe(a);
  });
});
