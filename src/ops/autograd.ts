// The `autograd` namespace exported from the package root (PyTorch's torch.autograd): the engine's tools
// from the autograd layer, and autograd.functional, which needs ops to assemble its results.
export * from '../autograd/public.js';
export * as functional from './autograd-functional.js';
