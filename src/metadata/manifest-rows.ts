import { sql, type Transaction } from 'kysely';
import { BlobLinkRows } from './blob-links.js';
import { isPostgres } from './lifecycle-store.js';
import { PREPARED } from './prepared-statements.js';
import type { Db } from './repository-rows.js';
import type { Database } from './schema.js';

export interface ManifestRow {
  digest: string;
  mediaType: string;
  size: number;
  content: Buffer;
}

export interface NewManifest extends ManifestRow {
  subject: string | null;
  artifactType: string | null;
  annotations: string | null;
  references: { digest: string; kind: 'blob' | 'manifest' }[];
}

export interface ReferrerRow {
  digest: string;
  mediaType: string;
  size: number;
  artifactType: string | null;
  annotations: string | null;
}

/** What a manifest PUT changed: nothing at all for a re-put of a manifest under the tag already on it. */
export interface PutOutcome {
  /** The manifest was not in the repository before. */
  stored: boolean;
  /** The tag was created or now points elsewhere. */
  tagChanged: boolean;
  /** The notification given to putStoredManifest was sent (it is whenever the tag changed there). */
  notified?: boolean;
}

/**
 * Tag protection, applied inside the transaction that would change the tag: the error refusing to move or
 * delete `tag`, or undefined when it may change.
 */
export type TagGuard = (tag: string) => Error | undefined;

/** Manifests (with their references and referrers), tags and pull times. */
export class ManifestRows extends BlobLinkRows {
  async manifestByDigest(repository: string, digest: string): Promise<ManifestRow | undefined> {
    const row = await this.db
      .selectFrom('manifests as m')
      .innerJoin('repositories as r', 'r.id', 'm.repository_id')
      .select(['m.digest', 'm.media_type', 'm.size', 'm.content'])
      .where('r.name', '=', repository)
      .where('m.digest', '=', digest)
      .executeTakeFirst();
    return row && toManifestRow(row);
  }

  async manifestByTag(repository: string, tag: string): Promise<ManifestRow | undefined> {
    const row = await this.db
      .selectFrom('tags as t')
      .innerJoin('repositories as r', 'r.id', 't.repository_id')
      .innerJoin('manifests as m', (join) =>
        join.onRef('m.repository_id', '=', 't.repository_id').onRef('m.digest', '=', 't.manifest_digest'),
      )
      .select(['m.digest', 'm.media_type', 'm.size', 'm.content'])
      .where('r.name', '=', repository)
      .where('t.name', '=', tag)
      .executeTakeFirst();
    return row && toManifestRow(row);
  }

  /** Digest → media type and size of the given manifests present in the repository. */
  async manifestsIn(
    repository: string,
    digests: string[],
  ): Promise<Map<string, { mediaType: string; size: number }>> {
    const found = new Map<string, { mediaType: string; size: number }>();
    if (digests.length === 0) return found;
    const rows = await this.db
      .selectFrom('manifests as m')
      .innerJoin('repositories as r', 'r.id', 'm.repository_id')
      .select(['m.digest', 'm.media_type', 'm.size'])
      .where('r.name', '=', repository)
      .where('m.digest', 'in', digests)
      .execute();
    for (const row of rows) found.set(row.digest, { mediaType: row.media_type, size: Number(row.size) });
    return found;
  }

