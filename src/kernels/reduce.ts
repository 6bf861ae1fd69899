// Chunked reductions over a [O, n, I] block (the reduced dims in the middle). One pass reduces every
// chunk of at most REDUCE_CHUNK elements to one partial; passes repeat until one is left. That keeps
// every thread's loop short (Mesa's llvmpipe, the software GL here, stops every loop of a shader after
// 65,535 iterations in all; GPUs have watchdogs) and sums in a tree of blocks, so float32 sums of millions
// of elements keep float32 accuracy instead of drifting by one rounding per element.
// The tape's reduce-to-shape (summing broadcast gradients back) is built from the same passes.

import { Storage, type Precision, type SimdProvider } from '../backend/index.js';
import { allocFloat32, type HostArray } from '../backend/storage.js';
import { numelOf } from '../helpers/shape.js';
import { permuteStorage } from './copy.js';
import { runTemplate } from './run.js';
import { blockedSum, floorDiv } from './source.js';
import { declareKernel } from './template.js';

export const REDUCE_CHUNK = 1024;

export type PassKind = 'sum' | 'amax' | 'amin' | 'argmax' | 'argmin';

export interface PassParams {
  [k: string]: PassKind | number | boolean;
  kind: PassKind;
  O: number;
  n: number;
  I: number;
  chunk: number;
  /** argmax/argmin passes after the first read the previous pass's indices `ix` (indices into the original dim) */
  withIndex: boolean;
  /** the last sum pass of a mean divides by the element count */
  divideBy: number;
}

/**
 * One pass over a [O, n, I] block `a`: output [O, C, I] with C = ceil(n / chunk), each element the
 * reduction of its chunk. argmax/argmin return indices; their values come from the matching amax/amin pass.
 */
export const reducePass = declareKernel({
  name: 'reduce.pass',
  inputs: (p: PassParams) => (p.withIndex ? ['a', 'ix'] : ['a']),
  body: (p: PassParams) => {
    const { kind, O, n, I, chunk, withIndex, divideBy } = p;
    void O;
    const C = Math.ceil(n / chunk);
    const len = C === 1 ? n : chunk;
    const last = n - (C - 1) * chunk; // elements in the last chunk
    const at = (k: string): string => (I === 1 ? `a[base + ${k}]` : `a[base + (${k}) * ${I}]`);
    const head = [
      `const o = ${floorDiv('i', C * I)};`,
      `const rem = i - o * ${C * I};`,
      `const c = ${floorDiv('rem', I)};`,
      `const e = rem - c * ${I};`,
      `const base = o * ${n * I} + c * ${chunk * I} + e;`,
      '// the last chunk may be shorter',
      `const len = c < ${C - 1} ? ${len} : ${last};`,
    ];
    if (kind === 'sum')
      return [head, blockedSum('s', at, len, C === 1 ? undefined : 'len'), `return ${divideBy === 1 ? 's' : `s / ${divideBy}`};`];
    // NaN wins (as PyTorch), the first extreme wins ties; the explicit NaN test also stops GL compilers
    // from turning the comparison into max(), which drops NaN
    const cmp = kind === 'amax' || kind === 'argmax' ? '>' : '<';
    const arg = kind === 'argmax' || kind === 'argmin';
    const where = (k: string): string => (withIndex ? (I === 1 ? `ix[base + ${k}]` : `ix[base + (${k}) * ${I}]`) : `c * ${chunk} + ${k}`);
    return [
      head,
      `let acc = ${at('0')}; let at = ${where('0')};`,
      `for (let k = 1; k < ${len}; k++) { if (k < len) { const v = ${at('k')};`,
      `if (v ${cmp} acc || (v != v && acc == acc)) { acc = v; at = ${where('k')}; } } }`,
      `return ${arg ? 'at' : 'acc'};`,
    ];
  },
  native: (p, [a, ix], size, simd) => reducePassHost(p, a, p.withIndex ? ix : null, size, simd),
});

/**
 * reducePass on the host: for each [o, c] a run over the chunk's rows, the I columns side by side (sums
 * accumulate in float64 per column, as the source's JS numbers do, and round once on the store); the
 * extremes keep the source's comparisons exactly (NaN wins, the first extreme wins ties).
 */
