import pg from 'pg';
import { defineConfig } from 'vitest/config';

/** The `postgres` project needs the server; without it (and not in CI, where it must run) it is left out. */
async function postgresAnswers(): Promise<boolean> {
  const client = new pg.Client({
    connectionString: process.env.BERTH_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    connectionTimeoutMillis: 3000,
  });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (error) {
    if (process.env.CI) return true; // run it anyway: it fails, loudly, as it must in CI
    console.warn(`\n!!! SKIPPING the postgres test project: ${(error as Error).message} !!!\n`);
    return false;
  }
}

const shared = {
  testTimeout: 60_000,
  hookTimeout: 120_000,
  globalSetup: ['test/setup/global.ts'],
};

export default defineConfig(async () => ({
  test: {
    // e2e tests start servers and run real clients; keep files in parallel but bounded.
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'sqlite', include: ['test/**/*.test.ts'] } },
      // The console's UI logic and presentational components (web/test): no server, so no global setup.
      {
        oxc: { jsx: { runtime: 'automatic' as const, importSource: 'preact' } },
        test: { name: 'web', include: ['web/test/**/*.test.{ts,tsx}'] },
      },
      ...((await postgresAnswers()) ? [postgresProject] : []),
    ],
  },
}));

const postgresProject = {
  // The whole integration suite once more, on PostgreSQL (a fresh database per server under test).
  test: {
    ...shared,
    name: 'postgres',
    include: ['test/integration/**/*.test.ts'],
    env: { BERTH_TEST_METADATA: 'postgres' },
  },
};
