// Shape ops. permute/transpose, expand, slice/narrow and view/reshape/flatten/(un)squeeze return views:
// tensors over the input's storage with other strides and offset (no kernel), as PyTorch's. view() throws
// where no strides can express the new shape; reshape() then copies. cat and indexSelect are gathers of
// their own. The gradients are ordinary dense tensors; each backward is the matching scatter:
//   permute: dx = permute(g, inverse)      expand: dx = g (the engine sums broadcast dims)
//   slice:   dx = g placed back at its positions, 0 elsewhere     cat: dx_k = slice of g
//   indexSelect: dx[c] = sum of g over positions p with index[p] == c (scatter-add)

import { describeValue } from '../helpers/validate.js';
import { checkTensor, checkTensorList } from '../autograd/check.js';
import { fromValues } from '../autograd/creation.js';
import { record } from '../autograd/engine.js';
import { launch } from '../autograd/launch.js';
import { Tensor } from '../autograd/tensor.js';
import { fmtShape, normDim, numelOf, sameShape, stridesOf } from '../helpers/shape.js';
import { allocFloat32, type HostArray } from '../backend/storage.js';
import { copyRun, gatherStrided } from '../kernels/copy.js';
import { REDUCE_CHUNK } from '../kernels/reduce.js';
import { floorDiv, lit, unravel } from '../kernels/source.js';
import { declareKernel, runtimeArg } from '../kernels/template.js';
import { sum } from './reduce.js';

