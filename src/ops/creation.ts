// Tensor creation. It is host data (no kernel), so it lives in the autograd layer
// (src/autograd/creation.ts); the ops layer re-exports it for the modules that import it from here.

export {
  allocHost,
  arange,
  checkShape,
  fromValues,
  full,
  fullLike,
  ones,
  onesLike,
  rand,
  randint,
  randn,
  scalarTensor,
  tensor,
  zeros,
  zerosLike,
  type CreateOptions,
  type TensorData,
  type TensorOptions,
} from '../autograd/creation.js';
