import { type Kysely, sql } from 'kysely';
import { type Database, inProject } from '../metadata/index.js';

/** A repository as a listing shows it. */
export interface RepositorySummary {
  name: string;
  createdAt: number;
  /** Manifests that are neither an index's child nor a referrer (signatures, SBOMs). */
  artifacts: number;
  tags: number;
  /** The last tag move, or the creation when untagged. */
  updatedAt: number;
}

/** A top-level manifest of a repository with what a listing shows of it. */
export interface ArtifactRow {
  digest: string;
  mediaType: string;
  artifactType: string | null;
  /** The manifest's own bytes. */
  manifestSize: number;
  content: Buffer;
  pushedAt: number;
  lastPulledAt: number | null;
}

/** `%`, `_` and `\` taken literally in a LIKE pattern (ESCAPE '\'). */
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Read-only listings over the registry's metadata for the console and the API: a project's repositories and a
 * repository's artifacts, keyset-paged by index order (repository name; push time and digest), never by offset.
 */
export class CatalogStore {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * The project's repositories (`<project>/…`, and for the default project also single-segment names such as
   * `busybox`: see auth's projectOf) after `after`, at most `limit`, with `search` (a substring) when given; and
   * how many match in all. The name range `project/` … `project0` is `LIKE 'project/%'` as an index range.
   */
  async repositories(
    project: string,
    page: { limit: number; after?: string; search?: string },
  ): Promise<{ items: RepositorySummary[]; total: number }> {
    let base = this.db.selectFrom('repositories as r').where((eb) => inProject(eb, project));
    if (page.search) {
      base = base.where(sql<boolean>`r.name like ${`%${likeLiteral(page.search)}%`} escape '\\'`);
    }
    const counted = await base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirst();
    let query = base.select(['r.id', 'r.name', 'r.created_at']).select((eb) => [
      eb
        .selectFrom('manifests as m')
        .whereRef('m.repository_id', '=', 'r.id')
        .where('m.subject', 'is', null)
        .where((inner) =>
          inner.not(
            inner.exists(
              inner
                .selectFrom('manifest_references as c')
                .select('c.child_digest')
                .whereRef('c.repository_id', '=', 'm.repository_id')
                .whereRef('c.child_digest', '=', 'm.digest')
                .where('c.kind', '=', 'manifest'),
            ),
          ),
        )
        .select((x) => x.fn.countAll<number | string>().as('n'))
        .as('artifacts'),
      eb
        .selectFrom('tags as t')
        .whereRef('t.repository_id', '=', 'r.id')
        .select((x) => x.fn.countAll<number | string>().as('n'))
        .as('tags'),
      eb
        .selectFrom('tags as t')
        .whereRef('t.repository_id', '=', 'r.id')
        .select((x) => x.fn.max('t.updated_at').as('u'))
        .as('updated'),
    ]);
    if (page.after !== undefined) query = query.where('r.name', '>', page.after);
    const rows = await query.orderBy('r.name').limit(page.limit).execute();
    return {
      total: Number(counted?.n ?? 0),
      items: rows.map((row) => ({
        name: row.name,
        createdAt: Number(row.created_at),
        artifacts: Number(row.artifacts ?? 0),
        tags: Number(row.tags ?? 0),
        updatedAt: Number(row.updated ?? row.created_at),
      })),
    };
  }

  async repositoryId(name: string): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('repositories')
      .select('id')
      .where('name', '=', name)
      .executeTakeFirst();
    return row?.id;
  }

  /** Top-level artifacts, newest push first, after the `(pushedAt, digest)` key `after`. */
  async artifacts(
    repositoryId: number,
    page: { limit: number; after?: { pushedAt: number; digest: string } },
  ): Promise<ArtifactRow[]> {
    let query = this.db
      .selectFrom('manifests as m')
      .select([
        'm.digest',
        'm.media_type',
        'm.artifact_type',
        'm.size',
        'm.content',
        'm.created_at',
        'm.last_pulled_at',
      ])
      .where('m.repository_id', '=', repositoryId)
      .where('m.subject', 'is', null)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('manifest_references as c')
              .select('c.child_digest')
              .whereRef('c.repository_id', '=', 'm.repository_id')
              .whereRef('c.child_digest', '=', 'm.digest')
              .where('c.kind', '=', 'manifest'),
          ),
        ),
      );
    const after = page.after;
    if (after) {
      // `created_at <= ?` first: a bound the index manifests_pushed (repository_id, created_at desc, digest)
      // starts its range at, so a page reads `limit` entries wherever it is in the list.
      query = query
        .where('m.created_at', '<=', after.pushedAt)
        .where((eb) => eb.or([eb('m.created_at', '<', after.pushedAt), eb('m.digest', '>', after.digest)]));
    }
    const rows = await query.orderBy('m.created_at', 'desc').orderBy('m.digest').limit(page.limit).execute();
    return rows.map((row) => ({
      digest: row.digest,
      mediaType: row.media_type,
      artifactType: row.artifact_type,
      manifestSize: Number(row.size),
      content: row.content,
      pushedAt: Number(row.created_at),
      lastPulledAt: row.last_pulled_at === null ? null : Number(row.last_pulled_at),
    }));
  }

  /** Tags of the given manifests, by digest. */
  async tagsOf(repositoryId: number, digests: string[]): Promise<Map<string, string[]>> {
    const tags = new Map<string, string[]>();
    if (digests.length === 0) return tags;
    const rows = await this.db
      .selectFrom('tags')
      .select(['name', 'manifest_digest'])
      .where('repository_id', '=', repositoryId)
      .where('manifest_digest', 'in', digests)
      .execute();
    // Sorted here, not by the query: asked to sort by name, SQLite walked every tag of the repository in name
    // order (1.3 s a page at 100,000 tags) instead of looking up the page's digests in tags_manifest.
    rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // Appended in place: copying the list per row made an artifact with 100,000 tags take minutes.
    for (const row of rows) {
      const list = tags.get(row.manifest_digest);
      if (list) list.push(row.name);
      else tags.set(row.manifest_digest, [row.name]);
    }
    return tags;
  }

  /** What the given manifests reference: `[manifest, child, kind, size]`, a blob's size or a child manifest's. */
  async references(
    repositoryId: number,
    digests: string[],
  ): Promise<{ manifest: string; child: string; kind: string; size: number }[]> {
    if (digests.length === 0) return [];
    const rows = await this.db
      .selectFrom('manifest_references as r')
      .leftJoin('blobs as b', (join) =>
        join.onRef('b.digest', '=', 'r.child_digest').on('r.kind', '=', 'blob'),
      )
      .leftJoin('manifests as m', (join) =>
        join
          .onRef('m.digest', '=', 'r.child_digest')
          .onRef('m.repository_id', '=', 'r.repository_id')
          .on('r.kind', '=', 'manifest'),
      )
      .select([
        'r.manifest_digest',
        'r.child_digest',
        'r.kind',
        'b.size as blob_size',
        'm.size as manifest_size',
      ])
      .where('r.repository_id', '=', repositoryId)
      .where('r.manifest_digest', 'in', digests)
      .execute();
    return rows.map((row) => ({
      manifest: row.manifest_digest,
      child: row.child_digest,
      kind: row.kind,
      size: Number(row.blob_size ?? row.manifest_size ?? 0),
    }));
  }
}
