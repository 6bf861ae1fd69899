// Indexing ops: triangles, gather/scatter along a dim, flip, roll and cumsum. Each forward and backward
// kernel is declared here, over sizes baked into its source (GPU.js: no loop bound from an argument).
//   tril/triu:  y = x where col - row <= diagonal (tril) / >= diagonal (triu), else 0;  dx = the same mask on g
//   gather:     out[.., p, ..] = x[.., index[.., p, ..], ..] along dim;  dx = scatter-add of g through index
//   scatter:    out = x with out[.., index[q], ..] = src[q] (src a tensor or a number);
//               dx = g with the scattered positions zeroed;  dsrc = gather(g, dim, index)
//   scatterAdd: out = x with src[q] added at out[.., index[q], ..];  dx = g;  dsrc = gather(g, dim, index)
//   flip:       y = x reversed along dims;  dx = flip(g, dims)
//   roll:       y[(c + s) mod n] = x[c] along each dim (the flattened tensor when dims are omitted);  dx = roll(g, -shifts)
//   cumsum:     y[c] = Σ_{k<=c} x[k] along dim;  dx[c] = Σ_{k>=c} g[k] (a reversed cumsum)
//
// Limits (GPU.js): flat indices are floats, exact below 2^24 elements per tensor; index values travel as
// floats too (exact below 2^24). scatter/scatterAdd/gather's backward group the index positions by target
// on the host (index data lives on the host), so each output element reads only its own sources: the
// kernel's loop is bounded by the most positions that hit one element. cumsum runs one thread per output
// element over its prefix: O(n^2) per row along dim (fine for rows of a few thousand).

import { checkTensor as checkLiveTensor } from '../autograd/check.js';
import { fromValues, zerosLike } from '../autograd/creation.js';
import { record, recordLinear } from '../autograd/engine.js';
import { launch } from '../autograd/launch.js';
import { Tensor } from '../autograd/tensor.js';
import type { Precision } from '../backend/index.js';
import { isFloat, type DType } from '../helpers/dtype.js';
import { fmtShape, normDim, numelOf, stridesOf } from '../helpers/shape.js';
import { describeValue } from '../helpers/validate.js';
import { lit, unravel } from '../kernels/source.js';
import { declareKernel, runtimeArg } from '../kernels/template.js';
import { reshape } from './shape.js';

// ---- argument checks (shared with sort.ts) ---------------------------------------------------------

/** `v` must be a Tensor: the error names the function, the argument and what was given. */
export function checkTensor(fn: string, name: string, v: unknown): Tensor {
  checkLiveTensor(fn, name, v);
  return v;
}

/** An integer argument (optionally at least `min`). */
export function checkInt(fn: string, name: string, v: unknown, min?: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || (min !== undefined && v < min)) {
    const what = min === undefined ? 'an integer' : min === 0 ? 'a non-negative integer' : `an integer >= ${min}`;
    throw new Error(`${fn}: ${name} must be ${what}, got ${describeValue(v)}`);
  }
  return v;
}

/** A dim argument of a tensor of `shape`, normalised (negative dims count from the end). */
export function checkDim(fn: string, name: string, v: unknown, shape: readonly number[]): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`${fn}: ${name} must be an integer, got ${describeValue(v)}`);
  const ndim = shape.length;
  const lo = ndim === 0 ? -1 : -ndim;
  const hi = ndim === 0 ? 0 : ndim - 1;
  if (v < lo || v > hi) throw new Error(`${fn}: ${name} ${v} is out of range [${lo}, ${hi}] for a tensor of shape ${fmtShape(shape)}`);
  return normDim(fn, v, ndim, shape);
}

/** A dim list (a number or an array of numbers), normalised; repeats are refused unless `repeats`. */
function checkDims(fn: string, name: string, v: unknown, shape: readonly number[], repeats = false): number[] {
  const list = typeof v === 'number' ? [v] : Array.isArray(v) ? v : null;
  if (list === null) throw new Error(`${fn}: ${name} must be an integer or an array of integers, got ${describeValue(v)}`);
  const dims = list.map((d, k) => checkDim(fn, `${name}[${k}]`, d, shape));
  if (!repeats && new Set(dims).size !== dims.length) throw new Error(`${fn}: ${name} ${JSON.stringify(list)} names a dim twice`);
  return dims;
}

