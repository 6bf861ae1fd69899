// Copies: a strided gather that serves copy, permute, slice and every other "read x through strides"
// kernel. The tape uses it for copies; the reductions use it to bring non-adjacent reduced dims together.

import type { Precision, SimdProvider, Storage } from '../backend/index.js';
import { allocFloat32, type HostArray } from '../backend/storage.js';
import { numelOf, stridesOf } from '../helpers/shape.js';
import { runTemplate } from './run.js';
import { floorDiv, gatherIndex } from './source.js';
import { declareKernel, runtimeArg } from './template.js';

type GatherParams = { shape: readonly number[]; strides: readonly number[]; offset: number };

/** Runs shorter than this are copied by a loop: a subarray costs more than copying a few elements. */
const SET_MIN = 48;

/**
 * Copies `n` elements of `x` from `src` on, `step` apart, into `out` from `dst` on: a typed-array `set`
 * for a long contiguous run, a fill for a broadcast (step 0), a loop otherwise. Int and bool arrays
 * convert to float32 as an element store would.
 */
export function copyRun(out: Float32Array, dst: number, x: HostArray, src: number, n: number, step = 1): void {
  if (step === 1) {
    if (n >= SET_MIN) out.set(x.subarray(src, src + n), dst);
    else for (let j = 0; j < n; j++) out[dst + j] = x[src + j];
  } else if (step === 0) out.fill(x[src], dst, dst + n);
  else for (let j = 0, s = src; j < n; j++, s += step) out[dst + j] = x[s];
}

/**
 * The strided gather on the host: out[i] = x[offset + Σ_d coord_d(i) · strides[d]], with the dims merged
 * as gatherIndex merges them (size-1 dims dropped, contiguous neighbours joined) and the outer dims walked
 * by an odometer of running offsets. Null where a read would leave `x` (the source would read undefined)
 * or a stride is negative.
 */
export function gatherHost(
  x: HostArray,
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
  size: number,
  simd: SimdProvider | null = null,
): Float32Array | null {
  if (shape.length !== strides.length || numelOf(shape) !== size || !Number.isInteger(offset) || offset < 0) return null;
  const sizes: number[] = [];
  const st: number[] = [];
  let last = offset; // the furthest element read
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const s = strides[d];
    if (!Number.isInteger(s) || s < 0) return null;
    last += (shape[d] - 1) * s;
    const k = sizes.length - 1;
    if (k >= 0 && st[k] === s * shape[d]) {
      sizes[k] *= shape[d];
      st[k] = s;
    } else {
      sizes.push(shape[d]);
      st.push(s);
    }
  }
  if (last >= x.length) return null;
  const nd = sizes.length;
  // the SIMD provider's loop over float32 data when more than a plain contiguous run, and the span read is
  // not much more than what is kept (the span is copied into its memory first)
  if (simd && x instanceof Float32Array && nd >= 1 && !(nd === 1 && st[0] === 1) && last + 1 - offset <= 4 * size) {
    return simd.gather(x, offset, last, sizes[nd - 1], st[nd - 1], sizes.slice(0, -1), st.slice(0, -1), size);
  }
  const out = allocFloat32(size);
  if (nd === 0) {
    out[0] = x[offset];
    return out;
  }
  const n0 = sizes[nd - 1];
  const s0 = st[nd - 1];
  if (nd === 1) {
    copyRun(out, 0, x, offset, n0, s0);
    return out;
  }
  // the two innermost dims as a block per step of an odometer over the others
  const n1 = sizes[nd - 2];
  const s1 = st[nd - 2];
  const block = n0 * n1;
  const blocks = size / block;
  const at = new Array<number>(Math.max(nd - 2, 0)).fill(0);
  let src = offset;
  for (let r = 0, dst = 0; r < blocks; r++, dst += block) {
    copyBlock(out, dst, x, src, n1, s1, n0, s0);
    for (let d = nd - 3; d >= 0; d--) {
      src += st[d];
      if (++at[d] < sizes[d]) break;
      src -= st[d] * sizes[d];
      at[d] = 0;
    }
  }
  return out;
}

/** n1 runs of n0 elements (`s0` apart; the runs `s1` apart) into n1 · n0 consecutive elements of `out`. */
function copyBlock(out: Float32Array, dst: number, x: HostArray, src: number, n1: number, s1: number, n0: number, s0: number): void {
  if (s0 === 1 && n0 < SET_MIN) {
    for (let j1 = 0; j1 < n1; j1++, src += s1) for (let j = 0; j < n0; j++) out[dst++] = x[src + j];
  } else for (let j1 = 0; j1 < n1; j1++, src += s1, dst += n0) copyRun(out, dst, x, src, n0, s0);
}

