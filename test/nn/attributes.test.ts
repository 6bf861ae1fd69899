// Assignment registers, as PyTorch's __setattr__: weight tying by assignment (nanoGPT's
// `transformer.wte.weight = lm_head.weight`), class fields that are modules or parameters, replacing a
// submodule or a parameter (cropBlockSize), and the containers' index and name access.
import { describe, expect, it } from 'vitest';
import { F, nn, optim, randn, tensor, manualSeed, noGrad, type Tensor } from '../../src/index.js';
import { parseSafetensors, serializeSafetensors } from '../../src/nn/safetensors.js';

class TinyGPT extends nn.Module {
  static override readonly moduleName = 'TinyGPT';
  transformer = this.registerModule(
    'transformer',
    new nn.ModuleDict({ wte: new nn.Embedding(11, 8), wpe: new nn.Embedding(6, 8), h: new nn.ModuleList([new nn.Linear(8, 8)]) }),
  );
  lmHead = this.registerModule('lm_head', new nn.Linear(8, 11, { bias: false }));
  constructor() {
    super();
    this.transformer.wte.weight = this.lmHead.weight; // one statement, as in nanoGPT
  }
  override forward(idx: Tensor): Tensor {
    const T = idx.shape[1];
    let x = this.transformer.wte.forward(idx).add(this.transformer.wpe.forward(tensor(Int32Array.from({ length: T }, (_, i) => i))));
    for (const block of this.transformer.h) x = x.add(F.gelu(block.forward(x)));
    return this.lmHead.forward(x);
  }
  cropBlockSize(n: number): void {
    const wpe = this.transformer.wpe;
    wpe.weight = nn.parameter(wpe.weight.slice(0, 0, n));
  }
}