const precisionFor = (t: Tensor): Precision => (t.dtype === 'float32' ? 'float32' : 'float64');

/** A result with no elements: nothing to compute (GPU.js kernels need at least one thread). */
const emptyOf = (shape: readonly number[], dtype: DType): Tensor => fromValues([], [...shape], dtype);

// ---- tril / triu -----------------------------------------------------------------------------------

/** x viewed as [B, R, C]; keeps col - row <= diagonal (lower) or >= diagonal (upper). */
type TriParams = { B: number; R: number; C: number; diagonal: number; upper: boolean };

const triangle = declareKernel({
  name: 'triangle',
  inputs: ['x'],
  body: (p: TriParams) => [
    unravel('i', [p.B, p.R, p.C], ['b', 'r', 'c']),
    `// ${p.upper ? 'triu' : 'tril'}: keep the elements with col - row ${p.upper ? '>=' : '<='} ${p.diagonal}`,
    `if (c - r ${p.upper ? '>=' : '<='} ${lit(p.diagonal)}) { return x[i]; }`,
    'return 0;',
  ],
});

function triangleKernel(t: Tensor, diagonal: number, upper: boolean): Tensor {
  if (t.numel() === 0) return emptyOf(t.shape, t.dtype);
  const R = t.shape[t.ndim - 2];
  const C = t.shape[t.ndim - 1];
  const params = { B: t.numel() / (R * C), R, C, diagonal, upper };
  return launch(triangle, params, [t], t.shape, t.dtype, precisionFor(t));
}

function triangleOp(fn: 'tril' | 'triu', input: Tensor, diagonal: unknown): Tensor {
  const x = checkTensor(fn, 'input', input);
  const k = diagonal === undefined ? 0 : checkInt(fn, 'diagonal', diagonal);
  if (x.ndim < 2) throw new Error(`${fn}: input must have at least 2 dims, got shape ${fmtShape(x.shape)}`);
  const upper = fn === 'triu';
  const y = triangleKernel(x, k, upper);
  return record(y, {
    name: upper ? 'Triu' : 'Tril',
    inputs: [x],
    backward: (g) => [triangleKernel(g, k, upper)],
    backwardGraph: (g) => [triangleOp(fn, g, k)],
  });
}

/** The lower triangle of the last two dims (col - row <= diagonal), the rest 0; any batch dims. */
export function tril(input: Tensor, diagonal = 0): Tensor {
  return triangleOp('tril', input, diagonal);
}

/** The upper triangle of the last two dims (col - row >= diagonal), the rest 0; any batch dims. */
export function triu(input: Tensor, diagonal = 0): Tensor {
  return triangleOp('triu', input, diagonal);
}

// ---- gather ----------------------------------------------------------------------------------------

/**
 * out over `outShape`: at a position q inside the index's extent `idxShape`, x at q with coordinate `dim`
 * replaced by idx[q]; 0 outside it (the gradient of a src larger than the index). `xStrides`: x's strides.
 */
type GatherParams = { outShape: readonly number[]; idxShape: readonly number[]; xStrides: readonly number[]; dim: number };

const gatherDim = declareKernel({
  name: 'gatherDim',
  inputs: ['x', 'idx'],
  body: ({ outShape, idxShape, xStrides, dim }: GatherParams) => {
    const names = outShape.map((_, d) => `q${d}`);
    const outside = outShape.map((s, d) => (idxShape[d] < s ? `${names[d]} >= ${idxShape[d]}` : '')).filter(Boolean);
    const idxStrides = stridesOf(idxShape);
    const at = names.map((n, d) => `${n} * ${idxStrides[d]}`).join(' + ') || '0';
    const src = names.map((n, d) => (d === dim ? `idx[p] * ${xStrides[d]}` : `${n} * ${xStrides[d]}`)).join(' + ');
    return [
      unravel('i', outShape, names),
      outside.length ? [`// outside the index's extent ${fmtShape(idxShape)}`, `if (${outside.join(' || ')}) { return 0; }`] : [],
      `const p = ${at};`,
      `return x[${src}];`,
    ];
  },
});

