// Custom differentiable ops (torch.autograd.Function) and user-written kernels.
//
//   const square = defineKernel({ name: 'square', inputs: ['x'], body: 'return x[i] * x[i];' });
//   class Square extends autograd.Function {
//     static forward(ctx, x) { ctx.saveForBackward(x); return square.run([x]); }
//     static backward(ctx, g) { const [x] = ctx.savedTensors; return [g.mul(x).mul(2)]; }
//   }
//   const y = Square.apply(x);
//
// A kernel is the kernel layer's template made public: its array inputs, optional parameters baked into
// the source, and a body in the JavaScript subset GPU.js compiles, where `i` is the flat index of the
// output element. The same source runs on every GPU.js mode in float32 and on the float64 host path
// (float64 inputs), where gradcheck verifies it. What GPU.js cannot compile is refused before it runs,
// quoting the numbered source.

import { checkTensor } from './check.js';
import { record, recordNotDifferentiable, type BackwardFn } from './engine.js';
import { zerosLike } from './creation.js';
import { isGradEnabled, noGrad } from './grad-mode.js';
import { launch } from './launch.js';
import { Tensor, type DType } from './tensor.js';
import { DTYPES } from '../helpers/dtype.js';
import { fmtShape, sameShape } from '../helpers/shape.js';
import { checkOptions, describeValue } from '../helpers/validate.js';
import { numbered } from '../kernels/source.js';
import { declareKernel, type KernelParams, type KernelTemplate } from '../kernels/template.js';

// ---- user kernels --------------------------------------------------------------------------------------

/** The Math members GPU.js compiles. */
const GPU_MATH = new Set(
  (
    'abs acos acosh asin asinh atan atan2 atanh cbrt ceil clz32 cos cosh exp expm1 floor fround imul log log10 log1p log2 ' +
    'max min pow random round sign sin sinh sqrt tan tanh trunc E PI SQRT2 SQRT1_2 LN2 LN10 LOG2E LOG10E'
  ).split(' '),
);
const KEYWORDS = new Set(
  'const let var if else for while do break continue return true false this Math Infinity NaN undefined null'.split(' '),
);

/** A user kernel's declaration (see the file header). */
export interface KernelSpec<P extends KernelParams = KernelParams> {
  /** Names the kernel in errors and in GPUGRAD_DEBUG=kernels output. */
  name: string;
  /** The array arguments, by name, in the order run() takes them. */
  inputs: readonly string[];
  /** The body's statements, ending in `return <the output element>;`: a string, lines, or a function of the parameters. */
  body: string | readonly string[] | ((params: P) => string | readonly string[]);
}

export interface RunOptions<P extends KernelParams = KernelParams> {
  /** The parameters the body is built from (plain data; each distinct set compiles its own kernel). */
  params?: P;
  /** The output's shape (default: the first input's). */
  shape?: readonly number[];
  /** The output's dtype (default: the first input's). */
  dtype?: DType;
}

export interface Kernel<P extends KernelParams = KernelParams> {
  readonly name: string;
  /** The kernel's source for these parameters, with numbered lines. */
  source(params?: P): string;
  /** Runs the kernel over `inputs` into a new tensor (no graph: wrap it in an autograd.Function for that). */
  run(inputs: readonly Tensor[], opts?: RunOptions<P>): Tensor;
}

let userKernels = 0;

