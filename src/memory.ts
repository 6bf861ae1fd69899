import { liveTensorCount } from './autograd/tensor.js';
import { memoryCounts } from './backend/index.js';

/** Live tensors, storages and GL textures (a training loop that does not leak keeps these flat). */
export function memory(): { tensors: number; storages: number; textures: number } {
  return { tensors: liveTensorCount(), ...memoryCounts() };
}
