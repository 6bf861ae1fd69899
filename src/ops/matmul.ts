// matmul with torch.matmul semantics: 1-D and 2-D operands, batched with broadcast batch dims.
//   C = A·B:  dA = dC·Bᵀ   dB = Aᵀ·dC   (batch broadcasting summed back by the engine)
// One kernel reads either operand transposed, so the backward needs no transpose copies; `mm` writes
// those products as the formulas read: dA = mm(dC, B, { transB: true }), dB = mm(A, dC, { transA: true }).

import { checkTensor } from '../autograd/check.js';
import { record } from '../autograd/engine.js';
import { launch } from '../autograd/launch.js';
import { Tensor } from '../autograd/tensor.js';
import { allocFloat32 } from '../backend/storage.js';
import { broadcastShapes, broadcastStrides, fmtShape, numelOf } from '../helpers/shape.js';
import { blockedSum, dotLoop, gatherIndex, lit, unravel, type Body } from '../kernels/source.js';
import { declareKernel } from '../kernels/template.js';
import { floatDType } from './checks.js';
import { sum } from './reduce.js';
import { reshape, transpose } from './shape.js';

/** One operand of a batched matrix product: `t`'s data seen as `batch` × rows × cols, read as stored or transposed. */
export interface MatrixOperand {
  t: Tensor;
  batch: number[];
  /** rows of the stored matrix */
  rows: number;
  /** columns of the stored matrix */
  cols: number;
  /** the product reads the stored matrix's transpose */
  trans: boolean;
}

/**
 * Inner products longer than this are split into partial products over slices of the inner dim, summed
 * afterwards: a GPU thread's loop stays short (Mesa's llvmpipe stops every shader loop after 65,535
 * iterations in all, and real GPUs have watchdogs) and long float32 sums are blocked, not sequential.
 */
export const DOT_CHUNK = 16384;

/** out[b, m, n] = alpha · Σ_k opA[b, m, k] · opB[b, k, n] over the broadcast batch b (opX: X or Xᵀ as stored). */
type ProductParams = {
  /** the output's batch dims */
  batch: readonly number[];
  /** each operand's element stride per output batch dim (0 where it broadcasts) */
  aBatchStrides: readonly number[];
  bBatchStrides: readonly number[];
  M: number;
  K: number;
  N: number;
  /** A is stored K × M (read transposed) */
  transA: boolean;
  /** B is stored N × K (read transposed) */
  transB: boolean;
  alpha: number;
};

/** The partial products: one per inner-dim slice of DOT_CHUNK, as a leading dim of `chunks`. */
type PartialParams = ProductParams & { chunks: number };

/**
 * Statements that place the output element (bt, m, n) in the operands: aStart and bStart are where its row
 * of opA and its column of opB start at inner index `k0` (none: 0), so that its k-th inner element is
 * a[aStart + k·aStep] and b[bStart + k·bStep]. aOff and bOff: where the operands' matrices of batch bt start.
 */
function operandStarts(p: ProductParams, k0: string | null): Body {
  const { M, K, N } = p;
  const aOff = gatherIndex(p.batch, p.aBatchStrides, 0, 'bt');
  const bOff = gatherIndex(p.batch, p.bBatchStrides, 0, 'bt');
  const sum = (...terms: (string | null)[]): string => terms.filter((t) => t !== null).join(' + ');
  return [
    aOff === '0' ? [] : `const aOff = ${aOff};`,
    bOff === '0' ? [] : `const bOff = ${bOff};`,
    `const aStart = ${sum(aOff === '0' ? null : 'aOff', p.transA ? 'm' : `m * ${K}`, k0 && (p.transA ? `${k0} * ${M}` : k0))};`,
    `const bStart = ${sum(bOff === '0' ? null : 'bOff', p.transB ? `n * ${K}` : 'n', k0 && (p.transB ? k0 : `${k0} * ${N}`))};`,
  ];
}

/**
 * Statements that split the thread index into the inner-dim slice `chunk` (with `chunks` > 1), the batch
 * index `bt` (when there are batch elements) and the output row m and column n.
 */
function outputCoords(p: ProductParams, chunks = 1): string[] {
  const nb = numelOf(p.batch);
  const shape = [...(chunks > 1 ? [chunks] : []), ...(nb > 1 ? [nb] : []), p.M, p.N];
  const names = [...(chunks > 1 ? ['chunk'] : []), ...(nb > 1 ? ['bt'] : []), 'm', 'n'];
  return unravel('i', shape, names);
}

