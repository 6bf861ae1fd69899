// Unary elementwise ops: forward expression over x, backward expression over g (dL/dy), x and y.
//   exp: dx = g*y        log: dx = g/x          sqrt: dx = g/(2y)       rsqrt: dx = -g*y^3/2
//   abs: dx = g*sign(x)  tanh: dx = g*(1-y^2)   sigmoid: dx = g*y*(1-y) relu: dx = g*[x>0]
//   gelu: y = x*Phi(x), dx = g*(Phi(x) + x*phi(x)); tanh approximation differentiated exactly
// Formulas are written to be safe on GL (no Infinity arithmetic, tanh clamped, sigmoid split by sign).

import { needsGrad, record } from '../autograd/engine.js';
import type { Tensor } from '../autograd/tensor.js';
import { mapKernel } from './map.js';
import { isFloat, paren } from './util.js';

/** Statements that set `erfOut` = erf(`z`): a positive-term series (no cancellation), exact to
 * float64 rounding for |z| <= 6 and clamped beyond, where erf is 1 to 2e-17. */
export const ERF = (arg: string, out: string): string => {
  const z = paren(arg);
  return `let ${out}_a = ${z} < 0 ? -${z} : ${z}; if (${out}_a > 6) { ${out}_a = 6; } ` +
  `let ${out}_t = ${out}_a; let ${out}_s = ${out}_a; ` +
  `for (let ${out}_n = 1; ${out}_n < 400; ${out}_n++) { ${out}_t = ${out}_t * 2 * ${out}_a * ${out}_a / (2 * ${out}_n + 1); ${out}_s += ${out}_t; if (${out}_t < ${out}_s * 1e-17) { break; } } ` +
  `const ${out}_e = Math.min(1.1283791670955126 * Math.exp(-${out}_a * ${out}_a) * ${out}_s, 1); ` +
  `const ${out} = ${z} < 0 ? -${out}_e : ${out}_e;`;
};

/** Statements that set `out` = Phi(x), the standard normal CDF, accurate relative to its value in the lower
 * tail too (GELU of a large negative x must be ~0, not the float32 rounding error of 1 + erf): the erf series
 * for |x|/sqrt(2) < 2, else erfc by its continued fraction (64 terms, evaluated bottom up; no Infinity). */
export const PHI = (arg: string, out: string): string => {
  const x = paren(arg);
  return `const ${out}_z = ${x} * 0.7071067811865476; const ${out}_a = ${out}_z < 0 ? -${out}_z : ${out}_z; let ${out}_c = 0; ` +
  `if (${out}_a < 2) { let ${out}_t = ${out}_a; let ${out}_s = ${out}_a; ` +
  `for (let ${out}_n = 1; ${out}_n < 200; ${out}_n++) { ${out}_t = ${out}_t * 2 * ${out}_a * ${out}_a / (2 * ${out}_n + 1); ${out}_s += ${out}_t; if (${out}_t < ${out}_s * 1e-17) { break; } } ` +
  `${out}_c = 1 - Math.min(1.1283791670955126 * Math.exp(-${out}_a * ${out}_a) * ${out}_s, 1); } else { let ${out}_f = ${out}_a; ` +
  `for (let ${out}_j = 0; ${out}_j < 64; ${out}_j++) { ${out}_f = ${out}_a + (64 - ${out}_j) * 0.5 / ${out}_f; } ` +
  `${out}_c = Math.exp(-${out}_a * ${out}_a) / (1.7724538509055159 * ${out}_f); } ` +
  `const ${out} = ${out}_z < 0 ? 0.5 * ${out}_c : 1 - 0.5 * ${out}_c;`;
};

export const TANH = (arg: string): string => {
  const x = paren(arg);
  return `(${x} > 20 ? 1 : (${x} < -20 ? -1 : Math.tanh(${x})))`;
};
export const SIGMOID = (arg: string): string => {
  const x = paren(arg);
  return `(${x} >= 0 ? 1 / (1 + Math.exp(-${x})) : Math.exp(${x}) / (1 + Math.exp(${x})))`;
};

interface UnarySpec {
  name: string;
  pre?: string; // statements before the forward expression (over x)
  fwd: string;
  bpre?: string; // statements before the backward expression
  bwd: string; // over g, x, y
  intOk?: boolean; // defined on int data (result keeps int dtype)
}

