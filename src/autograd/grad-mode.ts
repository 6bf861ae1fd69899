let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

function withMode<T>(mode: boolean, fn: () => T): T {
  const prev = enabled;
  enabled = mode;
  try {
    const r = fn();
    if (r instanceof Promise) {
      throw new Error(
        'noGrad/enableGrad: the function returned a Promise; grad mode is synchronous, await inside and pass a synchronous function',
      );
    }
    return r;
  } finally {
    enabled = prev;
  }
}

/** Runs `fn` with gradient recording off (like `with torch.no_grad():`). */
export function noGrad<T>(fn: () => T): T {
  return withMode(false, fn);
}

/** Runs `fn` with gradient recording on, also inside `noGrad`. */
export function enableGrad<T>(fn: () => T): T {
  return withMode(true, fn);
}

/** Sets grad mode globally (like `torch.set_grad_enabled`); returns the previous mode. */
export function setGradEnabled(mode: boolean): boolean {
  const prev = enabled;
  enabled = mode;
  return prev;
}
