import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { F, keep, manualSeed, memory, nn, optim, randint, randn, tensor, tidy, type Tensor } from '../../src/index.js';
import { MODES, useMode, values } from '../support/helpers.js';

describe('tidy', () => {
  it('disposes intermediates, keeps what is returned (also through nested scopes and containers)', () => {
    const a = randn([3]);
    let inner: ReturnType<typeof randn> | null = null;
    const out = tidy(() => {
      const b = a.mul(2);
      inner = b.add(1);
      const c = tidy(() => inner!.exp().mul(b));
      return { c, list: [b.sum()] };
    });
    expect(inner!.isDisposed).toBe(true);
    expect(out.c.isDisposed).toBe(false);
    expect(out.list[0].isDisposed).toBe(false);
    expect(a.isDisposed).toBe(false);
    expect(out.c.toArray().length).toBe(3);
  });
  it('keeps parameters, their gradients, optimizer state and keep()-ed tensors', () => {
    const w = randn([4], { requiresGrad: true });
    const opt = new optim.Adam([w], { lr: 0.1 });
    let cache: ReturnType<typeof randn> | null = null;
    tidy(() => {
      w.mul(w).sum().backward();
      opt.step();
      cache = keep(w.detach().mul(3));
    });
    expect(w.grad!.isDisposed).toBe(false);
    expect(cache!.isDisposed).toBe(false);
    const st = opt.state.get(w)!;
    expect((st.exp_avg as ReturnType<typeof randn>).isDisposed).toBe(false);
    tidy(() => {
      w.mul(w).sum().backward();
      opt.step();
    });
    expect(w.toArray().length).toBe(4);
  });
  it('a graph built inside tidy cannot be backpropagated after it (clear error, not garbage)', () => {
    const w = randn([2], { requiresGrad: true });
    const loss = tidy(() => w.exp().sum());
    expect(() => loss.backward()).toThrow(/disposed/);
  });
});

describe('tidy finds every returned tensor', () => {
  beforeAll(() => useMode(MODES[0]));
  const live = (ts: Tensor[]): boolean[] => ts.map((t) => !t.isDisposed);

  it('in Maps (keys and values), Sets, class instances, symbol keys and own getters, nested', () => {
    class Holder {
      readonly inner: { set: Set<Tensor> };
      constructor(
        readonly t: Tensor,
        s: Tensor,
      ) {
        this.inner = { set: new Set([s]) };
      }
    }
    const sym = Symbol('s');
    let inter: Tensor[] = [];
    const out = tidy(() => {
      const x = randn([3]);
      inter = [x.mul(2), x.add(1)];
      const k = x.exp();
      const v = x.neg();
      const getterT = x.mul(3);
      const nested = new Holder(x.add(2), x.abs());
      const withGetter = Object.defineProperty({}, 'g', { get: () => getterT, enumerable: true });
      return {
        x,
        map: new Map<unknown, unknown>([
          [k, 1],
          ['v', v],
          ['h', [nested]],
        ]),
        set: new Set([new Map([[0, x.tanh()]])]),
        [sym]: x.sqrt(),
        withGetter,
      };
    });
    expect(live(inter)).toEqual([false, false]);
    const k = [...out.map.keys()][0] as Tensor;
    const v = out.map.get('v') as Tensor;
    const h = (out.map.get('h') as Holder[])[0];
    const fromSet = ([...out.set][0] as Map<number, Tensor>).get(0)!;
    const all = [out.x, k, v, h.t, [...h.inner.set][0], fromSet, out[sym], (out.withGetter as { g: Tensor }).g];
    expect(live(all)).toEqual(all.map(() => true));
    for (const t of all) expect(values(t).length).toBe(3);
    for (const t of all) t.dispose();
  });

  it("max(dim)'s result, cycles, deep nesting; typed arrays are skipped", () => {
    const x = tensor([
      [1, 5, 2],
      [7, 0, 3],
    ]);
    const r = tidy(() => x.mul(1).max(1));
    expect(values(r.values)).toEqual([5, 7]);
    expect(values(r.indices)).toEqual([1, 0]);
    const cyc = tidy(() => {
      const o: { t: Tensor; self?: unknown; m?: Map<unknown, unknown> } = { t: x.add(1) };
      o.self = o;
      o.m = new Map([[o, o]]);
      return o;
    });
    expect(cyc.t.isDisposed).toBe(false);
    // a 100000-deep list does not overflow the stack
    const deep = tidy(() => {
      let node: { next: unknown; t?: Tensor } = { next: null, t: x.sub(1) };
      for (let i = 0; i < 100_000; i++) node = { next: node };
      return { node, bytes: new Float32Array(1_000_000) };
    });
    let n = deep.node;
    while (n.next) n = n.next as typeof n;
    expect(values(n.t!)).toEqual([0, 4, 1, 6, -1, 2]);
  });

  it('recognises tensors by identity, not by their look: a look-alike object is walked', () => {
    const before = memory().tensors;
    const out = tidy(() => ({ _storageForKernel: () => 0, shape: [1], dtype: 'float32', t: randn([2]) }));
    expect(out.t.isDisposed).toBe(false);
    out.t.dispose();
    expect(memory().tensors).toBe(before);
  });

  it('what it cannot walk is an error naming where it sits, and nothing leaks', () => {
    const x = randn([2]);
    const before = memory().tensors;
    const cases: [() => unknown, RegExp][] = [
      [
        () => ({ a: [1, { cache: new WeakMap([[{}, x.mul(2)]]) }] }),
        /^tidy: cannot find the tensors in the returned value\.a\[1\]\.cache: it is a WeakMap, whose entries cannot be enumerated; return tensors in arrays, plain objects, Maps, Sets or class instances, or keep\(\) them$/,
      ],
      [
        () => new Map([['k', new WeakSet([x.mul(2)])]]),
        /^tidy: cannot find the tensors in the returned value\.get\(<key 0>\): it is a WeakSet/,
      ],
      [
        () => ({ later: Promise.resolve(x.mul(2)) }),
        /^tidy: cannot find the tensors in the returned value\.later: it is a Promise \(or thenable\); tidy is synchronous/,
      ],
      [
        () => ({
          gen: (function* () {
            yield x.mul(2);
          })(),
        }),
        /^tidy: cannot find the tensors in the returned value\.gen: it is a generator, whose values are computed later/,
      ],
      [
        () => Promise.resolve(x.mul(2)),
        /^tidy: the function returned a Promise \(or thenable\); tidy is synchronous: await inside, return the values$/,
      ],
      [
        () => ({
          get bad(): number {
            x.mul(3);
            throw new Error('boom');
          },
        }),
        /^tidy: reading the returned value\.bad \(a getter\) threw: boom$/,
      ],
    ];
    for (const [fn, re] of cases) expect(() => tidy(fn)).toThrow(re);
    expect(memory().tensors).toBe(before);
  });

  it('a returned function is not looked into (what it captures is disposed unless kept)', () => {
    const x = randn([2]);
    const f = tidy(() => {
      const y = x.mul(2);
      const z = keep(x.mul(3));
      return () => [y, z];
    });
    const [y, z] = f();
    expect(y.isDisposed).toBe(true);
    expect(z.isDisposed).toBe(false);
    z.dispose();
  });

  it('checks its arguments', () => {
    expect(() => tidy(42 as never)).toThrow(/^tidy: expects a function, got number$/);
    expect(() => keep({ shape: [1] } as never)).toThrow(/^keep: expects a Tensor, got Object$/);
    expect(() => keep(null as never)).toThrow(/^keep: expects a Tensor, got null$/);
  });
});

