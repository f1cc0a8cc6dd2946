import { type ExpressionBuilder, type Kysely, sql, type Transaction } from 'kysely';
import { projectOf } from '../domain/index.js';
import { addProjectUsage, inProject, isPostgres, lockProjectUsage } from './lifecycle-store.js';
import type { Database } from './schema.js';

/**
 * What garbage collection reads to decide (no manifest bodies: only the graph). The collector reads it for a
 * slice of repositories at a time (everything but blobs is per repository), without `blobs`: which blobs go
 * is then decided in the database (CollectionStore.unlinkedBlobs).
 */
export interface CollectionGraph {
  repositories: Map<number, string>;
  manifests: { repositoryId: number; digest: string; subject: string | null; createdAt: number }[];
  /** Manifests a tag points at, as `${repositoryId} ${digest}`. */
  tagged: Set<string>;
  /** Index → child manifest edges, and manifest → blob edges, per repository. */
  references: { repositoryId: number; manifest: string; child: string; kind: string }[];
  links: { repositoryId: number; digest: string; createdAt: number }[];
  blobs: { digest: string; size: number; touchedAt: number }[];
}

/** A manifest or a link: a repository and a digest. */
export interface RepositoryItem {
  repositoryId: number;
  digest: string;
}

/**
 * The garbage collector's reads and its guarded deletes (lifecycle/gc). Every delete re-checks, in the same
 * statement, that the thing is still garbage, so a push that raced the collector's mark phase wins:
 *
 * - a manifest goes only while untagged, older than the grace cutoff, listed by no index, and either (a
 *   referrer) without its subject or (anything else) the subject of no referrer;
 * - a link goes only while older than the cutoff and referenced by no manifest of its repository;
 * - a blob's row is first claimed (`deleting_until`) while no repository links it and no push touched it
 *   within the grace window; its bytes are deleted under the claim, then the row.
 *
 * Deletes are set-based, a batch per statement. On PostgreSQL the rows are locked first, in a statement of
 * their own, so the delete's fresh snapshot sees whatever a push that held them committed:
 * - manifests FOR UPDATE SKIP LOCKED: the collector never waits for a manifest row, so it can take no part in
 *   a deadlock; a manifest a push or a tag move holds at that moment (FOR SHARE, see holdReferences; a tag's
 *   foreign key check) is spared until the next run;
 * - links FOR UPDATE in (repository, digest) order, the order in which a manifest push holds its own, then
 *   the projects' usage rows as every link transaction does.
 * SQLite runs each statement atomically and serializes writers.
 */
