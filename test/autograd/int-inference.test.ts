// Integer data makes an integer tensor, as torch.tensor([1, 2, 3]) does (int32 here: GPU.js has no 64-bit
// integers); 'int64' is accepted as torch.long's name and stores int32, refusing what int32 cannot hold.
import { describe, expect, it } from 'vitest';
import { arange, full, randint, tensor, zeros } from '../../src/index.js';

describe('dtype inference from data', () => {
  it('integers give int32, any fraction or non-finite value float32, booleans bool, typed arrays their own', () => {
    expect(tensor([1, 2, 3]).dtype).toBe('int32');
    expect(
      tensor([
        [1, -2],
        [3, 4],
      ]).dtype,
    ).toBe('int32');
    expect(tensor(3).dtype).toBe('int32');
    expect(tensor([1, 2.5]).dtype).toBe('float32');
    expect(tensor([1, Infinity]).dtype).toBe('float32');
    expect(tensor([1, NaN]).dtype).toBe('float32');
    expect(tensor([true, false]).dtype).toBe('bool');
    expect(tensor(Float64Array.from([1, 2])).dtype).toBe('float64');
    expect(tensor(Float32Array.from([1, 2])).dtype).toBe('float32');
    expect(tensor([]).dtype).toBe('float32'); // torch.tensor([]) is float32 too
    // what JavaScript cannot say (1.0): asking for gradients means floating point data
    expect(tensor([1, 2], { requiresGrad: true }).dtype).toBe('float32');
    // integers int32 cannot hold are floats (PyTorch would make int64)
    expect(tensor([1e30, 1]).dtype).toBe('float32');
    expect(tensor([2 ** 31]).dtype).toBe('float32');
    expect(Array.from(tensor([-(2 ** 31), 2 ** 31 - 1]).toArray())).toEqual([-(2 ** 31), 2 ** 31 - 1]);
  });

  it('int64 is an alias that stores int32 and throws beyond 2^31; explicit int32 never wraps', () => {
    const t = tensor([1, 2], { dtype: 'int64' });
    expect(t.dtype).toBe('int32');
    expect(tensor([1.5, 2.5]).long().dtype).toBe('int32');
    expect(tensor([1.5, 2.5]).to('int64').tolist()).toEqual([1, 2]);
    expect(() => tensor([2 ** 31], { dtype: 'int64' })).toThrow(
      'tensor: value 2147483648 does not fit int64 (stored as int32: gpugrad has no 64-bit integers) (range -2147483648 to 2147483647)',
    );
    expect(() => tensor([-(2 ** 31) - 1], { dtype: 'int32' })).toThrow(/^tensor: value -2147483649 does not fit int32 \(range/);
    expect(() => full([2], 2 ** 40, { dtype: 'int64' })).toThrow(/^full: value 1099511627776 does not fit int64/);
    expect(() => zeros([2], { dtype: 'int16' as never })).toThrow(
      "zeros: unknown dtype 'int16'; expected one of float32, float64, int32, bool (or int64, stored as int32)",
    );
    expect(randint(0, 5, [3], { dtype: 'int64' }).dtype).toBe('int32');
    expect(() => randint(0, 2 ** 32, [1])).toThrow(/^randint: value 4294967295 does not fit int32/);
  });

  it('arange: integer arguments give int32, options after any of the numbers', () => {
    expect(arange(4).dtype).toBe('int32');
    expect(arange(0, 4, { dtype: 'int64' }).dtype).toBe('int32');
    expect(arange(0, 1, 0.25).dtype).toBe('float32');
    expect(arange(4, { dtype: 'float32' }).tolist()).toEqual([0, 1, 2, 3]);
    expect(() => arange(0, 2 ** 32, 2 ** 31, { dtype: 'int32' })).toThrow(/^arange: value 2147483648 does not fit int32/);
  });
});

describe('in-place ops on integer tensors', () => {
  it("refuse a result of a higher kind, as PyTorch's 'result type Float can't be cast to Long'", () => {
    const t = tensor([1, 2, 3]);
    expect(() => t.div_(2)).toThrow(
      "div_: result type float32 can't be cast to the desired output type int32 (shape [3]); convert first (x = x.float()) or use the out-of-place op",
    );
    expect(() => t.mul_(0.5)).toThrow(/^mul_: result type float32 can't be cast to the desired output type int32/);
    expect(t.tolist()).toEqual([1, 2, 3]); // untouched
    expect(t.add_(2).tolist()).toEqual([3, 4, 5]);
    expect(() => tensor([true, false]).add_(1)).toThrow(/^add_: result type int32 can't be cast to the desired output type bool/);
    // copy_ converts, as PyTorch's does
    expect(t.copy_(tensor([1.7, 2.2, -3.9])).tolist()).toEqual([1, 2, -3]);
  });
});