const steps = (p: ProductParams): { aStep: number; bStep: number } => ({ aStep: p.transA ? p.M : 1, bStep: p.transB ? 1 : p.N });
const scaled = (p: ProductParams): string => `return ${p.alpha === 1 ? 's' : `s * ${lit(p.alpha)}`};`;

/** Where each output batch's matrices start in the operands (element offsets), for the SIMD GEMM. */
export function batchOffsets(batch: readonly number[], strides: readonly number[]): Int32Array {
  const nb = numelOf(batch);
  const offs = new Int32Array(nb);
  for (let bt = 0; bt < nb; bt++) {
    let rest = bt;
    let off = 0;
    for (let d = batch.length - 1; d >= 0; d--) {
      off += (rest % batch[d]) * strides[d];
      rest = Math.floor(rest / batch[d]);
    }
    offs[bt] = off;
  }
  return offs;
}

/** The product, one thread per output element (inner dim up to DOT_CHUNK). */
const productKernel = declareKernel({
  name: 'matmul',
  // each operand element is read once per row or column of the other: views come as dense copies
  denseInputs: true,
  inputs: ['a', 'b'],
  body: (p: ProductParams) => {
    const { aStep, bStep } = steps(p);
    return [outputCoords(p), operandStarts(p, null), dotLoop('a', 'aStart', aStep, 'b', 'bStart', bStep, p.K, 's'), scaled(p)];
  },
  // the register-blocked WebAssembly GEMM, one call per batch matrix (a broadcast operand is packed once)
  native: (p, [a, b], size, simd) => {
    if (!(a instanceof Float32Array) || !(b instanceof Float32Array)) return null;
    const out = allocFloat32(size);
    const aOffs = batchOffsets(p.batch, p.aBatchStrides);
    const bOffs = batchOffsets(p.batch, p.bBatchStrides);
    simd.gemmBatch(a, aOffs, p.transA, b, bOffs, p.transB, p.M, p.N, p.K, p.alpha, null, out);
    return out;
  },
});

/** The partial products over every inner-dim slice (one kernel whatever K is); their sum is the product. */
const partialProductKernel = declareKernel({
  name: 'matmul.partial',
  // each operand element is read once per row or column of the other: views come as dense copies
  denseInputs: true,
  inputs: ['a', 'b'],
  body: (p: PartialParams) => {
    const { aStep, bStep } = steps(p);
    const at = (k: string): string =>
      `a[aStart + ${aStep === 1 ? k : `(${k}) * ${aStep}`}] * b[bStart + ${bStep === 1 ? k : `(${k}) * ${bStep}`}]`;
    return [
      outputCoords(p, p.chunks),
      `// this thread's slice of the inner dim: [k0, k0 + ${DOT_CHUNK}), the last one ends at ${p.K}`,
      `const k0 = chunk * ${DOT_CHUNK};`,
      `const lim = ${p.K} - k0;`,
      operandStarts(p, 'k0'),
      blockedSum('s', at, DOT_CHUNK, 'lim'),
      scaled(p),
    ];
  },
});

/** out[b, m, n] = alpha · Σ_k A[b, m, k] · B[b, k, n] with batch broadcasting and optional transposed reads. Records nothing. */
export function bmmKernel(A: MatrixOperand, B: MatrixOperand, outBatch: number[], alpha = 1): Tensor {
  const p: ProductParams = {
    batch: outBatch,
    aBatchStrides: broadcastStrides(outBatch, A.batch).map((s) => s * A.rows * A.cols),
    bBatchStrides: broadcastStrides(outBatch, B.batch).map((s) => s * B.rows * B.cols),
    M: A.trans ? A.cols : A.rows,
    K: A.trans ? A.rows : A.cols,
    N: B.trans ? B.rows : B.cols,
    transA: A.trans,
    transB: B.trans,
    alpha,
  };
  if (p.K <= DOT_CHUNK) return launch(productKernel, p, [A.t, B.t], [...outBatch, p.M, p.N], A.t.dtype);
  // the partial products of every inner-dim slice (a leading chunk dim), then the chunked sum adds them
  const chunks = Math.ceil(p.K / DOT_CHUNK);
  const parts = launch(partialProductKernel, { ...p, chunks }, [A.t, B.t], [chunks, ...outBatch, p.M, p.N], A.t.dtype);
  const out = sum(parts, 0);
  parts.dispose();
  return out;
}

export interface MmOptions {
  /** read `a` as its transpose (its last two dims swapped) */
  transA?: boolean;
  /** read `b` as its transpose */
  transB?: boolean;
  /** scales the product */
  alpha?: number;
}

