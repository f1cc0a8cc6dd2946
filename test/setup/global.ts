// Vitest global setup: names this run (test databases carry the name) and drops what the run left behind.
import { randomBytes } from 'node:crypto';
import { dropRunDatabases } from '../helpers/postgres.js';

export function setup(): () => Promise<void> {
  process.env.BERTH_TEST_RUN ??= randomBytes(4).toString('hex');
  return async () => {
    try {
      await dropRunDatabases();
    } catch {
      // No PostgreSQL here: nothing was created either.
    }
  };
}
