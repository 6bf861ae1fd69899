// Kernels reading views in place. A view is its storage seen through strides and an offset; a kernel's
// source indexes each input as a dense row-major array of the input's shape (`x[e]`). For an input that is
// a view, the source is rewritten so that every `x[e]` reads `x[<the storage index of dense index e>]`
// (the view's strides baked in, as gatherIndex writes them, and its offset a runtime argument), and the
// view's storage is passed as it is: no dense copy first. The rewritten kernel is its own template (its
// key names the views' layouts).

import { runtimeArg, type KernelParams, type KernelTemplate } from './template.js';
import { gatherIndex } from './source.js';

/** How input `k` of a kernel is a view: its shape, element strides and offset into the storage passed. */
export interface ViewArg {
  k: number;
  shape: readonly number[];
  strides: readonly number[];
  offset: number;
}

const IDENT_CHAR = /[\w$]/;

/**
 * `src` with every `name[e]` (name one of `names`, not part of a longer identifier or a property) replaced
 * by `name[index(e)]`, innermost first; line comments are left alone.
 */
export function rewriteIndexing(src: string, index: ReadonlyMap<string, (e: string) => string>): string {
  const out: string[] = [];
  let i = 0;
  const n = src.length;
  // the text from `from` up to the `]` that closes the bracket opened just before `from`, rewritten
  const bracket = (from: number): [string, number] => {
    let depth = 0;
    let j = from;
    for (; j < n; j++) {
      const c = src[j];
      if (c === '[' || c === '(') depth++;
      else if (c === ')' || (c === ']' && depth > 0)) depth--;
      else if (c === ']') break;
    }
    if (j >= n) throw new Error('gpugrad internal: unbalanced brackets in a kernel source');
    return [rewriteIndexing(src.slice(from, j), index), j];
  };
  while (i < n) {
    if (src.startsWith('//', i)) {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? n : end;
      out.push(src.slice(i, stop));
      i = stop;
      continue;
    }
    const c = src[i];
    if (IDENT_CHAR.test(c) && (i === 0 || !(IDENT_CHAR.test(src[i - 1]) || src[i - 1] === '.'))) {
      let j = i;
      while (j < n && IDENT_CHAR.test(src[j])) j++;
      const word = src.slice(i, j);
      const f = index.get(word);
      if (f && src[j] === '[') {
        const [inner, close] = bracket(j + 1);
        out.push(`${word}[${f(inner)}]`);
        i = close + 1;
        continue;
      }
      out.push(word);
      i = j;
      continue;
    }
    out.push(c);
    i++;
  }
  return out.join('');
}

const wrapped = new Map<string, KernelTemplate<KernelParams>>();

/** A kernel's parameters with the offsets of the views it reads in place (readingViews). */
export type ViewedParams<P extends KernelParams> = { readonly base: P; readonly offsets: readonly number[] };

/**
 * `kernel` reading the inputs in `views` in place (no native: natives read dense arrays). The views'
 * shapes and strides are baked in; their offsets are runtime arguments (`viewOffset_<k>`), so a view at
 * another offset of the same layout (the next narrow() position) runs the same compiled kernel. Its
 * parameters are the kernel's (`base`) and the views' offsets in `views` order.
 */
export function readingViews<P extends KernelParams>(
  kernel: KernelTemplate<P>,
  views: readonly ViewArg[],
): KernelTemplate<ViewedParams<P>> {
  const tag = views.map((v) => `${v.k}:${v.shape.join('x')}/${v.strides.join(',')}`).join(';');
  const id = `${kernel.name}|${tag}`;
  const hit = wrapped.get(id);
  if (hit) return hit as unknown as KernelTemplate<ViewedParams<P>>;
  const offsetName = (v: ViewArg): string => runtimeArg('viewOffset', v.k);
  const t: KernelTemplate<ViewedParams<P>> = {
    name: kernel.name,
    native: null,
    denseInputs: false,
    key: (q) => `${kernel.key(q.base)}|views ${tag}`,
    inputNames: (q) => kernel.inputNames(q.base),
    runtimeValues: (q) => [...kernel.runtimeValues(q.base), ...q.offsets],
    source: (q) => {
      const names = kernel.inputNames(q.base);
      const index = new Map<string, (e: string) => string>();
      for (const v of views) index.set(names[v.k], (e) => gatherIndex(v.shape, v.strides, offsetName(v), `(${e})`));
      const src = rewriteIndexing(kernel.source(q.base), index);
      // the offsets come after the kernel's own arguments
      return src.replace(
        /^function \(([^)]*)\)/,
        (_, params: string) => `function (${[params, ...views.map(offsetName)].filter((x) => x).join(', ')})`,
      );
    },
  };
  wrapped.set(id, t as unknown as KernelTemplate<KernelParams>);
  return t;
}
