// Option-object and argument checks shared by every public function: an options object is checked against
// its known keys (PyTorch raises on an unexpected keyword; a silently ignored `is_causal` would run a GPT
// non-causally), and a flag must be a real boolean (the string 'false' is truthy). Errors name the
// function, the argument and what was given, and suggest the camelCase key for a snake_case spelling.
// Imports nothing of ours.

/** `is_causal` → `isCausal` */
export function camelCase(key: string): string {
  return key.replace(/_+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** What was given, for an error message: a short, readable form of any value. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  return 'an object';
}

/**
 * Checks that `opts` (the argument named `arg` of `fn`) is undefined or a plain object whose keys are all in
 * `allowed`. An unknown key throws, naming the key and the allowed ones, and the camelCase key when the
 * unknown one is its snake_case spelling.
 */
export function checkOptions(fn: string, opts: unknown, allowed: readonly string[], arg = 'options'): void {
  if (opts === undefined) return;
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
    throw new Error(`${fn}: ${arg} must be an object with keys among ${allowed.join(', ')}; got ${describeValue(opts)}`);
  }
  const proto = Object.getPrototypeOf(opts);
  if (proto !== Object.prototype && proto !== null) {
    throw new Error(`${fn}: ${arg} must be a plain object with keys among ${allowed.join(', ')}; got an instance of a class`);
  }
  for (const key of Object.keys(opts)) {
    if (allowed.includes(key)) continue;
    const camel = camelCase(key);
    const hint = camel !== key && allowed.includes(camel) ? `; did you mean '${camel}'?` : '';
    const where = arg === 'options' ? '' : ` in ${arg}`;
    throw new Error(`${fn}: unknown option '${key}'${where}${hint} (allowed: ${allowed.join(', ')})`);
  }
}

/** A boolean option or argument: undefined gives `dflt`; anything but true/false throws. */
export function checkBoolean(fn: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new Error(`${fn}: ${name} must be a boolean (true or false), got ${describeValue(v)}`);
  return v;
}
