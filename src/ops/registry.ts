// The op registry: one row per public op of gpugrad, as plain data (like PyTorch's derivatives.yaml and
// native_functions.yaml in one table). Each row names the op's function and file, its derivative
// formulas, its Tensor method(s) and its name under F, its family, and the tests that gradcheck it and
// run it on every mode. The elementwise ops are defined here: their rows carry the forward and backward
// kernel expressions that unary.ts, binary.ts and compare.ts run, so a new elementwise op is one row,
// its export (and Tensor method) and a test.
//
// test/ops/registry.test.ts fails when this table and the code drift apart, and checks that
// docs/DERIVATIVES.md is renderDerivatives() of it.
//
// Importing this module has no side effect: it declares no kernel and imports no op.

import { paren, type Body } from '../kernels/source.js';

// ---- expression builders (the GL-safe formulas the elementwise rows use) ------------------------------

/** tanh clamped to ±1 beyond |x| > 20 (GL's tanh overflows there). */
export const TANH = (arg: string): string => {
  const x = paren(arg);
  return `(${x} > 20 ? 1 : (${x} < -20 ? -1 : Math.tanh(${x})))`;
};

/** The logistic function, split by sign so exp never overflows. */
export const SIGMOID = (arg: string): string => {
  const x = paren(arg);
  return `(${x} >= 0 ? 1 / (1 + Math.exp(-${x})) : Math.exp(${x}) / (1 + Math.exp(${x})))`;
};

/**
 * Statements that set `out` = Phi(x), the standard normal CDF, accurate relative to its value in the lower
 * tail too (GELU of a large negative x must be ~0, not the float32 rounding error of 1 + erf): the erf series
 * for |x|/sqrt(2) < 2, else erfc by its continued fraction (64 terms, evaluated bottom up; no Infinity).
 */
export const PHI = (arg: string, out: string): string[] => {
  const x = paren(arg);
  const v = (s: string): string => `${out}_${s}`;
  const [z, a, c, t, s, n, f, j] = ['z', 'a', 'c', 't', 's', 'n', 'f', 'j'].map(v);
  return [
    `// ${out} = Phi(x): with z = x / sqrt(2), a = |z| and c = erfc(a), Phi = 1 - c / 2 (c / 2 where z < 0)`,
    `const ${z} = ${x} * 0.7071067811865476;`,
    `const ${a} = ${z} < 0 ? -${z} : ${z};`,
    `let ${c} = 0;`,
    `if (${a} < 2) {`,
    `// erfc = 1 - erf, erf by its positive-term series (no cancellation)`,
    `let ${t} = ${a};`,
    `let ${s} = ${a};`,
    `for (let ${n} = 1; ${n} < 200; ${n}++) {`,
    `${t} = ${t} * 2 * ${a} * ${a} / (2 * ${n} + 1);`,
    `${s} += ${t};`,
    `if (${t} < ${s} * 1e-17) { break; }`,
    `}`,
    `${c} = 1 - Math.min(1.1283791670955126 * Math.exp(-${a} * ${a}) * ${s}, 1);`,
    `} else {`,
    `// erfc by its continued fraction, 64 terms, evaluated bottom up`,
    `let ${f} = ${a};`,
    `for (let ${j} = 0; ${j} < 64; ${j}++) { ${f} = ${a} + (64 - ${j}) * 0.5 / ${f}; }`,
    `${c} = Math.exp(-${a} * ${a}) / (1.7724538509055159 * ${f});`,
    `}`,
    `const ${out} = ${z} < 0 ? 0.5 * ${c} : 1 - 0.5 * ${c};`,
  ];
};

/**
 * Signed power that matches Math.pow for negative bases with integer exponents on every mode
 * (GLSL's pow is undefined for negative bases, and for a zero base with an exponent <= 0: GL gives 0
 * for 0^-1; here it is 1 / (0 * 0) = Infinity at run time, as PyTorch).
 */
export const POW = (base: string, exponent: string): string => {
  const a = paren(base);
  const b = paren(exponent);
  // NaN first: the signed-power branches below would turn a NaN base into ±0 on GL
  return (
    `(${a} != ${a} ? ${a} : (${b} != ${b} ? ${b} : ` +
    `(${a} == 0 ? (${b} > 0 ? 0 : (${b} == 0 ? 1 : 1 / (${a} * ${a}))) : (${a} > 0 ? Math.pow(${a}, ${b}) : ` +
    `(${b} == Math.floor(${b}) ? ((${b} - 2 * Math.floor(${b} / 2)) == 1 ? -Math.pow(-${a}, ${b}) : Math.pow(-${a}, ${b})) : ` +
    `Math.sqrt(-1 - ${a} * 0))))))`
  );
};

const K = 0.7978845608028654; // sqrt(2/pi)
const GELU_TANH_U = `${K} * (x + 0.044715 * x * x * x)`;

// ---- the row types --------------------------------------------------------------------------------------

/** An op's family: DERIVATIVES.md has one section per kind, in this order. */
export type OpKind =
  | 'creation'
  | 'conversion'
  | 'elementwise'
  | 'comparison'
  | 'reduction'
  | 'linalg'
  | 'shape'
  | 'indexing'
  | 'sorting'
  | 'nn'
  | 'loss'
  | 'attention';

/** A unary elementwise op's kernels (src/ops/unary.ts): `y = fwd` over x; `dx = bwd` over g (dL/dy), x and y. */
export interface UnarySpec {
  /** The kernel and graph node name, where it is not the row's (gelu's tanh approximation). */
  name?: string;
  /** Statements before the forward expression (over x). */
  pre?: Body;
  fwd: string;
  /** Statements before the backward expression (over x). */
  bpre?: Body;
  bwd: string;
  /** Defined on int data (the result keeps the int dtype). */
  intOk?: boolean;
  /** gelu(x, 'tanh'). */
  tanh?: UnarySpec;
}

/** A broadcasting binary op's kernels (src/ops/binary.ts): `out = fwd` over a, b; da, db over g, a, b (null: none). */
export interface BinarySpec {
  fwd: string;
  da: string | null;
  db: string | null;
  /** int ⊙ int gives float32 (div, pow). */
  intToFloat?: boolean;
}

/** A comparison, logical or selection op's kernels (src/ops/compare.ts): `out = fwd`; `grad[operand]` over g and the operands. */
export interface CompareSpec {
  fwd: string;
  grad?: { readonly [operand: string]: string };
}