  /**
   * Stores a manifest with its references and, when given, points the tag at it: one transaction. When `guard`
   * protects the tag and it already points elsewhere, the guard's error is thrown and nothing is stored.
   * Writes only what changes: a manifest already stored is kept as it is, and a tag already on it is not
   * rewritten.
   */
  async putManifest(
    repository: string,
    manifest: NewManifest,
    tag: string | undefined,
    guard?: TagGuard,
  ): Promise<PutOutcome> {
    const now = Date.now();
    const refusal = tag === undefined ? undefined : guard?.(tag);
    return this.db.transaction().execute(async (trx): Promise<PutOutcome> => {
      const repositoryId = await this.ensureRepository(trx, repository, now);
      await holdReferences(trx, repositoryId, manifest.references);
      const inserted = await trx
        .insertInto('manifests')
        .values({
          repository_id: repositoryId,
          digest: manifest.digest,
          media_type: manifest.mediaType,
          size: manifest.size,
          content: manifest.content,
          subject: manifest.subject,
          artifact_type: manifest.artifactType,
          annotations: manifest.annotations,
          created_at: now,
        })
        .onConflict((oc) => oc.columns(['repository_id', 'digest']).doNothing())
        .executeTakeFirst();
      const stored = (inserted.numInsertedOrUpdatedRows ?? 0n) > 0n;
      if (stored && manifest.references.length > 0) {
        const unique = new Map(manifest.references.map((ref) => [ref.digest, ref.kind]));
        await trx
          .insertInto('manifest_references')
          .values(
            [...unique].map(([child, kind]) => ({
              repository_id: repositoryId,
              manifest_digest: manifest.digest,
              child_digest: child,
              kind,
            })),
          )
          .execute();
      }
      if (tag === undefined) return { stored, tagChanged: false };
      const row = {
        repository_id: repositoryId,
        name: tag,
        manifest_digest: manifest.digest,
        updated_at: now,
      };
      if (!refusal) {
        // A tag already on this manifest is left alone (no new row version, nothing to tell other nodes).
        const written = await trx
          .insertInto('tags')
          .values(row)
          .onConflict((oc) =>
            oc
              .columns(['repository_id', 'name'])
              .doUpdateSet({ manifest_digest: manifest.digest, updated_at: now })
              .where('tags.manifest_digest', '<>', manifest.digest),
          )
          .executeTakeFirst();
        return { stored, tagChanged: (written.numInsertedOrUpdatedRows ?? 0n) > 0n };
      }
      // A protected tag: insert-or-keep, then look. Of two concurrent first pushes the second finds the first's
      // digest, and a move of an existing tag is refused.
      const created = await trx
        .insertInto('tags')
        .values(row)
        .onConflict((oc) => oc.columns(['repository_id', 'name']).doNothing())
        .executeTakeFirst();
      const current = await trx
        .selectFrom('tags')
        .select('manifest_digest')
        .where('repository_id', '=', repositoryId)
        .where('name', '=', tag)
        .executeTakeFirst();
      if (current?.manifest_digest !== manifest.digest) throw refusal;
      return { stored, tagChanged: (created.numInsertedOrUpdatedRows ?? 0n) > 0n };
    });
  }

