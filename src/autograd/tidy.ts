// tidy(fn): disposes every tensor made inside fn when it returns, except what fn returns, parameters
// (leaves that require grad), gradients stored in `.grad`, and tensors passed to keep(). On the GL modes
// this is what keeps a synchronous training loop's textures flat: the finalizer safety net only runs when
// the loop yields to the event loop. Put forward, backward and the optimizer step in one tidy.
//
// "What fn returns" is every tensor reachable from the returned value through arrays, plain objects,
// Maps (keys and values), Sets and class instances' own enumerable properties (max(dim)'s MaxResult is
// one), nested to any depth. Tensors are recognised by identity: every tensor's constructor calls
// trackTensor, which records it in a WeakSet (no class names, no duck typing: both break under
// minification or with look-alike objects). This file imports Tensor as a type only (the one import cycle
// allowed in autograd is Tensor↔tape).

import type { Tensor } from './tensor.js';

const scopes: Set<Tensor>[] = [];
const kept = new WeakSet<Tensor>();
/** Every tensor ever created (weakly): how tidy and keep recognise a tensor. */
const tensors = new WeakSet<object>();

/** @internal called for every new tensor. */
export function trackTensor(t: Tensor): void {
  tensors.add(t);
  if (scopes.length) scopes[scopes.length - 1].add(t);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object' && typeof v !== 'function') return typeof v;
  if (Array.isArray(v)) return 'an array';
  return Object.prototype.toString.call(v).slice(8, -1);
}

/** Exempts a tensor from the enclosing tidy scopes (optimizer state, caches). Returns it. */
export function keep<T extends Tensor>(t: T): T {
  if (t === null || typeof t !== 'object' || !tensors.has(t)) throw new Error(`keep: expects a Tensor, got ${describe(t)}`);
  if (t.isDisposed) throw new Error(`keep: the tensor (shape [${t.shape.join(', ')}]) was already disposed by ${t._disposedBy}`);
  kept.add(t);
  for (const s of scopes) s.delete(t);
  return t;
}

// Objects that can hold no tensor: skipped without walking.
function isBinary(v: object): boolean {
  return ArrayBuffer.isView(v) || v instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && v instanceof SharedArrayBuffer);
}

// Objects whose contents cannot be enumerated (or are produced later): an error, naming where they sit.
function unwalkable(v: object): string | null {
  if (typeof (v as { then?: unknown }).then === 'function')
    return 'a Promise (or thenable); tidy is synchronous: await inside, return the values';
  if (v instanceof WeakMap) return 'a WeakMap, whose entries cannot be enumerated';
  if (v instanceof WeakSet) return 'a WeakSet, whose entries cannot be enumerated';
  if (typeof WeakRef !== 'undefined' && v instanceof WeakRef) return 'a WeakRef';
  const tag = Object.prototype.toString.call(v);
  if (tag === '[object Generator]' || tag === '[object AsyncGenerator]') return 'a generator, whose values are computed later';
  return null;
}

interface Step {
  v: unknown;
  parent: Step | null;
  key: string;
}

function pathOf(s: Step): string {
  const keys: string[] = [];
  for (let p: Step | null = s; p; p = p.parent) keys.push(p.key);
  return keys.reverse().join('');
}

function keyText(k: string | symbol): string {
  return typeof k === 'symbol' ? `[${String(k)}]` : /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
}

/**
 * Finds every tensor reachable from v (iteratively: deep structures do not overflow the stack). Functions
 * are not walked: what a returned closure captures is invisible (keep() what it needs). Of an object,
 * only its own enumerable properties are read (own getters included, as Object.values would); state behind
 * prototype getters or #private fields is not seen.
 */
function collect(v: unknown, out: Set<Tensor>): void {
  const seen = new Set<object>();
  const stack: Step[] = [{ v, parent: null, key: 'the returned value' }];
  while (stack.length) {
    const s = stack.pop()!;
    const x = s.v;
    if (x === null || typeof x !== 'object' || seen.has(x)) continue;
    seen.add(x);
    if (tensors.has(x)) {
      out.add(x as Tensor);
      continue;
    }
    if (isBinary(x)) continue;
    const why = unwalkable(x);
    if (why && !s.parent && why.startsWith('a Promise'))
      throw new Error('tidy: the function returned a Promise (or thenable); tidy is synchronous: await inside, return the values');
    if (why)
      throw new Error(
        `tidy: cannot find the tensors in ${pathOf(s)}: it is ${why}; return tensors in arrays, plain objects, Maps, Sets or class instances, or keep() them`,
      );
    if (x instanceof Map) {
      let i = 0;
      for (const [k, val] of x) {
        stack.push({ v: k, parent: s, key: `<Map key ${i}>` }, { v: val, parent: s, key: `.get(<key ${i}>)` });
        i++;
      }
    } else if (x instanceof Set) {
      let i = 0;
      for (const val of x) stack.push({ v: val, parent: s, key: `<Set value ${i++}>` });
    }
    if (Array.isArray(x)) {
      for (let i = 0; i < x.length; i++) stack.push({ v: x[i], parent: s, key: `[${i}]` });
      continue;
    }
    for (const k of Reflect.ownKeys(x)) {
      if (!Object.prototype.propertyIsEnumerable.call(x, k)) continue;
      let val: unknown;
      try {
        val = (x as Record<string | symbol, unknown>)[k];
      } catch (e) {
        throw new Error(`tidy: reading ${pathOf(s)}${keyText(k)} (a getter) threw: ${(e as Error)?.message ?? String(e)}`);
      }
      stack.push({ v: val, parent: s, key: keyText(k) });
    }
  }
}

function disposeScope(scope: Set<Tensor>, except?: Set<Tensor>): void {
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (except?.has(t)) {
      parent?.add(t);
      continue;
    }
    if (kept.has(t) || t.isDisposed || (t.requiresGrad && t.isLeaf)) continue;
    t._disposeBy('tidy()');
  }
}

/**
 * Runs fn and disposes the tensors it made, except those reachable from its result (see the header) and
 * the exemptions above. Returning something whose tensors cannot be found (a Promise, a WeakMap, a
 * WeakSet, a WeakRef, a generator) is an error naming where it sits. Functions cannot be looked into: the
 * tensors a returned closure captures are disposed unless keep()-ed, and neither are state behind
 * prototype getters or #private fields (only own enumerable properties are read). Typed arrays and
 * ArrayBuffers are skipped.
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new Error(`tidy: expects a function, got ${describe(fn)}`);
  const scope = new Set<Tensor>();
  scopes.push(scope);
  const returned = new Set<Tensor>();
  let result: T;
  try {
    result = fn();
    // still inside the scope: a tensor a getter makes while being read is the scope's too
    collect(result, returned);
  } catch (e) {
    scopes.pop();
    disposeScope(scope);
    throw e;
  }
  scopes.pop();
  disposeScope(scope, returned);
  return result;
}