describe.each(MODES)('tidy in a minified bundle on %s', (mode) => {
  // esbuild --minify renames classes (MaxResult becomes a letter): tidy must not depend on class names.
  it('tidy(() => x.max(1)) keeps values and indices', async () => {
    const cache = fileURLToPath(new URL('../../node_modules/.cache/', import.meta.url));
    await mkdir(cache, { recursive: true });
    const dir = await mkdtemp(join(cache, 'gpugrad-tidy-min-'));
    try {
      const src = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
      const entry = join(dir, 'entry.ts');
      await writeFile(
        entry,
        `import { setBackend, getBackend, tensor, tidy } from ${JSON.stringify(src)};\n` +
          `setBackend(${JSON.stringify(mode)});\n` +
          `const x = tensor([[1, 5, 2], [7, 0, 3]]);\n` +
          `const r = tidy(() => x.mul(2).max(1));\n` +
          `const [v, i] = r;\n` +
          `console.log(JSON.stringify({ mode: getBackend(), name: r.constructor.name, values: Array.from(v.toArray()), indices: Array.from(i.toArray()) }));\n`,
      );
      const out = join(dir, 'bundle.mjs');
      await esbuild.build({
        entryPoints: [entry],
        outfile: out,
        bundle: true,
        minify: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        logLevel: 'silent',
      });
      const run = spawnSync(process.execPath, [out], { encoding: 'utf8' });
      // the error's last line only (the minified bundle is one long line)
      expect(
        run.status,
        run.stderr
          .trim()
          .split('\n')
          .filter((l) => l.length < 500 && !/^\s+at /.test(l))
          .slice(-3)
          .join('\n'),
      ).toBe(0);
      const res = JSON.parse(run.stdout.trim().split('\n').pop()!) as { mode: string; name: string; values: number[]; indices: number[] };
      expect(res.mode).toBe(mode);
      expect(res.name).not.toBe('MaxResult'); // the bundle really is minified
      expect(res.values).toEqual([10, 14]);
      expect(res.indices).toEqual([1, 0]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.each(MODES)('tidy keeps a training loop flat on %s', (mode) => {
  beforeAll(() => useMode(mode));
  it('live tensors, storages and textures do not grow across steps', () => {
    manualSeed(0);
    const model = new nn.Sequential(new nn.Embedding(10, 8), new nn.Linear(8, 8));
    const mha = new nn.MultiheadAttention(8, 2, { batchFirst: true, dropout: 0.1 });
    const opt = new optim.AdamW([...model.parameters(), ...mha.parameters()], { lr: 1e-2 });
    const step = () =>
      tidy(() => {
        const x = randint(0, 10, [2, 5]);
        const h = (model.forward as (t: unknown) => ReturnType<typeof randn>).call(model, x);
        const [a] = mha.forward(h, h, h, { isCausal: true });
        const loss = F.crossEntropy(a.reshape([-1, 8]).matmul(randn([8, 10])), tensor(new Int32Array(10).fill(3)));
        opt.zeroGrad();
        loss.backward();
        opt.step();
        return loss.item();
      });
    step();
    step();
    const before = memory();
    for (let i = 0; i < 3; i++) step();
    const after = memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.storages).toBe(before.storages);
    expect(after.textures).toBe(before.textures);
  });
});
