import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/yield-between-tests.ts'],
    pool: 'forks',
    // --expose-gc: the steady-state test collects garbage before it reads resident memory
    poolOptions: { forks: { maxForks: 2, minForks: 1, execArgv: ['--expose-gc'] } },
    testTimeout: 180_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