/**
 * gather's kernel, no graph: x of `xShape` read at idx (of `idxShape`) along dim, into `outShape` (>= idxShape,
 * 0-padded); the result has shape `as` (outShape's element count).
 */
export function gatherKernel(
  x: Tensor,
  xShape: readonly number[],
  dim: number,
  idx: Tensor,
  idxShape: readonly number[],
  outShape: readonly number[],
  as: readonly number[] = outShape,
): Tensor {
  if (numelOf(outShape) === 0) return emptyOf(as, x.dtype);
  const params = { outShape: [...outShape], idxShape: [...idxShape], xStrides: stridesOf(xShape), dim };
  return launch(gatherDim, params, [x, idx], as, x.dtype, precisionFor(x));
}

/**
 * Checks an index tensor against the input (and src) shapes by PyTorch's rules and its values against
 * [0, size of dim); returns its host data.
 */
function checkIndexTensor(
  fn: string,
  input: Tensor,
  dim: number,
  index: unknown,
  src: Tensor | null,
): { idx: Tensor; data: ArrayLike<number> } {
  const idx = checkTensor(fn, 'index', index);
  if (idx.dtype !== 'int32') throw new Error(`${fn}: index must be an int32 tensor, got ${idx.dtype} (shape ${fmtShape(idx.shape)})`);
  const ndim = Math.max(input.ndim, 1);
  if (Math.max(idx.ndim, 1) !== ndim)
    throw new Error(
      `${fn}: index must have as many dims as input: index has shape ${fmtShape(idx.shape)}, input has shape ${fmtShape(input.shape)}`,
    );
  const ishape = idx.ndim ? idx.shape : [1];
  const xshape = input.ndim ? input.shape : [1];
  for (let d = 0; d < ndim; d++) {
    if (d !== dim && ishape[d] > xshape[d])
      throw new Error(
        `${fn}: index (shape ${fmtShape(idx.shape)}) must not be larger than input (shape ${fmtShape(input.shape)}) ` +
          `in any dim but dim ${dim}; dim ${d} has ${ishape[d]} > ${xshape[d]}`,
      );
  }
  if (src) {
    if (Math.max(src.ndim, 1) !== ndim)
      throw new Error(
        `${fn}: src must have as many dims as index: src has shape ${fmtShape(src.shape)}, index has shape ${fmtShape(idx.shape)}`,
      );
    const sshape = src.ndim ? src.shape : [1];
    for (let d = 0; d < ndim; d++) {
      if (ishape[d] > sshape[d])
        throw new Error(
          `${fn}: index (shape ${fmtShape(idx.shape)}) must not be larger than src (shape ${fmtShape(src.shape)}) in any dim; ` +
            `dim ${d} has ${ishape[d]} > ${sshape[d]}`,
        );
    }
  }
  const data = idx._storageForKernel().host();
  const n = xshape[dim];
  for (let p = 0; p < data.length; p++) {
    const v = data[p];
    if (v < 0 || v >= n) {
      const st = stridesOf(ishape);
      const at = ishape.map((s, d) => Math.floor(p / st[d]) % s);
      throw new Error(
        `${fn}: index value ${v} at position ${fmtShape(at)} is out of range for dim ${dim} of input (shape ${fmtShape(input.shape)}): ` +
          (n > 0 ? `valid values are 0 to ${n - 1}` : `that dim is empty`),
      );
    }
  }
  return { idx, data };
}

/** The [1] view of a 0-d tensor (the kernels index by dim), the tensor itself otherwise. */
const atLeast1d = (s: readonly number[]): number[] => (s.length ? [...s] : [1]);

/** out[.., p, ..] = input[.., index[.., p, ..], ..] along dim (index has input's ndim, and no larger extent off dim). */
export function gather(input: Tensor, dim: number, index: Tensor): Tensor {
  const x = checkTensor('gather', 'input', input);
  const d = checkDim('gather', 'dim', dim, x.shape);
  const { idx } = checkIndexTensor('gather', x, d, index, null);
  const xShape = atLeast1d(x.shape);
  const iShape = atLeast1d(idx.shape);
  const y = gatherKernel(x, xShape, d, idx, iShape, iShape, idx.shape);
  const gatherBack = (g: Tensor): Tensor[] => [
    recordLinear('GatherBackward', scatterAddZeros(g, d, idx, xShape, x.shape), g, (h) => gather(h, d, idx)),
  ];
  return record(y, {
    name: 'Gather',
    inputs: [x],
    saved: [idx],
    // the scatter-add, recorded under createGraph with gather as its adjoint
    backward: gatherBack,
    backwardGraph: gatherBack,
  });
}

