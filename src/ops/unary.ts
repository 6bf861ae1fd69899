// Unary elementwise ops: y = fwd(x), dx = bwd(g, x, y), g = dL/dy. The expressions and the derivative
// formulas are the ops' rows in the registry (src/ops/registry.ts, rendered in docs/DERIVATIVES.md); each
// runs as one elementwise kernel of map.ts ('map' with op 'exp', 'exp.bwd', ...).
// Formulas are written to be safe on GL (no Infinity arithmetic, tanh clamped, sigmoid split by sign).

import { checkTensor } from '../autograd/check.js';
import { record } from '../autograd/engine.js';
import { Tensor } from '../autograd/tensor.js';
import { isFloat } from '../helpers/dtype.js';
import { mapKernel, registerMapNative, sameShape } from './map.js';
import { OP, PHI, type UnarySpec } from './registry.js';
import { add, div, mul, sub } from './binary.js';

export { PHI, TANH, SIGMOID } from './registry.js';

/** A unary op's spec, with the kernel and node name it runs under. */
type Named = UnarySpec & { name: string };

function spec(op: string): Named {
  const s = OP[op]?.unary;
  if (!s) throw new Error(`gpugrad internal: the registry has no unary row '${op}'`);
  return { ...s, name: s.name ?? op };
}

function unary(s: Named, x: Tensor): Tensor {
  checkTensor(s.name, 'input', x);
  if (!isFloat(x.dtype) && !s.intOk) {
    throw new Error(`${s.name}: expects a floating point tensor, got ${x.dtype} (shape [${x.shape.join(', ')}]); convert it with .float()`);
  }
  const y = mapKernel(s.name, s.fwd, [['x', x]], x.shape, x.dtype, { pre: s.pre });
  const usesY = /\by\b/.test(s.bwd);
  return record(y, {
    name: s.name[0].toUpperCase() + s.name.slice(1),
    inputs: [x],
    backward: (g) => {
      const args: [string, Tensor][] = [['g', g]];
      if (/\bx\b/.test(s.bwd) || s.bpre) args.push(['x', x]);
      if (usesY) args.push(['y', y]);
      return [mapKernel(`${s.name}.bwd`, s.bwd, args, x.shape, x.dtype, { pre: s.bpre })];
    },
    saved: usesY ? [x, y] : [x],
    backwardGraph: (g) => [GRAPH[s.name](g, x, y)],
  });
}

// ---- double backward: each derivative again, written with differentiable ops (createGraph) --------

/** A constant factor of a derivative (a sign or a 0/1 mask): a kernel, not recorded (its derivative is 0). */
const factor = (name: string, expr: string, x: Tensor): Tensor => mapKernel(name, expr, [['x', x]], x.shape, x.dtype);

const INV_SQRT_2PI = 0.3989422804014327;
/** The standard normal density, with ops. */
const normalPdf = (x: Tensor): Tensor => mul(exp(mul(mul(x, x), -0.5)), INV_SQRT_2PI);

/** Phi(x), the standard normal CDF (gelu's factor), recorded: its derivative is normalPdf. */
function normalCdf(x: Tensor): Tensor {
  const y = mapKernel('gelu.cdf', 'cdf', [['x', x]], x.shape, x.dtype, { pre: PHI('x', 'cdf') });
  const back = (g: Tensor): Tensor[] => [mul(g, normalPdf(x))];
  return record(y, { name: 'NormalCdf', inputs: [x], backward: back, backwardGraph: back, saved: [x] });
}

const GELU_K = 0.7978845608028654; // sqrt(2/pi)

/** dx for each unary op, from g, x and y, with differentiable ops: the same formulas as the registry's kernels. */
const GRAPH: Readonly<Record<string, (g: Tensor, x: Tensor, y: Tensor) => Tensor>> = {
  neg: (g) => neg(g),
  exp: (g, _x, y) => mul(g, y),
  log: (g, x) => div(g, x),
  sqrt: (g, _x, y) => div(g, mul(y, 2)),
  rsqrt: (g, _x, y) => mul(g, mul(mul(mul(y, y), y), -0.5)),
  abs: (g, x) => mul(g, factor('abs.sign', '(x > 0 ? 1 : (x < 0 ? -1 : 0))', x)),
  tanh: (g, _x, y) => mul(g, sub(1, mul(y, y))),
  sigmoid: (g, _x, y) => mul(g, mul(y, sub(1, y))),
  relu: (g, x) => mul(g, factor('relu.mask', '(x > 0 ? 1 : 0)', x)),
  gelu: (g, x) => mul(g, add(normalCdf(x), mul(x, normalPdf(x)))),
  geluTanh: (g, x) => {
    const th = tanh(mul(add(x, mul(mul(mul(x, x), x), 0.044715)), GELU_K));
    const du = mul(add(mul(mul(x, x), 3 * 0.044715), 1), GELU_K);
    return mul(g, add(mul(add(th, 1), 0.5), mul(mul(mul(x, 0.5), sub(1, mul(th, th))), du)));
  },
  silu: (g, x) => {
    const s = sigmoid(x);
    return mul(g, mul(s, add(mul(x, sub(1, s)), 1)));
  },
};

// every unary row (and gelu's tanh form) has its double backward here
for (const r of Object.values(OP)) {
  for (const u of r.unary ? [r.unary, ...(r.unary.tanh ? [r.unary.tanh] : [])] : []) {
    const n = u.name ?? r.name;
    if (!(n in GRAPH)) throw new Error(`gpugrad internal: unary op '${n}' has no double backward in unary.ts`);
  }
}

const NEG = spec('neg');
const EXP = spec('exp');
const LOG = spec('log');
const SQRT = spec('sqrt');
const RSQRT = spec('rsqrt');
const ABS = spec('abs');
const TANH_OP = spec('tanh');
const SIGMOID_OP = spec('sigmoid');
const RELU = spec('relu');
const GELU = spec('gelu');
const SILU = spec('silu');
const GELU_TANH: Named = { ...GELU.tanh!, name: GELU.tanh?.name ?? 'geluTanh' };

// GELU-tanh forward and backward on the SIMD provider: the same formulas with a vector exp-based tanh
// (GELU-tanh is the MLP's activation in GPT-style blocks; Math.tanh per element costs 20-30 ns here)
registerMapNative(
  GELU_TANH.name,
  sameShape(([x], simd) => simd.geluTanh(x)),
);
registerMapNative(
  `${GELU_TANH.name}.bwd`,
  sameShape(([g, x], simd) => simd.geluTanhBackward(g, x)),
);

export const neg = (x: Tensor): Tensor => unary(NEG, x);
export const exp = (x: Tensor): Tensor => unary(EXP, x);
export const log = (x: Tensor): Tensor => unary(LOG, x);
export const sqrt = (x: Tensor): Tensor => unary(SQRT, x);
export const rsqrt = (x: Tensor): Tensor => unary(RSQRT, x);
export const abs = (x: Tensor): Tensor => unary(ABS, x);
export const tanh = (x: Tensor): Tensor => unary(TANH_OP, x);
export const sigmoid = (x: Tensor): Tensor => unary(SIGMOID_OP, x);
export const relu = (x: Tensor): Tensor => unary(RELU, x);
/** x·sigmoid(x) (SiLU, swish). */
export const silu = (x: Tensor): Tensor => unary(SILU, x);
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh')
    throw new Error(`gelu: approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
  return unary(approximate === 'tanh' ? GELU_TANH : GELU, x);
}