/** out[i] = x[offset + Σ_d coord_d(i) · strides[d]] over an output of `shape` (a stride 0 broadcasts). */
export const gatherStrided = declareKernel({
  name: 'gather',
  inputs: ['x'],
  // the offset is an argument: views at every narrow() position share one compiled kernel
  runtime: ['offset'],
  body: (p: GatherParams) => [`return x[${gatherIndex(p.shape, p.strides, runtimeArg('offset'))}];`],
  // contiguous runs by typed-array set, the rest by loops with running offsets (no per-element div/mod)
  native: (p, [x], size, simd) => gatherHost(x, p.shape, p.strides, p.offset, size, simd),
});

/** A copy of `size` elements. */
export function copyStorage(s: Storage, size: number, precision: Precision): Storage {
  return runTemplate(gatherStrided, { shape: [size], strides: [1], offset: 0 }, [s], size, precision);
}

/** The permuted copy of a contiguous array of `shape`: output dim k is input dim perm[k]. */
export function permuteStorage(s: Storage, shape: readonly number[], perm: readonly number[], precision: Precision): Storage {
  const st = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  return runTemplate(gatherStrided, { shape: outShape, strides: perm.map((p) => st[p]), offset: 0 }, [s], numelOf(outShape), precision);
}

/**
 * A strided view's positions in its base storage: `size` base elements, the view's `shape`, `strides`
 * (none 0 where the size is above 1: such a view cannot be written) and element `offset`.
 */
type ScatterParams = { size: number; shape: readonly number[]; strides: readonly number[]; offset: number };

/** The view's dims that move (size above 1), largest stride first, with the row-major stride of `src`. */
function scatterDims(p: ScatterParams): { n: number; s: number; cs: number }[] {
  const cs = stridesOf(p.shape);
  return p.shape
    .map((n, d) => ({ n, s: p.strides[d], cs: cs[d] }))
    .filter((x) => x.n > 1)
    .sort((a, b) => b.s - a.s);
}

/**
 * The in-place write through a strided view: out = base, except at the view's positions, which take the
 * view-shaped contiguous `src`. Each base element inverts offset + Σ c_d · strides[d] greedily, largest
 * stride first (the views gpugrad makes never overlap, so each stride exceeds the reach of the smaller
 * ones): it lies in the view when every c_d is inside its dim and nothing is left over.
 */
export const scatterStrided = declareKernel({
  name: 'scatterStrided',
  inputs: ['base', 'src'],
  runtime: ['offset'],
  body: (p: ScatterParams) => {
    const dims = scatterDims(p);
    const lines: string[] = [`let r = i - ${runtimeArg('offset')};`, 'if (r < 0) { return base[i]; }'];
    const terms: string[] = [];
    dims.forEach((d, k) => {
      lines.push(`const c${k} = ${floorDiv('r', d.s)};`);
      lines.push(`if (c${k} >= ${d.n}) { return base[i]; }`);
      lines.push(`r = r - c${k} * ${d.s};`);
      terms.push(`c${k} * ${d.cs}`);
    });
    lines.push('if (r > 0) { return base[i]; }');
    lines.push(`return src[${terms.length ? terms.join(' + ') : '0'}];`);
    return lines;
  },
  // a copy of base, then an odometer over the view's positions writing src in order
  native: (p, [base, src], size) => {
    if (size !== p.size || base.length < size || src.length < numelOf(p.shape)) return null;
    const dims = p.shape.map((n, d) => ({ n, s: p.strides[d] })).filter((x) => x.n > 1);
    let last = p.offset;
    for (const d of dims) {
      if (!Number.isInteger(d.s) || d.s <= 0) return null;
      last += (d.n - 1) * d.s;
    }
    if (!Number.isInteger(p.offset) || p.offset < 0 || last >= size) return null;
    const out = allocFloat32(size);
    copyRun(out, 0, base, 0, size);
    const n = numelOf(p.shape);
    const at = new Array<number>(dims.length).fill(0);
    let pos = p.offset;
    for (let j = 0; j < n; j++) {
      out[pos] = src[j];
      for (let d = dims.length - 1; d >= 0; d--) {
        pos += dims[d].s;
        if (++at[d] < dims[d].n) break;
        pos -= dims[d].s * dims[d].n;
        at[d] = 0;
      }
    }
    return out;
  },
});
