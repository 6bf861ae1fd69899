// Builds the SIMD kernel provider's WebAssembly from its text sources (src/backend/simd/*.wat) with wabt,
// into src/backend/simd/wasm.generated.ts (git-ignored; `npm ci` runs this as `prepare`, `npm test` runs it
// first). Each source becomes four binaries: plain SIMD or relaxed SIMD, each with an unshared memory or
// a shared one (the worker pool's). No binary is committed or downloaded.
//
// Macros in the sources: MADD(acc, a, b) is acc += a·b (plain: f32x4.add(acc, f32x4.mul(a, b)); relaxed:
// f32x4.relaxed_madd(a, b, acc)); `MAXPAGES SHARED` in the memory import becomes nothing (unshared) or
// `<max> shared`. A function marked `(; inline ;)` after its name is written into its callers (see
// inlineCalls below); `(; include NAME ;)` is replaced by the file NAME (a `.wat.inc` beside the sources).
import { readFileSync, readdirSync, writeFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'backend', 'simd');
const outFile = path.join(dir, 'wasm.generated.ts');
/** A shared memory must declare its maximum: 2 GiB (32,768 pages of 64 KiB), as much as gpugrad's indices reach. */
const SHARED_MAX_PAGES = 32768;

const sources = readdirSync(dir)
  .filter((f) => f.endsWith('.wat'))
  .sort();
const includes = readdirSync(dir).filter((f) => f.endsWith('.wat.inc'));
const newest = Math.max(
  statSync(fileURLToPath(import.meta.url)).mtimeMs,
  ...[...sources, ...includes].map((f) => statSync(path.join(dir, f)).mtimeMs),
);

/** The text with each `(; include NAME ;)` replaced by the file NAME beside the sources (shared helpers). */
const withIncludes = (text) =>
  text.replace(/\(; include ([\w.-]+) ;\)/g, (_, name) => {
    if (!includes.includes(name)) throw new Error(`build-wasm: no ${name} to include in src/backend/simd`);
    return readFileSync(path.join(dir, name), 'utf8');
  });
if (existsSync(outFile) && statSync(outFile).mtimeMs >= newest && !process.argv.includes('--force')) process.exit(0);

const MADD = /MADD\((\w+),\s*(\w+),\s*(\w+)\)/g;

// Inlining. V8 (Node 20) does not inline WebAssembly calls, and a call with v128 arguments costs about as
// much as the arithmetic of a small helper (the exp, the float64 promotions), so a function marked
// `(; inline ;)` after its name is written into every caller instead: `(call $f a b)` becomes a block that
// sets f's parameters from a and b and runs f's body, with f's parameters and locals renamed `$f__name`
// and declared in the caller. Marked functions are removed from the module.

/** The index just past the s-expression that opens at text[at] ('('). */
function closeOf(text, at) {
  let depth = 0;
  for (let j = at; j < text.length; j++) {
    if (text.startsWith('(;', j)) {
      j = text.indexOf(';)', j) + 1;
      continue;
    }
    if (text.startsWith(';;', j)) {
      j = text.indexOf('\n', j);
      continue;
    }
    if (text[j] === '(') depth++;
    else if (text[j] === ')' && --depth === 0) return j + 1;
  }
  throw new Error(`build-wasm: unbalanced parentheses at ${text.slice(at, at + 60)}`);
}

/** The top-level s-expressions (and bare words) of a form's inside. */
function forms(inner) {
  const out = [];
  for (let j = 0; j < inner.length;) {
    if (/\s/.test(inner[j])) j++;
    else if (inner.startsWith(';;', j)) j = inner.indexOf('\n', j) < 0 ? inner.length : inner.indexOf('\n', j);
    else if (inner.startsWith('(;', j)) j = inner.indexOf(';)', j) + 2;
    else if (inner[j] === '(') {
      const end = closeOf(inner, j);
      out.push(inner.slice(j, end));
      j = end;
    } else {
      let k = j;
      while (k < inner.length && !/[\s()]/.test(inner[k])) k++;
      out.push(inner.slice(j, k));
      j = k;
    }
  }
  return out;
}

