// PostgreSQL-only behaviour: migrations racing from several nodes, LISTEN/NOTIFY invalidation, advisory-locked
// jobs. The rest of the metadata layer is covered by the whole integration suite (the `postgres` project).
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Invalidation,
  type Notify,
  notifyThrough,
  PostgresBus,
  PostgresJobLock,
} from '../../src/cluster/index.js';
import { openDatabase } from '../../src/metadata/index.js';
import { StaticMigrationProvider } from '../../src/metadata/migrations.js';
import { createTestDatabase, dropTestDatabase, postgresAvailable } from '../helpers/postgres.js';

let url: string;

beforeAll(async () => {
  if (postgresAvailable) url = await createTestDatabase();
});

afterAll(async () => {
  if (url) await dropTestDatabase(url);
});

function until<T>(check: () => T | undefined, ms = 3000): Promise<T> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const poll = () => {
      const value = check();
      if (value !== undefined) resolve(value);
      else if (Date.now() - started > ms) reject(new Error(`nothing within ${ms} ms`));
      else setTimeout(poll, 10);
    };
    poll();
  });
}

describe.skipIf(!postgresAvailable)('migrations on PostgreSQL', () => {
  it('run once when six nodes start at the same moment', async () => {
    const opened = await Promise.all(Array.from({ length: 6 }, () => openDatabase(url, { poolSize: 2 })));
    try {
      const { db } = opened[0] as (typeof opened)[number];
      const tables = await db.introspection.getTables();
      expect(tables.map((t) => t.name).sort()).toEqual(
        expect.arrayContaining(['blobs', 'manifests', 'repositories', 'tags', 'uploads']),
      );
      // Each migration recorded once, however many nodes raced to apply it.
      const applied = await db
        .selectFrom('kysely_migration' as never)
        .select('name' as never)
        .execute();
      const expected = Object.keys(await new StaticMigrationProvider('postgres').getMigrations());
      expect(expected.length).toBeGreaterThanOrEqual(3);
      expect(applied.map((row) => (row as { name: string }).name).sort()).toEqual(expected.sort());
    } finally {
      await Promise.all(opened.map(({ db }) => db.destroy()));
    }
  });

  it('reads bigint columns as numbers', async () => {
    const { db } = await openDatabase(url);
    try {
      const big = 2 ** 40 + 3;
      await db
        .insertInto('blobs')
        .values({ digest: 'sha256:big', size: big, created_at: Date.now() })
        .execute();
      const row = await db
        .selectFrom('blobs')
        .select('size')
        .where('digest', '=', 'sha256:big')
        .executeTakeFirst();
      expect(row?.size).toBe(big);
    } finally {
      await db.destroy();
    }
  });

  it('survives the server ending its idle connections (a restart, pg_terminate_backend)', async () => {
    const { db, postgres } = await openDatabase(url, { poolSize: 2 });
    const uncaught: Error[] = [];
    const onUncaught = (error: Error) => uncaught.push(error);
    // Before the fix the pool re-emitted the idle connection's error with no listener: an uncaught exception.
    process.prependListener('uncaughtException', onUncaught);
    try {
      await Promise.all([sql`select pg_sleep(0.05)`.execute(db), sql`select pg_sleep(0.05)`.execute(db)]);
      expect(postgres?.pool.idleCount).toBeGreaterThan(0);
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        const { rowCount } = await admin.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
        );
        expect(rowCount).toBeGreaterThan(0);
      } finally {
        await admin.end();
      }
      // The pool learns of each ended connection from its socket; wait until it has dropped them all.
      await until(() => (postgres?.pool.totalCount === 0 ? true : undefined), 10_000);
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db);
      expect(rows).toEqual([{ one: 1 }]);
      expect(uncaught).toEqual([]);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
      await db.destroy();
    }
  });
});