export interface OpRow {
  /** The function's name as `file` exports it. */
  name: string;
  /** How it is called: the function with its parameters. */
  signature: string;
  kind: OpKind;
  /** The source file that defines and exports `name`. */
  file: string;
  /** Its name among src/index.ts's exports, or null when it is reached only through F or a Tensor method. */
  index: string | null;
  /** Its name under F (src/nn/functional.ts), or null. */
  fName: string | null;
  /** The Tensor methods that run it, as signatures ('add(other, alpha?)'), or null. */
  method: readonly string[] | null;
  /** What it computes. */
  forward: string;
  /** One formula per differentiable input (g = dL/dout), from the op file's header; empty when not differentiable. */
  derivatives: readonly string[];
  /** Why there is no derivative (set exactly when `derivatives` is empty). */
  noGrad?: string;
  /** Test files: the first runs it on every mode and (differentiable ops) gradchecks it. */
  tests: readonly string[];
  /** Set when the backward is checked otherwise than by gradcheck: how, and why. */
  gradcheckExempt?: string;
  /**
   * How the backward is differentiated again (createGraph), where it is not the derivatives above written
   * with differentiable ops (test/autograd/double-backward.test.ts gradgradchecks every differentiable row).
   */
  doubleBackward?: string;
  unary?: UnarySpec;
  binary?: BinarySpec;
  compare?: CompareSpec;
}

// ---- the table ----------------------------------------------------------------------------------------

const CREATION = 'src/autograd/creation.ts';
const LEAF = 'makes a leaf (requiresGrad starts a graph; nothing flows back into the arguments)';
const TENSOR_TEST = 'test/autograd/tensor.test.ts';

const creation = (name: string, signature: string, forward: string, method: string[] | null = null): OpRow => ({
  name,
  signature,
  kind: 'creation',
  file: CREATION,
  index: name,
  fName: null,
  method,
  forward,
  derivatives: [],
  noGrad: LEAF,
  tests: [TENSOR_TEST],
});

const UNARY_FILE = 'src/ops/unary.ts';
const UNARY_TEST = 'test/ops/unary.test.ts';
const unary = (
  name: string,
  forward: string,
  derivative: string,
  spec: UnarySpec,
  fName: string | null = null,
  sig = '(input)',
): OpRow => ({
  name,
  signature: `${name}${sig}`,
  kind: 'elementwise',
  file: UNARY_FILE,
  index: name,
  fName,
  method: [`${name}()`],
  forward,
  derivatives: [derivative],
  tests: [UNARY_TEST],
  unary: spec,
});

const CLAMP_FILE = 'src/ops/clamp.ts';
const CLAMP_TEST = 'test/ops/clamp.test.ts';

const NORM_FILE = 'src/ops/norm.ts';
const NORM_TEST = 'test/ops/norm.test.ts';
const SELECT_FILE = 'src/ops/select.ts';
const SELECT_TEST = 'test/ops/select.test.ts';

const BINARY_FILE = 'src/ops/binary.ts';
const BINARY_TEST = 'test/ops/binary.test.ts';
const binary = (name: string, forward: string, derivatives: string[], spec: BinarySpec, method: string[]): OpRow => ({
  name,
  signature: `${name}(input, other)`,
  kind: 'elementwise',
  file: BINARY_FILE,
  index: name,
  fName: null,
  method,
  forward,
  derivatives,
  tests: [BINARY_TEST],
  binary: spec,
});

const COMPARE_FILE = 'src/ops/compare.ts';
const COMPARE_TEST = 'test/ops/compare.test.ts';
const BOOL = 'bool result';
const comparison = (name: string, sig: string, forward: string, fwd: string, method: string): OpRow => ({
  name,
  signature: `${name}${sig}`,
  kind: 'comparison',
  file: COMPARE_FILE,
  index: name,
  fName: null,
  method: [method],
  forward,
  derivatives: [],
  noGrad: BOOL,
  tests: [COMPARE_TEST],
  compare: { fwd },
});

const REDUCE_FILE = 'src/ops/reduce.ts';
const REDUCE_TEST = 'test/ops/reduce.test.ts';
const reduction = (name: string, forward: string, derivative: string, method: string[]): OpRow => ({
  name,
  signature: `${name}(input, dim?, keepdim = false)`,
  kind: 'reduction',
  file: REDUCE_FILE,
  index: name,
  fName: null,
  method,
  forward,
  derivatives: [derivative],
  tests: [REDUCE_TEST],
});

const SHAPE_FILE = 'src/ops/shape.ts';
const SHAPE_TEST = 'test/ops/shape.test.ts';
const shape = (name: string, signature: string, forward: string, derivative: string, method: string[] | null): OpRow => ({
  name,
  signature,
  kind: 'shape',
  file: SHAPE_FILE,
  index: name,
  fName: null,
  method,
  forward,
  derivatives: [derivative],
  tests: [SHAPE_TEST],
});

const INDEXING_FILE = 'src/ops/indexing.ts';
const INDEXING_TEST = 'test/ops/indexing.test.ts';
const indexing = (name: string, signature: string, forward: string, derivatives: string[], method: string[]): OpRow => ({
  name,
  signature,
  kind: 'indexing',
  file: INDEXING_FILE,
  index: name,
  fName: null,
  method,
  forward,
  derivatives,
  tests: [INDEXING_TEST],
});

const SORT_FILE = 'src/ops/sort.ts';
const SORT_TEST = 'test/ops/sort.test.ts';
const sorting = (name: string, signature: string, forward: string, derivatives: string[], method: string[], noGrad?: string): OpRow => ({
  name,
  signature,
  kind: 'sorting',
  file: SORT_FILE,
  index: name,
  fName: null,
  method,
  forward,
  derivatives,
  ...(noGrad ? { noGrad } : {}),
  tests: [SORT_TEST],
});