export function reshape(x: Tensor, shape: number[], op = 'reshape'): Tensor {
  checkTensor(op, 'input', x);
  if (!Array.isArray(shape)) throw new Error(`${op}: shape must be an array of integers, got ${describeValue(shape)}`);
  const neg = shape.filter((d) => d === -1).length;
  if (neg > 1 || shape.some((d) => !Number.isInteger(d) || d < -1))
    throw new Error(`${op}: invalid shape ${fmtShape(shape)} (one -1 at most, other sizes non-negative integers)`);
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  let target = shape;
  if (neg) {
    if (known === 0 || x.numel() % known !== 0)
      throw new Error(`${op}: shape ${fmtShape(shape)} is invalid for input of size ${x.numel()} (shape ${fmtShape(x.shape)})`);
    target = shape.map((d) => (d === -1 ? x.numel() / known : d));
  }
  if (numelOf(target) !== x.numel())
    throw new Error(`${op}: shape ${fmtShape(shape)} is invalid for input of size ${x.numel()} (shape ${fmtShape(x.shape)})`);
  const strides = x._viewStrides(target);
  let y: Tensor;
  if (strides) y = x._strided([...target], strides, x.storageOffset());
  else if (op === 'view')
    throw new Error(
      `view: view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). ` +
        `Use .reshape(...) instead. (input shape ${fmtShape(x.shape)}, strides ${fmtShape(x.stride())}, target ${fmtShape(target)})`,
    );
  else y = Tensor._fromStorage(x._materialize(), [...target], x.dtype); // the elements in order, copied
  return record(y, { name: 'View', inputs: [x], backward: (g) => [g._view(x.shape)], backwardGraph: (g) => [reshape(g, x.shape)] });
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  checkTensor('flatten', 'input', x);
  if (x.ndim === 0) return reshape(x, [1], 'flatten');
  const s = normDim('flatten', startDim, x.ndim, x.shape);
  const e = normDim('flatten', endDim, x.ndim, x.shape);
  if (s > e) throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim} (shape ${fmtShape(x.shape)})`);
  const shape = [...x.shape.slice(0, s), x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1), ...x.shape.slice(e + 1)];
  return reshape(x, shape, 'flatten');
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  checkTensor('unsqueeze', 'input', x);
  const d = normDim('unsqueeze', dim, x.ndim + 1, x.shape);
  const shape = [...x.shape];
  shape.splice(d, 0, 1);
  return reshape(x, shape, 'unsqueeze');
}

export function squeeze(x: Tensor, dim?: number | number[]): Tensor {
  checkTensor('squeeze', 'input', x);
  const dims =
    dim === undefined ? x.shape.map((_, i) => i) : (Array.isArray(dim) ? dim : [dim]).map((d) => normDim('squeeze', d, x.ndim, x.shape));
  return reshape(
    x,
    x.shape.filter((s, i) => !(s === 1 && dims.includes(i))),
    'squeeze',
  );
}

/** The permuted copy, no graph: output dim k is input dim perm[k] (a strided gather). */
export function permuteKernel(x: Tensor, perm: number[]): Tensor {
  const st = stridesOf(x.shape);
  const outShape = perm.map((p) => x.shape[p]);
  return launch(gatherStrided, { shape: outShape, strides: perm.map((p) => st[p]), offset: 0 }, [x], outShape, x.dtype);
}

export function permute(x: Tensor, dims: number[]): Tensor {
  checkTensor('permute', 'input', x);
  if (!Array.isArray(dims)) throw new Error(`permute: dims must be an array of integers, got ${describeValue(dims)}`);
  if (dims.length !== x.ndim)
    throw new Error(`permute: got ${dims.length} dims ${fmtShape(dims)} for a tensor of shape ${fmtShape(x.shape)}`);
  const perm = dims.map((d) => normDim('permute', d, x.ndim, x.shape));
  if (new Set(perm).size !== perm.length) throw new Error(`permute: dims ${fmtShape(dims)} repeat a dimension`);
  if (perm.every((p, i) => p === i)) return reshape(x, x.shape, 'permute');
  const st = x.stride();
  const y = x._strided(
    perm.map((p) => x.shape[p]),
    perm.map((p) => st[p]),
    x.storageOffset(),
  );
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return record(y, { name: 'Permute', inputs: [x], backward: (g) => [permuteKernel(g, inv)], backwardGraph: (g) => [permute(g, inv)] });
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  checkTensor('transpose', 'input', x);
  const a = normDim('transpose', dim0, x.ndim, x.shape);
  const b = normDim('transpose', dim1, x.ndim, x.shape);
  const perm = x.shape.map((_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

export function expand(x: Tensor, shape: number[]): Tensor {
  checkTensor('expand', 'input', x);
  if (!Array.isArray(shape)) throw new Error(`expand: sizes must be an array of integers, got ${describeValue(shape)}`);
  if (shape.length < x.ndim)
    throw new Error(`expand: the target shape ${fmtShape(shape)} has fewer dims than the input's ${fmtShape(x.shape)}`);
  const lead = shape.length - x.ndim;
  const target = shape.map((s, i) => {
    const own = i >= lead ? x.shape[i - lead] : undefined;
    if (!Number.isInteger(s) || s < -1)
      throw new Error(`expand: sizes must be non-negative integers or -1, got ${s} in ${fmtShape(shape)}`);
    if (s === -1) {
      if (own === undefined) throw new Error(`expand: -1 is not allowed for the new leading dim ${i} (target ${fmtShape(shape)})`);
      return own;
    }
    if (own !== undefined && own !== 1 && own !== s) {
      throw new Error(
        `expand: the expanded size (${s}) must match the existing size (${own}) at non-singleton dimension ${i}; ` +
          `target ${fmtShape(shape)}, input ${fmtShape(x.shape)}`,
      );
    }
    return s;
  });
  if (sameShape(target, x.shape)) return reshape(x, target, 'expand');
  // a view with stride 0 along the broadcast dims
  const st = x.stride();
  const strides = target.map((s, i) => (i < lead || (x.shape[i - lead] === 1 && s !== 1) ? 0 : st[i - lead]));
  const y = x._strided(target, strides, x.storageOffset());
  const pass = (g: Tensor): Tensor[] => [g];
  return record(y, { name: 'Expand', inputs: [x], backward: pass, backwardGraph: pass });
}

/** Gather of every `step`-th element in [start, start+len*step) along `dim` (a copy: cat's backward). */
function sliceKernel(x: Tensor, d: number, start: number, len: number, step: number): Tensor {
  const st = stridesOf(x.shape);
  const outShape = [...x.shape];
  outShape[d] = len;
  const strides = st.map((s, k) => (k === d ? s * step : s));
  return launch(gatherStrided, { shape: outShape, strides, offset: start * st[d] }, [x], outShape, x.dtype);
}

/** The input viewed as [O, n, inner] around the sliced dim, and the slice's elements start + j * step, j < len. */
type UnsliceParams = { O: number; n: number; inner: number; start: number; len: number; step: number };

