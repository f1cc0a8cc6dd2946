import { defineConfig } from 'vitest/config';

const shared = {
  testTimeout: 60_000,
  hookTimeout: 120_000,
  globalSetup: ['test/setup/global.ts'],
};

export default defineConfig({
  test: {
    // e2e tests start servers and run real clients; keep files in parallel but bounded.
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'sqlite', include: ['test/**/*.test.ts'] } },
      {
        // The whole integration suite once more, on PostgreSQL (a fresh database per server under test).
        test: {
          ...shared,
          name: 'postgres',
          include: ['test/integration/**/*.test.ts'],
          env: { BERTH_TEST_METADATA: 'postgres' },
        },
      },
    ],
  },
});
