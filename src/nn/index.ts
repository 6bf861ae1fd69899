// nn: modules, layers, initialisation, gradient clipping and safetensors IO (like torch.nn plus
// safetensors). Optimizers and LR schedulers are the separate `optim` namespace (src/nn/optim.ts),
// exported from src/index.ts: optim.SGD / optim.Adam / optim.AdamW and optim.lrScheduler.StepLR /
// CosineAnnealingLR / LambdaLR, mirroring torch.optim and torch.optim.lr_scheduler.

export { Module, parameter, pyFloat, pyBool, addIndent, type StateDict, type LoadStateDictResult } from './module.js';
export {
  Linear,
  Dropout,
  LayerNorm,
  Embedding,
  GELU,
  SiLU,
  RMSNorm,
  ReLU,
  Tanh,
  Sigmoid,
  Identity,
  Sequential,
  ModuleList,
  ModuleDict,
  type LayerNormOptions,
  type RMSNormOptions,
  type EmbeddingOptions,
} from './layers.js';
export * as init from './init.js';
export { clipGradNorm, clipGradValue } from './utils.js';
export * as utils from './utils.js';
export {
  serializeSafetensors,
  parseSafetensors,
  parseSafetensorsWithMetadata,
  parseSafetensorsHeader,
  saveSafetensors,
  loadSafetensors,
  loadSafetensorsWithMetadata,
  type SafetensorsDType,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from './safetensors.js';
export * as functional from './functional.js';
export { MultiheadAttention, type MultiheadAttentionOptions, type MultiheadAttentionForwardOptions } from './attention.js';
export {
  TransformerEncoderLayer,
  TransformerEncoder,
  TransformerDecoderLayer,
  TransformerDecoder,
  type TransformerLayerOptions,
  type Activation,
} from './transformer.js';
