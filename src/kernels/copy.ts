// Copies: a strided gather that serves copy, permute, slice and every other "read x through strides"
// kernel. The tape uses it for copies; the reductions use it to bring non-adjacent reduced dims together.

import type { Precision, Storage } from '../backend/index.js';
import { allocFloat32, type HostArray } from '../backend/storage.js';
import { numelOf, stridesOf } from '../helpers/shape.js';
import { runTemplate } from './run.js';
import { gatherIndex } from './source.js';
import { declareKernel } from './template.js';

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
  const out = allocFloat32(size);
  const nd = sizes.length;
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
  body: (p: GatherParams) => [`return x[${gatherIndex(p.shape, p.strides, p.offset)}];`],
  // contiguous runs by typed-array set, the rest by loops with running offsets (no per-element div/mod)
  native: (p, [x], size) => gatherHost(x, p.shape, p.strides, p.offset, size),
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