  /**
   * A manifest the repository already holds (a tag move, a re-push), on PostgreSQL: one statement instead of
   * putManifest's transaction. It checks that the manifest's blobs and child manifests are still in the
   * repository (a client may have deleted one since; garbage collection never removes what a stored manifest
   * references) and points the tag at it unless it is already there; the tag's foreign key check holds the
   * manifest until the commit. `guard` as for putManifest. Undefined when the repository does not hold the
   * manifest (or it went meanwhile, or a protected tag was created concurrently), and always on SQLite (where a
   * statement costs no round trip): putManifest then stores it. `notify`, when the tag changes, is sent by the
   * same statement (pg_notify: delivered at its commit, never without it): a tag move is one round trip.
   */
  async putStoredManifest(
    repository: string,
    manifest: NewManifest,
    tag: string | undefined,
    guard?: TagGuard,
    notify?: { channel: string; payload: string },
  ): Promise<PutOutcome | undefined> {
    if (!isPostgres(this.db)) return undefined;
    const now = Date.now();
    const refusal = tag === undefined ? undefined : guard?.(tag);
    const blobs = [...new Set(manifest.references.filter((r) => r.kind === 'blob').map((r) => r.digest))];
    const children = [
      ...new Set(manifest.references.filter((r) => r.kind === 'manifest').map((r) => r.digest)),
    ];
    // protected: insert-or-keep (a protected tag never moves); otherwise move it unless it is already here.
    const write =
      tag === undefined
        ? sql`select 1 where false`
        : refusal
          ? sql`insert into tags (repository_id, name, manifest_digest, updated_at)
              select repository_id, ${tag}, digest, ${now}::bigint from m where not exists (select 1 from missing)
              on conflict (repository_id, name) do nothing returning 1`
          : sql`insert into tags (repository_id, name, manifest_digest, updated_at)
              select repository_id, ${tag}, digest, ${now}::bigint from m where not exists (select 1 from missing)
              on conflict (repository_id, name) do update
                set manifest_digest = excluded.manifest_digest, updated_at = excluded.updated_at
                where tags.manifest_digest <> excluded.manifest_digest
              returning 1`;
    const current =
      tag === undefined
        ? sql`null::text`
        : sql`(select t.manifest_digest from tags t, m where t.repository_id = m.repository_id and t.name = ${tag})`;
    let row:
      | {
          found: boolean;
          missing: string | null;
          missing_kind: 'blob' | 'manifest' | null;
          changed: boolean;
          notified: boolean;
          current: string | null;
        }
      | undefined;
    try {
      const { rows } = await sql<NonNullable<typeof row>>`${sql.raw(PREPARED)}
        with m as (
          select m.repository_id, m.digest from manifests m
          where m.repository_id = (select id from repositories where name = ${repository}) and m.digest = ${manifest.digest}
        ),
        missing as (
          select d as digest, 'blob' as kind from m, unnest(${blobs}::text[]) as d
          where not exists (select 1 from repository_blobs l where l.repository_id = m.repository_id and l.digest = d)
          union all
          select d, 'manifest' from m, unnest(${children}::text[]) as d
          where not exists (select 1 from manifests c where c.repository_id = m.repository_id and c.digest = d)
        ),
        w as (${write}),
        n as (${notify ? sql`select pg_notify(${notify.channel}, ${notify.payload}) from w` : sql`select 1 where false`})
        select exists (select 1 from m) as found,
          (select digest from missing order by kind, digest limit 1) as missing,
          (select kind from missing order by kind, digest limit 1) as missing_kind,
          exists (select 1 from w) as changed,
          (select count(*) from n) > 0 as notified,
          ${current} as current`.execute(this.db);
      row = rows[0];
    } catch (error) {
      // The manifest was deleted while this statement wrote the tag (its foreign key check failed).
      if ((error as { code?: string }).code === FOREIGN_KEY_VIOLATION) return undefined;
      throw error;
    }
    if (!row?.found) return undefined;
    if (row.missing !== null) throw new MissingReference(row.missing, row.missing_kind ?? 'blob');
    if (tag === undefined || row.changed) {
      return { stored: false, tagChanged: row.changed, notified: row.notified };
    }
    if (!refusal) return { stored: false, tagChanged: false };
    // Protected and not created: kept only if it is already on this manifest. Unseen (created after this
    // statement's snapshot): the transaction decides.
    if (row.current === manifest.digest) return { stored: false, tagChanged: false };
    if (row.current === null) return undefined;
    throw refusal;
  }

  /**
   * Deletes a manifest; its tags and references go with it (foreign keys cascade). With `guard`, a tag of it
   * that the guard protects refuses the delete (its error is thrown).
   */
  async deleteManifest(repository: string, digest: string, guard?: TagGuard): Promise<boolean> {
    const id = await this.repositoryId(repository);
    if (id === undefined) return false;
    const remove = async (db: Db) => {
      const result = await db
        .deleteFrom('manifests')
        .where('repository_id', '=', id)
        .where('digest', '=', digest)
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    };
    if (!guard) return remove(this.db);
    return this.db.transaction().execute(async (trx) => {
      // PostgreSQL: hold the manifest so that no tag can be pointed at it between the check and the delete
      // (a tag insert's foreign key check waits for this lock).
      if (isPostgres(trx)) {
        await trx
          .selectFrom('manifests')
          .select('digest')
          .where('repository_id', '=', id)
          .where('digest', '=', digest)
          .forUpdate()
          .execute();
      }
      const tags = await trx
        .selectFrom('tags')
        .select('name')
        .where('repository_id', '=', id)
        .where('manifest_digest', '=', digest)
        .orderBy('name')
        .execute();
      for (const { name } of tags) {
        const refusal = guard(name);
        if (refusal) throw refusal;
      }
      return remove(trx);
    });
  }

  /** Whether the tag exists in the repository. */
  async hasTag(repository: string, tag: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('tags as t')
      .innerJoin('repositories as r', 'r.id', 't.repository_id')
      .select('t.name')
      .where('r.name', '=', repository)
      .where('t.name', '=', tag)
      .executeTakeFirst();
    return row !== undefined;
  }

