// Writing kernel source: literals, the recurring index maths (unravel a flat index, gather through
// strides, dot products, blocked sums) and the formatter that makes generated source readable.
// Everything here returns text in the JavaScript subset GPU.js compiles; nothing here runs a kernel.

import { broadcastStrides, sameShape } from '../helpers/shape.js';

/**
 * A kernel body: statements as strings (several per string are fine: the formatter puts each on its own
 * line and indents blocks), `// ...` comment lines, and nested arrays of the same.
 */
export type Body = string | readonly Body[];

/**
 * An expression pasted into generated kernel source, parenthesised unless it is a bare name or an
 * unsigned number literal: every expression builder wraps each argument with this, so `b - 1` pasted into
 * `X / 2` reads `(b - 1) / 2`, never `b - 1 / 2`.
 */
export function paren(expr: string): string {
  const e = expr.trim();
  return /^([A-Za-z_$][\w$]*|\d+(\.\d+)?([eE][+-]?\d+)?)$/.test(e) ? e : `(${e})`;
}

/** A number as a JS literal that round-trips exactly (kernels bake constants in). */
export function lit(x: number): string {
  if (Number.isNaN(x)) return '(0 / 0)';
  if (x === Infinity) return '1e39';
  if (x === -Infinity) return '-1e39';
  if (Object.is(x, -0)) return '(-0)';
  const s = String(x);
  return x < 0 ? `(${s})` : s;
}

/**
 * `Math.floor(a / n)` for a non-negative integer-valued float `a` and an integer `n`: GPU.js's floats make
 * `a / n` land a rounding below an exact quotient, so the division is offset by half a unit first.
 */
export function floorDiv(a: string, n: number): string {
  return n === 1 ? a : `Math.floor((${a} + 0.5) / ${n})`;
}

/**
 * Statements that split the flat index `index` of a row-major array of `shape` into one named coordinate
 * per dim (`names[d]`). Dims of size 1 get the coordinate 0.
 */
export function unravel(index: string, shape: readonly number[], names: readonly string[]): string[] {
  if (names.length !== shape.length)
    throw new Error(`gpugrad internal: unravel needs one name per dim (${names.length} for ${shape.length})`);
  const lines: string[] = [];
  let rest = index;
  let below = shape.reduce((a, b) => a * b, 1);
  for (let d = 0; d < shape.length; d++) {
    below /= shape[d];
    const name = names[d];
    if (d === shape.length - 1) {
      lines.push(`const ${name} = ${rest};`);
      break;
    }
    lines.push(`const ${name} = ${shape[d] === 1 ? '0' : floorDiv(rest, below)};`);
    const r = `${name}_r`; // what is left of the index below this dim
    lines.push(`const ${r} = ${rest} - ${name} * ${below};`);
    rest = r;
  }
  return lines;
}

/**
 * Expression for the flat index into a tensor with element strides `inStrides` (0 = broadcast) and
 * `offset`, seen through an output of shape `outShape`, from the flat output index `i`.
 * Adjacent dims that stay contiguous are merged so most kernels need one or two divisions.
 */
export function gatherIndex(outShape: readonly number[], inStrides: readonly number[], offset: number | string = 0, i = 'i'): string {
  // merge dims: (size, outStride, inStride)
  const dims: { size: number; st: number }[] = [];
  for (let d = 0; d < outShape.length; d++) {
    if (outShape[d] === 1) continue;
    const cur = { size: outShape[d], st: inStrides[d] };
    const prev = dims[dims.length - 1];
    if (prev && prev.st === cur.st * cur.size) {
      prev.size *= cur.size;
      prev.st = cur.st;
    } else dims.push(cur);
  }
  const terms: string[] = [];
  let outStride = 1;
  const ctx: { size: number; st: number; outStride: number }[] = [];
  for (let k = dims.length - 1; k >= 0; k--) {
    ctx.push({ ...dims[k], outStride });
    outStride *= dims[k].size;
  }
  for (const { size, st, outStride: os } of ctx) {
    if (st === 0) continue;
    const outer = os * size === outStride; // the outermost dim needs no modulo
    let c: string;
    if (os === 1) c = outer ? i : `(${i} - ${floorDiv(i, size)} * ${size})`;
    else if (outer) c = floorDiv(i, os);
    else c = `(${floorDiv(i, os)} - ${floorDiv(i, os * size)} * ${size})`;
    terms.push(st === 1 ? c : `${c} * ${st}`);
  }
  // (a string offset is an expression the kernel gets at run time: always added)
  if (offset !== 0) terms.push(String(offset));
  return terms.length ? terms.join(' + ') : '0';
}

/** Index into an input of `inShape` broadcast to `outShape`, from the flat output index `i`. */
export function bcastIndex(outShape: readonly number[], inShape: readonly number[], i = 'i'): string {
  if (sameShape(outShape, inShape)) return i;
  return gatherIndex(outShape, broadcastStrides(outShape, inShape), 0, i);
}

