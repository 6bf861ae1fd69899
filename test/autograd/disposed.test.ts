// A backward that fails because something it needed was disposed names the op, what the tensor is to the
// op, and who disposed it (tidy() or dispose()), with the fix.
import { describe, expect, it } from 'vitest';
import { F, nn, randn, tensor, tidy, keep, manualSeed, type Tensor } from '../../src/index.js';
import { MODES, useMode } from '../support/helpers.js';

describe.each(MODES)('disposed tensors a backward needs, on %s', (mode) => {
  it("embedding's index tensor, disposed by dispose() or by tidy()", () => {
    useMode(mode);
    manualSeed(0);
    const emb = new nn.Embedding(5, 3);
    const idx = tensor(Int32Array.from([1, 2, 3, 4, 0, 1]), { shape: [2, 3] });
    const y = emb.forward(idx);
    idx.dispose();
    expect(() => y.sum().backward()).toThrow(
      "backward: Embedding's backward needs its index tensor (shape [2, 3], int32), which was disposed by dispose(); " +
        'dispose it after backward(), or keep a reference until then',
    );
    let inner!: Tensor;
    const out = tidy(() => {
      inner = tensor(Int32Array.from([0, 4]), { shape: [2] });
      return emb.forward(inner);
    });
    expect(inner.isDisposed).toBe(true);
    expect(() => out.sum().backward()).toThrow(
      "backward: Embedding's backward needs its index tensor (shape [2], int32), which was disposed by tidy(); keep() it, or create it outside the tidy()",
    );
    // kept, the same backward runs
    const out2 = tidy(() => emb.forward(keep(tensor(Int32Array.from([0, 4]), { shape: [2] }))));
    out2.sum().backward();
    expect(Array.from(emb.weight.grad!.toArray().slice(0, 3))).toEqual([1, 1, 1]);
  });

  it('an input of mul, an intermediate the backward reads, and the output of an op in the graph', () => {
    useMode(mode);
    const x = randn([4, 3], { requiresGrad: true });
    // the mean of nllLoss divides a sum made inside the tidy: Div's backward reads it
    const loss = tidy(() => F.nllLoss(x, tensor(Int32Array.from([0, 2, 1, 1]))));
    expect(() => loss.backward()).toThrow(
      "backward: Div's backward needs its input 0 (shape [], float32), which was disposed by tidy(); call backward() inside the same tidy() as the forward",
    );
    // an input the backward reads (the other factor of a product)
    const b = randn([3]);
    const y = x.mul(b);
    b.dispose();
    expect(() => y.sum().backward()).toThrow(
      /^backward: Mul's backward needs its input 1 \(shape \[3\], float32\), which was disposed by dispose\(\)/,
    );
    // the output of an op inside the graph, freed by tidy: the old error, now saying who freed it
    const z = tidy(() => x.exp().sum());
    expect(() => z.backward()).toThrow(
      /^backward: the output of Exp was disposed by tidy\(\), which freed what its backward needed; call backward\(\) inside the same tidy\(\)/,
    );
  });
});