export const OPS: readonly OpRow[] = [
  // ---- creation ----
  creation('tensor', 'tensor(data, { dtype?, shape?, requiresGrad? })', 'a tensor of nested arrays or a typed array'),
  creation('zeros', 'zeros(shape, opts?)', 'a tensor of 0s', ['zero_()']),
  creation('ones', 'ones(shape, opts?)', 'a tensor of 1s'),
  creation('full', 'full(shape, value, opts?)', 'a tensor of one value', ['fill_(value)']),
  creation('zerosLike', 'zerosLike(t, opts?)', "zeros of t's shape and dtype"),
  creation('onesLike', 'onesLike(t, opts?)', "ones of t's shape and dtype"),
  creation('fullLike', 'fullLike(t, value, opts?)', "one value in t's shape and dtype"),
  creation('arange', 'arange(start, end?, step = 1, opts?)', 'start, start + step, ... below end'),
  creation('rand', 'rand(shape, opts?)', 'uniform on [0, 1) from the seeded generator (manualSeed)'),
  creation('randn', 'randn(shape, opts?)', 'standard normal from the seeded generator'),
  creation('randint', 'randint(low, high, shape, opts?)', 'uniform integers in [low, high) from the seeded generator'),

  // ---- conversion ----
  {
    name: 'cast',
    signature: 'cast(input, dtype)',
    kind: 'conversion',
    file: 'src/ops/convert.ts',
    index: null,
    fName: null,
    method: ['to(dtype)', 'float()', 'double()', 'int()', 'long()', 'bool()'],
    forward: 'y = x in another dtype (the same tensor when the dtype is its own)',
    derivatives: ['dx = dy cast back (only between float dtypes)'],
    tests: [TENSOR_TEST],
  },
  {
    name: 'clone',
    signature: 'clone(input)',
    kind: 'conversion',
    file: 'src/ops/convert.ts',
    index: null,
    fName: null,
    method: ['clone()', 'copy_(src) (in place, untracked)'],
    forward: 'y = x, a copy',
    derivatives: ['dx = dy'],
    tests: [TENSOR_TEST],
  },

  // ---- elementwise: unary ----
  unary('neg', 'y = -x', 'dx = -g', { fwd: '-x', bwd: '-g', intOk: true }),
  { ...unary('exp', 'y = e^x', 'dx = g*y', { fwd: 'Math.exp(x)', bwd: 'g * y' }), method: ['exp()', 'exp_() (in place, untracked)'] },
  unary('log', 'y = ln x', 'dx = g/x', { fwd: 'Math.log(x)', bwd: 'g / x' }),
  unary('sqrt', 'y = √x', 'dx = g/(2y)', { fwd: 'Math.sqrt(x)', bwd: 'g / (2 * y)' }),
  unary('rsqrt', 'y = 1/√x', 'dx = -g*y^3/2', { fwd: '1 / Math.sqrt(x)', bwd: '-0.5 * g * y * y * y' }),
  unary('abs', 'y = |x|', 'dx = g*sign(x)', { fwd: '(x < 0 ? -x : x)', bwd: '(x > 0 ? g : (x < 0 ? -g : 0))', intOk: true }),
  unary('tanh', 'y = tanh x (clamped to ±1 beyond |x| > 20)', 'dx = g*(1-y^2)', { fwd: TANH('x'), bwd: 'g * (1 - y * y)' }, 'tanh'),
  unary(
    'sigmoid',
    'y = 1/(1 + e^-x) (split by sign: exp never overflows)',
    'dx = g*y*(1-y)',
    { fwd: SIGMOID('x'), bwd: 'g * y * (1 - y)' },
    'sigmoid',
  ),
  // relu(NaN) = NaN
  unary(
    'relu',
    'y = max(x, 0) (NaN stays NaN)',
    'dx = g*[x>0]',
    { fwd: '((x > 0 || x != x) ? x : 0)', bwd: '(x > 0 ? g : 0)', intOk: true },
    'relu',
  ),
  {
    ...unary(
      'gelu',
      "y = x*Phi(x); approximate 'tanh': y = x/2*(1 + tanh(sqrt(2/pi)*(x + 0.044715x^3)))",
      'dx = g*(Phi(x) + x*phi(x)); tanh approximation differentiated exactly',
      {
        pre: PHI('x', 'cdf'),
        fwd: 'x * cdf',
        bpre: PHI('x', 'cdf'),
        bwd: 'g * (cdf + x * 0.3989422804014327 * Math.exp(-0.5 * x * x))',
        tanh: {
          name: 'geluTanh',
          pre: `const th = ${TANH(GELU_TANH_U)};`,
          fwd: '0.5 * x * (1 + th)',
          bpre: `const th = ${TANH(GELU_TANH_U)};`,
          bwd: `g * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * ${K} * (1 + 3 * 0.044715 * x * x))`,
        },
      },
      'gelu',
      "(input, approximate: 'none' | 'tanh' = 'none')",
    ),
    method: ["gelu(approximate = 'none')"],
  },

  {
    ...unary(
      'silu',
      'y = x*sigmoid(x) (the sigmoid split by sign: exp never overflows)',
      'dx = g*s*(1 + x*(1-s)), s = sigmoid(x)',
      { fwd: `x * ${SIGMOID('x')}`, bpre: [`const s = ${SIGMOID('x')};`], bwd: 'g * s * (1 + x * (1 - s))' },
      'silu',
    ),
    method: null,
    tests: [CLAMP_TEST],
  },
  {
    name: 'clamp',
    signature: 'clamp(input, min?, max?)',
    kind: 'elementwise',
    file: CLAMP_FILE,
    index: 'clamp',
    fName: null,
    method: ['clamp(min?, max?)', 'clamp_(min?, max?) (in place, untracked)'],
    forward:
      'y = min(max(x, min), max), min and max numbers or broadcasting tensors (either null); NaN in x or in a tensor bound gives NaN, ' +
      'a NaN number bound is ignored (as PyTorch)',
    derivatives: [
      'dx = g where min <= x <= max (inclusive), 0 elsewhere',
      'dmin = g where x < min < max',
      'dmax = g where x > max or max < min',
    ],
    tests: [CLAMP_TEST],
  },
  {
    name: 'clip',
    signature: 'clip(input, min?, max?)',
    kind: 'elementwise',
    file: CLAMP_FILE,
    index: 'clip',
    fName: null,
    method: ['clip(min?, max?)', 'clip_(min?, max?) (in place, untracked)'],
    forward: 'an alias of clamp',
    derivatives: ["clamp's"],
    tests: [CLAMP_TEST],
  },

  // ---- elementwise: binary (broadcasting; the engine sums each gradient back to its input's shape) ----
  binary('add', 'out = a + b', ['da = g', 'db = g'], { fwd: 'a + b', da: 'g', db: 'g' }, [
    'add(other, alpha?)',
    'add_(other, alpha?) (in place)',
  ]),
  binary('sub', 'out = a - b', ['da = g', 'db = -g'], { fwd: 'a - b', da: 'g', db: '-g' }, ['sub(other)', 'sub_(other) (in place)']),
  binary('mul', 'out = a * b', ['da = g*b', 'db = g*a'], { fwd: 'a * b', da: 'g * b', db: 'g * a' }, [
    'mul(other)',
    'mul_(other) (in place)',
  ]),
  binary(
    'div',
    'out = a / b (int / int gives float32)',
    ['da = g/b', 'db = -g*a/b^2'],
    { fwd: 'a / b', da: 'g / b', db: '-g * a / (b * b)', intToFloat: true },
    ['div(other)', 'div_(other) (in place)'],
  ),
  binary(
    'pow',
    'out = a^b (negative bases with integer exponents as Math.pow, on every mode)',
    ['da = g*b*a^(b-1)', 'db = g*a^b*ln(a)   (0 where a == 0 and b >= 0, as PyTorch)'],
    {
      fwd: POW('a', 'b'),
      da: `(b == 0 ? 0 : g * b * ${POW('a', 'b - 1')})`,
      db: `((a == 0 && b >= 0) ? 0 : g * ${POW('a', 'b')} * Math.log(a))`,
      intToFloat: true,
    },
    ['pow(exponent)'],
  ),
  // NaN propagates (as PyTorch): `a != a` is the NaN test that every mode keeps.
  binary(
    'maximum',
    'out = max(a, b) (NaN propagates)',
    ['da = g where a > b, g/2 on ties, 0 elsewhere', 'db = g where b > a, g/2 on ties, 0 elsewhere'],
    { fwd: '((a >= b || a != a) ? a : b)', da: '(a > b ? g : (a == b ? 0.5 * g : 0))', db: '(b > a ? g : (a == b ? 0.5 * g : 0))' },
    ['maximum(other)'],
  ),
  binary(
    'minimum',
    'out = min(a, b) (NaN propagates)',
    ['da = g where a < b, g/2 on ties, 0 elsewhere', 'db = g where b < a, g/2 on ties, 0 elsewhere'],
    { fwd: '((a <= b || a != a) ? a : b)', da: '(a < b ? g : (a == b ? 0.5 * g : 0))', db: '(b < a ? g : (a == b ? 0.5 * g : 0))' },
    ['minimum(other)'],
  ),

  // ---- comparison, logical and selection ----
  comparison('eq', '(input, other)', 'out = a == b', '(a == b ? 1 : 0)', 'eq(other)'),
  comparison('ne', '(input, other)', 'out = a != b', '(a != b ? 1 : 0)', 'ne(other)'),
  comparison('lt', '(input, other)', 'out = a < b', '(a < b ? 1 : 0)', 'lt(other)'),
  comparison('le', '(input, other)', 'out = a <= b', '(a <= b ? 1 : 0)', 'le(other)'),
  comparison('gt', '(input, other)', 'out = a > b', '(a > b ? 1 : 0)', 'gt(other)'),
  comparison('ge', '(input, other)', 'out = a >= b', '(a >= b ? 1 : 0)', 'ge(other)'),
  comparison('logicalNot', '(input)', 'out = !x (non-zero is true)', '(x != 0 ? 0 : 1)', 'logicalNot()'),
  comparison('logicalAnd', '(input, other)', 'out = a && b', '((a != 0 && b != 0) ? 1 : 0)', 'logicalAnd(other)'),
  comparison('logicalOr', '(input, other)', 'out = a || b', '((a != 0 || b != 0) ? 1 : 0)', 'logicalOr(other)'),
  {
    name: 'where',
    signature: 'where(condition, input, other)',
    kind: 'comparison',
    file: COMPARE_FILE,
    index: 'where',
    fName: null,
    method: ['where(condition, other) (this is the input)'],
    forward: 'out = c ? a : b, broadcasting; input and other may be numbers (two numbers give float32, or int32 when both are integers)',
    derivatives: ['da = c ? g : 0', 'db = c ? 0 : g     (no gradient to the condition)'],
    tests: [COMPARE_TEST],
    compare: { fwd: '(c != 0 ? a : b)', grad: { a: '(c != 0 ? g : 0)', b: '(c != 0 ? 0 : g)' } },
  },
  {
    name: 'maskedFill',
    signature: 'maskedFill(input, mask, value)',
    kind: 'comparison',
    file: COMPARE_FILE,
    index: 'maskedFill',
    fName: null,
    method: ['maskedFill(mask, value)', 'maskedFill_(mask, value) (in place, untracked)'],
    forward: "out = m ? v : x (the mask broadcasts to the input's shape)",
    derivatives: ['dx = m ? 0 : g'],
    tests: [COMPARE_TEST],
    compare: { fwd: '(m != 0 ? v : x)', grad: { x: '(m != 0 ? 0 : g)' } },
  },
  {
    name: 'isclose',
    signature: 'isclose(input, other, { rtol = 1e-5, atol = 1e-8, equalNan = false })',
    kind: 'comparison',
    file: COMPARE_FILE,
    index: 'isclose',
    fName: null,
    method: ['isclose(other, opts?)'],
    forward: 'out = a == b, or both finite and |a - b| <= atol + rtol·|b|, or both NaN with equalNan (run on the exact host path)',
    derivatives: [],
    noGrad: BOOL,
    tests: [NORM_TEST],
    compare: {
      fwd:
        '(a == b ? 1 : ((a != a || b != b) ? ((en != 0 && a != a && b != b) ? 1 : 0) : ' +
        '((a - a == 0 && b - b == 0 && Math.abs(a - b) <= at + rt * Math.abs(b)) ? 1 : 0)))',
    },
  },
  {
    name: 'allclose',
    signature: 'allclose(input, other, { rtol = 1e-5, atol = 1e-8, equalNan = false })',
    kind: 'comparison',
    file: COMPARE_FILE,
    index: 'allclose',
    fName: null,
    method: ['allclose(other, opts?) → boolean'],
    forward: 'whether isclose holds for every element (a JS boolean)',
    derivatives: [],
    noGrad: BOOL,
    tests: [NORM_TEST],
  },

  // ---- reductions ----
  reduction('sum', 'Σ over dim (all dims by default)', 'dx = expand(g)', ['sum(dim?, keepdim = false)']),
  reduction('mean', 'Σ/n over dim', 'dx = expand(g)/n', ['mean(dim?, keepdim = false)']),
  reduction('amax', 'the largest value over dim', "dx = g/count on every tied extreme, 0 elsewhere (PyTorch's even split)", [
    'amax(dim?, keepdim = false)',
    'max() (no dim)',
  ]),
  reduction('amin', 'the smallest value over dim', "dx = g/count on every tied extreme, 0 elsewhere (PyTorch's even split)", [
    'amin(dim?, keepdim = false)',
    'min() (no dim)',
  ]),
  {
    name: 'maxDim',
    signature: "maxDim(input, dim, keepdim, 'max' | 'min')",
    kind: 'reduction',
    file: REDUCE_FILE,
    index: null,
    fName: null,
    method: ['max(dim, keepdim = false) → { values, indices }', 'min(dim, keepdim = false) → { values, indices }'],
    forward: 'the values and indices of the extremes along dim (a MaxResult)',
    derivatives: ['dx = g at the returned index, 0 elsewhere'],
    tests: [REDUCE_TEST],
  },
  {
    ...reduction('argmax', 'the index of the largest value over dim (int32)', '', ['argmax(dim?, keepdim = false)']),
    signature: 'argmax(input, dim?, keepdim = false)',
    derivatives: [],
    noGrad: 'int32 result',
  },
  {
    ...reduction('variance', 'Σ(x - mean)²/(n - correction) over dim', 'dx = g*2*(x - mean)/(n - correction)', [
      'var(dim?, { correction = 1, keepdim = false })',
    ]),
    signature: 'var_(input, dim?, { correction = 1, keepdim = false })',
    index: 'var_',
  },

  {
    name: 'norm',
    signature: 'norm(input, p = 2, dim?, keepdim = false)',
    kind: 'reduction',
    file: NORM_FILE,
    index: 'norm',
    fName: null,
    method: ['norm(p = 2, dim?, keepdim = false)'],
    forward: "the vector p-norm over dim (all dims by default): p = 2 or 'fro' √Σx², 1 Σ|x|, Infinity max|x|, -Infinity min|x|",
    derivatives: [
      'p = 2: dx = g·x/‖x‖, 0 where ‖x‖ = 0 (the subgradient PyTorch picks)',
      'p = 1: dx = g·sign(x);  p = ±Infinity: dx = g·sign(x)/count on every tied extreme of |x| (through abs and amax/amin)',
    ],
    tests: [NORM_TEST],
  },

  // ---- linear algebra ----
  {
    name: 'matmul',
    signature: 'matmul(input, other)',
    kind: 'linalg',
    file: 'src/ops/matmul.ts',
    index: 'matmul',
    fName: null,
    method: ['matmul(other)'],
    forward: 'C = A·B with torch.matmul semantics: 1-D and 2-D operands, batched with broadcast batch dims',
    derivatives: ['dA = dC·Bᵀ', 'dB = Aᵀ·dC   (batch broadcasting summed back by the engine)'],
    tests: ['test/ops/matmul.test.ts'],
  },
  {
    name: 'outer',
    signature: 'outer(input, vec2)',
    kind: 'linalg',
    file: NORM_FILE,
    index: 'outer',
    fName: null,
    method: ['outer(vec2)'],
    forward: 'out[i, j] = a[i]·b[j] of two 1-D tensors (a broadcast mul of a column and a row)',
    derivatives: ['da[i] = Σj g[i, j]·b[j]', 'db[j] = Σi g[i, j]·a[i]   (through mul)'],
    tests: [NORM_TEST],
  },
  {
    name: 'einsum',
    signature: 'einsum(equation, ...operands)',
    kind: 'linalg',
    file: 'src/ops/einsum.ts',
    index: 'einsum',
    fName: null,
    method: null,
    forward:
      "Einstein summation ('bhqd,bhkd->bhqk', implicit 'ij,jk'): letters only in one operand summed first, then each pair contracted " +
      'by permute/reshape and one batched matmul, left to right',
    derivatives: ['through sum, permute, reshape and matmul'],
    tests: ['test/ops/einsum.test.ts'],
  },

  // ---- shape ----
  shape(
    'reshape',
    'reshape(input, shape)',
    'the same data in another shape (one -1 inferred; shares storage)',
    'dx = reshape(g, x.shape)',
    ['reshape(...shape)', 'view(...shape)'],
  ),
  shape(
    'flatten',
    'flatten(input, startDim = 0, endDim = -1)',
    'dims startDim..endDim merged into one (shares storage)',
    'dx = reshape(g, x.shape)',
    ['flatten(startDim = 0, endDim = -1)'],
  ),
  shape('unsqueeze', 'unsqueeze(input, dim)', 'a size-1 dim inserted at dim (shares storage)', 'dx = reshape(g, x.shape)', [
    'unsqueeze(dim)',
  ]),
  shape('squeeze', 'squeeze(input, dim?)', 'size-1 dims removed (shares storage)', 'dx = reshape(g, x.shape)', ['squeeze(dim?)']),
  shape('permute', 'permute(input, dims)', 'output dim k is input dim dims[k]', 'dx = permute(g, inverse)', ['permute(...dims)']),
  shape('transpose', 'transpose(input, dim0, dim1)', 'dims dim0 and dim1 swapped (a permute)', 'dx = transpose(g, dim0, dim1)', [
    'transpose(dim0, dim1)',
    't() (2-D)',
  ]),
  shape('expand', 'expand(input, shape)', 'size-1 dims broadcast to shape (-1 keeps a size)', 'dx = g (the engine sums broadcast dims)', [
    'expand(...shape)',
    'expandAs(other)',
  ]),
  shape(
    'slice',
    'slice(input, dim, start?, end?, step = 1)',
    'elements start..end (exclusive) by step along dim',
    'dx = g placed back at its positions, 0 elsewhere',
    ['slice(dim, start?, end?, step = 1)'],
  ),
  shape(
    'narrow',
    'narrow(input, dim, start, length)',
    'length elements from start along dim',
    'dx = g placed back at its positions, 0 elsewhere',
    ['narrow(dim, start, length)'],
  ),
  shape(
    'split',
    'split(input, splitSize | sizes, dim = 0)',
    'pieces of splitSize (or the given sizes) along dim',
    'dx_k = g_k placed back at piece k (each piece is a narrow)',
    ['split(splitSize, dim = 0)'],
  ),
  shape('chunk', 'chunk(input, chunks, dim = 0)', 'chunks near-equal pieces along dim', 'dx_k = g_k placed back at piece k (a split)', [
    'chunk(chunks, dim = 0)',
  ]),
  shape('cat', 'cat(tensors, dim = 0)', 'the tensors one after the other along dim', 'dx_k = slice of g', null),
  shape(
    'stack',
    'stack(tensors, dim = 0)',
    'the tensors along a new dim',
    'dx_k = slice k of g along the new dim (cat of unsqueezed inputs)',
    null,
  ),
  shape(
    'indexSelect',
    'indexSelect(input, dim, index)',
    'out[.., p, ..] = x[.., index[p], ..]',
    'dx[c] = sum of g over positions p with index[p] == c (scatter-add)',
    ['indexSelect(dim, index)'],
  ),
  shape(
    'repeatInterleave',
    'repeatInterleave(input, repeats, dim)',
    'each element repeated `repeats` times along dim (an indexSelect)',
    'dx[c] = sum of the repeats of c in g (scatter-add)',
    ['repeatInterleave(repeats, dim)'],
  ),

  // ---- indexing ----
  indexing(
    'tril',
    'tril(input, diagonal = 0)',
    'the lower triangle of the last two dims (col - row <= diagonal), 0 elsewhere; any batch dims',
    ['dx = tril(g, diagonal)'],
    ['tril(diagonal = 0)'],
  ),
  indexing(
    'triu',
    'triu(input, diagonal = 0)',
    'the upper triangle of the last two dims (col - row >= diagonal), 0 elsewhere; any batch dims',
    ['dx = triu(g, diagonal)'],
    ['triu(diagonal = 0)'],
  ),
  indexing(
    'gather',
    'gather(input, dim, index)',
    "out[.., p, ..] = x[.., index[.., p, ..], ..] along dim; out has index's shape",
    ['dx = scatter-add of g into zeros through index'],
    ['gather(dim, index)'],
  ),
  indexing(
    'scatter',
    'scatter(input, dim, index, src)',
    'x with out[.., index[q], ..] = src[q] (src a tensor or a number); the last of repeated targets wins',
    ['dx = g with the scattered positions zeroed', 'dsrc = gather(g, dim, index) (0 where src is larger than index)'],
    ['scatter(dim, index, src)'],
  ),
  indexing(
    'scatterAdd',
    'scatterAdd(input, dim, index, src)',
    'x with src[q] added at out[.., index[q], ..] (repeats accumulate)',
    ['dx = g', 'dsrc = gather(g, dim, index) (0 where src is larger than index)'],
    ['scatterAdd(dim, index, src)'],
  ),
  indexing('flip', 'flip(input, dims)', 'x reversed along dims', ['dx = flip(g, dims)'], ['flip(...dims)']),
  indexing(
    'roll',
    'roll(input, shifts, dims?)',
    'x shifted by shifts along dims, wrapping around (the flattened tensor when dims are omitted)',
    ['dx = roll(g, -shifts, dims)'],
    ['roll(shifts, dims?)'],
  ),
  indexing(
    'cumsum',
    'cumsum(input, dim)',
    'y[c] = x[0] + ... + x[c] along dim (int and bool inputs give int32)',
    ['dx[c] = g[c] + ... + g[n-1] (a reversed cumsum of g)'],
    ['cumsum(dim)'],
  ),

  {
    name: 'select',
    signature: 'select(input, dim, index)',
    kind: 'indexing',
    file: SELECT_FILE,
    index: 'select',
    fName: null,
    method: ['select(dim, index)'],
    forward: 'x[.., index, ..] along dim, that dim removed (negative index from the end; a narrow and a reshape)',
    derivatives: ['dx = g placed at index along dim, 0 elsewhere'],
    tests: [SELECT_TEST],
  },
  {
    name: 'index',
    signature: 'index(input, ...indices)',
    kind: 'indexing',
    file: SELECT_FILE,
    index: 'index',
    fName: null,
    method: ['index(...indices)'],
    forward: "basic indexing: per leading dim an integer (select), null (the whole dim, ':') or [start?, end?, step?] (a slice)",
    derivatives: ['dx = g placed back at the selected positions, 0 elsewhere'],
    tests: [SELECT_TEST],
  },

  // ---- sorting and sampling ----
  sorting(
    'sort',
    'sort(input, dim = -1, descending = false)',
    '{ values, indices } along dim, stable (ties keep index order), NaN the largest value',
    ['dx = g scattered back through indices'],
    ['sort(dim = -1, descending = false) → { values, indices }'],
  ),
  sorting(
    'argsort',
    'argsort(input, dim = -1, descending = false)',
    "the indices (int32) of sort's stable order",
    [],
    ['argsort(dim = -1, descending = false)'],
    'int32 result',
  ),
  sorting(
    'topk',
    'topk(input, k, dim = -1, largest = true, sorted = true)',
    '{ values, indices } of the k largest (or smallest) along dim, in order; ties lowest index first',
    ['dx = g scattered back through indices, 0 elsewhere'],
    ['topk(k, dim = -1, largest = true, sorted = true) → { values, indices }'],
  ),
  sorting(
    'multinomial',
    'multinomial(input, numSamples, replacement = false)',
    'numSamples category indices (int32) per row of non-negative weights, drawn on the host from the seeded generator',
    [],
    ['multinomial(numSamples, replacement = false)'],
    'int32 result: samples',
  ),

  // ---- nn ----
  {
    name: 'softmax',
    signature: 'softmax(input, dim)',
    kind: 'nn',
    file: 'src/ops/softmax.ts',
    index: 'softmax',
    fName: 'softmax',
    method: ['softmax(dim)'],
    forward: 'y = exp(x - lse), lse the row log-sum-exp (max first); -Infinity entries give 0, a fully masked row 0',
    derivatives: ['dx = y * (g - sum(g*y))'],
    tests: ['test/ops/softmax.test.ts'],
  },
  {
    name: 'logSoftmax',
    signature: 'logSoftmax(input, dim)',
    kind: 'nn',
    file: 'src/ops/softmax.ts',
    index: 'logSoftmax',
    fName: 'logSoftmax',
    method: ['logSoftmax(dim)'],
    forward: 'y = x - lse',
    derivatives: ['dx = g - exp(y) * sum(g)'],
    tests: ['test/ops/softmax.test.ts'],
  },
  {
    name: 'layerNorm',
    doubleBackward: 'through its composite (mean, variance and rsqrt as ops), differentiated with createGraph',
    signature: 'layerNorm(input, normalizedShape, weight?, bias?, eps = 1e-5)',
    kind: 'nn',
    file: 'src/ops/layernorm.ts',
    index: null,
    fName: 'layerNorm',
    method: null,
    forward: 'y = x̂·w + b, x̂ = (x - mean)·rstd over the last dims (rstd = 1/√(var + eps), two-pass statistics)',
    derivatives: ['dx = rstd · (gw − mean(gw) − x̂ · mean(gw·x̂))   with gw = g·w', 'dw = Σrows g·x̂', 'db = Σrows g'],
    tests: ['test/ops/layernorm.test.ts'],
  },
  {
    name: 'rmsNorm',
    signature: 'rmsNorm(input, normalizedShape, weight?, eps?)',
    kind: 'nn',
    file: NORM_FILE,
    index: null,
    fName: 'rmsNorm',
    method: null,
    forward: "y = x / √(mean(x²) + eps) · w over the last dims (PyTorch 2.4's rms_norm; eps null: the dtype's machine epsilon)",
    derivatives: ['through mul, mean, add and rsqrt'],
    tests: [NORM_TEST],
  },
  {
    name: 'normalize',
    signature: 'normalize(input, { p = 2, dim = 1, eps = 1e-12 })',
    kind: 'nn',
    file: NORM_FILE,
    index: null,
    fName: 'normalize',
    method: null,
    forward: 'y = x / max(‖x‖_p over dim, eps)',
    derivatives: ['through norm, clamp (0 where the norm is below eps) and div'],
    tests: [NORM_TEST],
  },
  {
    name: 'oneHot',
    signature: 'oneHot(input, numClasses = -1)',
    kind: 'nn',
    file: 'src/ops/onehot.ts',
    index: null,
    fName: 'oneHot',
    method: null,
    forward: 'out[..., c] = 1 where input[...] == c (int32; numClasses -1: max + 1), built on the host',
    derivatives: [],
    noGrad: 'int32 result',
    tests: [NORM_TEST],
  },
  {
    name: 'linear',
    signature: 'linear(input, weight, bias?)',
    kind: 'nn',
    file: 'src/ops/linear.ts',
    index: null,
    fName: 'linear',
    method: null,
    forward: 'y = x·Wᵀ + b with weight (out, in), as PyTorch; x flattened to rows',
    derivatives: ['dx = g·W', 'dW = gᵀ·x', 'db = Σ_rows g'],
    tests: ['test/ops/linear.test.ts'],
  },
  {
    name: 'dropout',
    signature: 'dropout(input, p = 0.5, training = true)',
    kind: 'nn',
    file: 'src/ops/dropout.ts',
    index: null,
    fName: 'dropout',
    method: null,
    forward: 'y = x * m / (1 - p), m ~ Bernoulli(1 - p) drawn on the host from the seeded generator (one mask on every mode)',
    derivatives: ["dx = g * m / (1 - p) with the forward's mask"],
    tests: ['test/ops/dropout.test.ts'],
    gradcheckExempt:
      'the backward is compared exactly with g·m/(1 - p) for the mask the output shows; ' +
      'gradcheck cannot work: every evaluation draws a new mask',
  },
  {
    name: 'embedding',
    signature: 'embedding(input, weight, paddingIdx?)',
    kind: 'nn',
    file: 'src/ops/embedding.ts',
    index: null,
    fName: 'embedding',
    method: null,
    forward: 'out[..., :] = weight[index[...], :]',
    derivatives: ['dweight[v, :] = sum of g[p, :] over positions p with index[p] == v (scatter-add), 0 for paddingIdx'],
    tests: ['test/ops/embedding.test.ts'],
  },

  // ---- losses ----
  {
    name: 'crossEntropy',
    signature: 'crossEntropy(input, target, { weight?, ignoreIndex = -100, labelSmoothing = 0, reduction = "mean" })',
    kind: 'loss',
    file: 'src/ops/loss.ts',
    index: null,
    fName: 'crossEntropy',
    method: null,
    forward: "nllLoss(logSoftmax(input, 1), target) for class indices; -Σc w[c]·q'[n,c]·logp[n,c] for class probabilities q",
    derivatives: [
      'class indices: through logSoftmax and nllLoss',
      "class probabilities: dl/dlogp = -g_n·w[c]·q'[n,c]   dl/dq[n,c] = -(1-ls)·g_n·w[c]·logp[n,c]",
      "class probabilities: dl/dw[c] = -Σn g_n·q'[n,c]·logp[n,c]",
    ],
    tests: ['test/ops/loss.test.ts'],
  },
  {
    name: 'nllLoss',
    signature: 'nllLoss(logp, target, { weight?, ignoreIndex = -100, labelSmoothing = 0, reduction = "mean" })',
    kind: 'loss',
    file: 'src/ops/loss.ts',
    index: null,
    fName: 'nllLoss',
    method: null,
    forward: 'l_n = -(1-ls)·w[t]·a[t] - (ls/C)·Σc w[c]·a[c] (0 where t == ignoreIndex); mean divides by Σ w[t_n] of the kept targets',
    derivatives: ['dl/da[n,c] = g_n · w[c] · (-(1-ls)·[c == t] - ls/C)   (0 where t == ignoreIndex; no gradient to weight)'],
    tests: ['test/ops/loss.test.ts'],
  },
  {
    name: 'mseLoss',
    signature: 'mseLoss(input, target, { reduction = "mean" })',
    kind: 'loss',
    file: 'src/ops/loss.ts',
    index: null,
    fName: 'mseLoss',
    method: null,
    forward: '(input - target)², reduced (a composite of sub, mul and mean/sum)',
    derivatives: ['through sub, mul and the reduction: dinput = 2·(input - target)·g/n, dtarget = -dinput'],
    tests: ['test/ops/loss.test.ts'],
  },

  // ---- attention ----
  {
    name: 'scaledDotProductAttention',
    doubleBackward:
      "the math path's composite (matmul, softmax, masks as ops) on the same operands, as PyTorch routes its fused kernels' double backward; with dropout the fused backward has none, and a second backward through it throws naming the op",
    signature: 'scaledDotProductAttention(query, key, value, { attnMask?, dropoutP = 0, isCausal = false, scale?, enableGqa = false })',
    kind: 'attention',
    file: 'src/ops/sdpa.ts',
    index: null,
    fName: 'scaledDotProductAttention',
    method: null,
    forward: 'O = dropout(softmax(scale·q·kᵀ + mask))·v (PyTorch 2.7 semantics; fused kernels or the math path)',
    derivatives: [
      'dv = Pdᵀ·dO;  dPd = dO·vᵀ;  D = rowsum(dO ⊙ O);  dS = P ⊙ (dPd·drop/(1−p) − D)',
      'dq = scale·dS·k;  dk = scale·dSᵀ·q;  dmask = dS (float masks)',
    ],
    tests: ['test/ops/sdpa.test.ts'],
  },
];

