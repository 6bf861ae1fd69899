// select and basic indexing (PyTorch's x[i], x[:, -1, :], x[1:3, ::2]), built on narrow/slice and
// reshape, so they are views as in PyTorch (sharing the input's storage) and their gradients are those ops':
//   select(x, dim, i):  y = x[.., i, ..] (dim removed);  dx = g placed at index i along dim, 0 elsewhere
//   index(x, ...ix):    each entry an integer (select, negative from the end), null (the whole dim) or a
//                       range [start?, end?, step?] (a slice: bounds clamped as Python's, step >= 1);
//                       dx = g placed back at the selected positions, 0 elsewhere

import { Tensor } from '../autograd/tensor.js';
import { fmtShape } from '../helpers/shape.js';
import { describeValue } from '../helpers/validate.js';
import { checkDim, checkTensor } from './indexing.js';
import { narrow, reshape, slice } from './shape.js';

/** One entry of `index`: an integer, null (a full dim, like `:`) or a range [start?, end?, step?]. */
export type IndexEntry = number | null | readonly (number | null | undefined)[];

function selectAt(fn: string, x: Tensor, d: number, index: unknown, what: string): Tensor {
  if (typeof index !== 'number' || !Number.isInteger(index))
    throw new Error(`${fn}: ${what} must be an integer, got ${describeValue(index)}`);
  const n = x.shape[d];
  if (index < -n || index >= n)
    throw new Error(
      `${fn}: ${what} ${index} is out of range for dim ${d} of size ${n} (input shape ${fmtShape(x.shape)})` +
        (n > 0 ? `; valid indices are ${-n} to ${n - 1}` : '; that dim is empty'),
    );
  const i = index < 0 ? index + n : index;
  const piece = narrow(x, d, i, 1);
  return reshape(
    piece,
    x.shape.filter((_, k) => k !== d),
    fn,
  );
}

/** The slice of input at `index` along `dim`, with that dim removed (negative index counts from the end). */
export function select(input: Tensor, dim: number, index: number): Tensor {
  const x = checkTensor('select', 'input', input);
  if (x.ndim === 0) throw new Error('select: cannot select on a 0-d tensor (shape [])');
  const d = checkDim('select', 'dim', dim, x.shape);
  return selectAt('select', x, d, index, 'index');
}

/**
 * Basic indexing, one entry per leading dim (the rest are kept whole): `x.index(null, -1)` is `x[:, -1]`,
 * `x.index(0, [1, null, 2])` is `x[0, 1::2]`.
 */
export function index(input: Tensor, ...indices: IndexEntry[]): Tensor {
  const x = checkTensor('index', 'input', input);
  if (indices.length > x.ndim)
    throw new Error(`index: too many indices for a tensor of shape ${fmtShape(x.shape)}: ${x.ndim} dims, ${indices.length} indices given`);
  let t = x;
  let d = 0;
  indices.forEach((ix, k) => {
    const what = `indices[${k}]`;
    if (ix === null || ix === undefined) {
      d++;
    } else if (typeof ix === 'number') {
      if (!Number.isInteger(ix)) throw new Error(`index: ${what} must be an integer, null or a range [start, end, step], got ${ix}`);
      const n = t.shape[d];
      if (ix < -n || ix >= n)
        throw new Error(
          `index: ${what} = ${ix} is out of range for dim ${k} of size ${n} (input shape ${fmtShape(x.shape)})` +
            (n > 0 ? `; valid indices are ${-n} to ${n - 1}` : '; that dim is empty'),
        );
      t = selectAt('index', t, d, ix, what);
    } else if (Array.isArray(ix)) {
      if (ix.length > 3) throw new Error(`index: ${what} must be a range [start, end, step] of at most 3 entries, got ${ix.length}`);
      const [start, end, step] = ix as (number | null | undefined)[];
      for (const [name, v] of [
        ['start', start],
        ['end', end],
        ['step', step],
      ] as const) {
        if (v !== null && v !== undefined && (typeof v !== 'number' || !Number.isInteger(v)))
          throw new Error(`index: ${what} ${name} must be an integer or null, got ${describeValue(v)}`);
      }
      if (step !== null && step !== undefined && step < 1) throw new Error(`index: ${what} step must be a positive integer, got ${step}`);
      t = slice(t, d, start ?? undefined, end ?? undefined, step ?? 1);
      d++;
    } else {
      throw new Error(`index: ${what} must be an integer, null or a range [start, end, step], got ${describeValue(ix)}`);
    }
  });
  return t === x ? reshape(x, [...x.shape], 'index') : t;
}
