// Kernel templates: a kernel is declared once, with its name, its array inputs and a body that builds the
// source from a plain parameter object (shapes, strides, baked constants) and nothing else. The cache key
// is derived from the name and the parameters, so no key is written by hand and none can miss a constant
// the source bakes in. Sources are multi-line and indented; GPUGRAD_DEBUG=kernels prints each new one.
//
//   const scale = declareKernel({
//     name: 'scale',
//     inputs: ['x'],
//     body: (p: { c: number }) => [`return x[i] * ${lit(p.c)};`],
//   });
//
// In the body, `i` is the flat index of the output element (`this.thread.x`); the source is a plain
// `function (x) { ... }` in the JavaScript subset GPU.js compiles, run by GPU.js in float32 and by the
// host executor in float64.

import type { SimdProvider } from '../backend/index.js';
import type { HostArray } from '../backend/storage.js';
import { formatBody, type Body } from './source.js';

/**
 * A kernel's WebAssembly SIMD implementation, for the 'simd' backend's float32 runs: the same output as the
 * source (within float32 rounding) from the arguments' host arrays, or null to run the source instead
 * (for parameters it does not cover).
 */
export type NativeKernel<P> = (p: P, args: HostArray[], size: number, simd: SimdProvider) => Float32Array | null;

/** What a parameter object may hold: plain data only (a function or class instance would hide state from the key). */
export type ParamValue = number | string | boolean | null | undefined | readonly ParamValue[] | { readonly [k: string]: ParamValue };
export type KernelParams = { readonly [k: string]: ParamValue };

export interface KernelDecl<P extends KernelParams> {
  /** Names the kernel in keys, debug output and errors: `op` or `op.part` (e.g. 'matmul', 'layerNorm.backward.dx'). */
  name: string;
  /** The kernel's array arguments, in call order (the function's parameter names). */
  inputs: readonly string[] | ((p: P) => readonly string[]);
  /** Statements of the kernel body, built from `p` only; it ends with `return <the output element>;`. */
  body: (p: P) => Body;
  /** Optional: the SIMD provider's implementation (see NativeKernel). */
  native?: NativeKernel<P>;
  /**
   * Optional: each input element is read many times (a product's inner loop), so a view is passed as a
   * dense copy (one strided read per element) instead of being read in place (its strided index worked
   * out on every read, in the O(n³) loop). Default false: views are read in place.
   */
  denseInputs?: boolean;
  /**
   * Optional: the names of parameters (numbers, or arrays of numbers) whose values the kernel takes as
   * arguments when it runs instead of baking them into its source: they are left out of the key, so one
   * compiled kernel serves every value (a view's offset, which moves with each narrow() position). The
   * body reads such a value by `runtimeArg(name)` (`runtimeArg(name, j)` for element j of an array); the
   * value must be an integer. Natives read it from the params as usual.
   */
  runtime?: readonly string[];
}

export interface KernelTemplate<P extends KernelParams> {
  readonly name: string;
  readonly native: NativeKernel<P> | null;
  /** Views reach this kernel as dense copies (see KernelDecl.denseInputs). */
  readonly denseInputs: boolean;
  /** The runtime parameters' values for these parameters (the arguments after the arrays; KernelDecl.runtime). */
  runtimeValues(p: P): number[];
  /** The cache key: the name and every parameter, in a canonical order. */
  key(p: P): string;
  /** The kernel source for these parameters. */
  source(p: P): string;
  /** The argument names for these parameters. */
  inputNames(p: P): readonly string[];
}

const declared = new Map<string, KernelTemplate<KernelParams>>();

/** Every template declared so far (tests check their names and sources). */
export function declaredKernels(): ReadonlyMap<string, KernelTemplate<KernelParams>> {
  return declared;
}

const IDENT = /^[A-Za-z_$][\w$]*$/;
const NAME = /^[A-Za-z][\w]*(\.[A-Za-z][\w]*)*$/;