/** The row of each op, by name. */
export const OP: Readonly<Record<string, OpRow>> = Object.fromEntries(OPS.map((r) => [r.name, r]));

// ---- DERIVATIVES.md -----------------------------------------------------------------------------------

const SECTIONS: Record<OpKind, { title: string; intro: string }> = {
  creation: {
    title: 'Creation',
    intro: 'Data is made on the host; every creation function makes a leaf, so there is nothing to differentiate.',
  },
  conversion: { title: 'Conversion and copies', intro: 'dtype conversion and copies (strided gathers of the kernel layer).' },
  elementwise: {
    title: 'Elementwise math',
    intro:
      'Unary ops (src/ops/unary.ts) and broadcasting binary ops (src/ops/binary.ts). The forward and backward are ' +
      'expressions over the operands, defined in the registry row itself and run by one elementwise kernel (src/ops/map.ts); ' +
      "the engine sums each gradient back to its input's shape. The formulas are written to be safe on GL " +
      '(no Infinity arithmetic, tanh clamped, sigmoid split by sign).',
  },
  comparison: {
    title: 'Comparison, logical and selection',
    intro: 'Comparisons and logical ops give bool tensors (no gradient); where and maskedFill select.',
  },
  reduction: { title: 'Reductions', intro: 'Over any set of dims, with keepdim.' },
  linalg: { title: 'Linear algebra', intro: 'One kernel reads either operand transposed, so the backward needs no transpose copies.' },
  shape: {
    title: 'Shape',
    intro:
      'reshape/view/flatten/(un)squeeze share storage (no kernel); the others are gather kernels whose backward is the matching scatter.',
  },
  indexing: {
    title: 'Indexing',
    intro:
      'Triangles, gather/scatter along a dim, flip, roll and cumsum (src/ops/indexing.ts): kernels over baked sizes; ' +
      'scatter and the scatter-adds group the index positions by target on the host, so each output element reads its own sources.',
  },
  sorting: {
    title: 'Sorting and sampling',
    intro:
      'A rank-by-counting kernel (O(n²) per row, native O(n log n) on simd) and a kernel that inverts the ranks (src/ops/sort.ts); ' +
      'multinomial samples on the host from the seeded generator.',
  },
  nn: { title: 'Neural network functions', intro: 'Fused kernels with hand-written backward kernels (F, like torch.nn.functional).' },
  loss: { title: 'Losses', intro: 'nllLoss is a kernel pair; crossEntropy and mseLoss are composites of other ops.' },
  attention: { title: 'Attention', intro: 'Fused scaled dot product attention, forward and backward as kernels (src/ops/sdpa-fused.ts).' },
};

