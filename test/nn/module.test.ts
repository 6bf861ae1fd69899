import { beforeAll, describe, expect, it } from 'vitest';
import { F, manualSeed, nn, noGrad, optim, randn, tensor, zeros, arange, type Tensor } from '../../src/index.js';
import { MODES, useMode, values, expectClose } from '../support/helpers.js';

const { Module, Linear, Dropout, LayerNorm, ModuleList, Sequential, Tanh, parameter } = nn;

/** A miniature of the attention block the transformer will be built from, with PyTorch's names. */
class Attn extends Module {
  static override readonly moduleName = 'Attn';
  inProjWeight: Tensor;
  inProjBias: Tensor | null;
  outProj: nn.Linear;
  constructor(e: number, bias = true) {
    super();
    this.inProjWeight = this.registerParameter('in_proj_weight', zeros([3 * e, e]));
    this.inProjBias = this.registerParameter('in_proj_bias', bias ? zeros([3 * e]) : null);
    this.outProj = this.registerModule('out_proj', new Linear(e, e));
  }
}

class Layer extends Module {
  static override readonly moduleName = 'Layer';
  selfAttn: Attn;
  norm1: nn.LayerNorm;
  dropout: nn.Dropout;
  constructor(e: number) {
    super();
    this.selfAttn = this.registerModule('self_attn', new Attn(e));
    this.norm1 = this.registerModule('norm1', new LayerNorm(e));
    this.dropout = this.registerModule('dropout', new Dropout(0.1));
  }
}

class Encoder extends Module {
  static override readonly moduleName = 'Encoder';
  layers: nn.ModuleList<Layer>;
  pos: Tensor;
  mask: Tensor;
  scale: Tensor;
  constructor(e: number, n: number) {
    super();
    this.scale = this.registerParameter('scale', zeros([1]));
    this.pos = this.registerBuffer('pos', arange(0, 4));
    this.mask = this.registerBuffer('mask', zeros([2]), false);
    this.layers = this.registerModule('layers', new ModuleList(Array.from({ length: n }, () => new Layer(e))));
  }
  override forward(x: Tensor): Tensor {
    let h = x;
    for (const l of this.layers) h = l.norm1.call(l.dropout.call(h));
    return h;
  }
}

const LAYER_KEYS = (i: number): string[] => [
  `layers.${i}.self_attn.in_proj_weight`,
  `layers.${i}.self_attn.in_proj_bias`,
  `layers.${i}.self_attn.out_proj.weight`,
  `layers.${i}.self_attn.out_proj.bias`,
  `layers.${i}.norm1.weight`,
  `layers.${i}.norm1.bias`,
];

