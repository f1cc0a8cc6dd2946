// Migration 0004 on a database that already stores blobs: each project's usage starts as what its links
// hold, each blob once per project. On SQLite, and on PostgreSQL when it answers.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type Database, LifecycleStore } from '../../../src/metadata/index.js';
import { type Dialect, StaticMigrationProvider } from '../../../src/metadata/migrations.js';
import { createTestDatabase, dropTestDatabase, postgresAvailable } from '../../helpers/postgres.js';
import { digestOf } from './support.js';

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const step of cleanup) await step();
});

async function database(dialect: Dialect): Promise<Kysely<Database>> {
  if (dialect === 'postgres') {
    const url = await createTestDatabase();
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    // pool.end() resolves before its connections have closed, so dropping the database (WITH FORCE) may end
    // one: without a listener the pool re-throws that as an uncaught exception.
    pool.on('error', () => {});
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    cleanup.push(async () => {
      await db.destroy();
      await dropTestDatabase(url);
    });
    return db;
  }
  const dir = await mkdtemp(join(tmpdir(), 'berth-migration-'));
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: new SQLite(join(dir, 'b.db')) }),
  });
  cleanup.push(async () => {
    await db.destroy();
    await rm(dir, { recursive: true, force: true });
  });
  return db;
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe.skipIf(dialect === 'postgres' && !postgresAvailable)(`0004_lifecycle on ${dialect}`, () => {
    it('starts every project at what its repositories hold', async () => {
      const db = await database(dialect);
      const migrator = new Migrator({ db, provider: new StaticMigrationProvider(dialect) });
      expect((await migrator.migrateTo('0003_upload_writer')).error).toBeUndefined();

      const now = Date.now();
      const repositories = ['team/a', 'team/b/c', 'teamwork/a', 'busybox', 'library/alpine', 'empty/x'];
      for (const name of repositories)
        await db.insertInto('repositories').values({ name, created_at: now }).execute();
      const ids = new Map(
        (await db.selectFrom('repositories').select(['id', 'name']).execute()).map((r) => [
          r.name,
          Number(r.id),
        ]),
      );
      const sizes = [1000, 200, 30, 4];
      await db
        .insertInto('blobs')
        .values(sizes.map((size, i) => ({ digest: digestOf(i), size, created_at: now })))
        .execute();
      // A blob nobody links any more (garbage) counts nowhere.
      await db
        .insertInto('blobs')
        .values({ digest: digestOf(99), size: 5, created_at: now })
        .execute();
      const links: [string, number][] = [
        ['team/a', 0],
        ['team/b/c', 0],
        ['team/b/c', 1],
        ['teamwork/a', 0],
        ['busybox', 2],
        ['library/alpine', 2],
        ['library/alpine', 3],
      ];
      await db
        .insertInto('repository_blobs')
        .values(
          links.map(([repo, n]) => ({
            repository_id: ids.get(repo) as number,
            digest: digestOf(n),
            created_at: now,
          })),
        )
        .execute();

      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      const store = new LifecycleStore(db);
      expect(await store.allStorage()).toEqual([
        { project: 'library', usedBytes: 34, limitBytes: null },
        { project: 'team', usedBytes: 1200, limitBytes: null },
        { project: 'teamwork', usedBytes: 1000, limitBytes: null },
      ]);
      expect(Object.fromEntries(await store.recount())).toEqual({ library: 34, team: 1200, teamwork: 1000 });
      expect(await store.storedBytes()).toBe(1239);
    });
  });
}
