// Anomaly detection (PyTorch's torch.autograd.detect_anomaly / set_detect_anomaly): while it is on, every
// recorded op keeps the stack trace of the forward call that created it, and the backward checks each
// gradient a node's backward returns; the first one holding NaN or Infinity throws, naming the op, the
// input and that forward stack. PyTorch checks NaN only; gpugrad also stops at ±Infinity, which has no
// place in a gradient either. Checking reads every gradient back: it is for debugging, not for training.

import { checkBoolean } from '../helpers/validate.js';

let anomaly = false;

export function isAnomalyEnabled(): boolean {
  return anomaly;
}

/** Turns anomaly detection on or off (like `torch.autograd.set_detect_anomaly`); returns the previous setting. */
export function setDetectAnomaly(mode: boolean): boolean {
  checkBoolean('setDetectAnomaly', 'mode', mode, false);
  const prev = anomaly;
  anomaly = mode;
  return prev;
}

/** Runs `fn` with anomaly detection on (like `with torch.autograd.detect_anomaly():`), restoring the setting after. */
export function detectAnomaly<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new Error(`detectAnomaly: expects a function, got ${fn === null ? 'null' : typeof fn}`);
  const prev = anomaly;
  anomaly = true;
  try {
    return fn();
  } finally {
    anomaly = prev;
  }
}

/** The stack of the current forward call, without the frames of gpugrad's own recording. */
export function forwardTrace(): string {
  const lines = (new Error().stack ?? '').split('\n').slice(1);
  // drop this function and record() (the two innermost frames)
  return lines.slice(2).join('\n');
}
