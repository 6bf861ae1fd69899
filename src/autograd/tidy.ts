// tidy(fn): disposes every tensor made inside fn when it returns, except what fn returns, parameters
// (leaves that require grad), gradients stored in `.grad`, and tensors passed to keep(). On the GL modes
// this is what keeps a synchronous training loop's textures flat: the finalizer safety net only runs when
// the loop yields to the event loop. Put forward, backward and the optimizer step in one tidy.

import type { Tensor } from './tensor.js';

const scopes: Set<Tensor>[] = [];
const kept = new WeakSet<Tensor>();

/** @internal called for every new tensor. */
export function trackTensor(t: Tensor): void {
  if (scopes.length) scopes[scopes.length - 1].add(t);
}

/** Exempts a tensor from the enclosing tidy scopes (optimizer state, caches). Returns it. */
export function keep<T extends Tensor>(t: T): T {
  kept.add(t);
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(v: unknown, out: Set<Tensor>, seen: Set<unknown>): void {
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if ((v as { _storageForKernel?: unknown })._storageForKernel) {
    out.add(v as Tensor);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, out, seen);
  else if (Object.getPrototypeOf(v) === Object.prototype || (v as object).constructor?.name === 'MaxResult') {
    for (const x of Object.values(v as object)) collect(x, out, seen);
  }
}

export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) if (!kept.has(t) && !t.isDisposed && !(t.requiresGrad && t.isLeaf)) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) throw new Error('tidy: the function returned a Promise; tidy is synchronous');
  const returned = new Set<Tensor>();
  collect(result, returned, new Set());
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (returned.has(t)) {
      parent?.add(t);
      continue;
    }
    if (kept.has(t) || t.isDisposed || (t.requiresGrad && t.isLeaf)) continue;
    t.dispose();
  }
  return result;
}