/**
 * Statements that accumulate `len` elements `read(k)` (k < len, a literal) into `out` with four
 * interleaved accumulators; with `guard`, only the k below that runtime expression count.
 */
export function blockedSum(out: string, read: (k: string) => string, len: number, guard?: string): string {
  const g = (k: string, body: string): string => (guard ? `if (${k} < ${guard}) { ${body} } ` : `${body} `);
  if (len < 8)
    return `let ${out} = 0; for (let ${out}k = 0; ${out}k < ${len}; ${out}k++) { ${g(`${out}k`, `${out} += ${read(`${out}k`)};`)}} `;
  const L4 = len - (len % 4);
  let code = `let ${out}0 = 0; let ${out}1 = 0; let ${out}2 = 0; let ${out}3 = 0; for (let ${out}k = 0; ${out}k < ${L4}; ${out}k += 4) { `;
  for (let j = 0; j < 4; j++) {
    const k = j === 0 ? `${out}k` : `${out}k + ${j}`;
    code += g(k, `${out}${j} += ${read(k)};`);
  }
  code += `} let ${out} = (${out}0 + ${out}1) + (${out}2 + ${out}3); `;
  if (len > L4) code += `for (let ${out}r = ${L4}; ${out}r < ${len}; ${out}r++) { ${g(`${out}r`, `${out} += ${read(`${out}r`)};`)}} `;
  return code;
}

/**
 * Kernel statements that set `out` = Σ_k a[ab + k·as]·b[bb + k·bs] for k < K, unrolled by four with
 * separate accumulators (faster on webasm and cpu than the plain loop: bench/) and a plain loop for the
 * remainder.
 */
export function dotLoop(a: string, ab: string, as: number, b: string, bb: string, bs: number, K: number, out: string): string {
  const at = (k: string): string => `${a}[${ab} + ${as === 1 ? k : `(${k}) * ${as}`}] * ${b}[${bb} + ${bs === 1 ? k : `(${k}) * ${bs}`}]`;
  const K4 = K - (K % 4);
  let code = `let ${out} = 0; `;
  if (K4 >= 8) {
    code +=
      `let ${out}0 = 0; let ${out}1 = 0; let ${out}2 = 0; let ${out}3 = 0; ` +
      `for (let k4 = 0; k4 < ${K4}; k4 += 4) { ${out}0 += ${at('k4')}; ${out}1 += ${at('k4 + 1')}; ${out}2 += ${at('k4 + 2')}; ${out}3 += ${at('k4 + 3')}; } ` +
      `${out} = (${out}0 + ${out}1) + (${out}2 + ${out}3); `;
    if (K > K4) code += `for (let kr = ${K4}; kr < ${K}; kr++) { ${out} += ${at('kr')}; } `;
  } else {
    code += `for (let k = 0; k < ${K}; k++) { ${out} += ${at('k')}; } `;
  }
  return code;
}

/**
 * Lays out a body as one statement per line, blocks indented by two spaces. Splits at `;`, `{` and `}`
 * outside parentheses and brackets (a `for (...;...;...)` header stays whole) and keeps `} else {` on one
 * line; `// ...` entries are comment lines.
 */
export function formatBody(body: Body, depth = 1): string[] {
  const out: string[] = [];
  let level = depth;
  const pad = (): string => '  '.repeat(level);
  const visit = (b: Body): void => {
    if (typeof b !== 'string') {
      for (const x of b) visit(x);
      return;
    }
    const text = b.trim();
    if (text.startsWith('//')) {
      out.push(pad() + text);
      return;
    }
    let cur = '';
    let nest = 0; // ( and [ depth
    const flush = (suffix = ''): void => {
      const line = (cur.trim() + suffix).trim();
      if (line) out.push(pad() + line);
      cur = '';
    };
    for (let c = 0; c < text.length; c++) {
      const ch = text[c];
      if (ch === '(' || ch === '[') nest++;
      else if (ch === ')' || ch === ']') nest--;
      if (nest > 0) {
        cur += ch;
        continue;
      }
      if (ch === ';') flush(';');
      else if (ch === '{') {
        flush(' {');
        level++;
      } else if (ch === '}') {
        flush();
        level--;
        if (/^\s*else\b/.test(text.slice(c + 1))) cur = '} ';
        else out.push(pad() + '}');
      } else if (!(cur === '} ' && ch === ' ')) cur += ch;
    }
    flush();
  };
  visit(body);
  return out;
}

/** Source with line numbers, as errors and GPUGRAD_DEBUG=kernels print it. */
export function numbered(source: string): string {
  const lines = source.split('\n');
  const w = String(lines.length).length;
  return lines.map((l, k) => `${String(k + 1).padStart(w)} | ${l}`).join('\n');
}
