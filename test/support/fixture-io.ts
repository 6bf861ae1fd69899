// Reading the PyTorch fixtures in test/fixtures (schema in test/fixtures/README.md).
import { readFileSync } from 'node:fs';
import { tensor, type DType, type Tensor } from '../../src/index.js';

export type JsonNum = number | boolean | 'Infinity' | '-Infinity' | 'NaN';
export interface TensorJson {
  shape: number[];
  dtype: DType;
  data: JsonNum[];
}

/** A case of core.json and of the files that share its schema (indexing.json, extra.json). */
export interface GoldenCase<A = unknown, I = TensorJson | TensorJson[]> {
  name: string;
  op: string;
  args: Record<string, A>;
  inputs: Record<string, I>;
  outputs: Record<string, TensorJson>;
  gradOut: Record<string, TensorJson>;
  grads: Record<string, I>;
}

export function readFixture(name: string): any {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
}

/** JSON numbers, with the strings "Infinity", "-Infinity" and "NaN" for non-finite values. */
export function decodeNum(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (v === 'NaN') return NaN;
  throw new Error(`fixture: cannot decode ${JSON.stringify(v)} as a number`);
}

export const fixtureValues = (t: TensorJson): number[] => t.data.map(decodeNum);
export const isFloatJson = (t: TensorJson): boolean => t.dtype === 'float64' || t.dtype === 'float32';

/** A tensor from the fixture; floating data takes `floatDtype` (default: the fixture's) and may require grad. */
export function fixtureTensor(t: TensorJson, floatDtype?: DType, requiresGrad = false): Tensor {
  const dtype = isFloatJson(t) ? (floatDtype ?? t.dtype) : t.dtype;
  return tensor(Float64Array.from(t.data, decodeNum), { shape: t.shape, dtype, requiresGrad: requiresGrad && isFloatJson(t) });
}
