// Every public function, called with wrong arguments, throws an Error that names the function and says
// what was given: never a raw JavaScript TypeError, never a message naming another op or a GPU.js
// internal, and never a result (a wrong call that returns at all is a failure). Each row gives a valid
// call and the kind of each argument; each argument is replaced in turn by the bad values of its kind
// (about 500 calls per mode).
import { describe, expect, it } from 'vitest';
import * as G from '../src/index.js';
import { F, nn, optim, randn, tensor, type Tensor } from '../src/index.js';
import { MODES, useMode } from './support/helpers.js';

type Kind =
  | 'tensor'
  | 'operand'
  | 'dim'
  | 'int'
  | 'count'
  | 'number'
  | 'finite'
  | 'seed'
  | 'shape'
  | 'bool'
  | 'options'
  | 'tensors'
  | 'params'
  | 'dims'
  | 'dtype'
  | 'string'
  | 'bytes'
  | 'dict'
  | 'fn'
  | 'meta'
  | 'paramValue'
  | 'gradient'
  | 'optint'
  | 'bound';

const disposed = (): Tensor => {
  const t = randn([2, 3]);
  t.dispose();
  return t;
};

/** Bad values of each kind, with a label for the failure message. */
const BAD: Record<Kind, [string, () => unknown][]> = {
  tensor: [
    ['null', () => null],
    ['undefined', () => undefined],
    ["'x'", () => 'x'],
    ['{}', () => ({})],
    ['[1, 2]', () => [1, 2]],
    ['a disposed tensor', disposed],
  ],
  operand: [
    ['null', () => null],
    ["'two'", () => 'two'],
    ['{}', () => ({})],
    ['a disposed tensor', disposed],
  ],
  dim: [
    ['1.5', () => 1.5],
    ["'x'", () => 'x'],
    ['NaN', () => NaN],
    ['99', () => 99],
    ['-99', () => -99],
  ],
  dims: [
    ['[1.5]', () => [1.5]],
    ["'x'", () => 'x'],
    ['[99]', () => [99]],
    ['[0, 0]', () => [0, 0]],
  ],
  int: [
    ['1.5', () => 1.5],
    ["'x'", () => 'x'],
    ['NaN', () => NaN],
    ['null', () => null],
  ],
  // a clamp bound: a number, a tensor or null
  bound: [
    ["'two'", () => 'two'],
    ['{}', () => ({})],
    ['a disposed tensor', disposed],
  ],
  // an integer that may be left out (null or undefined: the default), as a slice's start and end
  optint: [
    ['1.5', () => 1.5],
    ["'x'", () => 'x'],
    ['NaN', () => NaN],
  ],
  count: [
    ['1.5', () => 1.5],
    ["'x'", () => 'x'],
    ['-1', () => -1],
    ['NaN', () => NaN],
  ],
  number: [
    ["'x'", () => 'x'],
    ['{}', () => ({})],
    ['[1]', () => [1]],
  ],
  // a number that must be finite, where an options object may also stand (arange's positions)
  finite: [
    ["'x'", () => 'x'],
    ['[1]', () => [1]],
    ['NaN', () => NaN],
    ['Infinity', () => Infinity],
  ],
  // torch.manual_seed takes any integer-like number (1.5 becomes 1)
  seed: [
    ["'x'", () => 'x'],
    ['NaN', () => NaN],
    ['null', () => null],
    ['{}', () => ({})],
  ],
  shape: [
    ['[2, -3]', () => [2, -3]],
    ['[1.5]', () => [1.5]],
    ["'x'", () => 'x'],
    ['[NaN]', () => [NaN]],
    ['null', () => null],
  ],
  bool: [
    ["'false'", () => 'false'],
    ['1', () => 1],
  ],
  options: [
    ["'x'", () => 'x'],
    ['5', () => 5],
    ['{ bogus: 1 }', () => ({ bogus: 1 })],
  ],
  tensors: [
    ['null', () => null],
    ['[]', () => []],
    ["['x']", () => ['x']],
    ['[a disposed tensor]', () => [disposed()]],
  ],
  dtype: [
    ["'int16'", () => 'int16'],
    ['null', () => null],
    ['5', () => 5],
  ],
  string: [
    ['null', () => null],
    ['5', () => 5],
    ['{}', () => ({})],
  ],
  bytes: [
    ['null', () => null],
    ["'x'", () => 'x'],
    ['{}', () => ({})],
    ['3 bytes', () => new Uint8Array(3)],
  ],
  dict: [
    ['null', () => null],
    ["'x'", () => 'x'],
    ["{ a: 'x' }", () => ({ a: 'x' })],
    ['{ a: a disposed tensor }', () => ({ a: disposed() })],
  ],
  meta: [
    ["'x'", () => 'x'],
    ['{ a: 5 }', () => ({ a: 5 })],
  ],
  paramValue: [
    ['undefined', () => undefined],
    ["'x'", () => 'x'],
    ['{}', () => ({})],
    ['a disposed tensor', disposed],
  ],
  gradient: [
    ["'x'", () => 'x'],
    ['{}', () => ({})],
    ['a disposed tensor', disposed],
  ],
  fn: [
    ['null', () => null],
    ["'x'", () => 'x'],
    ['5', () => 5],
  ],
  // parameters for clipping: an empty list is allowed (PyTorch returns a zero norm)
  params: [
    ['null', () => null],
    ["['x']", () => ['x']],
    ['[a disposed tensor]', () => [disposed()]],
  ],
};