const code = (s: string): string => '`' + s.replace(/`/g, "'") + '`';
/** A kernel expression, or where it is too long to read, what builds it. */
const expr = (e: string): string => (e.length <= 100 ? code(e) : '(a long GL-safe expression: see the row in src/ops/registry.ts)');
/** What the docs call an op: its public name. */
const title = (r: OpRow): string => r.index ?? r.fName ?? r.name;
const link = (file: string): string => `[${file}](../${file})`;

/** A method entry's name ('add_' of 'add_(other, alpha?) (in place)'). */
export const methodName = (m: string): string => /^([A-Za-z_$][\w$]*)\(/.exec(m)?.[1] ?? m;

/** The Tensor methods of a row, as `x.sig` plus any note. */
function methods(r: OpRow): string {
  if (!r.method) return '—';
  return r.method
    .map((m) => {
      const [, sig, note] = /^(\S+\([^)]*\))\s*(.*)$/.exec(m) ?? [m, m, ''];
      return `${code(`x.${sig}`)}${note ? ` ${note}` : ''}`;
    })
    .join(', ');
}

/** The kernel expressions of an elementwise row (g = dL/dout). */
function kernels(r: OpRow): string[] {
  const withPre = (b: Body | undefined): string => (b === undefined ? '' : ' (after its helper statements)');
  const lines: string[] = [];
  const unary = (u: UnarySpec, label: string): void => {
    lines.push(
      `${label}forward ${expr(u.fwd)}${withPre(u.pre)}; dx ${expr(u.bwd)}${withPre(u.bpre)}${u.intOk ? '; also on int data' : ''}`,
    );
  };
  if (r.unary) unary(r.unary, '');
  if (r.unary?.tanh) unary(r.unary.tanh, "approximate 'tanh': ");
  if (r.binary) {
    const b = r.binary;
    const grad = (e: string | null): string => (e === null ? 'none' : expr(e));
    lines.push(`forward ${expr(b.fwd)}; da ${grad(b.da)}; db ${grad(b.db)}${b.intToFloat ? '; int operands give float32' : ''}`);
  }
  if (r.compare) {
    const grads = Object.entries(r.compare.grad ?? {}).map(([k, e]) => `; d${k} ${expr(e)}`);
    lines.push(`forward ${expr(r.compare.fwd)}${grads.join('')}`);
  }
  return lines.map((l) => `kernel: ${l}  `);
}

function opBlock(r: OpRow): string[] {
  const defined = title(r) === r.name ? '' : ` (${code(r.name)} in ${r.file})`;
  const out = [`### ${title(r)}`, '', `${code(r.signature)}: ${r.forward}${defined}`, ''];
  if (r.derivatives.length) {
    out.push(...r.derivatives.map((d) => `- ${d}`));
    out.push(`- double backward (createGraph): ${r.doubleBackward ?? 'the derivatives above, written with differentiable ops'}`);
  } else out.push(`- no derivative: ${r.noGrad ?? ''}`);
  out.push('');
  out.push(...kernels(r));
  out.push(`method: ${methods(r)} · F: ${r.fName ? code(`F.${r.fName}`) : '—'} · exported: ${r.index ? code(r.index) : '—'}  `);
  const exempt = r.gradcheckExempt ? ` (no gradcheck: ${r.gradcheckExempt})` : '';
  out.push(`file: ${link(r.file)} · tests: ${r.tests.map(link).join(', ')}${exempt}`, '');
  return out;
}

/** A family with no derivative at all, as one table. */
function opTable(rows: readonly OpRow[]): string[] {
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  const out = ['| op | forward | method | file | tests |', '|---|---|---|---|---|'];
  for (const r of rows)
    out.push(
      `| ${cell(code(r.signature))} | ${cell(r.forward)} | ${cell(methods(r))} | ${link(r.file)} | ${r.tests.map(link).join(', ')} |`,
    );
  const reasons = [...new Set(rows.map((r) => r.noGrad))];
  out.push('', reasons.length === 1 ? `No derivative: each ${reasons[0]}.` : '', '');
  return out;
}

/** docs/DERIVATIVES.md: the table rendered for readers, one section per op family. */
export function renderDerivatives(rows: readonly OpRow[] = OPS): string {
  const out: string[] = [
    '# gpugrad ops and their derivatives',
    '',
    '<!-- Generated from src/ops/registry.ts by renderDerivatives(); do not edit by hand. Regenerate with',
    '     GPUGRAD_WRITE_DOCS=1 npx vitest run test/ops/registry.test.ts -->',
    '',
    'Every public op of gpugrad: what it computes, the derivative its hand-written backward computes for each input, ' +
      'how to call it (the function exported from `gpugrad`, the `Tensor` method, the name under `F`, like `torch.nn.functional`), ' +
      'the file that defines it and the tests that gradcheck it (float64 finite differences) and run it on every GPU.js mode. ' +
      "As in PyTorch's `derivatives.yaml`, `g` is the gradient of the loss with respect to the output (dL/dout) and `dx` the gradient " +
      "the op passes back to its input `x`; where inputs broadcast, the engine sums each gradient back to its input's shape.",
    '',
    `${rows.length} ops, from the table \`OPS\` in ${link('src/ops/registry.ts')} (test/ops/registry.test.ts checks it against the code).`,
    '',
    '## Contents',
    '',
  ];
  const kinds = (Object.keys(SECTIONS) as OpKind[]).filter((k) => rows.some((r) => r.kind === k));
  for (const k of kinds) {
    const of = rows.filter((r) => r.kind === k);
    const tabled = of.every((r) => !r.derivatives.length);
    out.push(
      `- [${SECTIONS[k].title}](#${SECTIONS[k].title
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, '')
        .replace(/ /g, '-')}): ` + of.map((r) => (tabled ? title(r) : `[${title(r)}](#${title(r).toLowerCase()})`)).join(', '),
    );
  }
  out.push('');
  for (const k of kinds) {
    const of = rows.filter((r) => r.kind === k);
    out.push(`## ${SECTIONS[k].title}`, '', SECTIONS[k].intro, '');
    if (of.every((r) => !r.derivatives.length)) out.push(...opTable(of));
    else for (const r of of) out.push(...opBlock(r));
  }
  return out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/\n*$/, '\n');
}
