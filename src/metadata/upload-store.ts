import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface UploadRow {
  id: string;
  repository: string;
  offset: number;
  startedAt: number;
  updatedAt: number;
  /** The request holding the session's write lease, if any, and until when. */
  writer: string | null;
  leaseUntil: number | null;
  generation: number;
}

/**
 * Upload session rows. A session has at most one writer at a time across every process sharing the
 * database: a writer claims it at the offset it read (compare-and-set), renews its lease while it streams,
 * advances the offset, and releases it. A lease that is not renewed (its process died) lapses, so another
 * node can take the upload over.
 */
export class UploadStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(id: string, repository: string): Promise<void> {
    const now = Date.now();
    await this.db
      .insertInto('uploads')
      .values({ id, repository, offset: 0, started_at: now, updated_at: now })
      .execute();
  }

  async get(id: string): Promise<UploadRow | undefined> {
    const row = await this.db.selectFrom('uploads').selectAll().where('id', '=', id).executeTakeFirst();
    return (
      row && {
        id: row.id,
        repository: row.repository,
        offset: Number(row.offset),
        startedAt: Number(row.started_at),
        updatedAt: Number(row.updated_at),
        writer: row.writer,
        leaseUntil: row.lease_until === null ? null : Number(row.lease_until),
        generation: Number(row.generation),
      }
    );
  }

  /**
   * Takes the write lease if the session is still at `offset` and nobody holds a live lease; returns the
   * session's new generation, or undefined when it could not.
   */
  async claim(id: string, offset: number, writer: string, leaseMs: number): Promise<number | undefined> {
    const now = Date.now();
    const row = await this.db
      .updateTable('uploads')
      .set((eb) => ({
        writer,
        lease_until: now + leaseMs,
        generation: eb('generation', '+', 1),
        updated_at: now,
      }))
      .where('id', '=', id)
      .where('offset', '=', offset)
      .where((eb) => eb.or([eb('writer', 'is', null), eb('lease_until', '<', now)]))
      .returning('generation')
      .executeTakeFirst();
    return row === undefined ? undefined : Number(row.generation);
  }

  /** Extends a held lease; false when it was lost (it lapsed and someone else claimed the session). */
  async renew(id: string, writer: string, leaseMs: number): Promise<boolean> {
    const now = Date.now();
    const result = await this.db
      .updateTable('uploads')
      .set({ lease_until: now + leaseMs, updated_at: now })
      .where('id', '=', id)
      .where('writer', '=', writer)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Moves the offset forward, only for the lease holder (or, with `writer` null, a process alone on the
   * database that takes no leases) at the offset it wrote from.
   */
  async advance(id: string, writer: string | null, from: number, to: number): Promise<boolean> {
    const result = await this.db
      .updateTable('uploads')
      .set({ offset: to, updated_at: Date.now() })
      .where('id', '=', id)
      .where('writer', writer === null ? 'is' : '=', writer)
      .where('offset', '=', from)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async release(id: string, writer: string): Promise<void> {
    await this.db
      .updateTable('uploads')
      .set({ writer: null, lease_until: null })
      .where('id', '=', id)
      .where('writer', '=', writer)
      .execute();
  }

  /** Drops every lease: only for a process that knows no other one uses the database. */
  async releaseAll(): Promise<void> {
    await this.db
      .updateTable('uploads')
      .set({ writer: null, lease_until: null })
      .where('writer', 'is not', null)
      .execute();
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('uploads').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** Sessions idle since before `updatedBefore` that no live writer holds. */
  async stale(updatedBefore: number, limit = 100): Promise<string[]> {
    const now = Date.now();
    const rows = await this.db
      .selectFrom('uploads')
      .select('id')
      .where('updated_at', '<', updatedBefore)
      .where((eb) => eb.or([eb('writer', 'is', null), eb('lease_until', '<', now)]))
      .limit(limit)
      .execute();
    return rows.map((row) => row.id);
  }
}