const K = 0.7978845608028654; // sqrt(2/pi)
const GELU_TANH_U = `${K} * (x + 0.044715 * x * x * x)`;

const SPECS: Record<string, UnarySpec> = {
  neg: { name: 'neg', fwd: '-x', bwd: '-g', intOk: true },
  exp: { name: 'exp', fwd: 'Math.exp(x)', bwd: 'g * y' },
  log: { name: 'log', fwd: 'Math.log(x)', bwd: 'g / x' },
  sqrt: { name: 'sqrt', fwd: 'Math.sqrt(x)', bwd: 'g / (2 * y)' },
  rsqrt: { name: 'rsqrt', fwd: '1 / Math.sqrt(x)', bwd: '-0.5 * g * y * y * y' },
  abs: { name: 'abs', fwd: '(x < 0 ? -x : x)', bwd: '(x > 0 ? g : (x < 0 ? -g : 0))', intOk: true },
  tanh: { name: 'tanh', fwd: TANH('x'), bwd: 'g * (1 - y * y)' },
  sigmoid: { name: 'sigmoid', fwd: SIGMOID('x'), bwd: 'g * y * (1 - y)' },
  relu: { name: 'relu', fwd: '((x > 0 || x != x) ? x : 0)', bwd: '(x > 0 ? g : 0)', intOk: true }, // relu(NaN) = NaN
  gelu: {
    name: 'gelu',
    pre: PHI('x', 'cdf'),
    fwd: 'x * cdf',
    bpre: PHI('x', 'cdf'),
    bwd: 'g * (cdf + x * 0.3989422804014327 * Math.exp(-0.5 * x * x))',
  },
  geluTanh: {
    name: 'geluTanh',
    pre: `const th = ${TANH(GELU_TANH_U)};`,
    fwd: '0.5 * x * (1 + th)',
    bpre: `const th = ${TANH(GELU_TANH_U)};`,
    bwd: `g * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * ${K} * (1 + 3 * 0.044715 * x * x))`,
  },
};

function unary(spec: UnarySpec, x: Tensor): Tensor {
  if (!isFloat(x.dtype) && !spec.intOk) {
    throw new Error(`${spec.name}: expects a floating point tensor, got ${x.dtype} (shape [${x.shape.join(', ')}]); convert it with .float()`);
  }
  const y = unaryKernel(spec.name, spec.pre, spec.fwd, [['x', x]], x);
  if (!needsGrad(x)) return y;
  const usesY = /\by\b/.test(spec.bwd);
  return record(
    y,
    spec.name[0].toUpperCase() + spec.name.slice(1),
    [x],
    (g) => {
      const args: [string, Tensor][] = [['g', g]];
      if (/\bx\b/.test(spec.bwd) || spec.bpre) args.push(['x', x]);
      if (usesY) args.push(['y', y]);
      return [unaryKernel(spec.name + '.bwd', spec.bpre, spec.bwd, args, x)];
    },
    usesY ? [x, y] : [x],
  );
}

function unaryKernel(op: string, pre: string | undefined, expr: string, args: [string, Tensor][], like: Tensor): Tensor {
  return mapKernel(op, expr, args, like.shape, like.dtype, { pre });
}

export const neg = (x: Tensor): Tensor => unary(SPECS.neg, x);
export const exp = (x: Tensor): Tensor => unary(SPECS.exp, x);
export const log = (x: Tensor): Tensor => unary(SPECS.log, x);
export const sqrt = (x: Tensor): Tensor => unary(SPECS.sqrt, x);
export const rsqrt = (x: Tensor): Tensor => unary(SPECS.rsqrt, x);
export const abs = (x: Tensor): Tensor => unary(SPECS.abs, x);
export const tanh = (x: Tensor): Tensor => unary(SPECS.tanh, x);
export const sigmoid = (x: Tensor): Tensor => unary(SPECS.sigmoid, x);
export const relu = (x: Tensor): Tensor => unary(SPECS.relu, x);
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh') throw new Error(`gelu: approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
  return unary(approximate === 'tanh' ? SPECS.geluTanh : SPECS.gelu, x);
}
