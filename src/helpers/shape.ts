// Pure shape helpers that every layer may use: they import nothing of gpugrad's.

export const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major element strides of a contiguous tensor of `shape`. */
export function stridesOf(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    st[d] = s;
    s *= shape[d];
  }
  return st;
}

/** Normalises a possibly negative dim; throws naming the op and shape when out of range. */
export function normDim(op: string, dim: number, ndim: number, shape?: readonly number[]): number {
  const lo = ndim === 0 ? -1 : -ndim;
  const hi = ndim === 0 ? 0 : ndim - 1;
  if (!Number.isInteger(dim) || dim < lo || dim > hi) {
    const s = shape ? ` of a tensor of shape ${fmtShape(shape)}` : '';
    throw new Error(`${op}: dim ${dim} is out of range [${lo}, ${hi}]${s}`);
  }
  return dim < 0 ? dim + Math.max(ndim, 1) : dim;
}

/** PyTorch's broadcasting rule over any number of shapes; the error names each argument. */
export function broadcastShapes(op: string, shapes: readonly (readonly number[])[], names: readonly string[]): number[] {
  const nd = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(nd).fill(1);
  for (let k = 0; k < nd; k++) {
    for (const s of shapes) {
      const d = s[s.length - nd + k] ?? 1;
      if (d === 1) continue;
      if (out[k] !== 1 && out[k] !== d) {
        const parts = shapes.map((sh, i) => `${names[i]} (shape ${fmtShape(sh)})`).join(' and ');
        throw new Error(`${op}: shapes are not broadcastable: ${parts}; dimension ${k - nd} has sizes ${out[k]} and ${d}`);
      }
      out[k] = d;
    }
  }
  return out;
}

/** Element strides of `inShape` broadcast to `outShape` (0 where the input is broadcast). */
export function broadcastStrides(outShape: readonly number[], inShape: readonly number[]): number[] {
  const st = stridesOf(inShape);
  const nd = outShape.length;
  const res = new Array<number>(nd).fill(0);
  for (let d = 0; d < inShape.length; d++) {
    const od = nd - inShape.length + d;
    res[od] = inShape[d] === 1 ? 0 : st[d];
  }
  return res;
}

/**
 * The dims of `from` that a gradient of shape `from` sums over to reach `to` (leading dims, and dims
 * where `to` has size 1); throws when `to` is not a broadcast source of `from`.
 */
export function reducedDimsTo(from: readonly number[], to: readonly number[]): number[] {
  const lead = from.length - to.length;
  if (lead < 0) throw new Error(`cannot sum shape ${fmtShape(from)} to the larger shape ${fmtShape(to)}`);
  const dims: number[] = [];
  from.forEach((s, d) => {
    if (d < lead) dims.push(d);
    else if (to[d - lead] === 1 && s !== 1) dims.push(d);
    else if (to[d - lead] !== s) throw new Error(`cannot sum shape ${fmtShape(from)} to shape ${fmtShape(to)}`);
  });
  return dims;
}

/** Whether `strides` are the row-major strides of `shape` (a size-1 dim's stride does not matter). */
export function isContiguousStrides(shape: readonly number[], strides: readonly number[]): boolean {
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] === 1) continue;
    if (strides[d] !== s) return false;
    s *= shape[d];
  }
  return true;
}

/**
 * The strides that view a tensor of `shape` and `strides` as `target` (same numel) without moving any
 * element, or null where none exist (a dim of the target would span two runs of memory that are not
 * evenly spaced: PyTorch's "view size is not compatible" case). The dims are walked from the innermost in
 * chunks of dims that are contiguous with each other; each chunk must be covered exactly by a run of the
 * target's dims, which then step through it at the chunk's base stride.
 */
export function viewStrides(shape: readonly number[], strides: readonly number[], target: readonly number[]): number[] | null {
  if (numelOf(shape) === 0 || shape.length === 0) return stridesOf(target);
  const out = new Array<number>(target.length);
  let t = target.length - 1;
  let base = strides[shape.length - 1];
  let chunk = 1; // elements of the current chunk of the input
  let covered = 1; // elements of the target dims assigned to it so far
  for (let d = shape.length - 1; d >= 0; d--) {
    chunk *= shape[d];
    const endsHere = d === 0 || (shape[d - 1] !== 1 && strides[d - 1] !== chunk * base);
    if (!endsHere) continue;
    while (t >= 0 && (covered < chunk || target[t] === 1)) {
      out[t] = covered * base;
      covered *= target[t];
      t--;
    }
    if (covered !== chunk) return null;
    if (d > 0) {
      base = strides[d - 1];
      chunk = 1;
      covered = 1;
    }
  }
  return t === -1 ? out : null;
}
