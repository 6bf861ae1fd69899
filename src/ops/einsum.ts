// einsum: Einstein summation over letter subscripts ('ij,jk->ik', 'bhqd,bhkd->bhqk', implicit 'ij,jk'),
// built on sum, permute, reshape and matmul, so its gradient is theirs:
//   1. in each operand, the letters no other operand and not the output has are summed out;
//   2. operands are contracted left to right: for a pair, the letters both have and a later operand or the
//      output needs are batch dims, the letters both have and nothing later needs are contracted, the rest
//      stay; A is permuted to [batch, left, contracted] and B to [batch, contracted, right], each reshaped to
//      3-D, and one batched matmul gives [batch, left, right];
//   3. the result is permuted into the output's order.
// The implicit output (no '->') is the letters that appear exactly once, in alphabetical order (as PyTorch).
// Not supported (a clear error): '...' (ellipsis), a letter repeated within one operand (diagonals), and
// size-1 broadcasting of a letter's dims.

import { Tensor } from '../autograd/tensor.js';
import { fmtShape } from '../helpers/shape.js';
import { describeValue } from '../helpers/validate.js';
import { matmul } from './matmul.js';
import { sum } from './reduce.js';
import { permute, reshape } from './shape.js';

interface Term {
  t: Tensor;
  letters: string[];
}

function parse(equation: string, operands: Tensor[]): { inputs: string[][]; output: string[] } {
  const eq = equation.replace(/\s+/g, '');
  if (eq.includes('.')) throw new Error(`einsum: ellipsis ('...') is not supported, in equation '${equation}'`);
  const arrows = eq.split('->');
  if (arrows.length > 2) throw new Error(`einsum: equation '${equation}' has more than one '->'`);
  const lhs = arrows[0];
  const terms = lhs.split(',');
  if (terms.length !== operands.length)
    throw new Error(
      `einsum: equation '${equation}' has ${terms.length} operand subscript${terms.length === 1 ? '' : 's'} but ${operands.length} operand${operands.length === 1 ? ' was' : 's were'} given`,
    );
  const bad = /[^A-Za-z,]/.exec(lhs) ?? (arrows.length === 2 ? /[^A-Za-z]/.exec(arrows[1]) : null);
  if (bad) throw new Error(`einsum: invalid character '${bad[0]}' in equation '${equation}' (subscripts are letters a-z, A-Z)`);
  const sizes = new Map<string, [number, number]>(); // letter -> [size, operand]
  const inputs = terms.map((term, k) => {
    const letters = [...term];
    const t = operands[k];
    if (letters.length !== t.ndim)
      throw new Error(
        `einsum: operand ${k} has ${t.ndim} dims (shape ${fmtShape(t.shape)}) but its subscripts '${term}' name ${letters.length}`,
      );
    letters.forEach((c, d) => {
      if (letters.indexOf(c) !== d)
        throw new Error(`einsum: subscript '${c}' repeats in operand ${k} ('${term}'): diagonals are not supported`);
      const seen = sizes.get(c);
      if (seen && seen[0] !== t.shape[d])
        throw new Error(
          `einsum: subscript '${c}' has size ${seen[0]} in operand ${seen[1]} but size ${t.shape[d]} in operand ${k} (shape ${fmtShape(t.shape)})`,
        );
      if (!seen) sizes.set(c, [t.shape[d], k]);
    });
    return letters;
  });
  let output: string[];
  if (arrows.length === 2) {
    output = [...arrows[1]];
    output.forEach((c, d) => {
      if (output.indexOf(c) !== d) throw new Error(`einsum: output subscript '${c}' appears more than once in '${arrows[1]}'`);
      if (!sizes.has(c)) throw new Error(`einsum: output subscript '${c}' does not appear in any operand of '${equation}'`);
    });
  } else {
    const count = new Map<string, number>();
    for (const l of inputs) for (const c of l) count.set(c, (count.get(c) ?? 0) + 1);
    output = [...count.keys()].filter((c) => count.get(c) === 1).sort();
  }
  return { inputs, output };
}

/** Sums out the letters of `a` that `keep` lacks. */
function sumOut(a: Term, keep: Set<string>): Term {
  const dims = a.letters.map((c, d) => (keep.has(c) ? -1 : d)).filter((d) => d >= 0);
  if (!dims.length) return a;
  return { t: sum(a.t, dims), letters: a.letters.filter((c) => keep.has(c)) };
}

function permuteTo(a: Term, order: string[]): Tensor {
  const perm = order.map((c) => a.letters.indexOf(c));
  return perm.every((p, k) => p === k) ? a.t : permute(a.t, perm);
}

const sizeOf = (a: Term, c: string): number => a.t.shape[a.letters.indexOf(c)];
const prod = (xs: number[]): number => xs.reduce((p, q) => p * q, 1);

/** A and B contracted over the letters both have and `keep` lacks. */
function contract(a0: Term, b0: Term, keep: Set<string>): Term {
  const a = sumOut(a0, new Set([...keep, ...b0.letters]));
  const b = sumOut(b0, new Set([...keep, ...a.letters]));
  const batch = a.letters.filter((c) => b.letters.includes(c) && keep.has(c));
  const contracted = a.letters.filter((c) => b.letters.includes(c) && !keep.has(c));
  const left = a.letters.filter((c) => !b.letters.includes(c));
  const right = b.letters.filter((c) => !a.letters.includes(c));
  const bs = batch.map((c) => sizeOf(a, c));
  const ls = left.map((c) => sizeOf(a, c));
  const cs = contracted.map((c) => sizeOf(a, c));
  const rs = right.map((c) => sizeOf(b, c));
  const A = reshape(permuteTo(a, [...batch, ...left, ...contracted]), [prod(bs), prod(ls), prod(cs)], 'einsum');
  const B = reshape(permuteTo(b, [...batch, ...contracted, ...right]), [prod(bs), prod(cs), prod(rs)], 'einsum');
  const C = matmul(A, B);
  return { t: reshape(C, [...bs, ...ls, ...rs], 'einsum'), letters: [...batch, ...left, ...right] };
}

/**
 * Einstein summation (torch.einsum): `einsum('bhqd,bhkd->bhqk', q, k)`. Operands may also be passed as one
 * array (`einsum('ij,jk', [a, b])`).
 */
export function einsum(equation: string, ...operands: (Tensor | Tensor[])[]): Tensor {
  if (typeof equation !== 'string') throw new Error(`einsum: equation must be a string, got ${describeValue(equation)}`);
  const ops = operands.length === 1 && Array.isArray(operands[0]) ? operands[0] : (operands as Tensor[]);
  if (!ops.length) throw new Error('einsum: at least one operand is needed');
  ops.forEach((t, k) => {
    if (!(t instanceof Tensor)) throw new Error(`einsum: operand ${k} must be a Tensor, got ${describeValue(t)}`);
  });
  const { inputs, output } = parse(equation, ops);
  const later = (k: number): Set<string> => new Set([...output, ...inputs.slice(k + 1).flat()]);
  let cur = sumOut({ t: ops[0], letters: inputs[0] }, new Set([...output, ...inputs.slice(1).flat()]));
  for (let k = 1; k < ops.length; k++) cur = contract(cur, { t: ops[k], letters: inputs[k] }, later(k));
  cur = sumOut(cur, new Set(output));
  const y = permuteTo(cur, output);
  return y === ops[0] ? reshape(y, [...y.shape], 'einsum') : y;
}