// ---- scatter / scatterAdd: the index positions grouped by target ----------------------------------

/**
 * The index positions grouped by the element of x they address (CSR): st[t] .. st[t + 1] - 1 are the
 * entries of ord for target t, each the flat offset in src of one position, in position order; `most`
 * is the largest group.
 */
interface Grouping {
  ord: Tensor;
  st: Tensor;
  most: number;
  dispose(): void;
}

function groupByTarget(index: Tensor, dim: number, xShape: readonly number[], srcShape: readonly number[]): Grouping {
  const data = index._storageForKernel().host();
  const iShape = atLeast1d(index.shape);
  const L = data.length;
  const nd = iShape.length;
  const xs = stridesOf(xShape);
  const ss = stridesOf(srcShape);
  const target = new Int32Array(L);
  const srcAt = new Int32Array(L);
  const q = new Array<number>(nd).fill(0); // the position's coordinates, as an odometer
  for (let p = 0; p < L; p++) {
    let t = 0;
    let s = 0;
    for (let d = 0; d < nd; d++) {
      t += (d === dim ? data[p] : q[d]) * xs[d];
      s += q[d] * ss[d];
    }
    target[p] = t;
    srcAt[p] = s;
    for (let d = nd - 1; d >= 0; d--) {
      if (++q[d] < iShape[d]) break;
      q[d] = 0;
    }
  }
  const N = numelOf(xShape);
  const start = new Int32Array(N + 1);
  for (let p = 0; p < L; p++) start[target[p] + 1]++;
  let most = 0;
  for (let t = 0; t < N; t++) {
    most = Math.max(most, start[t + 1]);
    start[t + 1] += start[t];
  }
  const order = new Int32Array(Math.max(L, 1));
  const fill = start.slice(0, N);
  for (let p = 0; p < L; p++) order[fill[target[p]]++] = srcAt[p];
  const ord = fromValues(order, [order.length], 'int32');
  const st = fromValues(start, [N + 1], 'int32');
  return {
    ord,
    st,
    most: Math.max(most, 1),
    dispose: () => {
      ord.dispose();
      st.dispose();
    },
  };
}

/** out[t] = base[t] (0 without one) + Σ src[ord[k]] over st[t] <= k < st[t + 1]; at most `most` terms. */
type ScatterAddParams = { most: number; withBase: boolean };

const scatterAddDim = declareKernel({
  name: 'scatterAdd.dim',
  inputs: (p: ScatterAddParams) => (p.withBase ? ['base', 'src', 'ord', 'st'] : ['src', 'ord', 'st']),
  // `most` follows the index data (the most sources of one element): an argument, so that new index
  // values run the same compiled kernel
  runtime: ['most'],
  body: ({ withBase }: ScatterAddParams) => [
    '// the sources of element i: ord[b] .. ord[b + lim - 1]',
    'const b = st[i];',
    'const lim = st[i + 1] - b;',
    'let s = 0;',
    // (the source's position in its own variable: GPU.js's GL code cannot hoist a nested read out of a
    // loop whose bound is known only at run time)
    `for (let k = 0; k < ${runtimeArg('most')}; k++) { if (k >= lim) { break; } const at = ord[b + k]; s += src[at]; }`,
    withBase ? 'return base[i] + s;' : 'return s;',
  ],
});

function scatterAddKernel(base: Tensor | null, src: Tensor, csr: Grouping, shape: readonly number[], dtype: DType): Tensor {
  if (numelOf(shape) === 0) return emptyOf(shape, dtype);
  const args = base ? [base, src, csr.ord, csr.st] : [src, csr.ord, csr.st];
  return launch(scatterAddDim, { most: csr.most, withBase: base !== null }, args, shape, dtype, precisionFor(base ?? src));
}

/** out[t] = the last source aimed at t (src[ord[st[t + 1] - 1]], or `value`), base[t] where none is. */
type ScatterParams = { withSrc: boolean; value: number };