/** The slice's backward: g (of the slice's shape) put back at its positions, 0 elsewhere. */
const unslice = declareKernel({
  name: 'slice.backward',
  inputs: ['g'],
  body: (p: UnsliceParams) => [
    unravel('i', [p.O, p.n, p.inner], ['o', 'c', 'e']),
    '// c is element j of the slice when c = start + j * step with j < len',
    `const r = c - ${p.start};`,
    `const j = ${floorDiv('r', p.step)};`,
    `if (r < 0 || j >= ${p.len}${p.step === 1 ? '' : ` || r - j * ${p.step} > 0`}) { return 0; }`,
    `return g[o * ${p.len * p.inner} + j * ${p.inner} + e];`,
  ],
  // per outer index: zeros, then the slice's rows (one run of len·inner when step is 1) copied into place
  native: ({ O, n, inner, start, len, step }, [g], size) => {
    if (O * n * inner !== size || g.length < O * len * inner) return null;
    if (!Number.isInteger(start) || !Number.isInteger(step) || !Number.isInteger(len) || start < 0 || step < 1 || len < 0) return null;
    const out = allocFloat32(size);
    out.fill(0);
    // the rows j whose position start + j * step falls inside [0, n)
    const rows = Math.max(0, Math.min(len, Math.ceil((n - start) / step)));
    for (let o = 0; o < O; o++) {
      const src = o * len * inner;
      const dst = o * n * inner + start * inner;
      if (step === 1) copyRun(out, dst, g, src, rows * inner);
      else for (let j = 0; j < rows; j++) copyRun(out, dst + j * step * inner, g, src + j * inner, inner);
    }
    return out;
  },
});

function unsliceKernel(g: Tensor, shape: number[], d: number, start: number, len: number, step: number): Tensor {
  const O = numelOf(shape.slice(0, d));
  const params = { O, n: shape[d], inner: stridesOf(shape)[d], start, len, step };
  return launch(unslice, params, [g], shape, g.dtype);
}

export function slice(x: Tensor, dim: number, start?: number, end?: number, step = 1): Tensor {
  checkTensor('slice', 'input', x);
  const d = normDim('slice', dim, x.ndim, x.shape);
  const n = x.shape[d];
  if (!Number.isInteger(step) || step < 1) throw new Error(`slice: step must be a positive integer, got ${step}`);
  for (const [name, v] of [
    ['start', start],
    ['end', end],
  ] as const)
    if (v !== undefined && v !== null && !Number.isInteger(v)) throw new Error(`slice: ${name} must be an integer, got ${String(v)}`);
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
  const s = clamp(start ?? 0);
  const e = clamp(end ?? n);
  const len = Math.max(0, Math.ceil((e - s) / step));
  return sliceOp('Slice', x, d, s, len, step);
}

function sliceOp(name: string, x: Tensor, d: number, start: number, len: number, step: number): Tensor {
  if (start === 0 && len === x.shape[d] && step === 1) return reshape(x, x.shape, name.toLowerCase());
  // a view: every step-th element along d, from start on
  const st = x.stride();
  const outShape = [...x.shape];
  outShape[d] = len;
  const y = x._strided(
    outShape,
    st.map((s, k) => (k === d ? s * step : s)),
    x.storageOffset() + (len > 0 ? start * st[d] : 0),
  );
  // g put back in place, recorded under createGraph (record() does nothing in a plain backward)
  const back = (g: Tensor): Tensor[] => [unsliceRecorded(g, x.shape, d, start, len, step)];
  return record(y, {
    name,
    inputs: [x],
    backward: back,
    backwardGraph: back,
  });
}

/** The slice's backward as an op (createGraph): g put back at its positions; its own backward slices again. */
function unsliceRecorded(g: Tensor, shape: number[], d: number, start: number, len: number, step: number): Tensor {
  const back = (h: Tensor): Tensor[] => [sliceOp('Slice', h, d, start, len, step)];
  return record(unsliceKernel(g, shape, d, start, len, step), { name: 'SliceBackward', inputs: [g], backward: back, backwardGraph: back });
}

