// nn.init: in-place initialisers with PyTorch's fan and gain formulas. Values are drawn on the host from
// gpugrad's one seeded generator (manualSeed), so a seed gives the same weights on every mode and
// dtype; the tensor's data is replaced under noGrad (its version is bumped, like PyTorch's in-place init).

import type { Tensor } from '../autograd/tensor.js';
import { noGrad } from '../autograd/grad-mode.js';
import { normal, uniform } from '../autograd/random.js';
import { fromValues } from '../ops/creation.js';
import { fmtShape } from '../helpers/shape.js';
import { checkTensor } from '../autograd/check.js';
import { checkOptions } from '../helpers/validate.js';

export type Nonlinearity =
  | 'linear'
  | 'conv1d'
  | 'conv2d'
  | 'conv3d'
  | 'conv_transpose1d'
  | 'conv_transpose2d'
  | 'conv_transpose3d'
  | 'sigmoid'
  | 'tanh'
  | 'relu'
  | 'leaky_relu'
  | 'leakyRelu'
  | 'selu';

export type FanMode = 'fan_in' | 'fan_out' | 'fanIn' | 'fanOut';

/** PyTorch's calculate_gain: the recommended gain for a nonlinearity. */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv1d':
    case 'conv2d':
    case 'conv3d':
    case 'conv_transpose1d':
    case 'conv_transpose2d':
    case 'conv_transpose3d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu':
    case 'leakyRelu': {
      const slope = param ?? 0.01;
      if (typeof slope !== 'number' || !Number.isFinite(slope))
        throw new Error(`calculateGain: negative_slope ${String(param)} is not a valid number`);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new Error(`calculateGain: unsupported nonlinearity '${String(nonlinearity)}'`);
  }
}

/** PyTorch's _calculate_fan_in_and_fan_out: dim 1 is inputs, dim 0 outputs, trailing dims the receptive field. */
export function calculateFanInAndFanOut(t: Tensor, fn = 'calculateFanInAndFanOut'): [number, number] {
  if (t.ndim < 2) {
    throw new Error(`${fn}: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape ${fmtShape(t.shape)})`);
  }
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return [t.shape[1] * receptive, t.shape[0] * receptive];
}

function checkFloat(fn: string, t: Tensor): void {
  checkTensor(fn, 'tensor', t);
  if (t.dtype !== 'float32' && t.dtype !== 'float64') {
    throw new Error(`${fn}: expects a floating point tensor, got ${t.dtype} (shape ${fmtShape(t.shape)})`);
  }
}

function fill(t: Tensor, draw: () => number): Tensor {
  const n = t.numel();
  const vals = new Float64Array(n);
  for (let i = 0; i < n; i++) vals[i] = draw();
  const src = fromValues(vals, [...t.shape], t.dtype);
  noGrad(() => t._assign(src, 'init', true));
  src.dispose();
  return t;
}

function num(fn: string, name: string, v: number): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`${fn}: ${name} must be a number, got ${String(v)}`);
  return v;
}

/** Fills with U(a, b). */
export function uniform_(t: Tensor, a = 0, b = 1): Tensor {
  checkFloat('uniform_', t);
  num('uniform_', 'a', a);
  num('uniform_', 'b', b);
  if (!(a <= b)) throw new Error(`uniform_: expects a <= b, but got a=${a}, b=${b} (tensor shape ${fmtShape(t.shape)})`);
  return fill(t, () => a + (b - a) * uniform());
}

/** Fills with N(mean, std²). */
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  checkFloat('normal_', t);
  num('normal_', 'mean', mean);
  num('normal_', 'std', std);
  if (!(std >= 0)) throw new Error(`normal_: expects std >= 0.0, but found std ${std} (tensor shape ${fmtShape(t.shape)})`);
  return fill(t, () => mean + std * normal());
}

/** Fills with a constant. */
export function constant_(t: Tensor, value: number): Tensor {
  checkTensor('constant_', 'tensor', t);
  num('constant_', 'value', value);
  noGrad(() => t.fill_(value));
  return t;
}

export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

/** Glorot uniform: U(±gain·√(6 / (fanIn + fanOut))). */
export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  checkFloat('xavierUniform_', t);
  num('xavierUniform_', 'gain', gain);
  const [fanIn, fanOut] = calculateFanInAndFanOut(t, 'xavierUniform_');
  const std = gain * Math.sqrt(2 / (fanIn + fanOut));
  const a = Math.sqrt(3) * std;
  return fill(t, () => -a + 2 * a * uniform());
}

/** Glorot normal: N(0, gain²·2 / (fanIn + fanOut)). */
export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  checkFloat('xavierNormal_', t);
  num('xavierNormal_', 'gain', gain);
  const [fanIn, fanOut] = calculateFanInAndFanOut(t, 'xavierNormal_');
  const std = gain * Math.sqrt(2 / (fanIn + fanOut));
  return fill(t, () => std * normal());
}

export interface KaimingOptions {
  /** The negative slope of the rectifier after this layer (leaky_relu only); default 0. */
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
}

function kaimingStd(fn: string, t: Tensor, opts: KaimingOptions): number {
  checkOptions(fn, opts, ['a', 'mode', 'nonlinearity']);
  if (opts.a !== undefined) num(fn, 'a', opts.a);
  const mode = opts.mode ?? 'fan_in';
  if (!['fan_in', 'fan_out', 'fanIn', 'fanOut'].includes(mode))
    throw new Error(`${fn}: mode ${String(mode)} not supported, please use one of fan_in, fan_out`);
  const [fanIn, fanOut] = calculateFanInAndFanOut(t, fn);
  const fan = mode === 'fan_in' || mode === 'fanIn' ? fanIn : fanOut;
  const gain = calculateGain(opts.nonlinearity ?? 'leaky_relu', opts.a ?? 0);
  return gain / Math.sqrt(fan);
}

/** He uniform: U(±gain·√(3 / fan)); PyTorch's defaults a=0, mode='fan_in', nonlinearity='leaky_relu'. */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  checkFloat('kaimingUniform_', t);
  checkOptions('kaimingUniform_', opts, ['a', 'mode', 'nonlinearity']);
  if (t.numel() === 0) return t;
  const bound = Math.sqrt(3) * kaimingStd('kaimingUniform_', t, opts);
  return fill(t, () => -bound + 2 * bound * uniform());
}

/** He normal: N(0, gain² / fan). */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  checkFloat('kaimingNormal_', t);
  checkOptions('kaimingNormal_', opts, ['a', 'mode', 'nonlinearity']);
  if (t.numel() === 0) return t;
  const std = kaimingStd('kaimingNormal_', t, opts);
  return fill(t, () => std * normal());
}
