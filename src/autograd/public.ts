// torch.autograd's tools that need no op: grad, gradcheck, gradgradcheck, anomaly detection (the package
// root's `autograd` namespace is this plus autograd.functional, src/ops/autograd.ts).
export { detectAnomaly, setDetectAnomaly, isAnomalyEnabled } from './anomaly.js';
export { grad, type GradOptions } from './grad.js';
export { gradcheck, gradgradcheck, type GradcheckOptions, type GradgradcheckOptions } from './gradcheck.js';
export { Function, FunctionCtx, defineKernel, type Kernel, type KernelSpec, type RunOptions } from './custom.js';
