// The op registry (src/ops/registry.ts) against the code: every public op has a row and every row is a
// public op (exports of src/index.ts, Tensor methods, F), each differentiable op's tests gradcheck it and
// run it on every mode, and docs/DERIVATIVES.md is the table rendered. Regenerate the doc with
//   GPUGRAD_WRITE_DOCS=1 npx vitest run test/ops/registry.test.ts
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { methodName, OPS, renderDerivatives, type OpRow } from '../../src/ops/registry.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (rel: string): string => readFileSync(path.join(ROOT, rel), 'utf8');
const DOC = 'docs/DERIVATIVES.md';
const REGENERATE = 'GPUGRAD_WRITE_DOCS=1 npx vitest run test/ops/registry.test.ts';

// Tensor's prototype before and after src/ops/methods.ts installs the chaining methods: the difference is
// what methods.ts installs (dynamic imports, so that the class loads first).
const { Tensor } = await import('../../src/autograd/tensor.js');
const ownFunctions = (): string[] =>
  Object.getOwnPropertyNames(Tensor.prototype).filter(
    (n) => typeof Object.getOwnPropertyDescriptor(Tensor.prototype, n)?.value === 'function',
  );
const classMethods = new Set(ownFunctions());
const g = await import('../../src/index.js');
const installedMethods = ownFunctions().filter((n) => !classMethods.has(n));

/** Every module under src/ops/ and every file a row names, by path (relative to the repository root). */
const modules = new Map<string, Record<string, unknown>>();
const opsFiles = readdirSync(path.join(ROOT, 'src/ops'))
  .filter((f) => f.endsWith('.ts'))
  .sort()
  .map((f) => `src/ops/${f}`);
for (const file of [...opsFiles, ...OPS.map((r) => r.file)]) {
  if (!modules.has(file) && existsSync(path.join(ROOT, file)))
    modules.set(file, (await import(path.join(ROOT, file))) as Record<string, unknown>);
}
/** Every function that a module under src/ops/ exports (its own or re-exported). */
const opsFunctions = new Set<unknown>(opsFiles.flatMap((f) => Object.values(modules.get(f)!).filter((v) => typeof v === 'function')));

/**
 * The rule: a function that src/index.ts exports is an op when a module under src/ops/ exports it (defines
 * or re-exports it), except these (not ops: they compute no tensor).
 */
const NON_OP_EXPORTS: Record<string, string> = {
  MaxResult: 'the class of max(dim)/min(dim) results',
  sdpaKernel: 'runs a callback with a set of attention backends enabled',
  enableFusedSdp: 'switches the fused attention backend',
  enableMathSdp: 'switches the math attention backend',
  fusedSdpEnabled: 'reads the fused backend switch',
  mathSdpEnabled: 'reads the math backend switch',
  lastSdpBackend: 'which attention backend ran last',
  gradcheck: 'checks first derivatives (an autograd tool, also in the autograd namespace of src/ops/autograd.ts)',
  defineKernel: 'declares a user-written kernel (src/autograd/custom.ts; also in the autograd namespace)',
  gradgradcheck: 'checks second derivatives (an autograd tool, also in the autograd namespace of src/ops/autograd.ts)',
};
/** Methods that methods.ts installs and that run no op. */
const NON_OP_METHODS: Record<string, string> = {
  contiguous: 'returns the tensor itself (every gpugrad tensor is contiguous)',
};

const exportsOfIndex = g as unknown as Record<string, unknown>;
const F = g.F as unknown as Record<string, unknown>;
const spellings = (r: OpRow): string[] => [r.name, r.index, r.fName, ...(r.method ?? []).map(methodName)].filter((s): s is string => !!s);
const word = (s: string): RegExp => new RegExp(`(^|[^\\w$])${s.replace(/[$]/g, '\\$')}([^\\w$]|$)`);
/** How a test file shows that it runs its tests on every GPU.js mode under test (test/support/helpers.ts). */
const MODE_MARKER = 'describe.each(MODES)';

