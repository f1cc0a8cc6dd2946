import { type Kysely, sql, type Transaction } from 'kysely';
import {
  combine as combineReservations,
  type FailureLimit,
  type FailureLog,
  judge as judgeReservation,
  type Reservation,
} from '../domain/index.js';
import { isPostgres } from './lifecycle-store.js';
import type { Database } from './schema.js';

/** Rows older than every window are deleted at most this often per process. */
const PRUNE_INTERVAL_MS = 60_000;

/**
 * Login failures in the metadata database (table login_failures, migration 0006), so that every worker of
 * `--workers N` on SQLite and every node on one PostgreSQL counts the same failures. A reservation reads and
 * writes a key's rows while holding the key: PostgreSQL transaction-level advisory locks (taken in key order,
 * so two attempts never deadlock), SQLite an immediate transaction (the database's one write lock). Reading
 * rows outside the lock would let concurrent attempts all see "one slot left".
 */
export class DatabaseFailureLog implements FailureLog {
  readonly #db: Kysely<Database>;
  readonly #postgres: boolean;
  #prunedAt = 0;
  #longestWindowMs = 0;

  constructor(db: Kysely<Database>) {
    this.#db = db;
    this.#postgres = isPostgres(db);
  }

  async reserve(limits: readonly FailureLimit[], attempt: string, now: number): Promise<Reservation> {
    for (const limit of limits) {
      this.#longestWindowMs = Math.max(this.#longestWindowMs, limit.windowSeconds * 1000);
    }
    const sorted = [...limits].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const verdict = await this.#locked(
      sorted.map((limit) => limit.key),
      async (trx) => {
        const combined = await this.#verdict(trx, sorted, now);
        if (combined.outcome === 'reserved') {
          await trx
            .insertInto('login_failures')
            .values(sorted.map((limit) => ({ key: limit.key, failed_at: now, attempt, pending: 1 })))
            .execute();
        }
        return combined;
      },
    );
    if (now - this.#prunedAt >= PRUNE_INTERVAL_MS) {
      this.#prunedAt = now;
      // Keys nobody tries again would otherwise stay forever; each key alone holds at most its limit.
      await this.#db
        .deleteFrom('login_failures')
        .where('failed_at', '<=', now - this.#longestWindowMs)
        .execute();
    }
    return verdict;
  }

  async peek(limits: readonly FailureLimit[], now: number): Promise<Reservation> {
    return this.#verdict(this.#db, limits, now);
  }

  async record(limits: readonly FailureLimit[], attempt: string, now: number): Promise<void> {
    await this.#write((db) =>
      db
        .insertInto('login_failures')
        .values(limits.map((limit) => ({ key: limit.key, failed_at: now, attempt, pending: 0 })))
        .execute(),
    );
  }

  /** The verdict over the keys' rows inside their windows. */
  async #verdict(
    db: Transaction<Database> | Kysely<Database>,
    limits: readonly FailureLimit[],
    now: number,
  ): Promise<Reservation> {
    const rows = await db
      .selectFrom('login_failures')
      .select(['key', 'failed_at', 'attempt', 'pending'])
      .where((eb) =>
        eb.or(
          limits.map((limit) =>
            eb.and([eb('key', '=', limit.key), eb('failed_at', '>', now - limit.windowSeconds * 1000)]),
          ),
        ),
      )
      .orderBy('failed_at')
      .execute();
    const verdicts = limits.map((limit) => {
      const entries = rows
        .filter((row) => row.key === limit.key)
        .map((row) => ({
          at: Number(row.failed_at),
          attempt: row.attempt,
          pending: Number(row.pending) === 1,
        }));
      return judgeReservation(entries, limit, now);
    });
    return combineReservations(verdicts);
  }

  async confirm(keys: readonly string[], attempt: string): Promise<void> {
    if (keys.length === 0) return;
    await this.#write((db) =>
      db
        .updateTable('login_failures')
        .set({ pending: 0 })
        .where('key', 'in', [...keys])
        .where('attempt', '=', attempt)
        .execute(),
    );
  }

  async release(keys: readonly string[], attempt: string, clear: readonly string[] = []): Promise<void> {
    if (keys.length === 0 && clear.length === 0) return;
    await this.#write((db) =>
      db
        .deleteFrom('login_failures')
        .where((eb) => {
          const ors = [];
          if (keys.length > 0) ors.push(eb.and([eb('key', 'in', [...keys]), eb('attempt', '=', attempt)]));
          if (clear.length > 0) ors.push(eb('key', 'in', [...clear]));
          return eb.or(ors);
        })
        .execute(),
    );
  }

  /** One write; on PostgreSQL without waiting for the WAL flush (a lost throttle row is harmless). */
  async #write(work: (db: Transaction<Database> | Kysely<Database>) => Promise<unknown>): Promise<void> {
    if (!this.#postgres) {
      await work(this.#db);
      return;
    }
    await this.#db.transaction().execute(async (trx) => {
      await sql`select set_config('synchronous_commit', 'off', true)`.execute(trx);
      await work(trx);
    });
  }

  /** Runs `work` in a transaction that holds `keys` (sorted) against every other process. */
  #locked<T>(keys: readonly string[], work: (trx: Transaction<Database> | Kysely<Database>) => Promise<T>) {
    if (this.#postgres) {
      return this.#db.transaction().execute(async (trx) => {
        // One round trip: the locks, in key order, and no WAL flush at commit (a throttle row lost in a crash
        // costs an attacker one guess at most; not worth a flush per login).
        const locks = keys.map(
          (key) => sql`pg_advisory_xact_lock(hashtextextended(${`berth:login:${key}`}, 0))`,
        );
        await sql`select set_config('synchronous_commit', 'off', true), ${sql.join(locks)}`.execute(trx);
        return work(trx);
      });
    }
    // Kysely's SQLite transactions BEGIN DEFERRED: the first read would take a snapshot that a concurrent
    // writer can outdate, failing the insert with SQLITE_BUSY. BEGIN IMMEDIATE takes the write lock first
    // (waiting up to busy_timeout for another process to finish).
    return this.#db.connection().execute(async (connection) => {
      await sql`begin immediate`.execute(connection);
      try {
        const result = await work(connection);
        await sql`commit`.execute(connection);
        return result;
      } catch (error) {
        await sql`rollback`.execute(connection).catch(() => {});
        throw error;
      }
    });
  }
}
