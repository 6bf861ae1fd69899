// Module forward hooks (PyTorch's register_forward_pre_hook / register_forward_hook): run around every
// forward, in registration order, may replace the arguments or the output, and are removed by their handle.
import { describe, expect, it } from 'vitest';
import { nn, tensor, type Tensor } from '../../src/index.js';
import { values } from '../support/helpers.js';

describe('forward hooks', () => {
  it('pre-hooks may replace the arguments, hooks the output; order, removal, and nested modules', () => {
    const lin = new nn.Linear(2, 2, { bias: false });
    lin.weight.detach().copy_(
      tensor(
        [
          [1, 0],
          [0, 1],
        ],
        { dtype: 'float32' },
      ),
    );
    const log: string[] = [];
    const pre = lin.registerForwardPreHook((m, args) => {
      log.push(`pre ${m._getName()}`);
      return [(args[0] as Tensor).mul(2)];
    });
    lin.registerForwardHook((_m, args, out) => {
      log.push(`post1 ${values(args[0] as Tensor).join(',')}`);
      return (out as Tensor).add(1);
    });
    lin.registerForwardHook((_m, _args, out) => void log.push(`post2 ${values(out as Tensor).join(',')}`));
    const x = tensor([1, 2], { dtype: 'float32' });
    expect(values(lin.forward(x))).toEqual([3, 5]);
    expect(log).toEqual(['pre Linear', 'post1 2,4', 'post2 3,5']);
    // call() and a parent that calls forward() both run them
    const seq = new nn.Sequential(lin, new nn.ReLU());
    expect(values(seq.forward(x))).toEqual([3, 5]);
    pre.remove();
    log.length = 0;
    expect(values(lin.call(x))).toEqual([2, 3]);
    expect(log).toEqual(['post1 1,2', 'post2 2,3']);
    // forward stays a plain property: not a registered module or parameter, not in the state dict
    expect(Object.keys(lin.stateDict())).toEqual(['weight']);
    expect(() => lin.registerForwardHook(5 as never)).toThrow('registerForwardHook: expects a function, got number');
    const bad = new nn.ReLU();
    bad.registerForwardPreHook(() => 7 as never);
    expect(() => bad.forward(x)).toThrow('forward pre-hook of ReLU: must return an array of arguments or nothing, got number');
  });
});

describe('full backward hooks (register_full_backward_hook)', () => {
  it('runs once per backward with the input and output gradients, may replace the input gradients, and is removed by its handle', () => {
    const lin = new nn.Linear(2, 3, { bias: false });
    const x = tensor([1, -2], { dtype: 'float32', requiresGrad: true });
    const seen: { gin: (number[] | null)[]; gout: (number[] | null)[] }[] = [];
    const h = lin.registerFullBackwardHook((m, gin, gout) => {
      expect(m).toBe(lin);
      seen.push({ gin: gin.map((g) => g && values(g)), gout: gout.map((g) => g && values(g)) });
      return [gin[0]!.mul(10)];
    });
    const y = lin.call(x);
    y.sum().backward();
    const W = values(lin.weight); // dL/dx = Wᵀ·1 = column sums
    const colSums = [W[0] + W[2] + W[4], W[1] + W[3] + W[5]];
    expect(seen).toHaveLength(1);
    expect(seen[0].gout).toEqual([[1, 1, 1]]);
    expect(seen[0].gin[0]!.map((v, k) => Math.abs(v - colSums[k]) < 1e-6)).toEqual([true, true]);
    expect(values(x.grad!).map((v, k) => Math.abs(v - 10 * colSums[k]) < 1e-5)).toEqual([true, true]); // replaced
    expect(values(lin.weight.grad!)).toEqual([1, -2, 1, -2, 1, -2]); // the weight's gradient is untouched
    h.remove();
    x.zeroGrad();
    lin.call(x).sum().backward();
    expect(seen).toHaveLength(1);
  });

  it('several tensor inputs arrive together; without inputs that require grad, gradInput is all null', () => {
    class Mul extends nn.Module {
      override forward(a: Tensor, b: Tensor, k: number): Tensor {
        return a.mul(b).mul(k);
      }
    }
    const m = new Mul();
    const calls: (number[] | null)[][] = [];
    m.registerFullBackwardHook((_m, gin) => void calls.push(gin.map((g) => g && values(g))));
    const a = tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    const b = tensor([3, 4], { dtype: 'float32', requiresGrad: true });
    m.call(a, b, 2).sum().backward();
    expect(calls).toEqual([
      [
        [6, 8],
        [2, 4],
      ],
    ]);
    expect(values(a.grad!)).toEqual([6, 8]);
    expect(values(b.grad!)).toEqual([2, 4]);
    const lin = new nn.Linear(2, 1);
    const got: unknown[] = [];
    lin.registerFullBackwardHook(
      (_m, gin, gout) =>
        void got.push(
          gin,
          gout.map((g) => g && values(g)),
        ),
    );
    lin
      .call(tensor([1, 2], { dtype: 'float32' }))
      .sum()
      .backward();
    expect(got).toEqual([[null], [[1]]]);
    expect(() => lin.registerFullBackwardHook('x' as never)).toThrow('registerFullBackwardHook: expects a function, got string');
  });
});