interface Row {
  name: string;
  kinds: Kind[];
  args: () => unknown[];
  call: (...a: never[]) => unknown;
}

const x23 = (): Tensor => randn([2, 3]);
const idx = (): Tensor => tensor(Int32Array.from([0, 2]));
const row = (name: string, kinds: Kind[], args: () => unknown[], call: (...a: never[]) => unknown): Row => ({ name, kinds, args, call });

const ROWS: Row[] = [
  // creation
  row(
    'tensor',
    ['options'],
    () => [{}],
    (o) => tensor([1.5], o),
  ),
  row(
    'zeros',
    ['shape', 'options'],
    () => [[2], {}],
    (s, o) => G.zeros(s, o),
  ),
  row(
    'ones',
    ['shape', 'options'],
    () => [[2], {}],
    (s, o) => G.ones(s, o),
  ),
  row(
    'full',
    ['shape', 'number', 'options'],
    () => [[2], 1, {}],
    (s, v, o) => G.full(s, v, o),
  ),
  row(
    'arange',
    ['finite', 'finite', 'finite'],
    () => [0, 4, 1],
    (a, b, c) => G.arange(a, b, c),
  ),
  row(
    'rand',
    ['shape', 'options'],
    () => [[2], {}],
    (s, o) => G.rand(s, o),
  ),
  row(
    'randn',
    ['shape', 'options'],
    () => [[2], {}],
    (s, o) => G.randn(s, o),
  ),
  row(
    'randint',
    ['int', 'int', 'shape'],
    () => [0, 5, [3]],
    (a, b, s) => G.randint(a, b, s),
  ),
  row(
    'zerosLike',
    ['tensor'],
    () => [x23()],
    (t) => G.zerosLike(t),
  ),
  // elementwise
  ...(['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'tanh', 'sigmoid', 'relu'] as const).map((n) =>
    row(
      n,
      ['tensor'],
      () => [x23()],
      (t) => (G[n] as (t: Tensor) => Tensor)(t),
    ),
  ),
  row(
    'gelu',
    ['tensor'],
    () => [x23()],
    (t) => G.gelu(t),
  ),
  ...(['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const).map((n) =>
    row(
      n,
      ['tensor', 'operand'],
      () => [x23(), x23()],
      (a, b) => (G[n] as (a: Tensor, b: Tensor) => Tensor)(a, b),
    ),
  ),
  row(
    'add',
    ['tensor', 'tensor', 'number'],
    () => [x23(), x23(), 1],
    (a, b, al) => G.add(a, b, al),
  ),
  ...(['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const).map((n) =>
    row(
      n,
      ['tensor', 'operand'],
      () => [x23(), x23()],
      (a, b) => (G[n] as (a: Tensor, b: Tensor) => Tensor)(a, b),
    ),
  ),
  row(
    'where',
    ['tensor', 'tensor', 'tensor'],
    () => [x23().gt(0), x23(), x23()],
    (c, a, b) => G.where(c, a, b),
  ),
  row(
    'maskedFill',
    ['tensor', 'tensor', 'number'],
    () => [x23(), x23().gt(0), 0],
    (a, m, v) => G.maskedFill(a, m, v),
  ),
  // reductions
  ...(['sum', 'mean', 'amax', 'amin'] as const).map((n) =>
    row(
      n,
      ['tensor', 'dim', 'bool'],
      () => [x23(), 1, false],
      (t, d, k) => (G[n] as (t: Tensor, d: number, k: boolean) => Tensor)(t, d, k),
    ),
  ),
  row(
    'argmax',
    ['tensor', 'dim'],
    () => [x23(), 1],
    (t, d) => G.argmax(t, d),
  ),
  row(
    'softmax',
    ['tensor', 'dim'],
    () => [x23(), 1],
    (t, d) => G.softmax(t, d),
  ),
  row(
    'logSoftmax',
    ['tensor', 'dim'],
    () => [x23(), 1],
    (t, d) => G.logSoftmax(t, d),
  ),
  row(
    'cumsum',
    ['tensor', 'dim'],
    () => [x23(), 1],
    (t, d) => G.cumsum(t, d),
  ),
  // linear algebra, shapes
  row(
    'matmul',
    ['tensor', 'tensor'],
    () => [x23(), randn([3, 2])],
    (a, b) => G.matmul(a, b),
  ),
  row(
    'reshape',
    ['tensor', 'shape'],
    () => [x23(), [3, 2]],
    (t, s) => G.reshape(t, s),
  ),
  row(
    'permute',
    ['tensor', 'dims'],
    () => [x23(), [1, 0]],
    (t, d) => G.permute(t, d),
  ),
  row(
    'transpose',
    ['tensor', 'dim', 'dim'],
    () => [x23(), 0, 1],
    (t, a, b) => G.transpose(t, a, b),
  ),
  row(
    'unsqueeze',
    ['tensor', 'dim'],
    () => [x23(), 0],
    (t, d) => G.unsqueeze(t, d),
  ),
  row(
    'squeeze',
    ['tensor', 'dim'],
    () => [randn([2, 1]), 1],
    (t, d) => G.squeeze(t, d),
  ),
  row(
    'expand',
    ['tensor', 'shape'],
    () => [randn([1, 3]), [2, 3]],
    (t, s) => G.expand(t, s),
  ),
  row(
    'narrow',
    ['tensor', 'dim', 'int', 'count'],
    () => [x23(), 1, 0, 2],
    (t, d, s, l) => G.narrow(t, d, s, l),
  ),
  row(
    'slice',
    ['tensor', 'dim', 'optint', 'optint'],
    () => [x23(), 1, 0, 2],
    (t, d, s, e) => G.slice(t, d, s, e),
  ),
  row(
    'split',
    ['tensor', 'count', 'dim'],
    () => [x23(), 1, 1],
    (t, n, d) => G.split(t, n, d),
  ),
  row(
    'chunk',
    ['tensor', 'count', 'dim'],
    () => [x23(), 3, 1],
    (t, n, d) => G.chunk(t, n, d),
  ),
  row(
    'cat',
    ['tensors', 'dim'],
    () => [[x23(), x23()], 0],
    (ts, d) => G.cat(ts, d),
  ),
  row(
    'stack',
    ['tensors', 'dim'],
    () => [[x23(), x23()], 0],
    (ts, d) => G.stack(ts, d),
  ),
  row(
    'indexSelect',
    ['tensor', 'dim', 'tensor'],
    () => [x23(), 1, idx()],
    (t, d, i) => G.indexSelect(t, d, i),
  ),
  row(
    'tril',
    ['tensor', 'int'],
    () => [x23(), 0],
    (t, k) => G.tril(t, k),
  ),
  row(
    'triu',
    ['tensor', 'int'],
    () => [x23(), 0],
    (t, k) => G.triu(t, k),
  ),
  row(
    'gather',
    ['tensor', 'dim', 'tensor'],
    () => [x23(), 1, tensor([[0], [2]])],
    (t, d, i) => G.gather(t, d, i),
  ),
  row(
    'flip',
    ['tensor', 'dims'],
    () => [x23(), [0]],
    (t, d) => G.flip(t, d),
  ),
  row(
    'topk',
    ['tensor', 'count', 'dim'],
    () => [x23(), 2, 1],
    (t, k, d) => G.topk(t, k, d),
  ),
  row(
    'sort',
    ['tensor', 'dim', 'bool'],
    () => [x23(), 1, false],
    (t, d, s) => G.sort(t, d, s),
  ),
  row(
    'multinomial',
    ['tensor', 'count', 'bool'],
    () => [tensor([0.2, 0.8]), 1, false],
    (p, n, r) => G.multinomial(p, n, r),
  ),
  // F
  row(
    'linear',
    ['tensor', 'tensor'],
    () => [x23(), randn([4, 3])],
    (a, w) => F.linear(a, w),
  ),
  row(
    'layerNorm',
    ['tensor', 'shape'],
    () => [x23(), [3]],
    (t, s) => F.layerNorm(t, s),
  ),
  row(
    'embedding',
    ['tensor', 'tensor'],
    () => [idx(), randn([3, 2])],
    (i, w) => F.embedding(i, w),
  ),
  row(
    'dropout',
    ['tensor', 'number', 'bool'],
    () => [x23(), 0.5, true],
    (t, p, tr) => F.dropout(t, p, tr),
  ),
  row(
    'crossEntropy',
    ['tensor', 'tensor', 'options'],
    () => [x23(), idx(), {}],
    (a, t, o) => F.crossEntropy(a, t, o),
  ),
  row(
    'mseLoss',
    ['tensor', 'tensor', 'options'],
    () => [x23(), x23(), {}],
    (a, t, o) => F.mseLoss(a, t, o),
  ),
  row(
    'scaledDotProductAttention',
    ['tensor', 'tensor', 'tensor', 'options'],
    () => [randn([1, 2, 4]), randn([1, 2, 4]), randn([1, 2, 4]), {}],
    (q, k, v, o) => F.scaledDotProductAttention(q, k, v, o),
  ),
  row(
    'gelu',
    ['tensor', 'options'],
    () => [x23(), {}],
    (t, o) => F.gelu(t, o),
  ),
  // nn and optim
  row(
    'Linear',
    ['count', 'count', 'options'],
    () => [3, 2, {}],
    (a, b, o) => new nn.Linear(a, b, o),
  ),
  row(
    'Embedding',
    ['count', 'count', 'options'],
    () => [3, 2, {}],
    (a, b, o) => new nn.Embedding(a, b, o),
  ),
  row(
    'LayerNorm',
    ['shape', 'options'],
    () => [[3], {}],
    (s, o) => new nn.LayerNorm(s, o),
  ),
  row(
    'MultiheadAttention',
    ['count', 'count', 'options'],
    () => [4, 2, {}],
    (e, h, o) => new nn.MultiheadAttention(e, h, o),
  ),
  row(
    'SGD',
    ['tensors', 'options'],
    () => [[randn([2], { requiresGrad: true })], { lr: 0.1 }],
    (p, o) => new optim.SGD(p, o),
  ),
  row(
    'AdamW',
    ['tensors', 'options'],
    () => [[randn([2], { requiresGrad: true })], {}],
    (p, o) => new optim.AdamW(p, o),
  ),
  row(
    'clipGradNorm',
    ['params', 'number'],
    () => [[randn([2], { requiresGrad: true })], 1],
    (p, m) => nn.clipGradNorm(p, m),
  ),
  row(
    'tidy',
    ['operand'],
    () => [() => 1],
    (f) => G.tidy(f),
  ),
  row(
    'keep',
    ['tensor'],
    () => [x23()],
    (t) => G.keep(t),
  ),
  row(
    'manualSeed',
    ['seed'],
    () => [1],
    (s) => G.manualSeed(s),
  ),
  // the tensor functions a transformer script needs
  row(
    'clamp',
    ['tensor', 'bound', 'bound'],
    () => [x23(), -1, 1],
    (t, a, b) => G.clamp(t, a, b),
  ),
  row(
    'select',
    ['tensor', 'dim', 'int'],
    () => [x23(), 1, -1],
    (t, d, i) => G.select(t, d, i),
  ),
  row(
    'index',
    ['tensor', 'optint'],
    () => [x23(), -1],
    (t, i) => G.index(t, i),
  ),
  row(
    'norm',
    ['tensor', 'dim', 'bool'],
    () => [x23(), 1, false],
    (t, d, k) => G.norm(t, 2, d, k),
  ),
  row(
    'outer',
    ['tensor', 'tensor'],
    () => [randn([2]), randn([3])],
    (a, b) => G.outer(a, b),
  ),
  row(
    'einsum',
    ['string', 'tensor', 'tensor'],
    () => ['ij,jk->ik', x23(), randn([3, 2])],
    (e, a, b) => G.einsum(e, a, b),
  ),
  row(
    'where',
    ['tensor', 'operand', 'operand'],
    () => [x23().gt(0), 1, 0],
    (c, a, b) => G.where(c, a, b),
  ),
  row(
    'silu',
    ['tensor'],
    () => [x23()],
    (t) => F.silu(t),
  ),
  row(
    'normalize',
    ['tensor', 'options'],
    () => [x23(), {}],
    (t, o) => F.normalize(t, o),
  ),
  row(
    'rmsNorm',
    ['tensor', 'shape'],
    () => [x23(), [3]],
    (t, sh) => F.rmsNorm(t, sh),
  ),
  row(
    'oneHot',
    ['tensor', 'int'],
    () => [idx(), 3],
    (t, n) => F.oneHot(t, n),
  ),
  row(
    'isclose',
    ['tensor', 'tensor', 'options'],
    () => [x23(), x23(), {}],
    (a, b, o) => G.isclose(a, b, o),
  ),
  row(
    'allclose',
    ['tensor', 'tensor', 'options'],
    () => [x23(), x23(), {}],
    (a, b, o) => G.allclose(a, b, o),
  ),
  row(
    'scatter',
    ['tensor', 'dim', 'tensor', 'operand'],
    () => [x23(), 1, tensor([[0], [2]]), 5],
    (t, d, i, v) => G.scatter(t, d, i, v),
  ),
  row(
    'scatterAdd',
    ['tensor', 'dim', 'tensor', 'tensor'],
    () => [x23(), 1, tensor([[0], [2]]), randn([2, 1])],
    (t, d, i, v) => G.scatterAdd(t, d, i, v),
  ),
  row(
    'roll',
    ['tensor', 'int', 'dim'],
    () => [x23(), 1, 1],
    (t, n, d) => G.roll(t, n, d),
  ),
  row(
    'argsort',
    ['tensor', 'dim', 'bool'],
    () => [x23(), 1, false],
    (t, d, b) => G.argsort(t, d, b),
  ),
  row(
    'RMSNorm',
    ['shape', 'options'],
    () => [[3], {}],
    (sh, o) => new nn.RMSNorm(sh, o),
  ),
  row(
    'registerHook',
    ['fn'],
    () => [(g: Tensor) => g],
    (f) => randn([2], { requiresGrad: true }).registerHook(f),
  ),
  row(
    'registerForwardHook',
    ['fn'],
    () => [() => undefined],
    (f) => new nn.ReLU().registerForwardHook(f),
  ),
  row(
    'registerForwardPreHook',
    ['fn'],
    () => [() => undefined],
    (f) => new nn.ReLU().registerForwardPreHook(f),
  ),
  row(
    'setDetectAnomaly',
    ['bool'],
    () => [false],
    (m) => G.autograd.setDetectAnomaly(m),
  ),
  row(
    'detectAnomaly',
    ['fn'],
    () => [() => 1],
    (f) => G.autograd.detectAnomaly(f),
  ),
  // safetensors, init, Module's methods, schedulers, autograd
  row(
    'serializeSafetensors',
    ['dict'],
    () => [{ a: x23() }],
    (d) => nn.serializeSafetensors(d),
  ),
  row(
    'serializeSafetensors',
    ['dict', 'meta'],
    () => [{ a: x23() }, { k: 'v' }],
    (d, m) => nn.serializeSafetensors(d, m),
  ),
  row(
    'parseSafetensors',
    ['bytes'],
    () => [nn.serializeSafetensors({ a: x23() })],
    (b) => nn.parseSafetensors(b),
  ),
  row(
    'uniform_',
    ['tensor', 'number', 'number'],
    () => [x23(), 0, 1],
    (t, a, b) => nn.init.uniform_(t, a, b),
  ),
  row(
    'normal_',
    ['tensor', 'number', 'number'],
    () => [x23(), 0, 1],
    (t, m, sd) => nn.init.normal_(t, m, sd),
  ),
  row(
    'constant_',
    ['tensor', 'number'],
    () => [x23(), 0],
    (t, v) => nn.init.constant_(t, v),
  ),
  row(
    'xavierUniform_',
    ['tensor', 'number'],
    () => [x23(), 1],
    (t, g) => nn.init.xavierUniform_(t, g),
  ),
  row(
    'kaimingUniform_',
    ['tensor', 'options'],
    () => [x23(), {}],
    (t, o) => nn.init.kaimingUniform_(t, o),
  ),
  row(
    'loadStateDict',
    ['dict', 'options'],
    () => [new nn.Linear(3, 2).stateDict(), {}],
    (d, o) => new nn.Linear(3, 2).loadStateDict(d, o),
  ),
  row(
    'stateDict',
    ['options'],
    () => [{}],
    (o) => new nn.Linear(3, 2).stateDict(o),
  ),
  row(
    'train',
    ['bool'],
    () => [true],
    (m) => new nn.Linear(3, 2).train(m),
  ),
  row(
    'to',
    ['dtype'],
    () => ['float64'],
    (d) => new nn.Linear(3, 2).to(d),
  ),
  row(
    'registerParameter',
    ['string', 'paramValue'],
    () => ['w', x23()],
    (n, t) => new nn.Module().registerParameter(n, t),
  ),
  row(
    'registerBuffer',
    ['string', 'bool'],
    () => ['b', true],
    (n, p) => new nn.Module().registerBuffer(n, x23(), p),
  ),
  row(
    'getSubmodule',
    ['string'],
    () => [''],
    (n) => new nn.Linear(3, 2).getSubmodule(n),
  ),
  row(
    'StepLR',
    ['options'],
    () => [{ stepSize: 2 }],
    (o) => new optim.lrScheduler.StepLR(new optim.SGD([randn([2], { requiresGrad: true })], { lr: 0.1 }), o),
  ),
  row(
    'backward',
    ['gradient', 'options'],
    () => [undefined, {}],
    (g, o) =>
      randn([1], { requiresGrad: true })
        .mul(2)
        .sum()
        .backward(g as never, o),
  ),
  row(
    'gradcheck',
    ['fn', 'tensors', 'options'],
    () => [(a: Tensor) => a.mul(a).sum(), [randn([2], { dtype: 'float64', requiresGrad: true })], {}],
    (f, i, o) => G.gradcheck(f, i, o),
  ),
];

/** What an error from a wrong argument must not look like. */
const LEAKS = [/Cannot read propert/, /is not a function/, /is not iterable/, /incorrectly defined/, /Kernel\./, /gpugrad internal/];

function attempt(r: Row, args: unknown[]): { ok: true } | { ok: false; error: unknown } {
  try {
    r.call(...(args as never[]));
    return { ok: true };
  } catch (e) {
    return { ok: false, error: e };
  }
}

describe.each(MODES)('wrong arguments on %s', (mode) => {
  it('each public function names itself and what it was given', () => {
    useMode(mode);
    const failures: string[] = [];
    let calls = 0;
    for (const r of ROWS) {
      // the valid call works
      const good = attempt(r, r.args());
      if (!good.ok) failures.push(`${r.name}: the valid call threw ${(good.error as Error)?.message}`);
      r.kinds.forEach((kind, slot) => {
        for (const [label, make] of BAD[kind]) {
          const args = r.args();
          args[slot] = make();
          calls++;
          const res = attempt(r, args);
          const what = `${r.name} with argument ${slot} = ${label}`;
          if (res.ok) {
            failures.push(`${what}: returned instead of throwing`);
            continue;
          }
          const e = res.error;
          const msg = e instanceof Error ? e.message : String(e);
          const prefix = new RegExp(`^(${r.name}|${r.name[0].toLowerCase()}${r.name.slice(1)})\\b`);
          if (!(e instanceof Error) || e.constructor !== Error)
            failures.push(`${what}: threw a ${e instanceof Error ? e.name : typeof e}: ${msg}`);
          else if (LEAKS.some((l) => l.test(msg))) failures.push(`${what}: leaked an internal error: ${msg}`);
          else if (!prefix.test(msg)) failures.push(`${what}: the error does not start with its name: ${msg}`);
        }
      });
    }
    console.log(`${mode}: ${calls} calls with a wrong argument, ${ROWS.length} public functions`);
    expect(calls).toBeGreaterThan(400);
    expect(failures).toEqual([]);
  });
});
