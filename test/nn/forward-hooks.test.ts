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