const scatterDim = declareKernel({
  name: 'scatter.dim',
  inputs: (p: ScatterParams) => (p.withSrc ? ['base', 'src', 'ord', 'st'] : ['base', 'st']),
  body: ({ withSrc, value }: ScatterParams) => [
    '// where several positions aim at one element, the last one (in index order) wins',
    'const last = st[i + 1] - 1;',
    'if (last < st[i]) { return base[i]; }',
    withSrc ? 'return src[ord[last]];' : `return ${lit(value)};`,
  ],
});

function scatterKernel(base: Tensor, src: Tensor | number, csr: Grouping, shape: readonly number[]): Tensor {
  if (numelOf(shape) === 0) return emptyOf(shape, base.dtype);
  const withSrc = src instanceof Tensor;
  const args = withSrc ? [base, src, csr.ord, csr.st] : [base, csr.st];
  return launch(scatterDim, { withSrc, value: withSrc ? 0 : src }, args, shape, base.dtype, precisionFor(base));
}

/** A number src in input's dtype (PyTorch casts the scalar). */
function castScalar(v: number, dtype: DType): number {
  if (dtype === 'int32') return Math.trunc(v);
  if (dtype === 'bool') return v !== 0 ? 1 : 0;
  return v;
}

function scatterOp(fn: 'scatter' | 'scatterAdd', input: Tensor, dim: number, index: Tensor, src: Tensor | number): Tensor {
  const x = checkTensor(fn, 'input', input);
  const d = checkDim(fn, 'dim', dim, x.shape);
  const add = fn === 'scatterAdd';
  let s: Tensor | number;
  if (src instanceof Tensor) {
    checkTensor(fn, 'src', src);
    if (src.dtype !== x.dtype)
      throw new Error(
        `${fn}: src must have input's dtype: input is ${x.dtype} (shape ${fmtShape(x.shape)}), src is ${src.dtype} (shape ${fmtShape(src.shape)})`,
      );
    s = src;
  } else if (typeof src === 'number' && !add) {
    if (Number.isNaN(src) && !isFloat(x.dtype)) throw new Error(`${fn}: src NaN cannot be stored in a ${x.dtype} input`);
    s = castScalar(src, x.dtype);
  } else {
    throw new Error(`${fn}: src must be a Tensor${add ? '' : ' or a number'}, got ${describeValue(src)}`);
  }
  const srcT = s instanceof Tensor ? s : null;
  const { idx } = checkIndexTensor(fn, x, d, index, srcT);
  const xShape = atLeast1d(x.shape);
  const iShape = atLeast1d(idx.shape);
  const sShape = srcT ? atLeast1d(srcT.shape) : iShape;
  const csr = groupByTarget(idx, d, xShape, sShape);
  const y = add ? scatterAddKernel(x, srcT!, csr, x.shape, x.dtype) : scatterKernel(x, s, csr, x.shape);
  if (add || !srcT) {
    // the backward of scatterAdd and of a number src needs no grouping: free it now
    csr.dispose();
  }
  // each gradient is linear in g, recorded (under createGraph) with its adjoint: scatter's zeroing is its
  // own adjoint; the gather of src's gradient has the scatter-add into zeros as its adjoint
  const scatterBack = (g: Tensor): (Tensor | null)[] => {
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      if (add) dx = g;
      else {
        const c = srcT ? csr : groupByTarget(idx, d, xShape, iShape);
        dx = recordLinear('ScatterBackward', scatterKernel(g, 0, c, x.shape), g, (h) => scatter(h, d, idx, 0));
        if (!srcT) c.dispose();
      }
    }
    const ds = srcT?.requiresGrad
      ? recordLinear('ScatterSrcBackward', gatherKernel(g, xShape, d, idx, iShape, sShape, srcT.shape), g, (h) =>
          scatterAdd(zerosLike(x), d, idx, h),
        )
      : null;
    return [dx, ds];
  };
  return record(y, {
    name: add ? 'ScatterAdd' : 'Scatter',
    inputs: [x, srcT],
    saved: [idx],
    owns: !add && srcT ? [csr.ord, csr.st] : [],
    backward: scatterBack,
    backwardGraph: scatterBack,
  });
}