export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  checkTensor('narrow', 'input', x);
  const d = normDim('narrow', dim, x.ndim, x.shape);
  const n = x.shape[d];
  if (!Number.isInteger(start)) throw new Error(`narrow: start must be an integer, got ${String(start)}`);
  if (!Number.isInteger(length) || length < 0) throw new Error(`narrow: length must be a non-negative integer, got ${String(length)}`);
  const s = start < 0 ? start + n : start;
  if (!Number.isInteger(s) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > n) {
    throw new Error(`narrow: start (${start}) + length (${length}) exceeds dimension ${dim} of size ${n} (shape ${fmtShape(x.shape)})`);
  }
  return sliceOp('Narrow', x, d, s, length, 1);
}

export function split(x: Tensor, splitSize: number | number[], dim = 0): Tensor[] {
  checkTensor('split', 'input', x);
  const d = normDim('split', dim, x.ndim, x.shape);
  const n = x.shape[d];
  let sizes: number[];
  if (Array.isArray(splitSize)) {
    if (splitSize.reduce((a, b) => a + b, 0) !== n)
      throw new Error(`split: sizes ${fmtShape(splitSize)} do not add up to ${n}, the size of dim ${dim} (shape ${fmtShape(x.shape)})`);
    sizes = splitSize;
  } else {
    if (!Number.isInteger(splitSize) || splitSize <= 0) throw new Error(`split: splitSize must be a positive integer, got ${splitSize}`);
    sizes = [];
    for (let s = 0; s < n; s += splitSize) sizes.push(Math.min(splitSize, n - s));
  }
  let at = 0;
  return sizes.map((len) => {
    const t = narrow(x, d, at, len);
    at += len;
    return t;
  });
}

export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  checkTensor('chunk', 'input', x);
  if (!Number.isInteger(chunks) || chunks <= 0) throw new Error(`chunk: chunks must be a positive integer, got ${describeValue(chunks)}`);
  const d = normDim('chunk', dim, x.ndim, x.shape);
  return split(x, Math.max(1, Math.ceil(x.shape[d] / chunks)), d);
}

const CAT_GROUP = 8;

/** The output viewed as [O, N, inner] around the cat dim; `sizes`: each input's size along it (N in all). */
type CatParams = { O: number; inner: number; sizes: readonly number[] };

/** out = the inputs t0, t1, ... one after the other along the cat dim. */
const catGather = declareKernel({
  name: 'cat',
  inputs: (p: CatParams) => p.sizes.map((_, k) => `t${k}`),
  body: ({ O, inner, sizes }: CatParams) => {
    const N = sizes.reduce((a, b) => a + b, 0);
    let off = 0;
    const branches = sizes.map((nk, k) => {
      const code = `if (c < ${off + nk}) { v = t${k}[o * ${nk * inner} + (c - ${off}) * ${inner} + e]; }`;
      off += nk;
      return code;
    });
    return [
      unravel('i', [O, N, inner], ['o', 'c', 'e']),
      '// the input that holds position c',
      'let v = 0;',
      branches.join(' else '),
      'return v;',
    ];
  },
  // per outer index, each input's block of nk·inner elements copied after the previous one's
  native: ({ O, inner, sizes }, args, size) => {
    const N = sizes.reduce((a, b) => a + b, 0);
    if (O * N * inner !== size || args.length !== sizes.length || args.some((t, k) => t.length < O * sizes[k] * inner)) return null;
    const out = allocFloat32(size);
    for (let o = 0; o < O; o++) {
      let dst = o * N * inner;
      for (let k = 0; k < sizes.length; k++) {
        const run = sizes[k] * inner;
        copyRun(out, dst, args[k], o * run, run);
        dst += run;
      }
    }
    return out;
  },
});

function catKernel(ts: Tensor[], d: number, outShape: number[]): Tensor {
  const params = { O: numelOf(outShape.slice(0, d)), inner: stridesOf(outShape)[d], sizes: ts.map((t) => t.shape[d]) };
  return launch(catGather, params, ts, outShape, ts[0].dtype);
}

