import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualSeed, nn, randn, setBackend, tensor, zeros, type Tensor } from '../../src/index.js';
import { MODES, useMode, values, expectClose } from '../support/helpers.js';

const { serializeSafetensors, parseSafetensors, parseSafetensorsHeader, parseSafetensorsWithMetadata, saveSafetensors, loadSafetensors } =
  nn;

const FIXTURE_FILE = fileURLToPath(new URL('../fixtures/linear_tanh.safetensors', import.meta.url));
interface TJ {
  shape: number[];
  dtype: string;
  data: number[];
}
const FIX = JSON.parse(readFileSync(new URL('../fixtures/safetensors.json', import.meta.url), 'utf8')) as {
  fileSize: number;
  headerLength: number;
  header: Record<string, unknown>;
  stateDict: Record<string, TJ>;
  input: TJ;
  output: TJ;
};

/** Builds a file from a header object and raw data bytes (for malformed-file tests). */
function build(header: unknown, data: Uint8Array = new Uint8Array(0), opts: { headerLength?: number; raw?: string } = {}): Uint8Array {
  const json = new TextEncoder().encode(opts.raw ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, opts.headerLength ?? json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const f32 = (...v: number[]): Uint8Array => new Uint8Array(new Float32Array(v).buffer);

function sample(): Record<string, Tensor> {
  manualSeed(1);
  return {
    'b.weight': randn([3, 4]),
    'a.scale': randn([], { dtype: 'float64' }),
    mask: tensor([true, false, true]),
    ids: tensor(
      [
        [1, -2],
        [2147483647, -2147483648],
      ],
      { dtype: 'int32' },
    ),
    empty: zeros([0, 3]),
    'z.bias': randn([5]),
  };
}

describe('safetensors: serialize and parse', () => {
  beforeAll(() => useMode(MODES[0]));

  it('round trips every dtype, scalars and empty tensors, with metadata', () => {
    const dict = sample();
    const bytes = serializeSafetensors(dict, { format: 'pt', note: 'ünïcode' });
    const back = parseSafetensorsWithMetadata(bytes);
    expect(back.metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(dict).sort());
    for (const [k, t] of Object.entries(dict)) {
      expect(back.tensors[k].dtype, k).toBe(t.dtype);
      expect(back.tensors[k].shape, k).toEqual(t.shape);
      expect(values(back.tensors[k]), k).toEqual(values(t));
    }
    expect(
      parseSafetensors(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer)['b.weight'].shape,
    ).toEqual([3, 4]);
  });

  it('lays the file out like the reference implementation: aligned header, dtype-then-name order, exact offsets', () => {
    const bytes = serializeSafetensors(sample());
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd()[text.trimEnd().length - 1]).toBe('}');
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    const h = parseSafetensorsHeader(bytes);
    expect(h.dataStart).toBe(8 + n);
    expect(h.metadata).toEqual({});
    expect(text.includes('__metadata__')).toBe(false);
    expect(Object.keys(h.entries)).toEqual(['a.scale', 'b.weight', 'empty', 'z.bias', 'ids', 'mask']);
    expect(Object.values(h.entries).map((e) => e.dtype)).toEqual(['F64', 'F32', 'F32', 'F32', 'I32', 'BOOL']);
    expect(h.entries['a.scale'].dataOffsets).toEqual([0, 8]);
    expect(h.entries['b.weight'].dataOffsets).toEqual([8, 56]);
    expect(h.entries.empty.dataOffsets).toEqual([56, 56]);
    expect(h.entries.mask.dataOffsets).toEqual([92, 95]);
    expect(bytes.length).toBe(8 + n + 95);
    // little-endian raw data
    const w = sample()['b.weight'];
    expect(Array.from(new Float32Array(bytes.slice(8 + n + 8, 8 + n + 56).buffer))).toEqual(values(w));
    expect(Array.from(bytes.subarray(8 + n + 92))).toEqual([1, 0, 1]);
  });

  it('reads F16, BF16, I64, U8 and I8 data (converted to float32 / int32)', () => {
    const data = new Uint8Array(2 * 3 + 2 * 2 + 8 * 2 + 2 + 2);
    const dv = new DataView(data.buffer);
    [0x3c00, 0xc000, 0x3555].forEach((h, i) => dv.setUint16(i * 2, h, true)); // 1, -2, ~0.33325
    [0x3f80, 0x4049].forEach((h, i) => dv.setUint16(6 + i * 2, h, true)); // 1, 3.140625
    dv.setBigInt64(10, -5n, true);
    dv.setBigInt64(18, 123456789n, true);
    data[26] = 255;
    data[27] = 7;
    dv.setInt8(28, -3);
    dv.setInt8(29, 4);
    const bytes = build(
      {
        h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
        bf: { dtype: 'BF16', shape: [2], data_offsets: [6, 10] },
        l: { dtype: 'I64', shape: [2], data_offsets: [10, 26] },
        u: { dtype: 'U8', shape: [2], data_offsets: [26, 28] },
        s: { dtype: 'I8', shape: [2], data_offsets: [28, 30] },
      },
      data,
    );
    const t = parseSafetensors(bytes);
    expect(t.h.dtype).toBe('float32');
    expectClose(t.h, [1, -2, 0.333251953125], 0, 0, 'F16');
    expect(values(t.bf)).toEqual([1, 3.140625]);
    expect(t.l.dtype).toBe('int32');
    expect(values(t.l)).toEqual([-5, 123456789]);
    expect(values(t.u)).toEqual([255, 7]);
    expect(values(t.s)).toEqual([-3, 4]);
    const big = new Uint8Array(8);
    new DataView(big.buffer).setBigInt64(0, 1n << 40n, true);
    expect(() => parseSafetensors(build({ x: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, big))).toThrow(
      /parseSafetensors: tensor "x" \(I64, shape \[1\]\): element 0 \(1099511627776\) does not fit in int32/,
    );
  });

  it('serialize rejects what the format cannot hold', () => {
    expect(() => serializeSafetensors({ __metadata__: zeros([1]) })).toThrow(/serializeSafetensors: "__metadata__" is reserved/);
    expect(() => serializeSafetensors({ a: [1, 2] as unknown as Tensor })).toThrow(/serializeSafetensors: value for "a" is not a Tensor/);
    expect(() => serializeSafetensors({ a: zeros([1]) }, { n: 3 as unknown as string })).toThrow(
      /serializeSafetensors: metadata value for "n" must be a string, got number/,
    );
    const d = zeros([2]);
    d.dispose();
    expect(() => serializeSafetensors({ d })).toThrow(/serializeSafetensors: tensor "d" \(shape \[2\]\) was disposed/);
  });
});

describe('safetensors: malformed files throw clear errors', () => {
  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } };
  const data = f32(1, 2, 3);
  const cases: [string, Uint8Array, RegExp][] = [
    ['too small', new Uint8Array(5), /parseSafetensors: the data is too small \(5 bytes\) to hold the 8-byte header length/],
    ['header past the end', build(ok, data, { headerLength: 1000 }), /parseSafetensors: header length 1000 runs past the end of the data/],
    [
      'huge header length',
      (() => {
        const b = build(ok, data);
        new DataView(b.buffer).setUint32(4, 1, true);
        return b;
      })(),
      /parseSafetensors: header length 4294967\d+ is larger than the 100000000-byte limit/,
    ],
    ['not starting with {', build(null, data, { raw: ' {"a":1}' }), /parseSafetensors: the header must start with '\{'/],
    ['not JSON', build(null, data, { raw: '{"a": ' }), /parseSafetensors: the header is not valid JSON/],
    ['header is an array', build(null, data, { raw: '[1]' }), /parseSafetensors: the header must start with '\{'/],
    [
      'bad dtype',
      build({ a: { dtype: 'F8', shape: [2], data_offsets: [0, 8] } }, f32(1, 2)),
      /parseSafetensors: tensor "a": unsupported dtype "F8"/,
    ],
    [
      'bad shape',
      build({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, f32(1, 2)),
      /parseSafetensors: tensor "a": shape must be an array of non-negative integers, got \[-2\]/,
    ],
    [
      'bad offsets',
      build({ a: { dtype: 'F32', shape: [2], data_offsets: [0] } }, f32(1, 2)),
      /parseSafetensors: tensor "a": data_offsets must be \[begin, end\]/,
    ],
    [
      'size mismatch',
      build({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(1, 2)),
      /parseSafetensors: tensor "a" \(F32, shape \[3\]\) needs 12 bytes but data_offsets \[0, 8\] span 8/,
    ],
    [
      'gap',
      build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32(1, 2)),
      /parseSafetensors: tensor "a": data_offsets \[4, 8\] leave a gap after byte 0/,
    ],
    [
      'overlap',
      build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32(1, 2)),
      /data_offsets \[4, 8\] overlap the previous tensor \(which ends at byte 8\)/,
    ],
    [
      'end before begin',
      build({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, f32(1, 2)),
      /parseSafetensors: tensor "a": data_offsets \[8, 4\] end before they begin/,
    ],
    [
      'truncated data',
      build(ok, f32(1, 2)),
      /parseSafetensors: tensor "b": data_offsets \[8, 12\] run past the end of the data \(8 bytes after the header\)/,
    ],
    ['trailing bytes', build(ok, f32(1, 2, 3, 4)), /parseSafetensors: the tensors cover 12 bytes of data but 16 bytes follow the header/],
    [
      'metadata not strings',
      build({ __metadata__: { a: 1 }, ...ok }, data),
      /parseSafetensors: __metadata__ value for "a" must be a string, got 1/,
    ],
    ['entry not an object', build({ a: [1, 2] }, data), /parseSafetensors: tensor "a": its header entry must be an object/],
  ];
  for (const [name, bytes, re] of cases) {
    it(name, () => {
      expect(() => parseSafetensors(bytes)).toThrow(re);
    });
  }
  it('well-formed control case parses', () => {
    expect(values(parseSafetensors(build(ok, data)).b)).toEqual([3]);
  });
  it('rejects non-bytes', () => {
    expect(() => parseSafetensors('abc' as unknown as Uint8Array)).toThrow(
      /parseSafetensors: expects a Uint8Array or ArrayBuffer, got string/,
    );
  });
});

describe('safetensors files (Node)', () => {
  let dir = '';
  beforeAll(async () => {
    useMode(MODES[0]);
    dir = await mkdtemp(join(tmpdir(), 'gpugrad-st-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('saveSafetensors / loadSafetensors round trip a module through a file', async () => {
    manualSeed(2);
    const a = new nn.Sequential(new nn.Linear(4, 3), new nn.Tanh(), new nn.Linear(3, 2));
    const path = join(dir, 'model.safetensors');
    await saveSafetensors(a.stateDict(), path, { epoch: '3' });
    const raw = await readFile(path);
    expect(parseSafetensorsHeader(raw).metadata).toEqual({ epoch: '3' });
    const b = new nn.Sequential(new nn.Linear(4, 3), new nn.Tanh(), new nn.Linear(3, 2));
    b.loadStateDict(await loadSafetensors(path));
    const x = randn([2, 4]);
    expect(values(b.call(x))).toEqual(values(a.call(x)));
    expect((await nn.loadSafetensorsWithMetadata(path)).metadata).toEqual({ epoch: '3' });
  });

  it('load errors name the function and the path', async () => {
    await expect(loadSafetensors(join(dir, 'missing.safetensors'))).rejects.toThrow(/loadSafetensors: cannot read .*missing\.safetensors/);
    const bad = join(dir, 'bad.safetensors');
    await writeFile(bad, new Uint8Array([1, 2, 3]));
    await expect(loadSafetensors(bad)).rejects.toThrow(/loadSafetensors: the data is too small \(3 bytes\).*\(file .*bad\.safetensors\)/);
  });

  it('reads the file PyTorch wrote, header and values as recorded', async () => {
    const raw = await readFile(FIXTURE_FILE);
    expect(raw.length).toBe(FIX.fileSize);
    const h = parseSafetensorsHeader(raw);
    expect(h.dataStart).toBe(8 + FIX.headerLength);
    const { __metadata__: meta, ...entries } = FIX.header as { __metadata__: Record<string, string> } & Record<
      string,
      { dtype: string; shape: number[]; data_offsets: number[] }
    >;
    expect(h.metadata).toEqual(meta);
    for (const [k, e] of Object.entries(entries))
      expect(h.entries[k]).toEqual({ dtype: e.dtype, shape: e.shape, dataOffsets: e.data_offsets });
    const t = await loadSafetensors(FIXTURE_FILE);
    for (const [k, v] of Object.entries(FIX.stateDict)) {
      expect(t[k].shape, k).toEqual(v.shape);
      expect(values(t[k]), k).toEqual(Array.from(Float32Array.from(v.data)));
    }
    // re-serializing with the same metadata reproduces PyTorch's file byte for byte
    expect(Buffer.from(serializeSafetensors(t, meta)).equals(raw)).toBe(true);
  });
});

describe('saveSafetensors replaces files atomically', () => {
  let dir = '';
  beforeAll(async () => {
    // file handling does not depend on the mode; cpu keeps a 64 MB tensor on the host
    setBackend('cpu');
    dir = await mkdtemp(join(tmpdir(), 'gpugrad-st-atomic-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const TMP = /^\.[^/]+\.\d+\.[0-9a-z]+\.tmp$/;

  it('leaves no temporary file, keeps the permission bits and follows a symbolic link', async () => {
    const real = join(dir, 'real.safetensors');
    await saveSafetensors({ a: tensor([1, 2]) }, real);
    await chmod(real, 0o640);
    const link = join(dir, 'link.safetensors');
    await symlink(real, link);
    await saveSafetensors({ a: tensor([3, 4, 5]) }, link, { v: '2' });
    expect(values((await loadSafetensors(real)).a)).toEqual([3, 4, 5]);
    expect((await stat(real)).mode & 0o777).toBe(0o640);
    expect((await readdir(dir)).sort()).toEqual(['link.safetensors', 'real.safetensors']);
    await rm(link);
    await rm(real);
  });

  it('a failed save names the function and the path and removes its temporary file', async () => {
    const sub = join(dir, 'fail');
    await mkdir(join(sub, 'target.safetensors'), { recursive: true });
    // renaming a file over a directory fails after the data was written
    await expect(saveSafetensors({ a: tensor([1]) }, join(sub, 'target.safetensors'))).rejects.toThrow(
      /^saveSafetensors: cannot write .*target\.safetensors: /,
    );
    expect(await readdir(sub)).toEqual(['target.safetensors']);
    await expect(saveSafetensors({ a: tensor([1]) }, join(dir, 'missing-dir', 'x.safetensors'))).rejects.toThrow(
      /^saveSafetensors: cannot write .*x\.safetensors: .*ENOENT/,
    );
    await rm(sub, { recursive: true });
  });

  it('a process killed (SIGKILL) at random moments while rewriting a 64 MB file always leaves a complete, valid file', async () => {
    const N = 16_000_000;
    const path = join(dir, 'big.safetensors');
    const pattern =
      (g: number): ((i: number) => number) =>
      (i) =>
        g * 1024 + (i % 1021);
    const check = async (lo: number, hi: number, why: string): Promise<number> => {
      const { tensors, metadata } = await nn.loadSafetensorsWithMetadata(path);
      const g = Number(metadata.gen);
      expect(g, `${why}: generation in the file`).toBeGreaterThanOrEqual(lo);
      expect(g, `${why}: generation in the file`).toBeLessThanOrEqual(hi);
      expect(values(tensors.gen), why).toEqual([g]);
      const big = tensors.big.toArray() as Float32Array;
      expect(big.length, why).toBe(N);
      const want = pattern(g);
      let bad = -1;
      for (let i = 0; i < N; i++) {
        if (big[i] !== want(i)) {
          bad = i;
          break;
        }
      }
      expect(bad, `${why}: first wrong element`).toBe(-1);
      for (const t of Object.values(tensors)) t.dispose();
      return g;
    };
    const a = new Float32Array(N);
    for (let i = 0; i < N; i++) a[i] = pattern(0)(i);
    const t0 = tensor(a);
    await saveSafetensors({ big: t0, gen: tensor([0], { dtype: 'int32' }) }, path, { gen: '0' });
    t0.dispose();
    const writer = fileURLToPath(new URL('../support/safetensors-writer.ts', import.meta.url));
    let gen = 0;
    let midSave = 0;
    const KILLS = 6;
    for (let k = 0; k < KILLS; k++) {
      const child = spawn(process.execPath, ['--import', 'tsx', writer, path, String(N), String(gen + 1)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => void (err += d.toString()));
      const exited = new Promise<NodeJS.Signals | number | null>((res) => child.on('exit', (code, sig) => res(sig ?? code)));
      const started = new Promise<void>((res, rej) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('start ')) res();
        });
        child.on('exit', () => rej(new Error(`writer exited before its first save: ${err}`)));
      });
      await started;
      // at a random moment of the first save (one 64 MB save takes about 0.2-0.5 s here; a longer window
      // lets a loaded machine's next pattern-building loop swallow the kill)
      const delay = Math.floor(Math.random() * 150);
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      expect(await exited, err).toBe('SIGKILL');
      const lines = out.trim().split('\n');
      const starts = lines.filter((l) => l.startsWith('start ')).map((l) => Number(l.slice(6)));
      const dones = lines.filter((l) => l.startsWith('done ')).map((l) => Number(l.slice(5)));
      const lastDone = dones.length ? Math.max(...dones) : gen;
      const lastStart = Math.max(...starts);
      if (lastStart > lastDone) midSave++;
      gen = await check(
        lastDone,
        lastStart,
        `kill ${k + 1} after ${delay} ms (saves started ${starts.join(',')}, finished ${dones.join(',') || 'none'})`,
      );
    }
    // the kills land inside a save (the writer does little else), so the test does test that
    expect(midSave).toBeGreaterThanOrEqual(KILLS / 2);
    // a killed writer can leave its temporary file behind, never anything else
    for (const f of await readdir(dir)) if (f !== 'big.safetensors') expect(f).toMatch(TMP);
  });
});

describe.each(MODES)('safetensors from PyTorch on %s', (mode) => {
  beforeAll(() => useMode(mode));
  it("loads into Sequential(Linear(4,3), Tanh(), Linear(3,2)) and reproduces PyTorch's output", async () => {
    const model = new nn.Sequential(new nn.Linear(4, 3), new nn.Tanh(), new nn.Linear(3, 2)).eval();
    expect(model.loadStateDict(await loadSafetensors(FIXTURE_FILE))).toEqual({ missingKeys: [], unexpectedKeys: [] });
    const x = tensor(FIX.input.data, { shape: FIX.input.shape });
    const y = model.call(x);
    expect(y.shape).toEqual(FIX.output.shape);
    expectClose(y, FIX.output.data, 1e-5, 1e-5, 'output');
  });
});
