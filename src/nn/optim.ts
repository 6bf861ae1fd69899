// The optim namespace: the optimizers and, as optim.lrScheduler, the learning-rate schedulers (like
// torch.optim and torch.optim.lr_scheduler). The schedulers import the optimizer types from
// ./optimizers.ts, so neither file imports the other.
export * from './optimizers.js';
export * as lrScheduler from './lr-scheduler.js';
