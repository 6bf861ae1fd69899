import { beforeAll, describe, expect, it } from 'vitest';
import { F, manualSeed, nn, optim, randn, tensor, zeros, ones, type Tensor } from '../../src/index.js';
import { MODES, useMode, values, expectClose } from '../support/helpers.js';

const { Linear, Dropout, LayerNorm, Embedding, Sequential, ModuleList, ModuleDict, init } = nn;

function stats(v: number[]): { mean: number; std: number; min: number; max: number } {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
  return { mean, std, min: Math.min(...v), max: Math.max(...v) };
}

/** x·Wᵀ + b in float64 on the host. */
function linearRef(x: number[], w: number[], b: number[] | null, n: number, inF: number, outF: number): number[] {
  const y: number[] = [];
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y.push(s);
    }
  }
  return y;
}

describe('layers: construction, parameters and initialisation', () => {
  beforeAll(() => useMode(MODES[0]));

  it('Linear: weight (out, in) and bias ~ U(±1/√in), PyTorch names, bias=false', () => {
    manualSeed(0);
    const l = new Linear(64, 48);
    expect(l.weight.shape).toEqual([48, 64]);
    expect(l.bias!.shape).toEqual([48]);
    expect(l.namedParameters().map(([n]) => n)).toEqual(['weight', 'bias']);
    const bound = 1 / 8;
    const w = stats(values(l.weight));
    expect(w.min).toBeGreaterThanOrEqual(-bound);
    expect(w.max).toBeLessThanOrEqual(bound);
    expect(w.max).toBeGreaterThan(0.95 * bound);
    expect(Math.abs(w.mean)).toBeLessThan(0.01);
    expect(w.std).toBeCloseTo(bound / Math.sqrt(3), 2);
    const b = stats(values(l.bias!));
    expect(b.min).toBeGreaterThanOrEqual(-bound);
    expect(b.max).toBeLessThanOrEqual(bound);
    const nb = new Linear(3, 2, { bias: false, dtype: 'float64' });
    expect(nb.bias).toBeNull();
    expect(nb.weight.dtype).toBe('float64');
    expect(Object.keys(nb.stateDict())).toEqual(['weight']);
    expect(() => new Linear(2.5, 3)).toThrow(/Linear: inFeatures must be a non-negative integer, got 2\.5/);
    expect(() => new Linear(2, 3, { dtype: 'int32' })).toThrow(/Linear: dtype must be float32 or float64, got int32/);
  });

  it('the seed fixes the initial weights', () => {
    manualSeed(7);
    const a = values(new Linear(5, 4).weight);
    manualSeed(7);
    const b = values(new Linear(5, 4).weight);
    expect(a).toEqual(b);
    const c = values(new Linear(5, 4).weight);
    expect(c).not.toEqual(a);
  });

  it('LayerNorm: weight ones, bias zeros; elementwiseAffine=false and bias=false drop them', () => {
    const ln = new LayerNorm(5);
    expect(values(ln.weight!)).toEqual([1, 1, 1, 1, 1]);
    expect(values(ln.bias!)).toEqual([0, 0, 0, 0, 0]);
    expect(Object.keys(ln.stateDict())).toEqual(['weight', 'bias']);
    expect(Object.keys(new LayerNorm(5, { bias: false }).stateDict())).toEqual(['weight']);
    const plain = new LayerNorm([2, 3], { elementwiseAffine: false });
    expect(plain.parameters()).toEqual([]);
    expect(plain.weight).toBeNull();
    expect(() => new LayerNorm([])).toThrow(/LayerNorm: normalizedShape must be a positive integer or a non-empty array/);
  });

  it('Embedding: N(0, 1) init with the padding row zeroed; negative paddingIdx counts from the end', () => {
    manualSeed(1);
    const e = new Embedding(200, 8, { paddingIdx: 3 });
    expect(e.weight.shape).toEqual([200, 8]);
    const w = values(e.weight);
    expect(w.slice(24, 32)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const s = stats(w.filter((_, i) => i < 24 || i >= 32));
    expect(Math.abs(s.mean)).toBeLessThan(0.08);
    expect(Math.abs(s.std - 1)).toBeLessThan(0.06);
    expect(new Embedding(10, 2, { paddingIdx: -1 }).paddingIdx).toBe(9);
    expect(() => new Embedding(10, 2, { paddingIdx: 10 })).toThrow(
      /Embedding: paddingIdx must be an integer within numEmbeddings \(10\), got 10/,
    );
    const pre = Embedding.fromPretrained(
      tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { dtype: 'float32' },
      ),
    );
    expect(values(pre.weight)).toEqual([1, 2, 3, 4]);
    expect(pre.weight.requiresGrad).toBe(false);
  });

  it('Dropout validates p', () => {
    expect(() => new Dropout(1.5)).toThrow(/Dropout: dropout probability has to be between 0 and 1, but got 1\.5/);
    expect(() => new Dropout(-0.1)).toThrow(/Dropout: dropout probability has to be between 0 and 1/);
  });

  it('Sequential, ModuleList and ModuleDict: indexing, iteration, names', () => {
    const a = new Linear(2, 3);
    const t = new nn.Tanh();
    const s = new Sequential(a, t);
    expect(s.length).toBe(2);
    expect(s.at(0)).toBe(a);
    expect(s.at(-1)).toBe(t);
    expect([...s]).toEqual([a, t]);
    expect(() => s.at(2)).toThrow(/Sequential\.at: index 2 is out of range for a container of 2 modules/);
    s.append(new Linear(3, 1));
    expect(Object.keys(s.stateDict())).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    const named = new Sequential({ fc: new Linear(2, 2), act: new nn.ReLU() });
    expect(Object.keys(named.stateDict())).toEqual(['fc.weight', 'fc.bias']);

    const l = new ModuleList<nn.Linear>();
    l.append(new Linear(1, 1)).extend([new Linear(1, 2), new Linear(2, 3)]);
    expect(l.length).toBe(3);
    expect([...l].map((m) => m.outFeatures)).toEqual([1, 2, 3]);
    expect(l.at(-1).outFeatures).toBe(3);
    expect(() => l.at(3)).toThrow(/ModuleList\.at: index 3 is out of range/);
    expect(() => l.call()).toThrow(/forward: ModuleList is a container and has no forward/);
    expect(l.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '2.weight', '2.bias']);

    const d = new ModuleDict({ enc: new Linear(1, 1) });
    d.set('dec', new Linear(1, 1));
    expect(d.keys()).toEqual(['enc', 'dec']);
    expect(d.has('dec') && d.length === 2).toBe(true);
    expect(() => d.get('x')).toThrow(/ModuleDict\.get: no module named "x"/);
    expect(Object.keys(d.stateDict())).toEqual(['enc.weight', 'enc.bias', 'dec.weight', 'dec.bias']);
  });
});