/** Declares a kernel template (see the file header). Names are unique. */
export function declareKernel<P extends KernelParams>(decl: KernelDecl<P>): KernelTemplate<P> {
  if (!decl || typeof decl !== 'object') throw new Error(`declareKernel: expects { name, inputs, body }, got ${String(decl)}`);
  const unknown = Object.keys(decl).filter((k) => !['name', 'inputs', 'body', 'native', 'denseInputs', 'runtime'].includes(k));
  if (unknown.length)
    throw new Error(`declareKernel: unknown option '${unknown[0]}'; expected name, inputs, body, native, denseInputs, runtime`);
  const { name, inputs, body, native, denseInputs = false, runtime = [] } = decl;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new Error(`declareKernel: name must be an identifier or dotted identifiers like 'myOp.backward', got ${JSON.stringify(name)}`);
  }
  if (declared.has(name)) throw new Error(`declareKernel: a kernel named '${name}' is already declared`);
  if (typeof body !== 'function')
    throw new Error(`declareKernel(${name}): body must be a function (params) => statements, got ${typeof body}`);
  if (native !== undefined && typeof native !== 'function')
    throw new Error(`declareKernel(${name}): native must be a function (params, args, size, simd) => output, got ${typeof native}`);
  if (typeof denseInputs !== 'boolean') throw new Error(`declareKernel(${name}): denseInputs must be a boolean, got ${typeof denseInputs}`);
  if (typeof inputs !== 'function' && !Array.isArray(inputs)) {
    throw new Error(`declareKernel(${name}): inputs must be an array of argument names or a function of the params, got ${String(inputs)}`);
  }
  if (!Array.isArray(runtime) || runtime.some((r) => typeof r !== 'string' || !IDENT.test(r))) {
    throw new Error(`declareKernel(${name}): runtime must be an array of parameter names, got ${JSON.stringify(runtime)}`);
  }
  const inputNames = (p: P): readonly string[] => {
    const names = typeof inputs === 'function' ? inputs(p) : inputs;
    for (const n of names) {
      if (typeof n !== 'string' || !IDENT.test(n) || n === 'i') {
        throw new Error(`declareKernel(${name}): input name ${JSON.stringify(n)} is not an identifier (or is 'i', the output index)`);
      }
    }
    if (new Set(names).size !== names.length) throw new Error(`declareKernel(${name}): input names repeat: ${names.join(', ')}`);
    return names;
  };
  const template: KernelTemplate<P> = {
    name,
    native: native ?? null,
    denseInputs,
    key: (p) => `${name}:${canonical(runtime.length ? bakedPart(p, runtime) : p, name)}`,
    inputNames,
    runtimeValues: (p) => runtimeValuesOf(p, runtime, name),
    source: (p) => {
      const lines = formatBody(['const i = this.thread.x;', body(p)]);
      const args = [...inputNames(p), ...runtimeNamesOf(p, runtime)];
      return `function (${args.join(', ')}) {\n${lines.join('\n')}\n}`;
    },
  };
  declared.set(name, template as unknown as KernelTemplate<KernelParams>);
  return template;
}

/** The identifier a kernel body reads runtime parameter `name` by (element `j` of an array parameter). */
export function runtimeArg(name: string, j?: number): string {
  return j === undefined ? name : `${name}_${j}`;
}

/** `p` with each runtime parameter replaced by what the source depends on: nothing for a number, the length for an array. */
function bakedPart<P extends KernelParams>(p: P, runtime: readonly string[]): KernelParams {
  const out: { [k: string]: ParamValue } = { ...p };
  for (const r of runtime) {
    const v = p[r];
    out[r] = Array.isArray(v) ? `runtime[${v.length}]` : 'runtime';
  }
  return out;
}

function runtimeNamesOf(p: KernelParams, runtime: readonly string[]): string[] {
  return runtime.flatMap((r) => {
    const v = p[r];
    return Array.isArray(v) ? v.map((_, j) => runtimeArg(r, j)) : [runtimeArg(r)];
  });
}

/**
 * The runtime parameters' values, flattened in argument order; each an integer (GPU.js passes it as a
 * float, exact below 2^24: an offset or index past that lies in a buffer of 2^24+ elements, whose kernels
 * run on the host executor in doubles).
 */
function runtimeValuesOf(p: KernelParams, runtime: readonly string[], kernel: string): number[] {
  const out: number[] = [];
  for (const r of runtime) {
    const v = p[r];
    for (const x of Array.isArray(v) ? v : [v]) {
      if (typeof x !== 'number' || !Number.isSafeInteger(x)) {
        throw new Error(`kernel '${kernel}': runtime parameter '${r}' must be an integer (or an array of them), got ${String(x)}`);
      }
      out.push(x);
    }
  }
  return out;
}

/** A canonical text of a parameter value: object keys sorted, every number exact (NaN, ±Infinity, -0 included). */
function canonical(v: ParamValue, kernel: string): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  switch (typeof v) {
    case 'number':
      return Object.is(v, -0) ? '-0' : String(v);
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (Array.isArray(v)) return `[${v.map((x) => canonical(x, kernel)).join(',')}]`;
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new Error(
          `kernel '${kernel}': parameters must be plain data (numbers, strings, booleans, arrays, plain objects); got an instance of a class`,
        );
      }
      const o = v as { readonly [k: string]: ParamValue };
      return `{${Object.keys(o)
        .sort()
        .filter((k) => o[k] !== undefined)
        .map((k) => `${k}=${canonical(o[k], kernel)}`)
        .join(',')}}`;
    }
    default:
      throw new Error(`kernel '${kernel}': parameters must be plain data; got a ${typeof v}`);
  }
}