export function cat(tensors: Tensor[], dim = 0): Tensor {
  checkTensorList('cat', 'tensors', tensors, { nonEmpty: true });
  const first = tensors[0];
  const d = normDim('cat', dim, first.ndim, first.shape);
  tensors.forEach((t, k) => {
    if (t.dtype !== first.dtype)
      throw new Error(
        `cat: tensors[${k}] is ${t.dtype} (shape ${fmtShape(t.shape)}) but tensors[0] is ${first.dtype} (shape ${fmtShape(first.shape)})`,
      );
    if (t.ndim !== first.ndim || t.shape.some((s, i) => i !== d && s !== first.shape[i])) {
      throw new Error(
        `cat: sizes must match except in dimension ${dim}: tensors[0] has shape ${fmtShape(first.shape)}, ` +
          `tensors[${k}] has shape ${fmtShape(t.shape)}`,
      );
    }
  });
  if (tensors.length > CAT_GROUP) {
    const groups: Tensor[] = [];
    for (let k = 0; k < tensors.length; k += CAT_GROUP) groups.push(cat(tensors.slice(k, k + CAT_GROUP), d));
    const out = cat(groups, d);
    // outside a graph the groups are nobody's: free them (in a graph the tape frees them with the nodes)
    if (!out.gradFn) groups.forEach((g) => g.dispose());
    return out;
  }
  const outShape = [...first.shape];
  outShape[d] = tensors.reduce((a, t) => a + t.shape[d], 0);
  const y = catKernel(tensors, d, outShape);
  return record(y, {
    name: 'Cat',
    inputs: tensors,
    backward: (g) => {
      let at = 0;
      return tensors.map((t) => {
        const s = at;
        at += t.shape[d];
        return t.requiresGrad ? sliceKernel(g, d, s, t.shape[d], 1) : null;
      });
    },
    backwardGraph: (g) => {
      let at = 0;
      return tensors.map((t) => {
        const s = at;
        at += t.shape[d];
        return t.requiresGrad ? sliceOp('Slice', g, d, s, t.shape[d], 1) : null;
      });
    },
  });
}

export function stack(tensors: Tensor[], dim = 0): Tensor {
  checkTensorList('stack', 'tensors', tensors, { nonEmpty: true });
  const d = normDim('stack', dim, tensors[0].ndim + 1, tensors[0].shape);
  tensors.forEach((t, k) => {
    if (!sameShape(t.shape, tensors[0].shape))
      throw new Error(
        `stack: all tensors must have one shape: tensors[0] has ${fmtShape(tensors[0].shape)}, tensors[${k}] has ${fmtShape(t.shape)}`,
      );
  });
  return cat(
    tensors.map((t) => unsqueeze(t, d)),
    d,
  );
}

export function checkIndex(op: string, index: Tensor, size: number, what: string): void {
  if (!(index instanceof Tensor) || index.dtype !== 'int32') {
    throw new Error(
      `${op}: index must be an int32 tensor${index instanceof Tensor ? `, got ${index.dtype} (shape ${fmtShape(index.shape)})` : ''}`,
    );
  }
  const data = index._storageForKernel().host(); // int data lives on the host: read it in place, no copy
  for (let k = 0; k < data.length; k++) {
    if (data[k] < 0 || data[k] >= size) throw new Error(`${op}: index ${data[k]} is out of range for ${what} of size ${size}`);
  }
}

/** x viewed as [O, n, inner] around the indexed dim, the output as [O, L, inner]. */
type IndexParams = { O: number; L: number; n: number; inner: number };

/** out[o, p, e] = a[o, idx[p], e]. */
const indexGather = declareKernel({
  name: 'indexSelect',
  inputs: ['a', 'idx'],
  body: (p: IndexParams) => [
    unravel('i', [p.O, p.L, p.inner], ['o', 'q', 'e']),
    `return a[o * ${p.n * p.inner} + idx[q] * ${p.inner} + e];`,
  ],
  // per (o, q) one run of inner elements from row idx[q]; declines an index outside [0, n)
  native: ({ O, L, n, inner }, [a, idx], size) => {
    if (O * L * inner !== size || idx.length < L || a.length < O * n * inner) return null;
    for (let q = 0; q < L; q++) if (!(idx[q] >= 0 && idx[q] < n && Number.isInteger(idx[q]))) return null;
    const out = allocFloat32(size);
    for (let o = 0, dst = 0; o < O; o++) {
      const base = o * n * inner;
      for (let q = 0; q < L; q++, dst += inner) copyRun(out, dst, a, base + idx[q] * inner, inner);
    }
    return out;
  },
});

export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  return indexSelectOwning(x, dim, index, false);
}