describe('Module: registration, names and traversal', () => {
  beforeAll(() => useMode(MODES[0]));

  it('namedParameters uses dotted PyTorch names in PyTorch order, and returns leaves requiring grad', () => {
    manualSeed(0);
    const enc = new Encoder(4, 2);
    const names = enc.namedParameters().map(([n]) => n);
    expect(names).toEqual(['scale', ...LAYER_KEYS(0), ...LAYER_KEYS(1)]);
    for (const p of enc.parameters()) {
      expect(p.requiresGrad).toBe(true);
      expect(p.isLeaf).toBe(true);
    }
    expect(enc.layers.at(1).selfAttn.inProjWeight).toBe(enc.getParameter('layers.1.self_attn.in_proj_weight'));
    expect(enc.getSubmodule('layers.0.self_attn.out_proj')).toBe(enc.layers.at(0).selfAttn.outProj);
    expect(() => enc.getSubmodule('layers.7')).toThrow(/getSubmodule: ModuleList \(at "layers"\) has no submodule "7"/);
    expect(enc.namedParameters('', false).map(([n]) => n)).toEqual(['scale']);
    expect(enc.namedParameters('model').map(([n]) => n)[1]).toBe('model.layers.0.self_attn.in_proj_weight');
  });

  it('stateDict: parameters then persistent buffers, module by module; non-persistent buffers and None are left out', () => {
    const enc = new Encoder(4, 1);
    expect(Object.keys(enc.stateDict())).toEqual(['scale', 'pos', ...LAYER_KEYS(0)]);
    expect(enc.namedBuffers().map(([n]) => n)).toEqual(['pos', 'mask']);
    const noBias = new Attn(4, false);
    expect(Object.keys(noBias.stateDict())).toEqual(['in_proj_weight', 'out_proj.weight', 'out_proj.bias']);
    expect(noBias.inProjBias).toBeNull();
  });

  it('modules, children and their names; a shared parameter is listed once but stored under both keys', () => {
    const enc = new Encoder(2, 2);
    expect(enc.namedModules().map(([n]) => n)).toEqual([
      '',
      'layers',
      'layers.0',
      'layers.0.self_attn',
      'layers.0.self_attn.out_proj',
      'layers.0.norm1',
      'layers.0.dropout',
      'layers.1',
      'layers.1.self_attn',
      'layers.1.self_attn.out_proj',
      'layers.1.norm1',
      'layers.1.dropout',
    ]);
    expect(enc.namedChildren().map(([n]) => n)).toEqual(['layers']);
    expect(enc.children()[0]).toBe(enc.layers);
    expect(enc.modules().length).toBe(12);

    const a = new Linear(2, 2);
    const tied = new Sequential(a, new Tanh(), a);
    expect(tied.parameters().length).toBe(2);
    expect(Object.keys(tied.stateDict())).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
  });

  it('train()/eval() reach every descendant and return the module; Dropout follows the flag', () => {
    manualSeed(1);
    const enc = new Encoder(4, 2);
    expect(enc.eval()).toBe(enc);
    expect(enc.modules().every((m) => m.training === false)).toBe(true);
    const x = randn([3, 4]);
    const y1 = enc.call(x);
    const y2 = enc.call(x);
    expect(values(y1)).toEqual(values(y2));
    expect(enc.train()).toBe(enc);
    expect(enc.modules().every((m) => m.training)).toBe(true);
    enc.layers.at(0).train(false);
    expect(enc.layers.at(0).dropout.training).toBe(false);
    expect(enc.layers.at(1).dropout.training).toBe(true);
    expect(() => enc.train('yes' as unknown as boolean)).toThrow(/train: mode is expected to be a boolean/);
  });

  it('apply visits children before the parent; zeroGrad drops every gradient; requiresGrad_ freezes', () => {
    const s = new Sequential(new Linear(2, 2), new Sequential(new Tanh()));
    const order: string[] = [];
    expect(s.apply((m) => order.push(m._getName()))).toBe(s);
    expect(order).toEqual(['Linear', 'Tanh', 'Sequential', 'Sequential']);
    F.mseLoss(s.call(randn([3, 2])), zeros([3, 2])).backward();
    expect(s.parameters().every((p) => p.grad !== null)).toBe(true);
    s.zeroGrad();
    expect(s.parameters().every((p) => p.grad === null)).toBe(true);
    s.requiresGrad_(false);
    expect(s.parameters().every((p) => !p.requiresGrad)).toBe(true);
  });

  it('registration errors name the function and the offending name', () => {
    const m = new Module();
    expect(() => m.registerParameter('a.b', zeros([1]))).toThrow(/registerParameter: parameter name can't contain "\.", got "a\.b"/);
    expect(() => m.registerParameter('', zeros([1]))).toThrow(/registerParameter: parameter name can't be empty/);
    expect(() => m.registerParameter('i', zeros([2], { dtype: 'int32' }))).toThrow(
      /registerParameter: parameter "i" must be floating point, got int32 \(shape \[2\]\)/,
    );
    m.registerBuffer('b', zeros([1]));
    expect(() => m.registerParameter('b', zeros([1]))).toThrow(/registerParameter: Module already has a buffer named "b"/);
    expect(() => m.registerModule('b', new Tanh())).toThrow(/registerModule: Module already has a buffer named "b"/);
    expect(() => m.registerModule('x', {} as nn.Module)).toThrow(/registerModule: module "x" must be a Module or null/);
    expect(() => m.call(zeros([1]))).toThrow(/forward: Module is missing the required "forward" function/);
  });

  it('registerParameter detaches a non-leaf; parameter() makes a detached leaf sharing the data', () => {
    const base = randn([3], { requiresGrad: true });
    const y = base.mul(2);
    const m = new Module();
    const p = m.registerParameter('p', y);
    expect(p).not.toBe(y);
    expect(p.isLeaf && p.requiresGrad).toBe(true);
    expect(values(p)).toEqual(values(y));
    const leaf = zeros([2]);
    expect(m.registerParameter('q', leaf)).toBe(leaf);
    expect(leaf.requiresGrad).toBe(true);
    const q = parameter(base);
    expect(q).not.toBe(base);
    expect(q.isLeaf && q.requiresGrad).toBe(true);
    expect(values(q)).toEqual(values(base));
    expect(() => parameter(zeros([1], { dtype: 'bool' }))).toThrow(/parameter: only floating point tensors can be parameters, got bool/);
  });
});

describe('Module: state dicts', () => {
  beforeAll(() => useMode(MODES[0]));

  it('round trip: values land in the existing tensors, so an optimizer built before loading sees them', () => {
    manualSeed(2);
    const a = new Encoder(4, 2);
    const b = new Encoder(4, 2);
    const before = b.parameters();
    const opt = new optim.SGD(b.parameters(), { lr: 0.1 });
    const sd = a.stateDict();
    for (const t of Object.values(sd)) expect(t.requiresGrad).toBe(false);
    const res = b.loadStateDict(sd);
    expect(res).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(b.parameters()).toEqual(before);
    for (const [k, t] of Object.entries(b.stateDict())) expect(values(t), k).toEqual(values(sd[k]));
    expect(opt.paramGroups[0].params[1]).toBe(b.layers.at(0).selfAttn.inProjWeight);
    expect(values(opt.paramGroups[0].params[1])).toEqual(values(a.layers.at(0).selfAttn.inProjWeight));
    expect(b.parameters().every((p) => p.requiresGrad && p.isLeaf)).toBe(true);
  });

  it('stateDict values share the parameter data (as in PyTorch): a later in-place update shows through', () => {
    const l = new Linear(2, 2);
    const sd = l.stateDict();
    const w0 = values(sd.weight);
    noGrad(() => l.weight.add_(1));
    expect(values(sd.weight)).toEqual(w0.map((v) => Math.fround(v + 1)));
    expect(sd.weight).not.toBe(l.weight);
    expect(sd.weight.requiresGrad).toBe(false);
    expect(l.stateDict({ keepVars: true }).weight).toBe(l.weight);
  });

  it('strict loading throws naming missing keys, unexpected keys and shape mismatches', () => {
    const m = new Sequential(new Linear(4, 3), new Tanh(), new Linear(3, 2));
    const sd = m.stateDict();
    const missing = { ...sd };
    delete missing['2.bias'];
    expect(() => m.loadStateDict(missing)).toThrow(
      /loadStateDict: Error\(s\) in loading state_dict for Sequential:\n\tMissing key\(s\) in state_dict: "2\.bias"\./,
    );
    const extra = { ...sd, '3.weight': zeros([1]) };
    expect(() => m.loadStateDict(extra)).toThrow(/Unexpected key\(s\) in state_dict: "3\.weight"\./);
    const bad = { ...sd, '0.weight': zeros([4, 3]) };
    expect(() => m.loadStateDict(bad)).toThrow(
      /size mismatch for 0\.weight: copying a param with shape \[4, 3\] from checkpoint, the shape in current model is \[3, 4\]\./,
    );
    // nothing was copied by a failing load
    expect(values(m.stateDict()['0.weight'])).toEqual(values(sd['0.weight']));
  });

  it('non-strict loading reports missing and unexpected keys, still throws on a shape mismatch', () => {
    const m = new Sequential(new Linear(4, 3), new Tanh(), new Linear(3, 2));
    const src = new Sequential(new Linear(4, 3));
    const res = m.loadStateDict({ ...src.stateDict(), extra: zeros([1]) }, { strict: false });
    expect(res.missingKeys).toEqual(['2.weight', '2.bias']);
    expect(res.unexpectedKeys).toEqual(['extra']);
    expect(values(m.stateDict()['0.weight'])).toEqual(values(src.stateDict()['0.weight']));
    expect(() => m.loadStateDict({ '0.bias': zeros([4]) }, { strict: false })).toThrow(
      /size mismatch for 0\.bias: copying a param with shape \[4\]/,
    );
  });

  it('loading converts dtype and keeps the module dtype', () => {
    const m = new Linear(2, 2);
    m.loadStateDict({
      weight: tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { dtype: 'float64' },
      ),
      bias: tensor([5, 6], { dtype: 'float64' }),
    });
    expect(m.weight.dtype).toBe('float32');
    expect(values(m.weight)).toEqual([1, 2, 3, 4]);
  });

  it("to('float64') converts parameters and float buffers, updates the JS properties, keeps requiresGrad and grads", () => {
    manualSeed(3);
    const enc = new Encoder(4, 1);
    const w32 = values(enc.layers.at(0).selfAttn.outProj.weight);
    F.mseLoss(enc.call(randn([2, 4])), zeros([2, 4])).backward();
    expect(enc.to('float64')).toBe(enc);
    for (const [n, p] of enc.namedParameters()) {
      expect(p.dtype, n).toBe('float64');
      expect(p.requiresGrad && p.isLeaf, n).toBe(true);
    }
    const lin = enc.layers.at(0).selfAttn.outProj;
    expect(lin.weight).toBe(enc.getParameter('layers.0.self_attn.out_proj.weight'));
    expect(values(lin.weight)).toEqual(w32);
    expect(enc.layers.at(0).norm1.weight!.grad!.dtype).toBe('float64');
    expect(enc.pos.dtype).toBe('int32');
    expect(enc.mask).toBe(enc.getBuffer('mask'));
    expect(enc.mask.dtype).toBe('float64');
    const y = enc.call(randn([2, 4], { dtype: 'float64' }));
    expect(y.dtype).toBe('float64');
    expect(() => enc.to('int32')).toThrow(/to: Module\.to only accepts floating point dtypes \(float32, float64\), but got dtype=int32/);
    expect(enc.float().getParameter('scale').dtype).toBe('float32');
  });
});

describe('Module: repr', () => {
  it('matches PyTorch for leaf modules, nesting and repeated ModuleList entries', () => {
    const m = new Sequential(new Linear(4, 3), new Tanh(), new Linear(3, 2, { bias: false }));
    expect(m.toString()).toBe(
      'Sequential(\n' +
        '  (0): Linear(in_features=4, out_features=3, bias=True)\n' +
        '  (1): Tanh()\n' +
        '  (2): Linear(in_features=3, out_features=2, bias=False)\n' +
        ')',
    );
    expect(new Encoder(8, 2).toString()).toBe(
      'Encoder(\n' +
        '  (layers): ModuleList(\n' +
        '    (0-1): 2 x Layer(\n' +
        '      (self_attn): Attn(\n' +
        '        (out_proj): Linear(in_features=8, out_features=8, bias=True)\n' +
        '      )\n' +
        '      (norm1): LayerNorm((8,), eps=1e-05, elementwise_affine=True)\n' +
        '      (dropout): Dropout(p=0.1, inplace=False)\n' +
        '    )\n' +
        '  )\n' +
        ')',
    );
    const d = new nn.ModuleDict({ act: new nn.GELU({ approximate: 'tanh' }), emb: new nn.Embedding(10, 3, { paddingIdx: -1 }) });
    expect(d.toString()).toBe("ModuleDict(\n  (act): GELU(approximate='tanh')\n  (emb): Embedding(10, 3, padding_idx=9)\n)");
    expect(new LayerNorm([2, 3], { eps: 1e-6, elementwiseAffine: false }).toString()).toBe(
      'LayerNorm((2, 3), eps=1e-06, elementwise_affine=False)',
    );
    expect(new nn.ReLU().toString()).toBe('ReLU()');
    expect(new ModuleList().toString()).toBe('ModuleList()');
    expect(String(new Dropout(0.25))).toBe('Dropout(p=0.25, inplace=False)');
  });

  it('formats floats like Python', () => {
    expect([1e-5, 0.5, 1, 1e16, 1.5e-7, 123.25, 0.0001, -2].map(nn.pyFloat)).toEqual([
      '1e-05',
      '0.5',
      '1.0',
      '1e+16',
      '1.5e-07',
      '123.25',
      '0.0001',
      '-2.0',
    ]);
  });
});

describe.each(MODES)('Module on %s', (mode) => {
  beforeAll(() => useMode(mode));
  it('a loaded model reproduces the source model; to(float64) agrees with float32', () => {
    manualSeed(4);
    const a = new Sequential(new Linear(4, 6), new nn.GELU(), new LayerNorm(6), new Linear(6, 2)).eval();
    const b = new Sequential(new Linear(4, 6), new nn.GELU(), new LayerNorm(6), new Linear(6, 2)).eval();
    b.loadStateDict(a.stateDict());
    const x = randn([3, 4]);
    expectClose(b.call(x), a.call(x), 0, 0, 'loaded');
    const y32 = a.call(x);
    a.to('float64');
    expectClose(y32, a.call(x.double()), 1e-5, 1e-4, 'float64');
  });
});
