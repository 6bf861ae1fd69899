// dtypes: pure helpers that every layer may use.

export type DType = 'float32' | 'float64' | 'int32' | 'bool';
export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'bool'];

const FLOATS: readonly DType[] = ['float32', 'float64'];
export const isFloat = (d: DType): boolean => FLOATS.includes(d);

/** The precision a kernel over operands of these dtypes runs in: float64 (host) when any is float64 or
 * when none is floating (int/bool data stays exact), float32 (GPU.js) otherwise. */
export function precisionOfDTypes(dtypes: readonly DType[]): 'float32' | 'float64' {
  let f32 = false;
  for (const d of dtypes) {
    if (d === 'float64') return 'float64';
    if (d === 'float32') f32 = true;
  }
  return f32 ? 'float32' : 'float64';
}