/**
 * The scatter-add of `g` (shaped like `index`) into zeros of `xShape` along dim, no graph: the backward of
 * gather, and of sort/topk's values (src/ops/sort.ts). The result has shape `as`.
 */
export function scatterAddZeros(g: Tensor, dim: number, index: Tensor, xShape: readonly number[], as: readonly number[]): Tensor {
  const csr = groupByTarget(index, dim, xShape, atLeast1d(index.shape));
  const dx = scatterAddKernel(null, g, csr, as, g.dtype);
  csr.dispose();
  return dx;
}

/**
 * out = input with out[.., index[q], ..] = src[q] along dim (src a Tensor of input's dtype, or a number); where
 * several positions address one element the last in index order wins (PyTorch leaves it unspecified).
 */
export function scatter(input: Tensor, dim: number, index: Tensor, src: Tensor | number): Tensor {
  return scatterOp('scatter', input, dim, index, src);
}

/** out = input with src[q] added at out[.., index[q], ..] along dim (repeats accumulate). */
export function scatterAdd(input: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  return scatterOp('scatterAdd', input, dim, index, src);
}

// ---- flip / roll -----------------------------------------------------------------------------------

/** out[c] = x[c with c_d → n_d - 1 - c_d for each flipped dim d]. */
type FlipParams = { shape: readonly number[]; flipped: readonly boolean[] };

const flipKernel = declareKernel({
  name: 'flip',
  inputs: ['x'],
  body: ({ shape, flipped }: FlipParams) => {
    const names = shape.map((_, d) => `c${d}`);
    const st = stridesOf(shape);
    const src = names.map((n, d) => `${flipped[d] ? `(${shape[d] - 1} - ${n})` : n} * ${st[d]}`).join(' + ');
    return [unravel('i', shape, names), `return x[${src}];`];
  },
});

function flipRun(t: Tensor, flipped: boolean[]): Tensor {
  if (t.numel() === 0) return emptyOf(t.shape, t.dtype);
  return launch(flipKernel, { shape: [...t.shape], flipped }, [t], t.shape, t.dtype, precisionFor(t));
}

/** The input reversed along `dims` (PyTorch's flip; a number is one dim). */
export function flip(input: Tensor, dims: number | number[]): Tensor {
  const x = checkTensor('flip', 'input', input);
  const list = checkDims('flip', 'dims', dims, x.shape);
  const flipped = x.shape.map((s, d) => list.includes(d) && s > 1);
  if (!flipped.some(Boolean)) return reshape(x, [...x.shape], 'flip');
  const y = flipRun(x, flipped);
  // flip is its own inverse
  return record(y, {
    name: 'Flip',
    inputs: [x],
    backward: (g) => [flipRun(g, flipped)],
    backwardGraph: (g) => [flip(g, list)],
  });
}

/** out[c] = x[c with c_d → (c_d - s_d) mod n_d], each s_d in [0, n_d). */
type RollParams = { shape: readonly number[]; shifts: readonly number[] };

const rollKernel = declareKernel({
  name: 'roll',
  inputs: ['x'],
  body: ({ shape, shifts }: RollParams) => {
    const names = shape.map((_, d) => `c${d}`);
    const st = stridesOf(shape);
    const lines: string[] = [];
    const src = names.map((n, d) => {
      const s = shifts[d];
      if (s === 0) return `${n} * ${st[d]}`;
      lines.push(`const r${d} = ${n} >= ${s} ? ${n} - ${s} : ${n} + ${shape[d] - s};`);
      return `r${d} * ${st[d]}`;
    });
    return [unravel('i', shape, names), '// the source coordinate of each rolled dim', lines, `return x[${src.join(' + ')}];`];
  },
});

function rollRun(t: Tensor, shifts: number[]): Tensor {
  if (t.numel() === 0) return emptyOf(t.shape, t.dtype);
  return launch(rollKernel, { shape: [...t.shape], shifts }, [t], t.shape, t.dtype, precisionFor(t));
}

/**
 * Elements shifted by `shifts` along `dims` (wrapping around); a dim named twice is rolled by the sum of its
 * shifts. With dims omitted the flattened tensor is rolled by one shift and the shape restored (PyTorch).
 */