describe('the op registry matches the code', () => {
  it('rows are well formed: unique names, a file that exports the function, derivatives or a reason for none', () => {
    const names = OPS.map((r) => r.name);
    expect(
      names.filter((n, k) => names.indexOf(n) !== k),
      'names that repeat',
    ).toEqual([]);
    for (const key of ['index', 'fName'] as const) {
      const vals = OPS.map((r) => r[key]).filter((v) => v !== null);
      expect(
        vals.filter((n, k) => vals.indexOf(n) !== k),
        `${key} values that repeat`,
      ).toEqual([]);
    }
    for (const r of OPS) {
      const mod = modules.get(r.file);
      expect(mod, `${r.name}: file ${r.file} does not exist`).toBeDefined();
      expect(typeof mod![r.name], `${r.name}: ${r.file} does not export a function '${r.name}'`).toBe('function');
      expect(
        r.index !== null || r.fName !== null || r.method !== null,
        `${r.name}: not reachable (no index export, F name or method)`,
      ).toBe(true);
      expect(
        r.derivatives.length > 0 !== (r.noGrad !== undefined),
        `${r.name}: give derivatives, or noGrad with the reason there are none`,
      ).toBe(true);
      expect(r.tests.length, `${r.name}: no test file`).toBeGreaterThan(0);
      const specs = [r.unary && 'src/ops/unary.ts', r.binary && 'src/ops/binary.ts', r.compare && 'src/ops/compare.ts'].filter(Boolean);
      expect(specs.length <= 1 && specs.every((f) => f === r.file), `${r.name}: its kernel spec belongs to its own file (${r.file})`).toBe(
        true,
      );
    }
  });

  it('(1) every row exported from src/index.ts is exported there, and every op src/index.ts exports has a row', () => {
    for (const r of OPS.filter((x) => x.index !== null)) {
      expect(typeof exportsOfIndex[r.index!], `${r.name}: src/index.ts exports no function '${r.index}'`).toBe('function');
      expect(
        exportsOfIndex[r.index!] === modules.get(r.file)?.[r.name],
        `${r.name}: src/index.ts's '${r.index}' is not ${r.file}'s ${r.name}`,
      ).toBe(true);
    }
    const ops = Object.entries(exportsOfIndex)
      .filter(([, v]) => typeof v === 'function' && opsFunctions.has(v))
      .map(([k]) => k);
    expect(ops.length, 'no op found among the exports of src/index.ts: is the rule broken?').toBeGreaterThan(30);
    const rowless = ops.filter((k) => !(k in NON_OP_EXPORTS) && !OPS.some((r) => r.index === k));
    expect(
      rowless,
      'ops exported from src/index.ts without a registry row (add one to src/ops/registry.ts, or to NON_OP_EXPORTS here if no op)',
    ).toEqual([]);
    const stale = Object.keys(NON_OP_EXPORTS).filter((k) => !ops.includes(k));
    expect(stale, 'NON_OP_EXPORTS entries that src/index.ts no longer exports from src/ops/').toEqual([]);
  });

  it('(2) every listed method is on Tensor.prototype, and every method methods.ts installs is listed', () => {
    expect(installedMethods, 'methods.ts installed nothing visible here: was it loaded before the Tensor class was read?').toContain('add');
    const listed = new Set(OPS.flatMap((r) => (r.method ?? []).map(methodName)));
    for (const r of OPS) {
      for (const m of r.method ?? []) {
        const d = Object.getOwnPropertyDescriptor(Tensor.prototype, methodName(m));
        expect(typeof d?.value, `${r.name}: Tensor has no method '${methodName(m)}' (listed as '${m}')`).toBe('function');
      }
    }
    const unlisted = installedMethods.filter((n) => !listed.has(n) && !(n in NON_OP_METHODS));
    expect(unlisted, 'Tensor methods installed by src/ops/methods.ts that no registry row lists').toEqual([]);
    const stale = Object.keys(NON_OP_METHODS).filter((n) => !installedMethods.includes(n) || listed.has(n));
    expect(stale, 'NON_OP_METHODS entries that methods.ts no longer installs, or that a row lists').toEqual([]);
  });

  it('(3) every fName is a function of F, and every function of F has a row', () => {
    for (const r of OPS.filter((x) => x.fName !== null)) {
      expect(typeof F[r.fName!], `${r.name}: F has no function '${r.fName}'`).toBe('function');
    }
    const fFunctions = Object.keys(F).filter((k) => typeof F[k] === 'function');
    expect(fFunctions.length).toBeGreaterThan(5);
    expect(
      fFunctions.filter((k) => !OPS.some((r) => r.fName === k)),
      'functions of F without a registry row',
    ).toEqual([]);
  });

  it('(4) each op is tested: its test files exist and name it; differentiable ops are gradchecked; every mode runs', () => {
    const problems: string[] = [];
    for (const r of OPS) {
      for (const t of r.tests) {
        if (!existsSync(path.join(ROOT, t))) {
          problems.push(`${r.name}: test file ${t} does not exist`);
          continue;
        }
        if (!spellings(r).some((s) => word(s).test(read(t)))) problems.push(`${r.name}: ${t} never mentions ${spellings(r).join(' / ')}`);
      }
      const first = r.tests[0];
      if (!first || !existsSync(path.join(ROOT, first))) continue;
      const text = read(first);
      if (!text.includes(MODE_MARKER)) problems.push(`${r.name}: ${first} does not run on every mode (no ${MODE_MARKER})`);
      if (r.derivatives.length && !r.gradcheckExempt && !/\bgradcheck\(/.test(text))
        problems.push(`${r.name}: ${first} never calls gradcheck(`);
      if (r.gradcheckExempt && !/\.backward\(/.test(text))
        problems.push(`${r.name}: ${first} never runs a backward (${r.gradcheckExempt})`);
    }
    expect(problems.join('\n'), 'ops whose tests do not cover them').toBe('');
  });

  it('(5) docs/DERIVATIVES.md is the table rendered', () => {
    const doc = renderDerivatives();
    if (process.env.GPUGRAD_WRITE_DOCS) writeFileSync(path.join(ROOT, DOC), doc);
    const committed = existsSync(path.join(ROOT, DOC)) ? read(DOC) : '';
    if (committed !== doc) {
      const a = committed.split('\n');
      const b = doc.split('\n');
      const first = b.findIndex((l, j) => l !== a[j]);
      const k = first < 0 ? b.length : first;
      throw new Error(
        `${DOC} is not what src/ops/registry.ts renders (first difference at line ${k + 1}:\n` +
          `  committed: ${a[k] ?? '(end of file)'}\n  rendered:  ${b[k] ?? '(end)'}).\nRegenerate it with:\n  ${REGENERATE}`,
      );
    }
  });

  it('the registry loads without side effects: it imports nothing but the kernel source helpers', () => {
    const text = read('src/ops/registry.ts');
    const imports = [...text.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^']+)'/gm)].filter((m) => !m[1]).map((m) => m[2]);
    expect(imports).toEqual(['../kernels/source.js']);
  });
});
