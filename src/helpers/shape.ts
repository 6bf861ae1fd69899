// Pure shape helpers that every layer may use: they import nothing of gpugrad's.

export const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