const headOf = (form) => /^\(\s*([\w.]+)/.exec(form)?.[1] ?? '';

/** Every `(func ...)` of the module: its text range and parts. */
function funcsOf(text) {
  const out = [];
  for (let at = text.indexOf('(func'); at >= 0; at = text.indexOf('(func', at + 1)) {
    if (!/^\(func[\s)]/.test(text.slice(at, at + 6))) continue;
    const end = closeOf(text, at);
    const parts = forms(text.slice(at + 5, end - 1));
    out.push({ at, end, text: text.slice(at, end), parts });
    at = end - 1;
  }
  return out;
}

/** A function marked for inlining: `(func $name (; inline ;) ...`. */
const INLINE_MARK = /^\(func\s+\$[\w.]+\s*\(; inline ;\)/;

function inlineCalls(text) {
  const inline = new Map();
  for (const f of funcsOf(text)) {
    if (!INLINE_MARK.test(f.text)) continue;
    const name = f.parts[0].slice(1);
    const params = [];
    const locals = [];
    let result = '';
    const body = [];
    for (const part of f.parts.slice(1)) {
      const h = headOf(part);
      const decl = /^\(\s*(?:param|local)\s+\$([\w.]+)\s+(\w+)\s*\)$/.exec(part);
      if (h === 'param') params.push({ id: decl[1], type: decl[2] });
      else if (h === 'local') locals.push({ id: decl[1], type: decl[2] });
      else if (h === 'result') result = part;
      else body.push(part);
    }
    inline.set(name, { params, locals, result, body: body.join('\n') });
  }
  if (inline.size === 0) return text;
  // remove the marked functions, then expand calls in the others (and in marked ones used by others: a
  // marked function's own calls are expanded first, in order of definition)
  const expandIn = (funcText, extraLocals) => {
    let out = '';
    let at = 0;
    for (let i = funcText.indexOf('(call $', at); i >= 0; i = funcText.indexOf('(call $', at)) {
      const end = closeOf(funcText, i);
      const [, target, ...args] = forms(funcText.slice(i + 1, end - 1));
      const f = inline.get(target.slice(1));
      if (!f) {
        out += funcText.slice(at, end);
        at = end;
        continue;
      }
      if (args.length !== f.params.length) throw new Error(`build-wasm: ${target} takes ${f.params.length} arguments, got ${args.length}`);
      const renamed = (id) => `$${target.slice(1)}__${id}`;
      for (const d of [...f.params, ...f.locals]) extraLocals.set(renamed(d.id), d.type);
      let body = f.body;
      for (const d of [...f.params, ...f.locals]) body = body.replace(new RegExp(`\\$${d.id}(?![\\w.])`, 'g'), renamed(d.id));
      const sets = f.params.map((d, k) => `(local.set ${renamed(d.id)} ${expandIn(args[k], extraLocals)})`).join(' ');
      out += funcText.slice(at, i) + `(block ${f.result} ${sets} ${body})`;
      at = end;
    }
    return out + funcText.slice(at);
  };
  for (const f of inline.values()) {
    const extra = new Map();
    f.body = expandIn(f.body, extra);
    for (const [id, type] of extra) f.locals.push({ id: id.slice(1), type });
  }
  let out = '';
  let at = 0;
  for (const fn of funcsOf(text)) {
    out += text.slice(at, fn.at);
    at = fn.end;
    if (INLINE_MARK.test(fn.text)) continue;
    const extra = new Map();
    const expanded = expandIn(fn.text, extra);
    // the new locals go after the function's name, export, params, results and locals
    const parts = forms(expanded.slice(5, -1));
    const lead = parts.findIndex((part) => !(part.startsWith('$') || ['export', 'param', 'result', 'local'].includes(headOf(part))));
    const split = lead < 0 ? parts.length : lead;
    const decls = [...extra].map(([id, type]) => `(local ${id} ${type})`);
    out += `(func ${[...parts.slice(0, split), ...decls, ...parts.slice(split)].join('\n    ')})`;
  }
  return out + text.slice(at);
}
const variants = {
  plain: { relaxed: false, shared: false },
  relaxed: { relaxed: true, shared: false },
  plainShared: { relaxed: false, shared: true },
  relaxedShared: { relaxed: true, shared: true },
};

const wabt = await wabtInit();
const modules = {};
for (const file of sources) {
  const name = file.replace(/\.wat$/, '');
  const text = withIncludes(readFileSync(path.join(dir, file), 'utf8'));
  modules[name] = {};
  for (const [variant, { relaxed, shared }] of Object.entries(variants)) {
    const src = inlineCalls(text)
      .replace(
        MADD,
        relaxed
          ? '(local.set $$$1 (f32x4.relaxed_madd (local.get $$$2) (local.get $$$3) (local.get $$$1)))'
          : '(local.set $$$1 (f32x4.add (local.get $$$1) (f32x4.mul (local.get $$$2) (local.get $$$3))))',
      )
      .replace(/MAXPAGES SHARED/g, shared ? `${SHARED_MAX_PAGES} shared` : '');
    const features = { simd: true, relaxed_simd: relaxed, threads: shared };
    const mod = wabt.parseWat(file, src, features);
    try {
      mod.validate(features);
      modules[name][variant] = Buffer.from(mod.toBinary({}).buffer).toString('base64');
    } finally {
      mod.destroy();
    }
  }
}

const body = Object.entries(modules)
  .map(
    ([name, vs]) =>
      `  ${name}: {\n${Object.entries(vs)
        .map(([v, b64]) => `    ${v}: '${b64}',`)
        .join('\n')}\n  },`,
  )
  .join('\n');
writeFileSync(
  outFile,
  `// Generated by scripts/build-wasm.mjs from src/backend/simd/*.wat: do not edit, not in git.\n` +
    `// prettier-ignore\n` +
    `export const WASM_MODULES = {\n${body}\n} as const;\n`,
);
console.log(`build-wasm: ${sources.length} module(s) -> ${path.relative(process.cwd(), outFile)}`);