describe('nn.init', () => {
  beforeAll(() => useMode(MODES[0]));

  it('calculateGain and fan computations follow PyTorch', () => {
    expect(init.calculateGain('linear')).toBe(1);
    expect(init.calculateGain('sigmoid')).toBe(1);
    expect(init.calculateGain('tanh')).toBeCloseTo(5 / 3, 15);
    expect(init.calculateGain('relu')).toBeCloseTo(Math.SQRT2, 15);
    expect(init.calculateGain('leaky_relu')).toBeCloseTo(Math.sqrt(2 / (1 + 0.01 ** 2)), 15);
    expect(init.calculateGain('leaky_relu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 15);
    expect(init.calculateGain('selu')).toBe(0.75);
    expect(init.calculateFanInAndFanOut(zeros([6, 4, 3]))).toEqual([12, 18]);
    expect(() => init.xavierUniform_(zeros([5]))).toThrow(
      /xavierUniform_: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions \(shape \[5\]\)/,
    );
    expect(() => init.calculateGain('swish' as never)).toThrow(/calculateGain: unsupported nonlinearity 'swish'/);
  });

  it('uniform and normal initialisers have the right range and moments', () => {
    manualSeed(2);
    const n = [100, 60];
    const xu = stats(values(init.xavierUniform_(zeros(n), 2)));
    const a = 2 * Math.sqrt(6 / 160);
    expect(xu.min).toBeGreaterThanOrEqual(-a);
    expect(xu.max).toBeLessThanOrEqual(a);
    expect(xu.std).toBeCloseTo(a / Math.sqrt(3), 2);
    const xn = stats(values(init.xavierNormal_(zeros(n))));
    expect(Math.abs(xn.std - Math.sqrt(2 / 160)) / Math.sqrt(2 / 160)).toBeLessThan(0.04);
    const ku = stats(values(init.kaimingUniform_(zeros(n))));
    const kb = (Math.sqrt(3) * Math.sqrt(2 / (1 + 1e-4))) / Math.sqrt(60);
    expect(ku.min).toBeGreaterThanOrEqual(-kb);
    expect(ku.max).toBeLessThanOrEqual(kb);
    expect(ku.max).toBeGreaterThan(0.98 * kb);
    const kn = stats(values(init.kaimingNormal_(zeros(n), { mode: 'fan_out', nonlinearity: 'relu' })));
    expect(Math.abs(kn.std - Math.sqrt(2 / 100)) / Math.sqrt(2 / 100)).toBeLessThan(0.04);
    expect(Math.abs(kn.mean)).toBeLessThan(0.005);
    const u = stats(values(init.uniform_(zeros([4000]), -1, 3)));
    expect(u.min).toBeGreaterThanOrEqual(-1);
    expect(u.max).toBeLessThan(3);
    expect(Math.abs(u.mean - 1)).toBeLessThan(0.06);
    const g = stats(values(init.normal_(zeros([4000], { dtype: 'float64' }), 2, 0.5)));
    expect(Math.abs(g.mean - 2)).toBeLessThan(0.03);
    expect(Math.abs(g.std - 0.5)).toBeLessThan(0.02);
    expect(() => init.uniform_(zeros([2]), 1, 0)).toThrow(/uniform_: expects a <= b, but got a=1, b=0/);
    expect(() => init.normal_(zeros([2], { dtype: 'int32' }))).toThrow(
      /normal_: expects a floating point tensor, got int32 \(shape \[2\]\)/,
    );
  });

  it('constant initialisers work in place on parameters while grad mode is on', () => {
    const l = new Linear(3, 2);
    const w = l.weight;
    const v0 = w._version;
    expect(init.constant_(w, 0.5)).toBe(w);
    expect(values(w)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    expect(w._version).toBeGreaterThan(v0);
    init.zeros_(l.bias!);
    expect(values(l.bias!)).toEqual([0, 0]);
    init.ones_(l.bias!);
    expect(values(l.bias!)).toEqual([1, 1]);
    expect(w.requiresGrad && w.isLeaf).toBe(true);
  });
});

describe.each(MODES)('layers on %s', (mode) => {
  beforeAll(() => useMode(mode));

  it('Linear forward and backward match the float64 reference', () => {
    manualSeed(3);
    const l = new Linear(5, 3);
    const x = randn([4, 5]);
    const y = l.call(x);
    expect(y.shape).toEqual([4, 3]);
    expectClose(y, linearRef(values(x), values(l.weight), values(l.bias!), 4, 5, 3), 1e-5, 1e-4, 'Linear');
    y.sum().backward();
    const colSums = [0, 1, 2, 3, 4].map((i) => [0, 1, 2, 3].reduce((s, r) => s + values(x)[r * 5 + i], 0));
    expectClose(l.weight.grad!, [...colSums, ...colSums, ...colSums], 1e-5, 1e-4, 'dW');
    expectClose(l.bias!.grad!, [4, 4, 4], 1e-6, 0, 'db');
    const y3 = l.call(randn([2, 2, 5]));
    expect(y3.shape).toEqual([2, 2, 3]);
  });

  it('LayerNorm normalises the last dims, then scales and shifts', () => {
    manualSeed(4);
    const ln = new LayerNorm(4, { eps: 1e-5 });
    ln.loadStateDict({ weight: tensor([1, 2, 3, 4]), bias: tensor([0, 1, 0, 1]) });
    const x = randn([3, 4]);
    const xv = values(x);
    const ref: number[] = [];
    for (let r = 0; r < 3; r++) {
      const row = xv.slice(r * 4, r * 4 + 4);
      const m = row.reduce((a, b) => a + b, 0) / 4;
      const v = row.reduce((a, b) => a + (b - m) ** 2, 0) / 4;
      row.forEach((z, c) => ref.push(((z - m) / Math.sqrt(v + 1e-5)) * [1, 2, 3, 4][c] + [0, 1, 0, 1][c]));
    }
    expectClose(ln.call(x), ref, 1e-5, 1e-4, 'LayerNorm');
  });

  it('Embedding looks rows up; the padding row gets no gradient', () => {
    manualSeed(5);
    const e = new Embedding(6, 3, { paddingIdx: 0 });
    const idx = tensor(
      [
        [1, 0],
        [5, 1],
      ],
      { dtype: 'int32' },
    );
    const y = e.call(idx);
    expect(y.shape).toEqual([2, 2, 3]);
    const w = values(e.weight);
    expectClose(
      y,
      [1, 0, 5, 1].flatMap((i) => w.slice(i * 3, i * 3 + 3)),
      0,
      0,
      'Embedding',
    );
    y.sum().backward();
    const g = values(e.weight.grad!);
    expect(g.slice(0, 3)).toEqual([0, 0, 0]);
    expect(g.slice(3, 6)).toEqual([2, 2, 2]);
    expect(g.slice(15, 18)).toEqual([1, 1, 1]);
  });

  it('Dropout: identity in eval, zeroes about p of the elements in train and scales the rest', () => {
    manualSeed(6);
    const d = new Dropout(0.3);
    const x = ones([4000]);
    d.eval();
    expect(values(d.call(x))).toEqual(values(x));
    d.train();
    const y = values(d.call(x));
    const zerosFrac = y.filter((v) => v === 0).length / y.length;
    expect(Math.abs(zerosFrac - 0.3)).toBeLessThan(0.03);
    for (const v of y) if (v !== 0) expect(v).toBeCloseTo(1 / 0.7, 5);
    expect(values(new Dropout(0).call(x))).toEqual(values(x));
  });

  it('activations match F', () => {
    const x = tensor([-2, -0.5, 0, 0.5, 2]);
    expectClose(new nn.GELU().call(x), F.gelu(x), 0, 0, 'GELU');
    expectClose(new nn.GELU({ approximate: 'tanh' }).call(x), F.gelu(x, { approximate: 'tanh' }), 0, 0, 'GELU tanh');
    expect(values(new nn.ReLU().call(x))).toEqual([0, 0, 0, 0.5, 2]);
    expectClose(new nn.Tanh().call(x), [-2, -0.5, 0, 0.5, 2].map(Math.tanh), 1e-6, 1e-5, 'Tanh');
    expectClose(
      new nn.Sigmoid().call(x),
      [-2, -0.5, 0, 0.5, 2].map((v) => 1 / (1 + Math.exp(-v))),
      1e-6,
      1e-5,
      'Sigmoid',
    );
  });

  it('a Sequential MLP trains with Adam: the loss falls', () => {
    manualSeed(7);
    const model = new Sequential(new Linear(3, 16), new nn.Tanh(), new Linear(16, 1));
    const x = randn([16, 3]);
    const xv = values(x);
    const target = tensor(Array.from({ length: 16 }, (_, r) => [Math.sin(xv[r * 3]) + 0.5 * xv[r * 3 + 1] * xv[r * 3 + 2]]));
    const opt = new optim.Adam(model.parameters(), { lr: 0.03 });
    const losses: number[] = [];
    for (let i = 0; i < 40; i++) {
      opt.zeroGrad();
      const loss = F.mseLoss(model.call(x), target) as Tensor;
      loss.backward();
      opt.step();
      losses.push(loss.item());
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[39]).toBeLessThan(0.25 * losses[0]);
  });
});