export class CollectionStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Whether its statements run on this process's thread (SQLite), holding up every request meanwhile. */
  get embedded(): boolean {
    return !isPostgres(this.db);
  }

  /** How many repositories there are (the mark phase's progress total). */
  async repositoryCount(): Promise<number> {
    const row = await this.db
      .selectFrom('repositories')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** The next `limit` repositories by id after `afterId`: the slices the collector marks one by one. */
  async repositoriesAfter(afterId: number, limit: number): Promise<Map<number, string>> {
    const rows = await this.db
      .selectFrom('repositories')
      .select(['id', 'name'])
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit)
      .execute();
    return new Map(rows.map((row) => [Number(row.id), row.name]));
  }

  /** The graph of the given repositories (range scans over the primary keys), without blobs. */
  async graph(repositories: Map<number, string>): Promise<CollectionGraph> {
    const empty: CollectionGraph = {
      repositories,
      manifests: [],
      tagged: new Set(),
      references: [],
      links: [],
      blobs: [],
    };
    if (repositories.size === 0) return empty;
    const ids = [...repositories.keys()];
    const [first, last] = [Math.min(...ids), Math.max(...ids)];
    const [manifests, tags, references, links] = await Promise.all([
      this.db
        .selectFrom('manifests')
        .select(['repository_id', 'digest', 'subject', 'created_at'])
        .where('repository_id', '>=', first)
        .where('repository_id', '<=', last)
        .execute(),
      this.db
        .selectFrom('tags')
        .select(['repository_id', 'manifest_digest'])
        .distinct()
        .where('repository_id', '>=', first)
        .where('repository_id', '<=', last)
        .execute(),
      this.db
        .selectFrom('manifest_references')
        .select(['repository_id', 'manifest_digest', 'child_digest', 'kind'])
        .where('repository_id', '>=', first)
        .where('repository_id', '<=', last)
        .execute(),
      this.db
        .selectFrom('repository_blobs')
        .select(['repository_id', 'digest', 'created_at'])
        .where('repository_id', '>=', first)
        .where('repository_id', '<=', last)
        .execute(),
    ]);
    // A repository created meanwhile may have an id in the range: it is newer than any cutoff, left alone.
    const listed = (row: { repository_id: number }) => repositories.has(Number(row.repository_id));
    for (const row of manifests.filter(listed)) {
      empty.manifests.push({
        repositoryId: Number(row.repository_id),
        digest: row.digest,
        subject: row.subject,
        createdAt: Number(row.created_at),
      });
    }
    for (const row of tags.filter(listed))
      empty.tagged.add(`${Number(row.repository_id)} ${row.manifest_digest}`);
    for (const row of references.filter(listed)) {
      empty.references.push({
        repositoryId: Number(row.repository_id),
        manifest: row.manifest_digest,
        child: row.child_digest,
        kind: row.kind,
      });
    }
    for (const row of links.filter(listed)) {
      empty.links.push({
        repositoryId: Number(row.repository_id),
        digest: row.digest,
        createdAt: Number(row.created_at),
      });
    }
    return empty;
  }

  /**
   * A page of the blobs a run deletes once the links are swept: of the blobs after `after` in digest order
   * (`limit` of them), those no repository links and no push touched since `cutoff`, with their sizes; and
   * where the page ended. One statement: a keyset page of the primary key, each row's links looked up in the
   * links' digest index (an `in` list of the page's digests had PostgreSQL scan every link instead, 34 ms a
   * page at 100,000 blobs), so a page costs the same however large the tables grow.
   */
  async unlinkedBlobs(
    after: string,
    cutoff: number,
    limit: number,
  ): Promise<{ blobs: { digest: string; size: number }[]; last: string | undefined }> {
    const page = await this.db
      .selectFrom('blobs as b')
      .select((eb) => [
        'b.digest',
        'b.size',
        'b.touched_at',
        eb
          .exists(
            eb.selectFrom('repository_blobs as l').select('l.digest').whereRef('l.digest', '=', 'b.digest'),
          )
          .as('linked'),
      ])
      .where('b.digest', '>', after)
      .orderBy('b.digest')
      .limit(limit)
      .execute();
    return {
      blobs: page
        .filter((row) => Number(row.touched_at) < cutoff && !isTrue(row.linked))
        .map((row) => ({ digest: row.digest, size: Number(row.size) })),
      last: page[page.length - 1]?.digest,
    };
  }

  /** For a dry run: of the given blobs, how many links each has now, its size and when a push last touched it. */
  async linkCounts(
    digests: string[],
  ): Promise<Map<string, { links: number; size: number; touchedAt: number }>> {
    const found = new Map<string, { links: number; size: number; touchedAt: number }>();
    if (digests.length === 0) return found;
    const rows = await this.db
      .selectFrom('blobs as b')
      .leftJoin('repository_blobs as l', 'l.digest', 'b.digest')
      .select((eb) => ['b.digest', 'b.size', 'b.touched_at', eb.fn.count('l.digest').as('links')])
      .where('b.digest', 'in', digests)
      .groupBy(['b.digest', 'b.size', 'b.touched_at'])
      .execute();
    for (const row of rows) {
      found.set(row.digest, {
        links: Number(row.links),
        size: Number(row.size),
        touchedAt: Number(row.touched_at),
      });
    }
    return found;
  }

  /** Deletes the manifests that are still garbage (see the class comment); returns those deleted. */
  async deleteManifests(items: RepositoryItem[], cutoff: number): Promise<RepositoryItem[]> {
    if (items.length === 0) return [];
    return this.db.transaction().execute(async (trx) => {
      let wanted = items;
      if (isPostgres(trx)) {
        // Without waiting for the WAL flush (~5 ms a commit here): a collector's delete lost in a database
        // crash is only garbage again, which the next run deletes.
        await sql`set local synchronous_commit = off`.execute(trx);
        const locked = await trx
          .selectFrom('manifests')
          .select(['repository_id', 'digest'])
          .where((eb) => anyOf(eb, items))
          .orderBy('repository_id')
          .orderBy('digest')
          .forUpdate()
          .skipLocked()
          .execute();
        wanted = locked.map((row) => ({ repositoryId: Number(row.repository_id), digest: row.digest }));
        if (wanted.length === 0) return [];
      }
      // No alias for the deleted table: SQLite's RETURNING cannot name one. Inside the subqueries,
      // `manifests` is the outer row (the inner ones are aliased).
      const rows = await trx
        .deleteFrom('manifests')
        .where((eb) => anyOf(eb, wanted))
        // `+`: not an index condition. SQLite would otherwise take manifests_pushed (repository, created_at)
        // and read every old manifest of the repository instead of the batch's few by primary key.
        .where(sql<number>`+manifests.created_at`, '<', cutoff)
        .where(({ exists, not, selectFrom, or, eb }) =>
          eb.and([
            not(
              exists(
                selectFrom('tags as t')
                  .select('t.name')
                  .whereRef('t.repository_id', '=', 'manifests.repository_id')
                  .whereRef('t.manifest_digest', '=', 'manifests.digest'),
              ),
            ),
            not(
              exists(
                selectFrom('manifest_references as r')
                  .select('r.child_digest')
                  .whereRef('r.repository_id', '=', 'manifests.repository_id')
                  .whereRef('r.child_digest', '=', 'manifests.digest')
                  .where('r.kind', '=', 'manifest'),
              ),
            ),
            or([
              // Not a referrer: no referrer names it.
              eb.and([
                eb('manifests.subject', 'is', null),
                not(
                  exists(
                    selectFrom('manifests as s')
                      .select('s.digest')
                      .whereRef('s.repository_id', '=', 'manifests.repository_id')
                      .whereRef('s.subject', '=', 'manifests.digest'),
                  ),
                ),
              ]),
              // A referrer: its subject is gone.
              eb.and([
                eb('manifests.subject', 'is not', null),
                not(
                  exists(
                    selectFrom('manifests as p')
                      .select('p.digest')
                      .whereRef('p.repository_id', '=', 'manifests.repository_id')
                      .whereRef('p.digest', '=', 'manifests.subject'),
                  ),
                ),
              ]),
            ]),
          ]),
        )
        .returning(['manifests.repository_id', 'manifests.digest'])
        .execute();
      return rows.map((row) => ({ repositoryId: Number(row.repository_id), digest: row.digest }));
    });
  }

  /**
   * Deletes the links that are still garbage, with their projects' usage adjusted as unlinkBlob does; returns
   * those deleted. One transaction and one delete statement for the batch. On PostgreSQL the links are locked
   * first in (repository, digest) order — the order in which a manifest push holds its own (see
   * holdReferences) — and the projects' usage rows after them, as every link transaction does: so the batch
   * cannot deadlock with a push.
   */
  async deleteLinks(
    items: RepositoryItem[],
    cutoff: number,
    repositories: Map<number, string>,
  ): Promise<RepositoryItem[]> {
    if (items.length === 0) return [];
    return this.db.transaction().execute(async (trx) => {
      if (isPostgres(trx)) {
        await sql`set local synchronous_commit = off`.execute(trx);
        await trx
          .selectFrom('repository_blobs')
          .select('digest')
          .where((eb) => anyOf(eb, items))
          .orderBy('repository_id')
          .orderBy('digest')
          .forUpdate()
          .execute();
      }
      // No alias: SQLite's RETURNING cannot name one.
      const rows = await trx
        .deleteFrom('repository_blobs')
        .where((eb) => anyOf(eb, items))
        .where('repository_blobs.created_at', '<', cutoff)
        .where(({ exists, not, selectFrom }) =>
          not(
            exists(
              selectFrom('manifest_references as r')
                .select('r.child_digest')
                .whereRef('r.repository_id', '=', 'repository_blobs.repository_id')
                .whereRef('r.child_digest', '=', 'repository_blobs.digest')
                .where('r.kind', '=', 'blob'),
            ),
          ),
        )
        .returning(['repository_blobs.repository_id', 'repository_blobs.digest'])
        .execute();
      const deleted = rows.map((row) => ({ repositoryId: Number(row.repository_id), digest: row.digest }));
      const byProject = new Map<string, Set<string>>();
      for (const item of deleted) {
        const repository = repositories.get(item.repositoryId);
        if (repository === undefined) continue;
        const project = projectOf(repository);
        const digests = byProject.get(project) ?? new Set<string>();
        byProject.set(project, digests);
        digests.add(item.digest);
      }
      for (const project of [...byProject.keys()].sort()) {
        await uncount(trx, project, [...(byProject.get(project) ?? [])]);
      }
      return deleted;
    });
  }

  /**
   * Claims the blobs that no repository links and no push touched since `cutoff`, until `until`; returns
   * those claimed with their sizes. A push of a claimed blob waits for the claim to end.
   */
  async claimBlobs(
    digests: string[],
    cutoff: number,
    until: number,
    now = Date.now(),
  ): Promise<{ digest: string; size: number }[]> {
    if (digests.length === 0) return [];
    // No alias: SQLite's RETURNING cannot name one.
    const rows = await this.db
      .updateTable('blobs')
      .set({ deleting_until: until })
      .where('blobs.digest', 'in', digests)
      .where('blobs.touched_at', '<', cutoff)
      .where((eb) => eb.or([eb('blobs.deleting_until', 'is', null), eb('blobs.deleting_until', '<', now)]))
      .where(({ exists, not, selectFrom }) =>
        not(
          exists(
            selectFrom('repository_blobs as l').select('l.digest').whereRef('l.digest', '=', 'blobs.digest'),
          ),
        ),
      )
      .returning(['blobs.digest', 'blobs.size'])
      .execute();
    return rows.map((row) => ({ digest: row.digest, size: Number(row.size) }));
  }

  /** Extends this collector's claim on blobs; returns those it still holds. */
  async renewClaim(digests: string[], claim: number, until: number): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    const rows = await this.db
      .updateTable('blobs')
      .set({ deleting_until: until })
      .where('digest', 'in', digests)
      .where('deleting_until', '=', claim)
      .returning('digest')
      .execute();
    return new Set(rows.map((row) => row.digest));
  }

  /** Gives up `claim` on blobs whose bytes stay (a delete failed): a push of one need not wait for it to lapse. */
  async releaseClaim(digests: string[], claim: number): Promise<void> {
    if (digests.length === 0) return;
    await this.db
      .updateTable('blobs')
      .set({ deleting_until: null })
      .where('digest', 'in', digests)
      .where('deleting_until', '=', claim)
      .execute();
  }

  /** Removes the rows of blobs whose bytes this collector deleted under `claim`. */
  async dropClaimed(digests: string[], claim: number): Promise<number> {
    if (digests.length === 0) return 0;
    const result = await this.db
      .deleteFrom('blobs')
      .where('digest', 'in', digests)
      .where('deleting_until', '=', claim)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /**
   * For bytes in storage without a row (left by a crash or an operator): claims the digest by inserting a
   * row already under claim, so a push of it waits; false when a row exists (a push is under way or done).
   */
  async claimOrphan(digest: string, size: number, until: number): Promise<boolean> {
    const result = await this.db
      .insertInto('blobs')
      .values({ digest, size, created_at: 0, touched_at: 0, deleting_until: until })
      .onConflict((oc) => oc.column('digest').doNothing())
      .executeTakeFirst();
    return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  /** Ends every collector claim: for a process alone on its database, at start (the claims died with it). */
  async releaseClaims(): Promise<void> {
    await this.db
      .updateTable('blobs')
      .set({ deleting_until: null })
      .where('deleting_until', 'is not', null)
      .execute();
  }

  /** Digests of the given ones that have a row. */
  async knownBlobs(digests: string[]): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    const rows = await this.db.selectFrom('blobs').select('digest').where('digest', 'in', digests).execute();
    return new Set(rows.map((row) => row.digest));
  }
}