/** Refuses what GPU.js cannot compile, quoting the numbered source: arrow functions, nested functions, closures, other Math members. */
function checkBody(name: string, inputs: readonly string[], source: string): void {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');
  const fail = (why: string): never => {
    throw new Error(`defineKernel(${name}): ${why}\n${numbered(source)}`);
  };
  if (/=>/.test(code)) fail('the body uses an arrow function, which GPU.js cannot compile; write the loop or the expression inline');
  if (/["'`]/.test(code)) fail('the body holds a string; kernels compute numbers only');
  const inner = code.replace(/^\s*function\s*\([^)]*\)\s*\{/, '');
  if (/\bfunction\b/.test(inner)) fail('the body declares a function, which GPU.js cannot compile inside a kernel; inline it');
  if (!/\breturn\b/.test(inner)) fail('the body never returns the output element (end it with `return <value>;`)');
  for (const m of inner.matchAll(/\bMath\.([A-Za-z_$][\w$]*)/g))
    if (!GPU_MATH.has(m[1])) fail(`Math.${m[1]} is not among the Math functions GPU.js compiles (${[...GPU_MATH].join(', ')})`);
  const declared = new Set([...inputs, 'i', ...[...inner.matchAll(/\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)/g)].map((m) => m[1])]);
  for (const m of inner.matchAll(/(?<![.\w$])([A-Za-z_$][\w$]*)/g)) {
    const id = m[1];
    if (declared.has(id) || KEYWORDS.has(id)) continue;
    fail(
      `the body uses '${id}', which is not an input, a local or the index i: a kernel cannot close over outside variables; ` +
        `pass it as an input tensor, or as a parameter baked into the source (body: (p) => \`... \${p.${id}} ...\`)`,
    );
  }
}

/** Declares a kernel over tensors (see the file header); its source is checked when it is first built for a set of parameters. */
export function defineKernel<P extends KernelParams = KernelParams>(spec: KernelSpec<P>): Kernel<P> {
  if (spec === null || typeof spec !== 'object')
    throw new Error(`defineKernel: expects { name, inputs, body }, got ${describeValue(spec)}`);
  checkOptions('defineKernel', spec, ['name', 'inputs', 'body'], 'spec');
  const { name, inputs, body } = spec;
  if (typeof name !== 'string' || !/^[A-Za-z][\w]*$/.test(name))
    throw new Error(`defineKernel: name must be an identifier (letters, digits, _), got ${describeValue(name)}`);
  if (
    !Array.isArray(inputs) ||
    inputs.length === 0 ||
    inputs.some((n) => typeof n !== 'string' || !/^[A-Za-z_$][\w$]*$/.test(n) || n === 'i')
  )
    throw new Error(`defineKernel(${name}): inputs must be a non-empty array of identifiers other than 'i', got ${describeValue(inputs)}`);
  if (typeof body !== 'string' && typeof body !== 'function' && !Array.isArray(body))
    throw new Error(
      `defineKernel(${name}): body must be a string, an array of lines or a function of the params, got ${describeValue(body)}`,
    );
  const lines = (p: P): string[] => {
    const b = typeof body === 'function' ? body(p) : body;
    if (typeof b === 'string') return b.split('\n');
    if (Array.isArray(b) && b.every((l) => typeof l === 'string')) return [...b];
    throw new Error(`defineKernel(${name}): body(params) must return a string or an array of strings, got ${describeValue(b)}`);
  };
  // a name of its own per definition: defining a kernel again (a notebook cell run twice) is no error
  userKernels++;
  const template: KernelTemplate<P> = declareKernel<P>({
    name: `user.${name}${userKernels > 1 ? `_${userKernels}` : ''}`,
    inputs,
    body: lines,
  });
  const checked = new Set<string>();
  const source = (p: P): string => {
    const key = template.key(p);
    const src = template.source(p);
    if (!checked.has(key)) {
      checkBody(name, inputs, src);
      checked.add(key);
    }
    return src;
  };
  return {
    name,
    source: (params) => numbered(source((params ?? {}) as P)),
    run(ins, opts = {}) {
      const fn = `${name}.run`;
      checkOptions(fn, opts, ['params', 'shape', 'dtype']);
      if (!Array.isArray(ins)) throw new Error(`${fn}: inputs must be an array of Tensors, got ${describeValue(ins)}`);
      if (ins.length !== inputs.length)
        throw new Error(`${fn}: the kernel takes ${inputs.length} inputs (${inputs.join(', ')}), got ${ins.length}`);
      ins.forEach((t, k) => checkTensor(fn, `inputs[${k}] (${inputs[k]})`, t));
      const params = (opts.params ?? {}) as P;
      if (params === null || typeof params !== 'object' || Array.isArray(params))
        throw new Error(`${fn}: params must be a plain object, got ${describeValue(params)}`);
      const shape = opts.shape ?? ins[0].shape;
      if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0))
        throw new Error(`${fn}: shape must be an array of non-negative integers, got ${describeValue(opts.shape)}`);
      const dtype = opts.dtype ?? ins[0].dtype;
      if (!DTYPES.includes(dtype)) throw new Error(`${fn}: dtype must be one of ${DTYPES.join(', ')}, got ${describeValue(dtype)}`);
      source(params); // checked before GPU.js sees it
      return launch(template, params, ins, shape, dtype);
    },
  };
}

