// A check's failure as a report line, shared by test/browser/page.ts and test/support/eviction-workload.ts
// (both run in the browser bundle too): no imports, no test runner.

/** A comparison that came out wrong: reported by its message alone, without the error's name or stack. */
export class Mismatch extends Error {}

/**
 * What a failed check reports: a Mismatch's message; any other error's name, message and the first lines
 * of its stack.
 */
export function failureDetail(e: unknown): string {
  const err = e as Error;
  const where =
    err instanceof Mismatch
      ? ''
      : `\n${String(err.stack ?? '')
          .split('\n')
          .slice(0, 6)
          .join('\n')}`;
  return `${err instanceof Mismatch ? '' : `${err.name}: `}${err.message}${where}`;
}
