// Options a PyTorch user spells in snake_case, or flags given as strings, are errors naming the function,
// the key and the camelCase spelling, never silently ignored (issue: `{ is_causal: true }` ran a GPT
// non-causally, `{ weight_decay: 0.1 }` used the default decay, `new nn.Linear(4, 3, false)` kept its bias).
import { describe, expect, it } from 'vitest';
import { F, add, arange, exp, full, gradcheck, nn, optim, randn, setBackend, tensor, zeros } from '../../src/index.js';
import { camelCase, checkOptions } from '../../src/helpers/validate.js';

describe('strict options', () => {
  setBackend('cpu');
  const q = randn([1, 2, 3, 4]);
  const p = (): ReturnType<typeof zeros> => zeros([2], { requiresGrad: true });
  const cases: [string, () => unknown, RegExp][] = [
    [
      'sdpa is_causal',
      () => F.scaledDotProductAttention(q, q, q, { is_causal: true } as never),
      /scaledDotProductAttention: unknown option 'is_causal'.*did you mean 'isCausal'/,
    ],
    [
      "sdpa isCausal: 'false'",
      () => F.scaledDotProductAttention(q, q, q, { isCausal: 'false' } as never),
      /scaledDotProductAttention: isCausal must be a boolean.*"false"/,
    ],
    ['sdpa attn_mask', () => F.scaledDotProductAttention(q, q, q, { attn_mask: null } as never), /did you mean 'attnMask'/],
    [
      'sdpa options not an object',
      () => F.scaledDotProductAttention(q, q, q, true as never),
      /scaledDotProductAttention: options must be an object.*got true/,
    ],
    [
      'AdamW weight_decay',
      () => new optim.AdamW([p()], { weight_decay: 0.1 } as never),
      /AdamW: unknown option 'weight_decay'.*did you mean 'weightDecay'/,
    ],
    [
      'a param group weight_decay',
      () => new optim.AdamW([{ params: [p()], weight_decay: 0.1 }] as never),
      /AdamW: unknown option 'weight_decay' in param group 0.*did you mean 'weightDecay'/,
    ],
    [
      "SGD maximize: 'false'",
      () => new optim.SGD([p()], { maximize: 'false' } as never),
      /SGD: param group 0: maximize must be a boolean.*"false"/,
    ],
    ["Adam amsgrad: 'false'", () => new optim.Adam([p()], { amsgrad: 'false' } as never), /Adam: param group 0: amsgrad must be a boolean/],
    ['SGD a typo', () => new optim.SGD([p()], { momentun: 0.9 } as never), /SGD: unknown option 'momentun'.*allowed: lr, momentum/],
    [
      'Linear(4, 3, false)',
      () => new nn.Linear(4, 3, false as never),
      /Linear: options \(the third argument: \{ bias: false \}, not false\) must be an object/,
    ],
    ["Linear bias: 'no'", () => new nn.Linear(4, 3, { bias: 'no' } as never), /Linear: bias must be a boolean/],
    ['LayerNorm elementwise_affine', () => new nn.LayerNorm(4, { elementwise_affine: false } as never), /did you mean 'elementwiseAffine'/],
    [
      'Embedding padding_idx',
      () => new nn.Embedding(4, 3, { padding_idx: 0 } as never),
      /Embedding: unknown option 'padding_idx'.*did you mean 'paddingIdx'/,
    ],
    [
      'MultiheadAttention batch_first',
      () => new nn.MultiheadAttention(4, 2, { batch_first: true } as never),
      /MultiheadAttention: unknown option 'batch_first'.*did you mean 'batchFirst'/,
    ],
    [
      'MultiheadAttention.forward need_weights',
      () => new nn.MultiheadAttention(4, 2).forward(randn([3, 1, 4]), randn([3, 1, 4]), randn([3, 1, 4]), { need_weights: false } as never),
      /MultiheadAttention.forward: unknown option 'need_weights'.*did you mean 'needWeights'/,
    ],
    [
      'TransformerEncoderLayer norm_first',
      () => new nn.TransformerEncoderLayer(4, 2, { norm_first: true } as never),
      /TransformerEncoderLayer: unknown option 'norm_first'.*did you mean 'normFirst'/,
    ],
    [
      'TransformerEncoderLayer.forward is_causal',
      () => new nn.TransformerEncoderLayer(4, 2, { dropout: 0 }).forward(randn([3, 1, 4]), { is_causal: true } as never),
      /TransformerEncoderLayer.forward: unknown option 'is_causal'.*did you mean 'isCausal'/,
    ],
    [
      'StepLR gamma -1',
      () => new optim.lrScheduler.StepLR(new optim.SGD([p()], { lr: 0.1 }), { stepSize: 1, gamma: -1 }),
      /StepLR: gamma must be a finite number >= 0, got -1/,
    ],
    [
      'StepLR step_size',
      () => new optim.lrScheduler.StepLR(new optim.SGD([p()]), { step_size: 1 } as never),
      /StepLR: unknown option 'step_size'.*did you mean 'stepSize'/,
    ],
    [
      'CosineAnnealingLR T_max',
      () => new optim.lrScheduler.CosineAnnealingLR(new optim.SGD([p()]), { T_max: 10 } as never),
      /CosineAnnealingLR: unknown option 'T_max'/,
    ],
    [
      'LambdaLR giving a negative lr',
      () => new optim.lrScheduler.LambdaLR(new optim.SGD([p()], { lr: 0.1 }), () => -1),
      /LambdaLR: the schedule gives param group 0 the learning rate -0.1 at epoch 0/,
    ],
    ['clipGradNorm max_norm -1', () => nn.clipGradNorm([p()], -1), /clipGradNorm: maxNorm must be a number >= 0, got -1/],
    ["add(x, y, 'two')", () => add(q, q, 'two' as never), /^add: alpha must be a number, got "two"$/],
    ['slice with a fractional start', () => q.slice(3, 0.5, 2), /^slice: start must be an integer, got 0.5$/],
    ['narrow with a fractional start', () => q.narrow(3, 0.5, 1), /^narrow: start must be an integer, got 0.5$/],
    ['expand to -2', () => randn([1, 3]).expand([-2, 3]), /^expand: sizes must be non-negative integers or -1, got -2/],
    [
      'MultiheadAttention kdim -1',
      () => new nn.MultiheadAttention(4, 2, { kdim: -1 }),
      /^MultiheadAttention: kdim must be a positive integer, got -1$/,
    ],
    [
      'backward retain_graph',
      () =>
        randn([2], { requiresGrad: true })
          .sum()
          .backward(undefined, { retain_graph: true } as never),
      /backward: unknown option 'retain_graph'.*did you mean 'retainGraph'/,
    ],
    [
      'backward a non-Tensor gradient',
      () =>
        randn([2], { requiresGrad: true })
          .sum()
          .backward(1 as never),
      /^backward: gradient must be a Tensor/,
    ],
    [
      'gradcheck raise_exception',
      () => gradcheck((a) => a.sum(), [randn([2], { dtype: 'float64', requiresGrad: true })], { raise_exception: false } as never),
      /gradcheck: unknown option 'raise_exception'.*did you mean 'raiseException'/,
    ],
    ['F.gelu approximation', () => F.gelu(q, { approximation: 'tanh' } as never), /^gelu: unknown option 'approximation'/],
    ['mseLoss size_average', () => F.mseLoss(q, q, { size_average: true } as never), /^mseLoss: unknown option 'size_average'/],
    ['var keep_dim', () => q.var(1, { keep_dim: true } as never), /^var: unknown option 'keep_dim'/],
    [
      'randn requires_grad',
      () => randn([2], { requires_grad: true } as never),
      /^randn: unknown option 'requires_grad'.*did you mean 'requiresGrad'/,
    ],
    ["tensor requiresGrad: 'yes'", () => tensor([1.5], { requiresGrad: 'yes' } as never), /^tensor: requiresGrad must be a boolean/],
    ['arange dtype typo', () => arange(0, 4, { dtpye: 'int32' } as never), /^arange: unknown option 'dtpye'/],
    ['exp(null)', () => exp(null as never), /^exp: input must be a Tensor, got null$/],
    ["full([2], 'x')", () => full([2], 'x' as never), /full: fill value must be a number, got "x"/],
    ['zeros([2, -1]) names zeros', () => zeros([2, -1]), /^zeros: shape/],
    [
      'zeros requires_grad',
      () => zeros([2], { requires_grad: true } as never),
      /zeros: unknown option 'requires_grad'.*did you mean 'requiresGrad'/,
    ],
  ];
  for (const [name, fn, msg] of cases) it(`${name} throws a clear Error`, () => expect(fn).toThrow(msg));

  it('arange takes its options after any of its numbers, as PyTorch users type it', () => {
    expect(arange(4, { dtype: 'float32' }).dtype).toBe('float32');
    expect(Array.from(arange(1, 4, { dtype: 'float64' }).toArray())).toEqual([1, 2, 3]);
    expect(arange(1, 4, { dtype: 'float64' }).dtype).toBe('float64');
    expect(Array.from(arange(0, 6, 2, { dtype: 'float32' }).toArray())).toEqual([0, 2, 4]);
  });

  it('alpha works as in torch.add/torch.sub, functions and methods alike', () => {
    const a = randn([3]);
    const b = randn([3]);
    const expect2 = (t: { toArray(): ArrayLike<number> }, f: (i: number) => number): void =>
      Array.from(t.toArray()).forEach((v, i) => expect(v).toBeCloseTo(f(i), 5));
    const av = a.toArray();
    const bv = b.toArray();
    expect2(add(a, b, 2), (i) => av[i] + 2 * bv[i]);
    expect2(a.sub(b, 0.5), (i) => av[i] - 0.5 * bv[i]);
  });

  it('correct options still work (causal SDPA differs from non-causal; AdamW keeps the given decay)', () => {
    const a = F.scaledDotProductAttention(q, q, q, { isCausal: true }).toArray();
    const b = F.scaledDotProductAttention(q, q, q, { isCausal: false }).toArray();
    expect(Array.from(a)).not.toEqual(Array.from(b));
    expect(new optim.AdamW([{ params: [p()], weightDecay: 0.1 }]).paramGroups[0].weightDecay).toBe(0.1);
    expect(new nn.Linear(4, 3, { bias: false }).bias).toBeNull();
  });

  it('the helper: camelCase, no hint for a key that is not a snake_case spelling, undefined options allowed', () => {
    expect(camelCase('key_padding_mask')).toBe('keyPaddingMask');
    expect(() => checkOptions('f', { bogus: 1 }, ['a'])).toThrow(/^f: unknown option 'bogus' \(allowed: a\)$/);
    expect(() => checkOptions('f', undefined, ['a'])).not.toThrow();
    expect(() => checkOptions('f', [1], ['a'])).toThrow(/f: options must be an object.*an array/);
  });
});