/** indexSelect; with `ownIndex` the index tensor is internal and is disposed once the backward no longer needs it. */
function indexSelectOwning(x: Tensor, dim: number, index: Tensor, ownIndex: boolean): Tensor {
  checkTensor('indexSelect', 'input', x);
  checkTensor('indexSelect', 'index', index);
  const d = normDim('indexSelect', dim, x.ndim, x.shape);
  if (index instanceof Tensor && index.ndim > 1)
    throw new Error(`indexSelect: index must be 0-D or 1-D, got shape ${fmtShape(index.shape)}`);
  checkIndex('indexSelect', index, x.shape[d] ?? 1, `dim ${dim} of a tensor of shape ${fmtShape(x.shape)}`);
  const L = index.numel();
  const inner = stridesOf(x.shape)[d] ?? 1;
  const n = x.shape[d] ?? 1;
  const outShape = [...x.shape];
  if (x.ndim) outShape[d] = L;
  const params = { O: numelOf(x.shape.slice(0, d)), L, n, inner };
  const precision = x.dtype === 'float64' ? 'float64' : x.dtype === 'float32' ? 'float32' : 'float64';
  const y = launch(indexGather, params, [x, index], outShape, x.dtype, precision);
  // the scatter-add, recorded under createGraph (record() does nothing in a plain backward)
  const back = (g: Tensor): Tensor[] => [scatterAddRecorded(g, index, x.shape, d)];
  return record(y, {
    name: 'IndexSelect',
    inputs: [x, null],
    backward: back,
    backwardGraph: back,
    owns: ownIndex ? [index] : [],
  });
}

/** indexSelect's backward as an op (createGraph): the scatter-add; its own backward is indexSelect again. */
function scatterAddRecorded(g: Tensor, index: Tensor, shape: number[], d: number): Tensor {
  const back = (h: Tensor): Tensor[] => [indexSelect(h, d, index)];
  return record(scatterAdd(g, index, shape, d), { name: 'IndexSelectBackward', inputs: [g], backward: back, backwardGraph: back });
}

/**
 * g viewed as [O, L, inner] (L indexed positions), the output as [chunks, O, n, inner]; `chunk` positions
 * per chunk; `skip` >= 0 leaves that row 0.
 */
type ScatterParams = { chunks: number; O: number; n: number; inner: number; L: number; skip: number; chunk: number };

/**
 * Chunk ch of the sum over the positions grouped under index c: ord lists the positions in index order and
 * st[c] .. st[c + 1] - 1 are those of index c (CSR).
 */
const scatterSum = declareKernel({
  name: 'scatterAdd',
  inputs: ['g', 'ord', 'st'],
  // the chunk length follows the data (the most positions of one index in this batch): an argument, so
  // that a training step with other tokens runs the same compiled kernel
  runtime: ['chunk'],
  body: ({ chunks, O, n, inner, L, skip }: ScatterParams) => {
    // (the position is read into its own variable first: GPU.js's GL code names a nested read in a loop
    // whose bound is known only at run time by one hoisted variable per loop, redefined by a second read)
    const row = (k: string): string => `g[o * ${L * inner} + ${k} * ${inner} + e]`;
    return [
      unravel('i', [chunks, O, n, inner], ['ch', 'o', 'c', 'e']),
      skip >= 0 ? `if (c == ${lit(skip)}) { return 0; }` : [],
      '// this chunk holds positions ord[b] .. ord[b + lim - 1], summed four at a time into four accumulators',
      `const b = st[c] + ch * ${runtimeArg('chunk')};`,
      `const lim = Math.max(0, Math.min(${runtimeArg('chunk')}, st[c + 1] - b));`,
      `const lim4 = ${floorDiv('lim', 4)} * 4;`,
      'let s0 = 0; let s1 = 0; let s2 = 0; let s3 = 0;',
      'for (let k = 0; k < lim4; k += 4) {',
      'const p0 = ord[b + k]; const p1 = ord[b + k + 1]; const p2 = ord[b + k + 2]; const p3 = ord[b + k + 3];',
      `s0 += ${row('p0')}; s1 += ${row('p1')}; s2 += ${row('p2')}; s3 += ${row('p3')};`,
      '}',
      'let s = (s0 + s1) + (s2 + s3);',
      `for (let r = lim4; r < lim; r++) { const pr = ord[b + r]; s += ${row('pr')}; }`,
      'return s;',
    ];
  },
  native: scatterSumHost,
});