export function roll(input: Tensor, shifts: number | number[], dims?: number | number[] | null): Tensor {
  const x = checkTensor('roll', 'input', input);
  const shiftList = typeof shifts === 'number' ? [shifts] : Array.isArray(shifts) ? shifts : null;
  if (shiftList === null) throw new Error(`roll: shifts must be an integer or an array of integers, got ${describeValue(shifts)}`);
  shiftList.forEach((s, k) => checkInt('roll', typeof shifts === 'number' ? 'shifts' : `shifts[${k}]`, s));
  if (dims === undefined || dims === null || (Array.isArray(dims) && dims.length === 0)) {
    if (shiftList.length !== 1)
      throw new Error(
        `roll: with dims omitted, shifts must be one integer (the flattened tensor is rolled), got ${shiftList.length} shifts`,
      );
    const flat = reshape(x, [x.numel()], 'roll');
    const rolled = roll(flat, shiftList[0], 0);
    return reshape(rolled, [...x.shape], 'roll');
  }
  const dimList = checkDims('roll', 'dims', dims, x.shape, true);
  if (dimList.length !== shiftList.length)
    throw new Error(`roll: shifts and dims must have the same length, got ${shiftList.length} shifts and ${dimList.length} dims`);
  const total = x.shape.map(() => 0);
  dimList.forEach((d, k) => (total[d] += shiftList[k]));
  const fwd = total.map((s, d) => (x.shape[d] ? ((s % x.shape[d]) + x.shape[d]) % x.shape[d] : 0));
  if (fwd.every((s) => s === 0)) return reshape(x, [...x.shape], 'roll');
  const y = rollRun(x, fwd);
  const back = fwd.map((s, d) => (s === 0 ? 0 : x.shape[d] - s));
  return record(y, {
    name: 'Roll',
    inputs: [x],
    backward: (g) => [rollRun(g, back)],
    backwardGraph: (g) => [
      roll(
        g,
        back,
        back.map((_, k) => k),
      ),
    ],
  });
}

// ---- cumsum ----------------------------------------------------------------------------------------

/** x viewed as [O, n, I] around the summed dim. */
type CumsumParams = { O: number; n: number; I: number };

const cumsumForward = declareKernel({
  name: 'cumsum',
  inputs: ['x'],
  body: ({ O, n, I }: CumsumParams) => [
    unravel('i', [O, n, I], ['o', 'c', 'e']),
    `const base = o * ${n * I} + e;`,
    '// y[c] = x[0] + ... + x[c]',
    'let s = 0;',
    `for (let k = 0; k < ${n}; k++) { if (k > c) { break; } s += x[base + k * ${I}]; }`,
    'return s;',
  ],
});

const cumsumBackward = declareKernel({
  name: 'cumsum.backward',
  inputs: ['g'],
  body: ({ O, n, I }: CumsumParams) => [
    unravel('i', [O, n, I], ['o', 'c', 'e']),
    `const base = o * ${n * I} + e;`,
    '// dx[c] = g[n - 1] + ... + g[c], summed from the end',
    'let s = 0;',
    `for (let k = 0; k < ${n}; k++) { const kk = ${n - 1} - k; if (kk < c) { break; } s += g[base + kk * ${I}]; }`,
    'return s;',
  ],
});

/** Cumulative sums along dim (int32 and bool inputs give int32; PyTorch gives int64). */
export function cumsum(input: Tensor, dim: number): Tensor {
  const x = checkTensor('cumsum', 'input', input);
  const d = checkDim('cumsum', 'dim', dim, x.shape);
  const shape = atLeast1d(x.shape);
  const params = { O: numelOf(shape.slice(0, d)), n: shape[d], I: stridesOf(shape)[d] };
  const dtype: DType = isFloat(x.dtype) ? x.dtype : 'int32';
  const run = (t: Tensor, back: boolean, dt: DType): Tensor =>
    t.numel() === 0 ? emptyOf(x.shape, dt) : launch(back ? cumsumBackward : cumsumForward, params, [t], x.shape, dt, precisionFor(t));
  const y = run(x, false, dtype);
  return record(y, {
    name: 'Cumsum',
    inputs: [x],
    backward: (g) => [run(g, true, g.dtype)],
    // the reversed cumulative sum, with ops
    backwardGraph: (g) => [x.ndim === 0 ? g : flip(cumsum(flip(g, d), d), d)],
  });
}
