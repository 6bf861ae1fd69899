// gpugrad's public surface.

import './ops/methods.js'; // installs Tensor's chaining methods (x.add(y), ...) before anything uses them
export { Tensor, type DType, type Operand } from './autograd/tensor.js';
export { noGrad, enableGrad, isGradEnabled, setGradEnabled } from './autograd/grad-mode.js';
export { tidy, keep } from './autograd/tidy.js';
export { manualSeed, getRngState, setRngState } from './autograd/random.js';
export { gradcheck, gradgradcheck, type GradcheckOptions, type GradgradcheckOptions } from './autograd/gradcheck.js';
// torch.autograd: autograd.grad, autograd.gradcheck/gradgradcheck, autograd.functional.*, autograd.detectAnomaly
export * as autograd from './ops/autograd.js';
// user-written GPU.js kernels (also autograd.defineKernel): wrap them in an autograd.Function to differentiate them
export { defineKernel, type Kernel, type KernelSpec, type RunOptions } from './autograd/custom.js';
export { GradNode } from './autograd/engine.js';
export {
  tensor,
  zeros,
  ones,
  full,
  zerosLike,
  onesLike,
  fullLike,
  arange,
  rand,
  randn,
  randint,
  type TensorOptions,
  type CreateOptions,
} from './ops/creation.js';
export { add, sub, mul, div, pow, maximum, minimum } from './ops/binary.js';
export { neg, exp, log, sqrt, rsqrt, abs, tanh, sigmoid, relu, gelu, silu } from './ops/unary.js';
export { clamp, clip } from './ops/clamp.js';
export {
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  where,
  maskedFill,
  logicalNot,
  logicalAnd,
  logicalOr,
  isclose,
  allclose,
  type IscloseOptions,
} from './ops/compare.js';
export { norm, outer, type NormP } from './ops/norm.js';
export { einsum } from './ops/einsum.js';
export { select, index, type IndexEntry } from './ops/select.js';
export { sum, mean, amax, amin, argmax, variance as var_, MaxResult } from './ops/reduce.js';
export { matmul } from './ops/matmul.js';
export {
  reshape,
  flatten,
  permute,
  transpose,
  unsqueeze,
  squeeze,
  expand,
  narrow,
  slice,
  split,
  chunk,
  cat,
  stack,
  indexSelect,
  repeatInterleave,
} from './ops/shape.js';
export { softmax, logSoftmax } from './ops/softmax.js';
export { tril, triu, gather, scatter, scatterAdd, flip, roll, cumsum } from './ops/indexing.js';
export { sort, argsort, topk, multinomial } from './ops/sort.js';
export { setBackend, getBackend, backendInfo, destroyBackends, BACKENDS, type BackendName } from './backend/index.js';
export { memory } from './memory.js';
export { SDPBackend, sdpaKernel, enableFusedSdp, enableMathSdp, fusedSdpEnabled, mathSdpEnabled, lastSdpBackend } from './ops/sdpa.js';
export * as F from './nn/functional.js';
// nn (modules, layers, init, clipGradNorm, safetensors) and optim (SGD, Adam, AdamW, and the LR
// schedulers as optim.lrScheduler.StepLR / CosineAnnealingLR / LambdaLR, like torch.optim.lr_scheduler).
export * as nn from './nn/index.js';
export * as optim from './nn/optim.js';