describe('assignment registers, as in PyTorch', () => {
  it('ties weights in one statement: one parameter, trained once, both names in the state dict', () => {
    manualSeed(0);
    const m = new TinyGPT();
    expect(m.transformer.wte.weight).toBe(m.lmHead.weight);
    const names = m.namedParameters().map(([n]) => n);
    expect(names).toEqual(['transformer.wte.weight', 'transformer.wpe.weight', 'transformer.h.0.weight', 'transformer.h.0.bias']);
    expect(m.parameters()).toHaveLength(4);
    // the embedding's gradient and the head's both reach the one tensor; the optimizer moves it
    const before = m.lmHead.weight.toArray();
    const opt = new optim.AdamW(m.parameters(), { lr: 0.1 });
    const idx = tensor(Int32Array.from([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
    F.crossEntropy(m.forward(idx).reshape([-1, 11]), tensor(Int32Array.from([2, 3, 4, 5, 6, 7]))).backward();
    opt.step();
    expect(m.transformer.wte.weight).toBe(m.lmHead.weight);
    expect(Array.from(m.lmHead.weight.toArray())).not.toEqual(Array.from(before));
    const sd = m.stateDict();
    expect(Object.keys(sd)).toEqual([
      'transformer.wte.weight',
      'transformer.wpe.weight',
      'transformer.h.0.weight',
      'transformer.h.0.bias',
      'lm_head.weight',
    ]);
    // a file holding both names loads into a fresh tied model, and the tie holds
    const file = parseSafetensors(serializeSafetensors(sd));
    const m2 = new TinyGPT();
    m2.loadStateDict(file);
    expect(Array.from(m2.lmHead.weight.toArray())).toEqual(Array.from(m.lmHead.weight.toArray()));
    expect(m2.transformer.wte.weight).toBe(m2.lmHead.weight);
    // to() keeps the tie (one tensor converted once, both properties pointed at it)
    m2.to('float64');
    expect(m2.transformer.wte.weight).toBe(m2.lmHead.weight);
    expect(m2.lmHead.weight.dtype).toBe('float64');
    expect(m2.parameters()).toHaveLength(4);
  });

  it('class fields register modules and parameters; replacing a submodule or a parameter re-registers', () => {
    manualSeed(1);
    class Net extends nn.Module {
      encoder = new nn.Linear(3, 4);
      scale = randn([4], { requiresGrad: true });
      cache: Tensor | null = null; // a plain tensor attribute is not registered
      override forward(x: Tensor): Tensor {
        this.cache = x.detach();
        return this.encoder.forward(x).mul(this.scale);
      }
    }
    const n = new Net();
    expect(n.namedParameters().map(([k]) => k)).toEqual(['scale', 'encoder.weight', 'encoder.bias']); // its own first, as PyTorch
    n.forward(randn([2, 3]));
    expect(n.namedParameters()).toHaveLength(3);
    expect(n.namedChildren().map(([k]) => k)).toEqual(['encoder']);
    // replacing the child module: the old one's parameters are gone
    n.encoder = new nn.Linear(3, 4, { bias: false });
    expect(n.namedParameters().map(([k]) => k)).toEqual(['scale', 'encoder.weight']);
    // cropBlockSize-style surgery: the new parameter replaces the registered one
    const m = new TinyGPT();
    m.cropBlockSize(4);
    expect(m.transformer.wpe.weight.shape).toEqual([4, 8]);
    expect(m.getParameter('transformer.wpe.weight')).toBe(m.transformer.wpe.weight);
    expect(m.parameters()).toContain(m.transformer.wpe.weight);
    // a camelCase property keeps pointing at its PyTorch name
    const mha = new nn.MultiheadAttention(4, 2);
    const w = nn.parameter(randn([12, 4]));
    mha.inProjWeight = w;
    expect(mha.getParameter('in_proj_weight')).toBe(w);
    expect(mha.parameters()).toContain(w);
    // delete unregisters
    delete (n as { scale?: Tensor }).scale;
    expect(n.namedParameters().map(([k]) => k)).toEqual(['encoder.weight']);
  });

  it("assigning what a registered name cannot hold is PyTorch's error", () => {
    const lin = new nn.Linear(2, 2);
    const plain = noGrad(() => randn([2, 2]));
    expect(() => {
      lin.weight = plain;
    }).toThrow(
      'Linear: cannot assign a Tensor of shape [2, 2] as parameter "weight" (a parameter (a floating point leaf that requires grad: nn.parameter(t)) or null expected)',
    );
    expect(() => {
      lin.weight = lin.weight.mul(2);
    }).toThrow(/cannot assign a Tensor of shape \[2, 2\] as parameter "weight"/);
    lin.bias = null;
    expect(lin.namedParameters().map(([k]) => k)).toEqual(['weight']);
    const layer = new nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 8 });
    expect(() => {
      (layer as unknown as Record<string, unknown>).linear1 = 3;
    }).toThrow('TransformerEncoderLayer: cannot assign number as child module "linear1" (a Module or null expected)');
  });
});

describe('containers', () => {
  it('ModuleList: [i] with negative indices, assignment, iteration, and an error out of range', () => {
    const a = new nn.Linear(1, 2);
    const b = new nn.Linear(2, 3);
    const list = new nn.ModuleList([a, b]);
    expect(list[0]).toBe(a);
    expect(list[-1]).toBe(b);
    expect([...list]).toEqual([a, b]);
    const c = new nn.Linear(2, 3);
    list[1] = c;
    expect(list.at(1)).toBe(c);
    expect(list.namedParameters().map(([k]) => k)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    expect(list.parameters()).toContain(c.weight);
    expect(() => list[2]).toThrow('ModuleList: index 2 is out of range for a container of 2 modules');
    expect(() => {
      list[0] = 5 as unknown as nn.Linear;
    }).toThrow('ModuleList: the module at index 0 must be a Module, got number');
  });

  it('ModuleDict: names as properties, typed; an unknown name says which names there are', async () => {
    const d = new nn.ModuleDict({ wte: new nn.Embedding(4, 2), head: new nn.Linear(2, 4) });
    // TypeScript keeps each class: these lines type-check only because d.wte is an Embedding
    const e: nn.Embedding = d.wte;
    expect(e.numEmbeddings).toBe(4);
    expect(d.head.outFeatures).toBe(4);
    expect(d.get('wte')).toBe(d.wte);
    const ln = new nn.LayerNorm(2);
    (d as unknown as Record<string, nn.Module>).norm = ln;
    expect(d.keys()).toEqual(['wte', 'head', 'norm']);
    expect(d.get('norm')).toBe(ln);
    expect(() => (d as unknown as Record<string, unknown>).wtf).toThrow(
      'ModuleDict: no module named "wtf"; keys are ["wte","head","norm"]',
    );
    // what runtimes and test frameworks probe is answered, not an error
    expect(await Promise.resolve(d)).toBe(d);
    expect(JSON.stringify({ n: 1, d: [d.length] })).toBe('{"n":1,"d":[3]}');
    expect(d).toEqual(d);
  });
});