describe.skipIf(!postgresAvailable)('PostgresBus (LISTEN/NOTIFY)', () => {
  let pool: pg.Pool;
  const notify: Notify = (channel, payloads) => notifyThrough(pool)(channel, payloads);
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: url, max: 2 });
  });
  afterAll(async () => {
    await pool.end();
  });

  it('delivers an invalidation to the other nodes, not back to the sender', async () => {
    const errors: Error[] = [];
    const a = await PostgresBus.start(url, notify, (e) => errors.push(e));
    const b = await PostgresBus.start(url, notify, (e) => errors.push(e));
    const c = await PostgresBus.start(url, notify, (e) => errors.push(e));
    try {
      const seen: Record<string, Invalidation[]> = { a: [], b: [], c: [] };
      a.subscribe((e) => seen.a?.push(e));
      b.subscribe((e) => seen.b?.push(e));
      c.subscribe((e) => seen.c?.push(e));
      const event: Invalidation = { kind: 'manifest-deleted', repository: 'x/y', digest: 'sha256:abc' };
      await a.publish(event);
      await until(() => (seen.b?.length && seen.c?.length ? true : undefined));
      expect(seen.b).toEqual([event]);
      expect(seen.c).toEqual([event]);
      // The sender's own message came back on its LISTEN connection too; it must have been skipped.
      await b.publish({ kind: 'tag-changed', repository: 'x/y', tag: 'v1' });
      await until(() => (seen.a?.length ? true : undefined));
      expect(seen.a).toEqual([{ kind: 'tag-changed', repository: 'x/y', tag: 'v1' }]);
      expect(seen.b).toEqual([event]);
      expect(errors).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('delivers a batch published at once, every event in order, in one statement', async () => {
    const statements: number[] = [];
    const counted: Notify = (channel, payloads) => {
      statements.push(payloads.length);
      return notify(channel, payloads);
    };
    const a = await PostgresBus.start(url, counted, () => {});
    const b = await PostgresBus.start(url, notify, () => {});
    try {
      const seen: Invalidation[] = [];
      b.subscribe((e) => seen.push(e));
      const events: Invalidation[] = Array.from({ length: 300 }, (_, i) => ({
        kind: 'manifest-deleted',
        repository: `gc/r${i % 7}`,
        digest: `sha256:${i.toString(16).padStart(64, '0')}`,
      }));
      await a.publishAll(events);
      await until(() => (seen.length >= events.length ? true : undefined));
      expect(seen).toEqual(events);
      expect(statements).toEqual([300]);
      await a.publishAll([]);
      await a.publish({ kind: 'tag-changed', repository: 'gc/r1', tag: 'v1' });
      await until(() => (seen.length > events.length ? true : undefined));
      expect(seen.at(-1)).toEqual({ kind: 'tag-changed', repository: 'gc/r1', tag: 'v1' });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('ignores foreign or malformed payloads on the channel', async () => {
    const bus = await PostgresBus.start(url, notify, () => {});
    try {
      const seen: Invalidation[] = [];
      bus.subscribe((e) => seen.push(e));
      await notify('berth_invalidate', ['not json']);
      await notify('berth_invalidate', [JSON.stringify({ hello: 'world' })]);
      await notify('berth_invalidate', [
        JSON.stringify({ berth: 'invalidate', from: 'elsewhere', event: { kind: 'all' } }),
      ]);
      await until(() => (seen.length ? true : undefined));
      expect(seen).toEqual([{ kind: 'all' }]);
    } finally {
      await bus.close();
    }
  });

  it('forgets everything when its connection is cut, and listens again after reconnecting', async () => {
    const errors: Error[] = [];
    const bus = await PostgresBus.start(url, notify, (e) => errors.push(e));
    try {
      const seen: Invalidation[] = [];
      bus.subscribe((e) => seen.push(e));
      const { rows } = await pool.query<{ pid: number }>(
        "select pid from pg_stat_activity where datname = current_database() and query like 'LISTEN%'",
      );
      expect(rows.length).toBeGreaterThan(0);
      for (const { pid } of rows) await pool.query('select pg_terminate_backend($1)', [pid]);
      // Lost: one 'all' at once; reconnected: another.
      await until(() => (seen.length >= 2 ? true : undefined), 5000);
      expect(seen.slice(0, 2)).toEqual([{ kind: 'all' }, { kind: 'all' }]);
      expect(errors.length).toBeGreaterThan(0);
      const other = await PostgresBus.start(url, notify, () => {});
      await other.publish({ kind: 'tag-changed', repository: 'r', tag: 't' });
      await until(() => (seen.some((e) => e.kind === 'tag-changed') ? true : undefined));
      await other.close();
    } finally {
      await bus.close();
    }
  });
});

describe.skipIf(!postgresAvailable)('PostgresJobLock (advisory lock)', () => {
  it('lets one node run a job at a time, and the next one after it finished', async () => {
    const poolA = new pg.Pool({ connectionString: url, max: 2 });
    const poolB = new pg.Pool({ connectionString: url, max: 2 });
    try {
      const a = new PostgresJobLock(poolA);
      const b = new PostgresJobLock(poolB);
      let release: () => void = () => {};
      const holding = new Promise<void>((resolve) => {
        release = resolve;
      });
      let started = false;
      const first = a.run('purge', async () => {
        started = true;
        await holding;
      });
      await until(() => (started ? true : undefined));
      let ranOnB = false;
      expect(
        await b.run('purge', async () => {
          ranOnB = true;
        }),
      ).toBe(false);
      expect(ranOnB).toBe(false);
      // Another job name is independent.
      expect(await b.run('gc', async () => {})).toBe(true);
      release();
      expect(await first).toBe(true);
      expect(
        await b.run('purge', async () => {
          ranOnB = true;
        }),
      ).toBe(true);
      expect(ranOnB).toBe(true);
    } finally {
      await Promise.all([poolA.end(), poolB.end()]);
    }
  });

  it('releases the lock when the job throws', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    try {
      const lock = new PostgresJobLock(pool);
      await expect(
        lock.run('boom', async () => {
          throw new Error('job failed');
        }),
      ).rejects.toThrow('job failed');
      expect(await lock.run('boom', async () => {})).toBe(true);
    } finally {
      await pool.end();
    }
  });
});