/** A boolean column as either database returns it (PostgreSQL: a boolean, SQLite: 0 or 1). */
function isTrue(value: unknown): boolean {
  return value === true || Number(value) === 1;
}

/** The rows of these (repository, digest) pairs: one `repository_id = ? and digest in (…)` per repository. */
function anyOf<T extends 'manifests' | 'repository_blobs'>(
  eb: ExpressionBuilder<Database, T>,
  items: RepositoryItem[],
) {
  const byRepository = new Map<number, string[]>();
  for (const item of items) {
    const digests = byRepository.get(item.repositoryId) ?? [];
    byRepository.set(item.repositoryId, digests);
    digests.push(item.digest);
  }
  const ref = eb as unknown as ExpressionBuilder<Database, 'manifests'>;
  return ref.or(
    [...byRepository].map(([repositoryId, digests]) =>
      ref.and([ref('repository_id', '=', repositoryId), ref('digest', 'in', digests)]),
    ),
  );
}

/**
 * After links of `digests` into the project were removed: takes the blobs that no repository of the project
 * links any more off its usage (metadata-store's uncountUnlinked, in one query for the batch).
 */
async function uncount(trx: Transaction<Database>, project: string, digests: string[]): Promise<void> {
  if (digests.length === 0) return;
  await lockProjectUsage(trx, project);
  const row = await trx
    .selectFrom('blobs as b')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>('b.size'), eb.lit(0)).as('freed'))
    .where('b.digest', 'in', digests)
    .where(({ exists, not, selectFrom }) =>
      not(
        exists(
          selectFrom('repository_blobs as l')
            .innerJoin('repositories as r', 'r.id', 'l.repository_id')
            .select('l.digest')
            .whereRef('l.digest', '=', 'b.digest')
            .where((eb) => inProject(eb, project)),
        ),
      ),
    )
    .executeTakeFirstOrThrow();
  const freed = Number(row.freed);
  if (freed > 0) await addProjectUsage(trx, project, -freed);
}