/**
 * alpha · opA(a)·opB(b) over the last two dims, batch dims broadcast, each operand read transposed in place
 * where asked: the products of forward and backward formulas (`dA = mm(g, b, { transB: true })`).
 * A kernel, not an op: records nothing.
 */
export function mm(a: Tensor, b: Tensor, opts: MmOptions = {}): Tensor {
  // a transposed view of dense data (k.transpose(-2, -1), w.t()) is read as its dense data, transposed in
  // place: the product kernels read it directly, with no copy of the view first
  const ta = a._transposedDense();
  const tb = b._transposedDense();
  try {
    return mmOperands(ta ?? a, (opts.transA ?? false) !== (ta !== null), tb ?? b, (opts.transB ?? false) !== (tb !== null), a, b, opts);
  } finally {
    ta?.dispose();
    tb?.dispose();
  }
}

function mmOperands(a: Tensor, transA: boolean, b: Tensor, transB: boolean, a0: Tensor, b0: Tensor, opts: MmOptions): Tensor {
  const A = matrixOperand(a, transA);
  const B = matrixOperand(b, transB);
  const K = A.trans ? A.rows : A.cols;
  const Kb = B.trans ? B.cols : B.rows;
  if (K !== Kb) {
    throw new Error(
      `gpugrad internal: mm of shapes ${fmtShape(a0.shape)}${opts.transA ? 'ᵀ' : ''} and ${fmtShape(b0.shape)}${opts.transB ? 'ᵀ' : ''}: ` +
        `inner dims ${K} and ${Kb}`,
    );
  }
  const batch = broadcastShapes('mm', [A.batch, B.batch], ['first batch dims', 'second batch dims']);
  return bmmKernel(A, B, batch, opts.alpha ?? 1);
}

function matrixOperand(t: Tensor, trans: boolean): MatrixOperand {
  if (t.ndim < 2) throw new Error(`gpugrad internal: mm needs operands of at least 2 dims, got shape ${fmtShape(t.shape)}`);
  return { t, batch: t.shape.slice(0, -2), rows: t.shape[t.ndim - 2], cols: t.shape[t.ndim - 1], trans };
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  checkTensor('matmul', 'input', a);
  checkTensor('matmul', 'other', b);
  const dtype = floatDType('matmul', [
    ['input', a],
    ['other', b],
  ]);
  if (a.dtype !== dtype || b.dtype !== dtype) {
    throw new Error(
      `matmul: expects floating point tensors of one dtype, got input ${a.dtype} (shape ${fmtShape(a.shape)}) and other ${b.dtype} (shape ${fmtShape(b.shape)})`,
    );
  }
  if (a.ndim === 0 || b.ndim === 0) {
    throw new Error(`matmul: both arguments need at least 1 dimension, got shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  const K1 = a.shape[a.ndim - 1];
  const K2 = b.ndim === 1 ? b.shape[0] : b.shape[b.ndim - 2];
  if (K1 !== K2) {
    throw new Error(
      `matmul: inner dimensions do not match: input has shape ${fmtShape(a.shape)} (${K1} columns), other has shape ${fmtShape(b.shape)} (${K2} rows)`,
    );
  }
  // 1-D operands: promote, multiply, then drop the added dim (as torch.matmul).
  if (a.ndim === 1 || b.ndim === 1) {
    const a2 = a.ndim === 1 ? reshape(a, [1, a.shape[0]]) : a;
    const b2 = b.ndim === 1 ? reshape(b, [b.shape[0], 1]) : b;
    const c = matmul(a2, b2);
    const shape = c.shape.slice(0, -2);
    if (a.ndim > 1) shape.push(c.shape[c.ndim - 2]);
    if (b.ndim > 1) shape.push(c.shape[c.ndim - 1]);
    return reshape(c, shape);
  }
  // the batch dims must broadcast (this names the operands in the error); mm broadcasts them the same way
  broadcastShapes('matmul', [a.shape.slice(0, -2), b.shape.slice(0, -2)], ['input batch dims', 'other batch dims']);
  return record(mm(a, b), {
    name: 'Matmul',
    inputs: [a, b],
    backward: (g) => [
      a.requiresGrad ? mm(g, b, { transB: true }) : null, // dA = dC·Bᵀ
      b.requiresGrad ? mm(a, g, { transA: true }) : null, // dB = Aᵀ·dC
    ],
    backwardGraph: (g) => [
      a.requiresGrad ? matmul(g, transpose(b, -2, -1)) : null,
      b.requiresGrad ? matmul(transpose(a, -2, -1), g) : null,
    ],
    saved: [a, b],
  });
}
