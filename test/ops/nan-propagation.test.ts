import { beforeAll, describe, expect, it } from 'vitest';
import { F, SDPBackend, sdpaKernel, tensor } from '../../src/index.js';
import { MODES, useMode, values } from '../support/helpers.js';

describe.each(MODES)('NaN is never mistaken for a masked entry on %s', (mode) => {
  beforeAll(() => useMode(mode));
  it('softmax and logSoftmax: a NaN makes its row NaN; other rows and -Infinity masking are unaffected', () => {
    const x = tensor([
      [Number.NaN, 1, -Infinity],
      [0, 1, -Infinity],
    ]);
    const y = values(x.softmax(1));
    expect(y.slice(0, 2).every(Number.isNaN)).toBe(true);
    expect(y.slice(3).map((v) => Number(v.toFixed(6)))).toEqual([0.268941, 0.731059, 0]);
    expect(values(x.logSoftmax(1)).slice(0, 2).every(Number.isNaN)).toBe(true);
  });
  it('scaledDotProductAttention: a NaN in the query gives a NaN output row on both paths', () => {
    const q = tensor([
      [Number.NaN, 1],
      [0, 1],
    ]);
    const k = tensor(
      [
        [1, 0],
        [0, 1],
      ],
      { dtype: 'float32' },
    );
    for (const b of [SDPBackend.FUSED, SDPBackend.MATH]) {
      const o = values(sdpaKernel([b], () => F.scaledDotProductAttention(q, k, k)));
      expect(o.slice(0, 2).every(Number.isNaN)).toBe(true);
      expect(o.slice(2).some(Number.isNaN)).toBe(false);
    }
  });
});
