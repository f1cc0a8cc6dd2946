// The two metadata engines the vulnerability database runs on: a fresh SQLite file in a temp dir, and a fresh
// PostgreSQL database (skipped loudly by test/helpers/postgres.ts when no server answers; failing under CI).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { type Database, openDatabase } from '../../../../src/metadata/index.js';
import { createTestDatabase, dropTestDatabase, postgresAvailable } from '../../../helpers/postgres.js';

export interface OpenedBackend {
  db: Kysely<Database>;
  close(): Promise<void>;
}

export const BACKENDS: { name: 'sqlite' | 'postgres'; available: boolean; open(): Promise<OpenedBackend> }[] =
  [
    {
      name: 'sqlite',
      available: true,
      async open() {
        const dir = await mkdtemp(join(tmpdir(), 'berth-vulndb-'));
        const { db } = await openDatabase(`sqlite:${join(dir, 'berth.db')}`);
        return {
          db,
          async close() {
            await db.destroy();
            await rm(dir, { recursive: true, force: true });
          },
        };
      },
    },
    {
      name: 'postgres',
      available: postgresAvailable,
      async open() {
        const url = await createTestDatabase();
        const { db } = await openDatabase(url, { poolSize: 4 });
        return {
          db,
          async close() {
            await db.destroy();
            await dropTestDatabase(url);
          },
        };
      },
    },
  ];