// ---- autograd.Function ------------------------------------------------------------------------------

/** What forward and backward share (PyTorch's ctx). */
export class FunctionCtx {
  /** @internal */ _saved: Tensor[] = [];
  /** @internal */ _versions: number[] = [];
  /** @internal */ _nonDiff = new Set<Tensor>();
  /** @internal */ _name: string;
  /** For each argument of apply(): whether it is a tensor that requires grad (PyTorch's needs_input_grad). */
  readonly needsInputGrad: readonly boolean[];

  constructor(name: string, needs: boolean[]) {
    this._name = name;
    this.needsInputGrad = needs;
  }

  /** Keeps tensors for backward (PyTorch's save_for_backward); an in-place change to one before backward is an error. */
  saveForBackward(...tensors: (Tensor | null | undefined)[]): void {
    tensors.forEach((t, k) => {
      if (t !== null && t !== undefined) checkTensor(`${this._name}: ctx.saveForBackward`, `argument ${k}`, t);
    });
    this._saved = tensors.filter((t): t is Tensor => t instanceof Tensor);
    this._versions = this._saved.map((t) => t._version);
  }

  /** The tensors saveForBackward kept, in order (checked against in-place changes). */
  get savedTensors(): Tensor[] {
    this._saved.forEach((t, k) => {
      if (t._version !== this._versions[k])
        throw new Error(
          `${this._name}: saved tensor ${k} (shape ${fmtShape(t.shape)}) was modified by an in-place operation ` +
            `(version ${t._version}, saved at version ${this._versions[k]})`,
        );
    });
    return [...this._saved];
  }

  /** Marks outputs that have no gradient (indices, masks): they do not require grad and backward receives none for them. */
  markNonDifferentiable(...outputs: Tensor[]): void {
    outputs.forEach((t, k) => checkTensor(`${this._name}: ctx.markNonDifferentiable`, `argument ${k}`, t));
    for (const t of outputs) this._nonDiff.add(t);
  }
}

/**
 * A custom differentiable op (torch.autograd.Function): subclass it with `static forward(ctx, ...args)`
 * returning a tensor (or an array of tensors) and `static backward(ctx, ...grads)` returning one gradient
 * (or null) per argument of forward; call it with `MyOp.apply(...args)`. Forward runs without recording;
 * backward is differentiable (createGraph) when it is written with ops or with other Functions.
 * `static opName` names it in errors and gradFn (the class's name otherwise, which a minifier may rename).
 */
export class Function {
  static opName?: string;

  static forward(_ctx: FunctionCtx, ..._args: unknown[]): Tensor | Tensor[] {
    throw new Error('autograd.Function: a subclass must define static forward(ctx, ...args)');
  }

  static backward(_ctx: FunctionCtx, ..._grads: Tensor[]): Tensor | null | (Tensor | null)[] {
    throw new Error('autograd.Function: a subclass must define static backward(ctx, ...grads)');
  }

