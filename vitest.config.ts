import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites share one scram-sha-256 cluster and the machine's PostgreSQL; two workers fit 2 cores.
    maxWorkers: 2,
  },
});