/**
 * scatterSum on the host: per (chunk, o, c) the rows g[o, ord[b + k], :] for k < min(chunk, lim) added
 * into a float64 row (the source's JS-number sums), rounded once on the store; row `skip` stays 0.
 */
function scatterSumHost(p: ScatterParams, [g, ord, st]: HostArray[], size: number): Float32Array | null {
  const { chunks, O, n, inner, L, skip, chunk } = p;
  if (chunks * O * n * inner !== size || st.length < n + 1 || g.length < O * L * inner) return null;
  // the source reads ord[st[c] ..] and g's rows ord[..]: decline anything that would read outside them
  for (let c = 0; c <= n; c++) if (!(Number.isInteger(st[c]) && st[c] >= (c ? st[c - 1] : 0) && st[c] <= ord.length)) return null;
  for (let k = 0; k < st[n]; k++) if (!(Number.isInteger(ord[k]) && ord[k] >= 0 && ord[k] < L)) return null;
  const out = allocFloat32(size);
  const acc = new Float64Array(inner);
  for (let ch = 0, w = 0; ch < chunks; ch++) {
    for (let o = 0; o < O; o++) {
      const gBase = o * L * inner;
      for (let c = 0; c < n; c++, w += inner) {
        const b = st[c] + ch * chunk;
        const cnt = Math.min(chunk, st[c + 1] - b);
        if (c === skip || cnt <= 0) {
          out.fill(0, w, w + inner);
          continue;
        }
        acc.fill(0);
        for (let k = 0; k < cnt; k++) {
          const r = gBase + ord[b + k] * inner;
          for (let e = 0; e < inner; e++) acc[e] += g[r + e];
        }
        for (let e = 0; e < inner; e++) out[w + e] = acc[e];
      }
    }
  }
  return out;
}

/**
 * dx[.., c, ..] = sum over p with index[p] == c of g[.., p, ..]; `skip` leaves one row out (embedding's
 * paddingIdx). The positions are grouped by index on the host (the index is host data), so each output
 * element sums only its own positions; a row looked up more than REDUCE_CHUNK times is summed in chunks
 * whose partial sums are added by the chunked sum (short thread loops on GL, blocked float32 sums).
 */
export function scatterAdd(g: Tensor, index: Tensor, shape: number[], d: number, skip = -1): Tensor {
  const L = index.numel();
  const inner = stridesOf(shape)[d] ?? 1;
  const n = shape[d] ?? 1;
  const idx = index._storageForKernel().host();
  const start = new Int32Array(n + 1);
  for (let p = 0; p < L; p++) start[idx[p] + 1]++;
  let most = 0;
  for (let c = 0; c < n; c++) {
    if (c !== skip) most = Math.max(most, start[c + 1]);
    start[c + 1] += start[c];
  }
  const order = new Int32Array(Math.max(L, 1));
  const fill = start.slice(0, n);
  for (let p = 0; p < L; p++) order[fill[idx[p]]++] = p;
  const chunk = Math.max(1, Math.min(most, REDUCE_CHUNK));
  const chunks = Math.max(1, Math.ceil(most / chunk));
  const ord = fromValues(order, [order.length], 'int32');
  const st = fromValues(start, [n + 1], 'int32');
  const params = { chunks, O: numelOf(shape.slice(0, d)), n, inner, L, skip, chunk };
  const precision = g.dtype === 'float64' ? 'float64' : 'float32';
  const parts = launch(scatterSum, params, [g, ord, st], chunks === 1 ? shape : [chunks, ...shape], g.dtype, precision);
  ord.dispose();
  st.dispose();
  if (chunks === 1) return parts;
  const out = sum(parts, 0);
  parts.dispose();
  return out;
}

/** Repeats each slice along `dim` `repeats` times (like `repeat_interleave` with an int). */
export function repeatInterleave(x: Tensor, repeats: number, dim: number): Tensor {
  checkTensor('repeatInterleave', 'input', x);
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`repeatInterleave: repeats must be a positive integer, got ${repeats}`);
  const d = normDim('repeatInterleave', dim, x.ndim, x.shape);
  if (repeats === 1) return reshape(x, x.shape, 'repeatInterleave');
  const idx = fromValues(
    Array.from({ length: x.shape[d] * repeats }, (_, k) => Math.floor(k / repeats)),
    [x.shape[d] * repeats],
    'int32',
  );
  return indexSelectOwning(x, d, idx, true);
}