function reducePassHost(p: PassParams, a: HostArray, ix: HostArray | null, size: number, simd: SimdProvider | null): Float32Array | null {
  const { kind, O, n, I, chunk, divideBy } = p;
  const C = Math.ceil(n / chunk);
  if (!(O * C * I === size && O * n * I <= a.length && n >= 1 && chunk >= 1)) return null;
  if (p.withIndex && (!ix || ix.length < O * n * I)) return null;
  const out = allocFloat32(size);
  if (kind === 'sum' && simd && I % 4 === 0 && divideBy === 1 && a instanceof Float32Array) {
    // each block's column sums on the SIMD provider (float64 accumulators, one rounding: the same sums)
    for (let o = 0, w = 0; o < O; o++) {
      for (let c = 0; c < C; c++, w += I) {
        const len = Math.min(chunk, n - c * chunk);
        const r = o * n * I + c * chunk * I;
        out.set(simd.colSums(a.subarray(r, r + len * I), null, null, len, I), w);
      }
    }
    return out;
  }
  if (kind === 'sum') {
    if (I === 1) {
      for (let o = 0, w = 0; o < O; o++) {
        for (let c = 0; c < C; c++, w++) {
          const b = o * n + c * chunk;
          const e = b + Math.min(chunk, n - c * chunk);
          let s0 = 0;
          let s1 = 0;
          let k = b;
          for (; k + 1 < e; k += 2) {
            s0 += a[k];
            s1 += a[k + 1];
          }
          if (k < e) s0 += a[k];
          const s = s0 + s1;
          out[w] = divideBy === 1 ? s : s / divideBy;
        }
      }
      return out;
    }
    const acc = new Float64Array(I);
    for (let o = 0, w = 0; o < O; o++) {
      for (let c = 0; c < C; c++, w += I) {
        const len = Math.min(chunk, n - c * chunk);
        acc.fill(0);
        let k = 0;
        let r = o * n * I + c * chunk * I;
        // four rows per sweep of the accumulators
        for (; k + 3 < len; k += 4, r += 4 * I) {
          const r1 = r + I;
          const r2 = r1 + I;
          const r3 = r2 + I;
          for (let e = 0; e < I; e++) acc[e] += a[r + e] + a[r1 + e] + (a[r2 + e] + a[r3 + e]);
        }
        for (; k < len; k++, r += I) for (let e = 0; e < I; e++) acc[e] += a[r + e];
        if (divideBy === 1) for (let e = 0; e < I; e++) out[w + e] = acc[e];
        else for (let e = 0; e < I; e++) out[w + e] = acc[e] / divideBy;
      }
    }
    return out;
  }
  const max = kind === 'amax' || kind === 'argmax';
  const arg = kind === 'argmax' || kind === 'argmin';
  const accV = new Float64Array(I);
  const accAt = new Float64Array(I);
  for (let o = 0, w = 0; o < O; o++) {
    for (let c = 0; c < C; c++, w += I) {
      const len = Math.min(chunk, n - c * chunk);
      const b = o * n * I + c * chunk * I;
      for (let e = 0; e < I; e++) {
        accV[e] = a[b + e];
        accAt[e] = ix ? ix[b + e] : c * chunk;
      }
      for (let k = 1, r = b + I; k < len; k++, r += I) {
        for (let e = 0; e < I; e++) {
          const v = a[r + e];
          const acc = accV[e];
          if ((max ? v > acc : v < acc) || (v !== v && acc === acc)) {
            accV[e] = v;
            accAt[e] = ix ? ix[r + e] : c * chunk + k;
          }
        }
      }
      const res = arg ? accAt : accV;
      for (let e = 0; e < I; e++) out[w + e] = res[e];
    }
  }
  return out;
}

/** Runs one pass; the output is [O, ceil(n / chunk), I]. */
export function runPass(p: PassParams, a: Storage, ix: Storage | null, precision: Precision): Storage {
  return runTemplate(reducePass, p, ix ? [a, ix] : [a], p.O * Math.ceil(p.n / p.chunk) * p.I, precision);
}

/**
 * The sum of a contiguous array of `shape` over `dims` (sorted), as passes of REDUCE_CHUNK; the result
 * holds the kept dims in order. Non-adjacent reduced dims are gathered together by a permuted copy first.
 */
export function sumDimsStorage(s: Storage, shape: readonly number[], dims: readonly number[], precision: Precision): Storage {
  const adjacent = dims.every((d, k) => k === 0 || d === dims[k - 1] + 1);
  const n = dims.reduce((a, d) => a * shape[d], 1);
  const total = numelOf(shape);
  if (n === 0) {
    // nothing to reduce: sums are 0 (PyTorch's identity)
    const kept = numelOf(shape.filter((_, d) => !dims.includes(d)));
    return Storage.fromHost(precision === 'float64' ? new Float64Array(kept) : new Float32Array(kept));
  }
  let O: number;
  let I: number;
  let cur = s;
  let owned = false;
  if (adjacent && dims.length > 0) {
    O = shape.slice(0, dims[0]).reduce((a, b) => a * b, 1);
    I = total / (O * n);
  } else {
    const kept = shape.map((_, d) => d).filter((d) => !dims.includes(d));
    cur = permuteStorage(s, shape, [...kept, ...dims], precision);
    owned = true;
    O = n === 0 ? 0 : total / n;
    I = 1;
  }
  let len = n;
  do {
    const next = runPass({ kind: 'sum', O, n: len, I, chunk: REDUCE_CHUNK, withIndex: false, divideBy: 1 }, cur, null, precision);
    if (owned) cur.release();
    cur = next;
    owned = true;
    len = Math.ceil(len / REDUCE_CHUNK);
  } while (len > 1);
  return cur;
}
