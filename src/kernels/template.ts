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
}

export interface KernelTemplate<P extends KernelParams> {
  readonly name: string;
  readonly native: NativeKernel<P> | null;
  /** Views reach this kernel as dense copies (see KernelDecl.denseInputs). */
  readonly denseInputs: boolean;
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
  const unknown = Object.keys(decl).filter((k) => !['name', 'inputs', 'body', 'native', 'denseInputs'].includes(k));
  if (unknown.length) throw new Error(`declareKernel: unknown option '${unknown[0]}'; expected name, inputs, body, native, denseInputs`);
  const { name, inputs, body, native, denseInputs = false } = decl;
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
    key: (p) => `${name}:${canonical(p, name)}`,
    inputNames,
    source: (p) => {
      const lines = formatBody(['const i = this.thread.x;', body(p)]);
      return `function (${inputNames(p).join(', ')}) {\n${lines.join('\n')}\n}`;
    },
  };
  declared.set(name, template as unknown as KernelTemplate<KernelParams>);
  return template;
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