  async deleteTag(repository: string, tag: string): Promise<boolean> {
    const id = await this.repositoryId(repository);
    if (id === undefined) return false;
    const result = await this.db
      .deleteFrom('tags')
      .where('repository_id', '=', id)
      .where('name', '=', tag)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** Tags in lexical (byte) order after `last`, at most `limit`; undefined when the repository is unknown. */
  async listTags(repository: string, limit: number, last?: string): Promise<string[] | undefined> {
    // The repository's id as a scalar subquery, not a join: PostgreSQL then walks tags_pk in order from `last`
    // and stops after `limit` (with a join it sorted every tag after `last`: each page cost the rest of the list).
    let query = this.db
      .selectFrom('tags as t')
      .select('t.name')
      .where('t.repository_id', '=', (eb) =>
        eb.selectFrom('repositories as r').select('r.id').where('r.name', '=', repository),
      );
    if (last !== undefined) query = query.where('t.name', '>', last);
    const rows = await query.orderBy('t.name').limit(limit).execute();
    if (rows.length === 0 && (await this.repositoryId(repository)) === undefined) return undefined;
    return rows.map((row) => row.name);
  }

  /** Sets the last pull time of the repository's given manifests (PullRecorder's batches). */
  async recordPulls(repository: string, digests: string[], at: number): Promise<void> {
    const id = await this.repositoryId(repository);
    if (id === undefined || digests.length === 0) return;
    await this.db
      .updateTable('manifests')
      .set({ last_pulled_at: at })
      .where('repository_id', '=', id)
      .where('digest', 'in', digests)
      .execute();
  }

  async referrers(repository: string, subject: string, artifactType?: string): Promise<ReferrerRow[]> {
    let query = this.db
      .selectFrom('manifests as m')
      .innerJoin('repositories as r', 'r.id', 'm.repository_id')
      .select(['m.digest', 'm.media_type', 'm.size', 'm.artifact_type', 'm.annotations'])
      .where('r.name', '=', repository)
      .where('m.subject', '=', subject);
    if (artifactType !== undefined) query = query.where('m.artifact_type', '=', artifactType);
    const rows = await query.orderBy('m.created_at').orderBy('m.digest').execute();
    return rows.map((row) => ({
      digest: row.digest,
      mediaType: row.media_type,
      size: Number(row.size),
      artifactType: row.artifact_type,
      annotations: row.annotations,
    }));
  }
}

function toManifestRow(row: {
  digest: string;
  media_type: string;
  size: number;
  content: Buffer;
}): ManifestRow {
  return { digest: row.digest, mediaType: row.media_type, size: Number(row.size), content: row.content };
}

const FOREIGN_KEY_VIOLATION = '23503';

/** A manifest's reference that is not (or no longer) in its repository. */
export class MissingReference extends Error {
  constructor(
    readonly digest: string,
    readonly kind: 'blob' | 'manifest',
  ) {
    super(`${kind} ${digest} is not in the repository`);
    this.name = 'MissingReference';
  }
}

/**
 * Checks, inside the manifest's transaction, that everything it references is still in the repository, and
 * holds those rows until the transaction ends (PostgreSQL: FOR SHARE), so that garbage collection cannot
 * remove a layer link or a child manifest between the check and the commit. SQLite serializes writers.
 */
async function holdReferences(
  trx: Transaction<Database>,
  repositoryId: number,
  references: NewManifest['references'],
): Promise<void> {
  const wanted = { blob: new Set<string>(), manifest: new Set<string>() };
  for (const ref of references) wanted[ref.kind].add(ref.digest);
  const lock = isPostgres(trx);
  if (wanted.blob.size > 0) {
    let query = trx
      .selectFrom('repository_blobs')
      .select('digest')
      .where('repository_id', '=', repositoryId)
      .where('digest', 'in', [...wanted.blob])
      // Locked in digest order, as the garbage collector locks links (CollectionStore.deleteLinks).
      .orderBy('digest');
    if (lock) query = query.forShare();
    const found = new Set((await query.execute()).map((row) => row.digest));
    for (const digest of wanted.blob) if (!found.has(digest)) throw new MissingReference(digest, 'blob');
  }
  if (wanted.manifest.size > 0) {
    let query = trx
      .selectFrom('manifests')
      .select('digest')
      .where('repository_id', '=', repositoryId)
      .where('digest', 'in', [...wanted.manifest]);
    if (lock) query = query.forShare();
    const found = new Set((await query.execute()).map((row) => row.digest));
    for (const digest of wanted.manifest) {
      if (!found.has(digest)) throw new MissingReference(digest, 'manifest');
    }
  }
}
