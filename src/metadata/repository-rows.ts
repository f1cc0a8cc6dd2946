import { type Kysely, sql, type Transaction } from 'kysely';
import { isPostgres } from './lifecycle-store.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database> | Transaction<Database>;

/**
 * The rows every part of the registry's metadata starts from: repositories (found, created on first use,
 * listed), on one database. The blob links (blob-links.ts) and the manifests and tags (manifest-rows.ts) build
 * on it; MetadataStore (metadata-store.ts) is all of them with the upload sessions.
 */
export class RepositoryRows {
  constructor(readonly db: Kysely<Database>) {}

  async close(): Promise<void> {
    await this.db.destroy();
  }

  async ping(): Promise<void> {
    await this.db.selectFrom('repositories').select('id').limit(1).execute();
  }

  async repositoryId(name: string, db: Db = this.db): Promise<number | undefined> {
    const row = await db.selectFrom('repositories').select('id').where('name', '=', name).executeTakeFirst();
    return row?.id;
  }

  protected async ensureRepository(db: Db, name: string, now: number): Promise<number> {
    if (isPostgres(db)) {
      // One round trip: the row, or the one inserted. Empty only when another transaction inserted it after
      // this statement's snapshot (the insert waited for it and did nothing): the select below sees it.
      const { rows } = await sql<{ id: number | string }>`
        with found as (select id from repositories where name = ${name}),
        made as (
          insert into repositories (name, created_at) select ${name}, ${now}::bigint
          where not exists (select 1 from found)
          on conflict (name) do nothing returning id
        )
        select id from found union all select id from made`.execute(db);
      if (rows[0] !== undefined) return Number(rows[0].id);
    } else {
      await db
        .insertInto('repositories')
        .values({ name, created_at: now })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
    }
    const id = await this.repositoryId(name, db);
    if (id === undefined) throw new Error(`repository ${name} vanished while being created`);
    return id;
  }

  async listRepositories(limit: number, last?: string): Promise<string[]> {
    let query = this.db.selectFrom('repositories').select('name');
    if (last !== undefined) query = query.where('name', '>', last);
    const rows = await query.orderBy('name').limit(limit).execute();
    return rows.map((row) => row.name);
  }
}
