import { type Kysely, sql, type Transaction } from 'kysely';
import { projectOf } from '../auth/index.js';
import { isPostgres } from './lifecycle-store.js';
import { uncountUnlinked } from './metadata-store.js';
import type { Database } from './schema.js';

/** What garbage collection reads to decide (no manifest bodies: only the graph). */
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
 * On PostgreSQL each manifest or link is first locked (FOR UPDATE), so a manifest push holding it (FOR SHARE,
 * see holdReferences) either commits first, and the delete's fresh snapshot sees its references, or finds
 * it gone. SQLite runs each statement atomically and serializes writers.
 */
export class CollectionStore {
  constructor(private readonly db: Kysely<Database>) {}

  async graph(): Promise<CollectionGraph> {
    const [repositories, manifests, tags, references, links, blobs] = await Promise.all([
      this.db.selectFrom('repositories').select(['id', 'name']).execute(),
      this.db.selectFrom('manifests').select(['repository_id', 'digest', 'subject', 'created_at']).execute(),
      this.db.selectFrom('tags').select(['repository_id', 'manifest_digest']).distinct().execute(),
      this.db
        .selectFrom('manifest_references')
        .select(['repository_id', 'manifest_digest', 'child_digest', 'kind'])
        .execute(),
      this.db.selectFrom('repository_blobs').select(['repository_id', 'digest', 'created_at']).execute(),
      this.db.selectFrom('blobs').select(['digest', 'size', 'touched_at']).execute(),
    ]);
    return {
      repositories: new Map(repositories.map((row) => [Number(row.id), row.name])),
      manifests: manifests.map((row) => ({
        repositoryId: Number(row.repository_id),
        digest: row.digest,
        subject: row.subject,
        createdAt: Number(row.created_at),
      })),
      tagged: new Set(tags.map((row) => `${Number(row.repository_id)} ${row.manifest_digest}`)),
      references: references.map((row) => ({
        repositoryId: Number(row.repository_id),
        manifest: row.manifest_digest,
        child: row.child_digest,
        kind: row.kind,
      })),
      links: links.map((row) => ({
        repositoryId: Number(row.repository_id),
        digest: row.digest,
        createdAt: Number(row.created_at),
      })),
      blobs: blobs.map((row) => ({
        digest: row.digest,
        size: Number(row.size),
        touchedAt: Number(row.touched_at),
      })),
    };
  }

  /** Deletes the manifests that are still garbage (see the class comment); returns those deleted. */
  async deleteManifests(items: RepositoryItem[], cutoff: number): Promise<RepositoryItem[]> {
    return this.each(items, async (trx, item) => {
      if (isPostgres(trx)) {
        await trx
          .selectFrom('manifests')
          .select('digest')
          .where('repository_id', '=', item.repositoryId)
          .where('digest', '=', item.digest)
          .forUpdate()
          .execute();
      }
      const result = await trx
        .deleteFrom('manifests as m')
        .where('m.repository_id', '=', item.repositoryId)
        .where('m.digest', '=', item.digest)
        .where('m.created_at', '<', cutoff)
        .where(({ exists, not, selectFrom, or, eb }) =>
          eb.and([
            not(
              exists(
                selectFrom('tags as t')
                  .select('t.name')
                  .whereRef('t.repository_id', '=', 'm.repository_id')
                  .whereRef('t.manifest_digest', '=', 'm.digest'),
              ),
            ),
            not(
              exists(
                selectFrom('manifest_references as r')
                  .select('r.child_digest')
                  .whereRef('r.repository_id', '=', 'm.repository_id')
                  .whereRef('r.child_digest', '=', 'm.digest')
                  .where('r.kind', '=', 'manifest'),
              ),
            ),
            or([
              // Not a referrer: no referrer names it.
              eb.and([
                eb('m.subject', 'is', null),
                not(
                  exists(
                    selectFrom('manifests as s')
                      .select('s.digest')
                      .whereRef('s.repository_id', '=', 'm.repository_id')
                      .whereRef('s.subject', '=', 'm.digest'),
                  ),
                ),
              ]),
              // A referrer: its subject is gone.
              eb.and([
                eb('m.subject', 'is not', null),
                not(
                  exists(
                    selectFrom('manifests as p')
                      .select('p.digest')
                      .whereRef('p.repository_id', '=', 'm.repository_id')
                      .whereRef('p.digest', '=', 'm.subject'),
                  ),
                ),
              ]),
            ]),
          ]),
        )
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
  }

  /**
   * Deletes the links that are still garbage, with their projects' usage adjusted as unlinkBlob does; returns
   * those deleted. One transaction for the batch, one delete statement per repository. On PostgreSQL the links
   * are locked first in (repository, digest) order — the order in which a manifest push holds its own (see
   * holdReferences) — and the projects' usage rows after them, as every link transaction does: so the batch
   * cannot deadlock with a push.
   */
  async deleteLinks(
    items: RepositoryItem[],
    cutoff: number,
    repositories: Map<number, string>,
  ): Promise<RepositoryItem[]> {
    const byRepository = new Map<number, string[]>();
    for (const item of items) {
      const digests = byRepository.get(item.repositoryId) ?? [];
      byRepository.set(item.repositoryId, digests);
      digests.push(item.digest);
    }
    if (byRepository.size === 0) return [];
    return this.db.transaction().execute(async (trx) => {
      const postgres = isPostgres(trx);
      if (postgres) await sql`set local synchronous_commit = off`.execute(trx);
      const deleted: RepositoryItem[] = [];
      for (const repositoryId of [...byRepository.keys()].sort((a, b) => a - b)) {
        const digests = (byRepository.get(repositoryId) ?? []).sort();
        if (postgres) {
          await trx
            .selectFrom('repository_blobs')
            .select('digest')
            .where('repository_id', '=', repositoryId)
            .where('digest', 'in', digests)
            .orderBy('digest')
            .forUpdate()
            .execute();
        }
        // No alias: SQLite's RETURNING cannot name one.
        const rows = await trx
          .deleteFrom('repository_blobs')
          .where('repository_blobs.repository_id', '=', repositoryId)
          .where('repository_blobs.digest', 'in', digests)
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
          .returning('repository_blobs.digest')
          .execute();
        for (const row of rows) deleted.push({ repositoryId, digest: row.digest });
      }
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
        await uncountUnlinked(trx, project, [...(byProject.get(project) ?? [])]);
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

  /**
   * Runs `work` for each item and returns the items it did something to. SQLite: batches of items share a
   * transaction (commits are what costs). PostgreSQL: one transaction per item, so that the collector never
   * holds two row locks at once and cannot deadlock with a push.
   */
  private async each(
    items: RepositoryItem[],
    work: (trx: Transaction<Database>, item: RepositoryItem) => Promise<boolean>,
  ): Promise<RepositoryItem[]> {
    const done: RepositoryItem[] = [];
    if (isPostgres(this.db)) {
      for (const item of items) {
        const deleted = await this.db.transaction().execute(async (trx) => {
          // Without waiting for the WAL flush (~5 ms a commit here): a collector's delete lost in a database
          // crash is only garbage again, which the next run deletes.
          await sql`set local synchronous_commit = off`.execute(trx);
          return work(trx, item);
        });
        if (deleted) done.push(item);
      }
      return done;
    }
    await this.db.transaction().execute(async (trx) => {
      for (const item of items) if (await work(trx, item)) done.push(item);
    });
    return done;
  }
}
