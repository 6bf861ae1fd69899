import { describe, expect, it } from 'vitest';
import { noGrad, randn, tensor, tidy, zeros } from '../../src/index.js';
import { values } from '../support/helpers.js';

describe('in-place writes go through every view (PyTorch semantics)', () => {
  it('detach(), view() and reshape() share data with their base', () => {
    const p = tensor(
      [
        [1, 1],
        [1, 1],
      ],
      { requiresGrad: true },
    );
    noGrad(() => p.detach().zero_());
    expect(values(p)).toEqual([0, 0, 0, 0]);
    const x = tensor([1, 1, 1, 1]);
    x.view(2, 2).mul_(5);
    expect(values(x)).toEqual([5, 5, 5, 5]);
    const v = x.reshape([4]);
    x.copy_(tensor([1, 2, 3, 4]));
    expect(values(v)).toEqual([1, 2, 3, 4]);
    expect(v._version).toBe(x._version);
  });
  it('a saved tensor changed through a view makes backward throw', () => {
    const x = randn([3], { requiresGrad: true });
    const y = x.exp();
    noGrad(() => x.detach().add_(1));
    expect(() => y.sum().backward()).toThrow(/modified by an in-place operation/);
  });
  it('copy_ from a tensor the caller still holds copies (no aliasing)', () => {
    const a = zeros([2]);
    const b = tensor([3, 4]);
    a.copy_(b);
    b.add_(1);
    expect(values(a)).toEqual([3, 4]);
  });
  it('an in-place op with an operand that requires grad is refused while grad mode is on', () => {
    const buf = zeros([2]);
    const w = randn([2], { requiresGrad: true });
    expect(() => buf.add_(w)).toThrow(/add_: the operand requires grad, but in-place ops are not recorded by autograd/);
    noGrad(() => buf.add_(w));
    expect(values(buf)).toEqual(values(w));
  });
});

describe('gradient accumulation', () => {
  it('accumulates into the existing .grad object, so earlier references stay valid', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    x.mul(2).sum().backward();
    const g1 = x.grad!;
    x.mul(3).sum().backward();
    expect(x.grad).toBe(g1);
    expect(g1.isDisposed).toBe(false);
    expect(values(g1)).toEqual([5, 5]);
  });
  it('leaves that received one shared gradient get their own copies', () => {
    const a = tensor([1, 1], { requiresGrad: true });
    const b = tensor([1, 1], { requiresGrad: true });
    a.add(b).sum().backward();
    a.mul(10).sum().backward();
    expect(values(a.grad!)).toEqual([11, 11]);
    expect(values(b.grad!)).toEqual([1, 1]);
  });
  it('assigning a gradient of the wrong shape or dtype throws', () => {
    const x = zeros([3], { requiresGrad: true });
    expect(() => (x.grad = zeros([3, 1]))).toThrow(
      /grad: assigned gradient \(shape \[3, 1\], float32\) must match the tensor \(shape \[3\], float32\)/,
    );
    expect(() => (x.grad = zeros([3], { dtype: 'float64' }))).toThrow(/must match/);
  });
  it('tidy disposes what it made when its function throws', () => {
    const before = randn([1]);
    let made: ReturnType<typeof randn> | null = null;
    expect(() =>
      tidy(() => {
        made = before.mul(2);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(made!.isDisposed).toBe(true);
    expect(before.isDisposed).toBe(false);
  });
});
