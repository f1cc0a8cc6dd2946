import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // e2e tests start servers and run real clients; keep files in parallel but bounded.
    maxWorkers: 2,
  },
});
