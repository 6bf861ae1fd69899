// matmul with torch.matmul semantics: 1-D and 2-D operands, batched with broadcast batch dims.
//   C = A·B:  dA = dC·Bᵀ   dB = Aᵀ·dC   (batch broadcasting summed back by the engine)
// One kernel reads either operand transposed, so the backward needs no transpose copies.

import { needsGrad, record } from '../autograd/engine.js';
import { Tensor } from '../autograd/tensor.js';
import { blockedSum, sum } from './reduce.js';
import { reshape } from './shape.js';
import { broadcastShapes, broadcastStrides, floatDType, fmtShape, gatherIndex, launch, lit, sk } from './util.js';

export interface Operand3 {
  t: Tensor;
  batch: number[];
  rows: number; // rows of the stored matrix
  cols: number;
  trans: boolean; // read as its transpose
}

/**
 * Inner products longer than this are split into partial products over slices of the inner dim, summed
 * afterwards: a GPU thread's loop stays short (Mesa's llvmpipe stops every shader loop after 65,535
 * iterations in all, and real GPUs have watchdogs) and long float32 sums are blocked, not sequential.
 */
export const DOT_CHUNK = 16384;

/** out[b, m, n] = alpha * sum_k A[b, m, k] * B[b, k, n] with batch broadcasting and optional transposed reads. */
export function bmmKernel(A: Operand3, B: Operand3, outBatch: number[], alpha = 1): Tensor {
  const K = A.trans ? A.rows : A.cols;
  if (K <= DOT_CHUNK) return bmmPart(A, B, outBatch, alpha, 1);
  // one kernel computes the partial products of every inner-dim slice (a leading chunk dim), then the
  // chunked sum adds them: one compile whatever K is
  const parts = bmmPart(A, B, outBatch, alpha, Math.ceil(K / DOT_CHUNK));
  const out = sum(parts, 0);
  parts.dispose();
  return out;
}

/** The product, or with `chunks` > 1 the partial products over inner-dim slices of DOT_CHUNK as a leading dim. */
function bmmPart(A: Operand3, B: Operand3, outBatch: number[], alpha: number, chunks: number): Tensor {
  const M = A.trans ? A.cols : A.rows;
  const K = A.trans ? A.rows : A.cols;
  const N = B.trans ? B.rows : B.cols;
  const aStr = broadcastStrides(outBatch, A.batch).map((s) => s * A.rows * A.cols);
  const bStr = broadcastStrides(outBatch, B.batch).map((s) => s * B.rows * B.cols);
  const size = outBatch.reduce((a, b) => a * b, 1) * M * N;
  const key = `bmm:${sk(A.batch)}|${A.rows}x${A.cols}${A.trans ? 'T' : ''}:${sk(B.batch)}|${B.rows}x${B.cols}${B.trans ? 'T' : ''}:${sk(outBatch)}:${alpha}:${chunks}`;
  const build = (): string => {
    // a[ab + k·as] · b[bb + k·bs]: the operands' element k0 + k along the inner dim
    const ab = A.trans ? 'aOff + m + k0 * ' + M : `aOff + m * ${K} + k0`;
    const as = A.trans ? M : 1;
    const bb = B.trans ? `bOff + n * ${K} + k0` : `bOff + n + k0 * ${N}`;
    const bs = B.trans ? 1 : N;
    const head =
      chunks === 1
        ? 'const i = this.thread.x; const k0 = 0; '
        : `const t = this.thread.x; const ch = Math.floor((t + 0.5) / ${size}); const i = t - ch * ${size}; const k0 = ch * ${DOT_CHUNK}; const lim = ${K} - k0; `;
    const at = (k: string): string => `a[ab + ${as === 1 ? k : `(${k}) * ${as}`}] * b[bb + ${bs === 1 ? k : `(${k}) * ${bs}`}]`;
    const dot = chunks === 1 ? dotLoop('a', 'ab', as, 'b', 'bb', bs, K, 's') : blockedSum('s', at, DOT_CHUNK, 'lim');
    return (
      `function (a, b) { ${head}const bt = Math.floor((i + 0.5) / ${M * N}); ` +
      `const r = i - bt * ${M * N}; const m = Math.floor((r + 0.5) / ${N}); const n = r - m * ${N}; ` +
      `const aOff = ${gatherIndex(outBatch, aStr, 0, 'bt')}; const bOff = ${gatherIndex(outBatch, bStr, 0, 'bt')}; ` +
      `const ab = ${ab}; const bb = ${bb}; ${dot} return ${alpha === 1 ? 's' : `s * ${lit(alpha)}`}; }`
    );
  };
  return launch(key, build, [A.t, B.t], chunks === 1 ? [...outBatch, M, N] : [chunks, ...outBatch, M, N], A.t.dtype);
}

/**
 * Kernel statements that set `out` = Σ_k a[ab + k·as]·b[bb + k·bs] for k < K, unrolled by four with
 * separate accumulators (1.2–1.4× faster on webasm and cpu than the plain loop, measured on a
 * 512×64×512 product) and a plain loop for the remainder.
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

export function matmul(a: Tensor, b: Tensor): Tensor {
  if (!(a instanceof Tensor) || !(b instanceof Tensor)) throw new Error('matmul: both operands must be Tensors');
  const dtype = floatDType('matmul', [['input', a], ['other', b]]);
  if (a.dtype !== dtype || b.dtype !== dtype) {
    throw new Error(`matmul: expects floating point tensors of one dtype, got input ${a.dtype} (shape ${fmtShape(a.shape)}) and other ${b.dtype} (shape ${fmtShape(b.shape)})`);
  }
  if (a.ndim === 0 || b.ndim === 0) {
    throw new Error(`matmul: both arguments need at least 1 dimension, got shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  const K1 = a.shape[a.ndim - 1];
  const K2 = b.ndim === 1 ? b.shape[0] : b.shape[b.ndim - 2];
  if (K1 !== K2) {
    throw new Error(`matmul: inner dimensions do not match: input has shape ${fmtShape(a.shape)} (${K1} columns), other has shape ${fmtShape(b.shape)} (${K2} rows)`);
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
  const [M, K] = a.shape.slice(-2);
  const N = b.shape[b.ndim - 1];
  const aB = a.shape.slice(0, -2);
  const bB = b.shape.slice(0, -2);
  const batch = broadcastShapes('matmul', [aB, bB], ['input batch dims', 'other batch dims']);
  const out = bmmKernel({ t: a, batch: aB, rows: M, cols: K, trans: false }, { t: b, batch: bB, rows: K, cols: N, trans: false }, batch);
  if (!needsGrad(a, b)) return out;
  return record(
    out,
    'Matmul',
    [a, b],
    (g) => [
      a.requiresGrad ? bmmKernel({ t: g, batch, rows: M, cols: N, trans: false }, { t: b, batch: bB, rows: K, cols: N, trans: true }, batch) : null,
      b.requiresGrad ? bmmKernel({ t: a, batch: aB, rows: M, cols: K, trans: true }, { t: g, batch, rows: M, cols: N, trans: false }, batch) : null,
    ],
    [a, b],
  );
}