  static apply(...args: unknown[]): Tensor | Tensor[] {
    const name = this.opName ?? (this.name || 'Function');
    if (this.forward === Function.forward) throw new Error(`${name}.apply: ${name} does not define static forward(ctx, ...args)`);
    if (this.backward === Function.backward) throw new Error(`${name}.apply: ${name} does not define static backward(ctx, ...grads)`);
    args.forEach((a, k) => {
      if (a instanceof Tensor) checkTensor(`${name}.apply`, `argument ${k}`, a);
    });
    const needs = args.map((a) => a instanceof Tensor && a.requiresGrad);
    const ctx = new FunctionCtx(name, needs);
    const raw = noGrad(() => this.forward(ctx, ...args));
    const isList = Array.isArray(raw);
    const outs = (isList ? raw : [raw]) as unknown[];
    outs.forEach((o, k) => {
      if (!(o instanceof Tensor))
        throw new Error(
          `${name}.forward must return a Tensor or an array of Tensors, got ${describeValue(o)}${isList ? ` at index ${k}` : ''}`,
        );
    });
    const inputs = args.map((a) => (a instanceof Tensor ? a : null));
    // an output that is an argument (or already has a node) gets a tensor of its own, so its node is this op's
    const own = (outs as Tensor[]).map((o) => (inputs.includes(o) || o.gradFn ? o._view([...o.shape]) : o));
    if (!isGradEnabled() || !needs.some(Boolean)) return isList ? own : own[0];
    const diff = own.map((o, k) => !ctx._nonDiff.has((outs as Tensor[])[k]) && (o.dtype === 'float32' || o.dtype === 'float64'));
    const zerosFor = (o: Tensor): Tensor => zerosLike(o);
    const recorded = own.map((o, k) => {
      if (!diff[k]) return o;
      // one node per output; backward is linear in its gradients, so each node passes its own and zeros for the others
      const back: BackwardFn = (g) => {
        const grads = own.map((p, j) => (j === k ? g : diff[j] ? zerosFor(p) : null));
        return runUserBackward(this, name, ctx, grads as Tensor[], args);
      };
      // createGraph: a gradient the user's backward computed off the tape (with a kernel) cannot be differentiated again
      const backGraph: BackwardFn = (g) =>
        back(g).map((gi) =>
          gi && !gi.requiresGrad
            ? recordNotDifferentiable(
                name,
                gi,
                [g, ...inputs],
                `${name}.backward computed it off the tape (with a kernel's run(), or under noGrad); write backward with ops, or with another autograd.Function whose backward is differentiable`,
              )
            : gi,
        );
      return record(o, { name: `${name}Backward`, inputs, backward: back, backwardGraph: backGraph, saved: ctx._saved });
    });
    return isList ? recorded : recorded[0];
  }
}

/** Calls the user's backward and checks what it returns: one gradient (or null) per argument, each of its argument's shape. */
function runUserBackward(cls: typeof Function, name: string, ctx: FunctionCtx, grads: Tensor[], args: unknown[]): (Tensor | null)[] {
  const r = cls.backward(ctx, ...grads);
  const list = Array.isArray(r) ? r : [r];
  if (list.length !== args.length)
    throw new Error(
      `${name}.backward returned ${list.length} gradient${list.length === 1 ? '' : 's'}, expected ${args.length} (one per argument of forward, null where there is none)`,
    );
  return list.map((gi, k) => {
    if (gi === null || gi === undefined) return null;
    if (!(gi instanceof Tensor))
      throw new Error(`${name}.backward returned ${describeValue(gi)} for argument ${k}, expected a Tensor or null`);
    const a = args[k];
    if (!(a instanceof Tensor)) {
      throw new Error(
        `${name}.backward returned a gradient for argument ${k}, which is not a Tensor (${describeValue(a)}); return null there`,
      );
    }
    if (!sameShape(gi.shape, a.shape))
      throw new Error(
        `${name}.backward returned a gradient of shape ${fmtShape(gi.shape)} for argument ${k}, whose shape is ${fmtShape(a.shape)}`,
      );
    if (gi.dtype !== a.dtype) throw new Error(`${name}.backward returned a ${gi.dtype} gradient for argument ${k}, which is ${a.dtype}`);
    return gi;
  });
}
