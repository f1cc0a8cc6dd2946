import { setTimeout as sleep } from 'node:timers/promises';
import type { Transaction } from 'kysely';
import { projectOf } from '../domain/index.js';
import {
  addProjectUsage,
  type LinkAdmission,
  lockProjectUsage,
  projectHoldsBlob,
  projectLimit,
} from './lifecycle-store.js';
import { type Db, RepositoryRows } from './repository-rows.js';
import type { Database } from './schema.js';

/** Blobs and their links into repositories: linked, unlinked, claimed against garbage collection, counted. */
export class BlobLinkRows extends RepositoryRows {
  /** Size of a blob linked into the repository, or undefined when the repository cannot see it. */
  async linkedBlobSize(repository: string, digest: string): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('repository_blobs as l')
      .innerJoin('repositories as r', 'r.id', 'l.repository_id')
      .innerJoin('blobs as b', 'b.digest', 'l.digest')
      .select('b.size')
      .where('r.name', '=', repository)
      .where('l.digest', '=', digest)
      .executeTakeFirst();
    return row === undefined ? undefined : Number(row.size);
  }

  async blobSize(digest: string): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('blobs')
      .select('size')
      .where('digest', '=', digest)
      .executeTakeFirst();
    return row === undefined ? undefined : Number(row.size);
  }

  /**
   * Records a stored blob (once) and links it into the repository, in one transaction that also ends the
   * upload session the blob came from, if any, and counts the blob toward the project's usage when no other
   * repository of the project links it. `admit` sees that charge first and may refuse it by throwing, which
   * undoes the whole transaction.
   */
  async linkBlob(
    repository: string,
    digest: string,
    size: number,
    completedUpload?: string,
    admit?: LinkAdmission,
  ): Promise<void> {
    const now = Date.now();
    const project = projectOf(repository);
    await this.db.transaction().execute(async (trx) => {
      if (completedUpload !== undefined)
        await trx.deleteFrom('uploads').where('id', '=', completedUpload).execute();
      const repositoryId = await this.ensureRepository(trx, repository, now);
      if (!(await touchBlob(trx, digest, size, now))) throw new BlobBeingCollected(digest);
      const linked = await trx
        .insertInto('repository_blobs')
        .values({ repository_id: repositoryId, digest, created_at: now })
        .onConflict((oc) => oc.columns(['repository_id', 'digest']).doNothing())
        .executeTakeFirst();
      if ((linked.numInsertedOrUpdatedRows ?? 0n) === 0n) {
        // Pushed again: the link starts a new grace window (garbage collection spares young links).
        await trx
          .updateTable('repository_blobs')
          .set({ created_at: now })
          .where('repository_id', '=', repositoryId)
          .where('digest', '=', digest)
          .execute();
        return;
      }
      // Links into one project are counted one at a time, each seeing the links committed before it.
      const usedBytes = await lockProjectUsage(trx, project);
      if (await projectHoldsBlob(trx, project, digest, repositoryId)) return;
      admit?.({ project, usedBytes, limitBytes: await projectLimit(trx, project), size });
      await addProjectUsage(trx, project, size);
    });
  }

  /**
   * Removes a repository's link to a blob, and the blob's bytes from the project's usage when it was the
   * project's last link to it; the bytes stay for garbage collection.
   */
  async unlinkBlob(repository: string, digest: string): Promise<boolean> {
    const id = await this.repositoryId(repository);
    if (id === undefined) return false;
    const project = projectOf(repository);
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .deleteFrom('repository_blobs')
        .where('repository_id', '=', id)
        .where('digest', '=', digest)
        .executeTakeFirst();
      if (result.numDeletedRows === 0n) return false;
      await uncountUnlinked(trx, project, [digest]);
      return true;
    });
  }

  /**
   * Marks the blob as relied upon by a push about to link it, creating its row when missing: garbage
   * collection spares it for its grace window from now on. While a collector is deleting the blob, waits
   * for it to finish (or for its claim to lapse, if it died) for up to `waitMs`.
   */
  async claimBlob(digest: string, size: number, waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    while (!(await touchBlob(this.db, digest, size, Date.now()))) {
      if (Date.now() > deadline) throw new BlobBeingCollected(digest);
      await sleep(100);
    }
  }

  /** Repositories that link the blob, for mounts without `from`. */
  async repositoriesWithBlob(digest: string, limit = 50): Promise<string[]> {
    const rows = await this.db
      .selectFrom('repository_blobs as l')
      .innerJoin('repositories as r', 'r.id', 'l.repository_id')
      .select('r.name')
      .where('l.digest', '=', digest)
      .orderBy('r.name')
      .limit(limit)
      .execute();
    return rows.map((row) => row.name);
  }

  /** Digest → size of the given blobs linked into the repository. */
  async blobsIn(repository: string, digests: string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    if (digests.length === 0) return found;
    const rows = await this.db
      .selectFrom('repository_blobs as l')
      .innerJoin('repositories as r', 'r.id', 'l.repository_id')
      .innerJoin('blobs as b', 'b.digest', 'l.digest')
      .select(['b.digest', 'b.size'])
      .where('r.name', '=', repository)
      .where('l.digest', 'in', digests)
      .execute();
    for (const row of rows) found.set(row.digest, Number(row.size));
    return found;
  }
}

/** A link would rely on a blob that garbage collection is deleting right now. */
export class BlobBeingCollected extends Error {
  constructor(readonly digest: string) {
    super(`blob ${digest} is being garbage collected`);
    this.name = 'BlobBeingCollected';
  }
}

/**
 * Creates the blob's row, or marks an existing one as just relied upon (touched_at), unless garbage
 * collection holds a live claim on it: false then. On PostgreSQL the upsert locks the row, so it and a
 * collector's claim (lifecycle/gc) are ordered: whichever comes second sees the other's write.
 */
async function touchBlob(db: Db, digest: string, size: number, now: number): Promise<boolean> {
  const result = await db
    .insertInto('blobs')
    .values({ digest, size, created_at: now, touched_at: now })
    .onConflict((oc) =>
      oc
        .column('digest')
        .doUpdateSet({ touched_at: now, deleting_until: null })
        .where((eb) => eb.or([eb('blobs.deleting_until', 'is', null), eb('blobs.deleting_until', '<', now)])),
    )
    .executeTakeFirst();
  return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/**
 * After links of `digests` into the project were removed: takes each blob off the project's usage when no other
 * repository of the project links it any more.
 */
export async function uncountUnlinked(
  trx: Transaction<Database>,
  project: string,
  digests: string[],
): Promise<void> {
  if (digests.length === 0) return;
  await lockProjectUsage(trx, project);
  const sizes = await trx
    .selectFrom('blobs')
    .select(['digest', 'size'])
    .where('digest', 'in', digests)
    .execute();
  let freed = 0;
  for (const { digest, size } of sizes) {
    if (!(await projectHoldsBlob(trx, project, digest))) freed += Number(size);
  }
  if (freed > 0) await addProjectUsage(trx, project, -freed);
}
