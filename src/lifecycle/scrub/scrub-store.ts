import type { Kysely } from 'kysely';
import type { Database } from '../../metadata/index.js';

/** Where a bad blob is used: each repository linking it, with the manifests that need it and their tags. */
export interface AffectedRepository {
  repository: string;
  /** Manifests that reference the blob directly, and indexes over them. */
  manifests: string[];
  /** Tags pointing at those manifests. */
  tags: string[];
}

export interface StoredManifest {
  repositoryId: number;
  repository: string;
  digest: string;
  mediaType: string;
  content: Buffer;
}

/** The metadata reads the integrity scrub needs, in keyset pages so that a run can stop and resume anywhere. */
export class ScrubStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Blob rows after `after` in digest order. */
  async blobsAfter(after: string, limit: number): Promise<{ digest: string; size: number }[]> {
    const rows = await this.db
      .selectFrom('blobs')
      .select(['digest', 'size'])
      .where('digest', '>', after)
      .orderBy('digest')
      .limit(limit)
      .execute();
    return rows.map((row) => ({ digest: row.digest, size: Number(row.size) }));
  }

  async countBlobs(): Promise<number> {
    const row = await this.db
      .selectFrom('blobs')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async countManifests(): Promise<number> {
    const row = await this.db
      .selectFrom('manifests')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** Whether the blob still has a row that garbage collection is not deleting (a vanished blob is no finding). */
  async blobStillLive(digest: string, now = Date.now()): Promise<boolean> {
    const row = await this.db
      .selectFrom('blobs')
      .select('deleting_until')
      .where('digest', '=', digest)
      .executeTakeFirst();
    return row !== undefined && (row.deleting_until === null || Number(row.deleting_until) < now);
  }

  /** Manifests after the (repository id, digest) cursor, in that order. */
  async manifestsAfter(
    after: { repositoryId: number; digest: string },
    limit: number,
  ): Promise<StoredManifest[]> {
    const rows = await this.db
      .selectFrom('manifests as m')
      .innerJoin('repositories as r', 'r.id', 'm.repository_id')
      .select(['m.repository_id', 'r.name', 'm.digest', 'm.media_type', 'm.content'])
      .where((eb) =>
        eb.or([
          eb('m.repository_id', '>', after.repositoryId),
          eb.and([eb('m.repository_id', '=', after.repositoryId), eb('m.digest', '>', after.digest)]),
        ]),
      )
      .orderBy('m.repository_id')
      .orderBy('m.digest')
      .limit(limit)
      .execute();
    return rows.map((row) => ({
      repositoryId: Number(row.repository_id),
      repository: row.name,
      digest: row.digest,
      mediaType: row.media_type,
      content: Buffer.from(row.content),
    }));
  }

  /** Of `digests`, those linked into the repository. */
  async linkedBlobs(repositoryId: number, digests: string[]): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    const rows = await this.db
      .selectFrom('repository_blobs as l')
      .innerJoin('blobs as b', 'b.digest', 'l.digest')
      .select('l.digest')
      .where('l.repository_id', '=', repositoryId)
      .where('l.digest', 'in', digests)
      .execute();
    return new Set(rows.map((row) => row.digest));
  }

  /** Of `digests`, the manifests the repository holds. */
  async presentManifests(repositoryId: number, digests: string[]): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    const rows = await this.db
      .selectFrom('manifests')
      .select('digest')
      .where('repository_id', '=', repositoryId)
      .where('digest', 'in', digests)
      .execute();
    return new Set(rows.map((row) => row.digest));
  }

  /**
   * Every repository that links the blob, with the manifests there that reference it (and the indexes over
   * those) and the tags on any of them: what a bad blob breaks.
   */
  async affected(digest: string): Promise<AffectedRepository[]> {
    const links = await this.db
      .selectFrom('repository_blobs as l')
      .innerJoin('repositories as r', 'r.id', 'l.repository_id')
      .select(['r.id', 'r.name'])
      .where('l.digest', '=', digest)
      .orderBy('r.name')
      .execute();
    const affected: AffectedRepository[] = [];
    for (const link of links) {
      const repositoryId = Number(link.id);
      const direct = await this.parents(repositoryId, [digest]);
      const indexes = await this.parents(repositoryId, direct);
      const manifests = [...new Set([...direct, ...indexes])];
      const tags =
        manifests.length === 0
          ? []
          : await this.db
              .selectFrom('tags')
              .select('name')
              .where('repository_id', '=', repositoryId)
              .where('manifest_digest', 'in', manifests)
              .orderBy('name')
              .execute();
      affected.push({ repository: link.name, manifests, tags: tags.map((t) => t.name) });
    }
    return affected;
  }

  private async parents(repositoryId: number, children: string[]): Promise<string[]> {
    if (children.length === 0) return [];
    const rows = await this.db
      .selectFrom('manifest_references')
      .select('manifest_digest')
      .distinct()
      .where('repository_id', '=', repositoryId)
      .where('child_digest', 'in', children)
      .execute();
    return rows.map((row) => row.manifest_digest);
  }
}
