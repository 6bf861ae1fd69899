// The kernel layer: declared templates, derived keys, the source formatter and index helpers, debug
// output and compile errors. Kernels run on every GPU.js mode under test and on the float64 host path.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backendInfo, Storage } from '../../src/backend/index.js';
import { runTemplate } from '../../src/kernels/run.js';
import { blockedSum, floorDiv, formatBody, gatherIndex, numbered, unravel } from '../../src/kernels/source.js';
import { declareKernel, declaredKernels, runtimeArg } from '../../src/kernels/template.js';
import { MODES, useMode } from '../support/helpers.js';

let serial = 0;
const fresh = (base: string): string => `test${base}${serial++}`;

/** Runs `source` in plain JS over host data (the reference for the kernel tests). */
function reference(n: number, f: (i: number) => number): number[] {
  return Array.from({ length: n }, (_, i) => f(i));
}

describe('declareKernel', () => {
  it('derives the key from the name and every parameter, in a canonical order', () => {
    const k = declareKernel({
      name: fresh('Key'),
      inputs: ['x'],
      body: (p: { a: number; b: readonly number[]; c?: string }) => [`return x[i] * ${p.a};`],
    });
    expect(k.key({ a: 1, b: [2, 3] })).toBe(k.key({ b: [2, 3], a: 1 }));
    const keys = [
      k.key({ a: 1, b: [2, 3] }),
      k.key({ a: 2, b: [2, 3] }),
      k.key({ a: 1, b: [23] }),
      k.key({ a: 1, b: [2, 3], c: 'x' }),
      k.key({ a: NaN, b: [] }),
      k.key({ a: Infinity, b: [] }),
      k.key({ a: -Infinity, b: [] }),
      k.key({ a: 0, b: [] }),
      k.key({ a: -0, b: [] }),
      k.key({ a: 1e-7, b: [] }),
      k.key({ a: 1.0000001e-7, b: [] }),
    ];
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys[0].startsWith(`${k.name}:`)).toBe(true);
  });

  it('refuses parameters that are not plain data, and bad declarations', () => {
    const k = declareKernel({ name: fresh('Plain'), inputs: ['x'], body: () => ['return x[i];'] });
    expect(() => k.key({ f: (() => 1) as unknown as number })).toThrow(/parameters must be plain data; got a function/);
    expect(() => k.key({ d: new Date(0) as unknown as number })).toThrow(/plain data .*instance of a class/);
    const name = fresh('Dup');
    declareKernel({ name, inputs: [], body: () => ['return 0;'] });
    expect(() => declareKernel({ name, inputs: [], body: () => ['return 0;'] })).toThrow(
      `declareKernel: a kernel named '${name}' is already declared`,
    );
    expect(() => declareKernel({ name: 'bad name', inputs: [], body: () => ['return 0;'] })).toThrow(
      /declareKernel: name must be an identifier/,
    );
    expect(() => declareKernel({ name: fresh('Opt'), inputs: [], body: () => ['return 0;'], keys: 1 } as never)).toThrow(
      /declareKernel: unknown option 'keys'; expected name, inputs, body/,
    );
    expect(() => declareKernel({ name: fresh('Dense'), inputs: [], body: () => ['return 0;'], denseInputs: 'yes' } as never)).toThrow(
      /declareKernel\(testDense\d+\): denseInputs must be a boolean, got string/,
    );
    expect(declareKernel({ name: fresh('Dense'), inputs: [], body: () => ['return 0;'] }).denseInputs).toBe(false);
    const badInput = declareKernel({ name: fresh('In'), inputs: ['i'], body: () => ['return 0;'] });
    expect(() => badInput.source({})).toThrow(/input name "i" is not an identifier \(or is 'i', the output index\)/);
    expect(declaredKernels().get(name)?.name).toBe(name);
  });

  it('writes readable multi-line source: one statement per line, blocks indented, comments kept', () => {
    const k = declareKernel({
      name: fresh('Fmt'),
      inputs: ['a'],
      body: () => ['// a comment', 'let s = 0; for (let k = 0; k < 4; k++) { if (k < 2) { s += a[k]; } else { s -= a[k]; } }', 'return s;'],
    });
    expect(k.source({})).toBe(
      [
        'function (a) {',
        '  const i = this.thread.x;',
        '  // a comment',
        '  let s = 0;',
        '  for (let k = 0; k < 4; k++) {',
        '    if (k < 2) {',
        '      s += a[k];',
        '    } else {',
        '      s -= a[k];',
        '    }',
        '  }',
        '  return s;',
        '}',
      ].join('\n'),
    );
    expect(formatBody('if (a) { b(); } else if (c) { d(); }', 0)).toEqual(['if (a) {', '  b();', '} else if (c) {', '  d();', '}']);
    expect(numbered('a\nb')).toBe('1 | a\n2 | b');
  });
});

describe.each(MODES)('kernel templates run on %s and on the float64 host path', (mode) => {
  afterEach(() => {
    delete process.env.GPUGRAD_DEBUG;
    vi.restoreAllMocks();
  });

  // one kernel of each index helper: row-wise prefix sums through unravel and blockedSum, a transposed
  // gather through gatherIndex
  const prefix = declareKernel({
    name: fresh('Prefix'),
    inputs: ['a'],
    body: (p: { rows: number; cols: number }) => [
      ...unravel('i', [p.rows, p.cols], ['r', 'c']),
      blockedSum('s', (k) => `a[r * ${p.cols} + ${k}]`, p.cols, 'c + 1'),
      'return s;',
    ],
  });
  const transposed = declareKernel({
    name: fresh('Transpose'),
    inputs: ['a'],
    body: (p: { rows: number; cols: number }) => [`return a[${gatherIndex([p.cols, p.rows], [1, p.cols])}];`],
  });

  // runtime parameters: arguments of the compiled kernel, not part of its key or source
  const shifted = declareKernel({
    name: fresh('Shift'),
    inputs: ['a'],
    runtime: ['at', 'adds'],
    body: (p: { n: number; at: number; adds: number[] }) => [
      `return a[i + ${runtimeArg('at')}] * ${p.n}${p.adds.map((_, j) => ` + ${runtimeArg('adds', j)}`).join('')};`,
    ],
  });

  it('takes runtime parameters as arguments: one key and one compile for every value, each value used', () => {
    useMode(mode);
    expect(shifted.key({ n: 2, at: 1, adds: [5, 6] })).toBe(shifted.key({ n: 2, at: 3, adds: [0, -1] }));
    expect(shifted.key({ n: 2, at: 1, adds: [5] }), 'an array runtime parameter keys its length').not.toBe(
      shifted.key({ n: 2, at: 1, adds: [5, 6] }),
    );
    expect(shifted.source({ n: 2, at: 1, adds: [5, 6] })).toMatch(/^function \(a, at, adds_0, adds_1\) \{/);
    expect(() => shifted.runtimeValues({ n: 2, at: 1.5, adds: [] })).toThrow(/runtime parameter 'at' must be an integer .*got 1\.5/);
    const data = [1, 2, 3, 4, 5, 6, 7, 8];
    for (const precision of ['float32', 'float64'] as const) {
      const input = Storage.fromHost(precision === 'float32' ? Float32Array.from(data) : Float64Array.from(data));
      let compiles = 0;
      for (let at = 0; at < 4; at++) {
        const before = backendInfo().compiles;
        const out = runTemplate(shifted, { n: 2, at, adds: [at, 10] }, [input], 4, precision);
        if (at > 0) compiles += backendInfo().compiles - before;
        expect(Array.from(out.host()), `${precision} at ${at}`).toEqual([0, 1, 2, 3].map((i) => 2 * data[i + at] + at + 10));
      }
      expect(compiles, `${precision}: compiles after the first value`).toBe(0);
    }
  });

  it.each([
    [3, 9],
    [5, 17],
    [1, 1],
  ])('unravel + blockedSum and gatherIndex give the reference values (%i x %i)', (rows, cols) => {
    useMode(mode);
    const data = Array.from({ length: rows * cols }, (_, j) => ((j * 7) % 11) - 5);
    const want = reference(rows * cols, (i) => {
      const r = Math.floor(i / cols);
      let s = 0;
      for (let k = 0; k <= i % cols; k++) s += data[r * cols + k];
      return s;
    });
    const wantT = reference(rows * cols, (i) => data[(i % rows) * cols + Math.floor(i / rows)]);
    for (const precision of ['float32', 'float64'] as const) {
      const input = Storage.fromHost(precision === 'float32' ? Float32Array.from(data) : Float64Array.from(data));
      expect(Array.from(runTemplate(prefix, { rows, cols }, [input], rows * cols, precision).host()), precision).toEqual(want);
      expect(Array.from(runTemplate(transposed, { rows, cols }, [input], rows * cols, precision).host()), precision).toEqual(wantT);
    }
  });

  it('floorDiv is exact for every index below 2^24 that a kernel meets at a block edge', () => {
    useMode(mode);
    const k = declareKernel({ name: fresh('Floor'), inputs: ['a'], body: (p: { n: number }) => [`return ${floorDiv('a[i]', p.n)};`] });
    const xs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3 * 1000 - 1, 3 * 1000, 3 * 4095, 3 * 4096 - 1, 3 * 1_000_000, 3 * 5_592_405 - 1];
    const out = runTemplate(k, { n: 3 }, [Storage.fromHost(Float32Array.from(xs))], xs.length, 'float32');
    expect(Array.from(out.host())).toEqual(xs.map((x) => Math.floor(x / 3)));
  });

  it('GPUGRAD_DEBUG=kernels prints a new kernel once, with its key and numbered source', () => {
    useMode(mode);
    const k = declareKernel({ name: fresh('Debug'), inputs: ['x'], body: (p: { c: number }) => [`return x[i] + ${p.c};`] });
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    process.env.GPUGRAD_DEBUG = 'kernels';
    const x = Storage.fromHost(Float32Array.from([1, 2]));
    runTemplate(k, { c: 3 }, [x], 2, 'float32');
    runTemplate(k, { c: 3 }, [x], 2, 'float32');
    expect(log).toHaveBeenCalledTimes(1);
    const text = String(log.mock.calls[0][0]);
    expect(text).toContain(`gpugrad kernel ${k.key({ c: 3 })}:2:2 (float32, 2 threads)`);
    expect(text).toContain('1 | function (x) {');
    expect(text).toContain('3 |   return x[i] + 3;');
    runTemplate(k, { c: 4 }, [x], 2, 'float32');
    expect(log).toHaveBeenCalledTimes(2);
  });

  // GPU.js's compile errors: the 'simd' backend runs kernels without WebAssembly code on the host executor (plain JavaScript)
  if (mode !== 'simd')
    it('a kernel GPU.js cannot compile fails naming the kernel and quoting its numbered source', () => {
      useMode(mode);
      const k = declareKernel({ name: fresh('Broken'), inputs: ['x'], body: () => ['const f = (v) => v * 2;', 'return f(x[i]);'] });
      const x = Storage.fromHost(Float32Array.from([1, 2]));
      let msg = '';
      try {
        runTemplate(k, {}, [x], 2, 'float32');
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toMatch(new RegExp(`^${k.name}: GPU.js could not compile or run the kernel \\(float32\\): `));
      expect(msg).toContain('3 |   const f = (v) => v * 2;');
    });
});
