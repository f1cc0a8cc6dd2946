import { type ExpressionBuilder, type Kysely, SqliteAdapter, sql, type Transaction } from 'kysely';
import { DEFAULT_PROJECT } from '../domain/index.js';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface ImmutabilityRuleRow {
  id: number;
  project: string;
  repositoryPattern: string;
  tagPattern: string;
  createdAt: number;
}

/** A project's storage: the bytes of the distinct blobs its repositories link, and its quota (null: none). */
export interface ProjectStorageRow {
  project: string;
  usedBytes: number;
  limitBytes: number | null;
}

/** A blob about to count toward a project for the first time, as the link transaction sees it (locked). */
export interface QuotaCharge extends ProjectStorageRow {
  /** The blob's size. */
  size: number;
}

/** Decides, inside the link transaction, whether a blob new to the project may count toward it: throws if not. */
export type LinkAdmission = (charge: QuotaCharge) => void;

/** True on PostgreSQL, which has row locks (`for update`); SQLite serializes writing transactions instead. */
export function isPostgres(db: Db): boolean {
  return !(db.getExecutor().adapter instanceof SqliteAdapter);
}

/**
 * The repositories of a project, as a condition on `r.name`: `<project>/…`, and for the default project also
 * the single-segment names. A range, not LIKE (`_` is a LIKE wildcard); '0' is the character after '/'.
 */
export function inProject(eb: ExpressionBuilder<{ r: Database['repositories'] }, 'r'>, project: string) {
  const nested = eb.and([eb('r.name', '>', `${project}/`), eb('r.name', '<', `${project}0`)]);
  return project === DEFAULT_PROJECT ? eb.or([nested, eb('r.name', 'not like', '%/%')]) : nested;
}

/** The project of `r.name` in SQL (auth's projectOf), for recounting from the links. */
function projectOfName(db: Db) {
  return isPostgres(db)
    ? sql<string>`case when strpos(r.name, '/') > 0 then split_part(r.name, '/', 1) else ${DEFAULT_PROJECT} end`
    : sql<string>`case when instr(r.name, '/') > 0 then substr(r.name, 1, instr(r.name, '/') - 1) else ${DEFAULT_PROJECT} end`;
}

// --- inside the link transactions of MetadataStore ----------------------------------------------------------

/**
 * Locks the project's usage row until the transaction ends (creating it at 0 when missing) and returns the
 * usage. Every transaction that adds or removes a link takes it right after writing the link and before
 * looking for the project's other links, so links into one project are counted one at a time: on PostgreSQL
 * (READ COMMITTED) a second transaction waits here, then sees the first one's link; SQLite serializes writing
 * transactions anyway. Nothing else is locked after it, so it cannot take part in a deadlock.
 */
export async function lockProjectUsage(trx: Transaction<Database>, project: string): Promise<number> {
  const row = await trx
    .insertInto('project_usage')
    .values({ project, used_bytes: 0 })
    .onConflict((oc) =>
      oc.column('project').doUpdateSet((eb) => ({ used_bytes: eb.ref('project_usage.used_bytes') })),
    )
    .returning('used_bytes')
    .executeTakeFirstOrThrow();
  return Number(row.used_bytes);
}

/** Whether a repository of the project other than `exceptRepositoryId` links the blob. */
export async function projectHoldsBlob(
  db: Db,
  project: string,
  digest: string,
  exceptRepositoryId?: number,
): Promise<boolean> {
  let query = db
    .selectFrom('repository_blobs as l')
    .innerJoin('repositories as r', 'r.id', 'l.repository_id')
    .select('l.digest')
    .where('l.digest', '=', digest)
    .where((eb) => inProject(eb, project));
  if (exceptRepositoryId !== undefined) query = query.where('l.repository_id', '!=', exceptRepositoryId);
  return (await query.limit(1).executeTakeFirst()) !== undefined;
}

export async function projectLimit(db: Db, project: string): Promise<number | null> {
  const row = await db
    .selectFrom('project_quotas as q')
    .innerJoin('projects as p', 'p.id', 'q.project_id')
    .select('q.limit_bytes')
    .where('p.name', '=', project)
    .executeTakeFirst();
  return row === undefined ? null : Number(row.limit_bytes);
}

export async function addProjectUsage(trx: Transaction<Database>, project: string, bytes: number) {
  await trx
    .updateTable('project_usage')
    .set((eb) => ({ used_bytes: eb('used_bytes', '+', bytes) }))
    .where('project', '=', project)
    .execute();
}

// --- rules, quotas and usage ---------------------------------------------------------------------------------

/** Immutability rules, quotas and storage usage (lifecycle/ holds the policies that use them). */
export class LifecycleStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** The project's rules, oldest first; empty when it has none or does not exist. */
  async rules(project: string): Promise<ImmutabilityRuleRow[]> {
    const rows = await this.db
      .selectFrom('immutability_rules as i')
      .innerJoin('projects as p', 'p.id', 'i.project_id')
      .select(['i.id', 'p.name', 'i.repository_pattern', 'i.tag_pattern', 'i.created_at'])
      .where('p.name', '=', project)
      .orderBy('i.id')
      .execute();
    return rows.map((row) => ({
      id: Number(row.id),
      project: row.name,
      repositoryPattern: row.repository_pattern,
      tagPattern: row.tag_pattern,
      createdAt: Number(row.created_at),
    }));
  }

  /** Undefined when there is no such project. */
  async addRule(
    project: string,
    repositoryPattern: string,
    tagPattern: string,
  ): Promise<ImmutabilityRuleRow | undefined> {
    const owner = await this.projectId(project);
    if (owner === undefined) return undefined;
    const createdAt = Date.now();
    const row = await this.db
      .insertInto('immutability_rules')
      .values({
        project_id: owner,
        repository_pattern: repositoryPattern,
        tag_pattern: tagPattern,
        created_at: createdAt,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { id: Number(row.id), project, repositoryPattern, tagPattern, createdAt };
  }

  /** False when the project has no such rule. */
  async removeRule(project: string, id: number): Promise<boolean> {
    const owner = await this.projectId(project);
    if (owner === undefined) return false;
    const result = await this.db
      .deleteFrom('immutability_rules')
      .where('id', '=', id)
      .where('project_id', '=', owner)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async storage(project: string): Promise<ProjectStorageRow> {
    return { project, usedBytes: await this.used(project), limitBytes: await this.limit(project) };
  }

  async used(project: string): Promise<number> {
    const row = await this.db
      .selectFrom('project_usage')
      .select('used_bytes')
      .where('project', '=', project)
      .executeTakeFirst();
    return row === undefined ? 0 : Number(row.used_bytes);
  }

  /** The project's quota; null when it has none. */
  limit(project: string): Promise<number | null> {
    return projectLimit(this.db, project);
  }

  /** Sets (a number) or removes (null) the project's quota; false when there is no such project. */
  async setLimit(project: string, limitBytes: number | null): Promise<boolean> {
    const owner = await this.projectId(project);
    if (owner === undefined) return false;
    if (limitBytes === null) {
      await this.db.deleteFrom('project_quotas').where('project_id', '=', owner).execute();
    } else {
      await this.db
        .insertInto('project_quotas')
        .values({ project_id: owner, limit_bytes: limitBytes })
        .onConflict((oc) => oc.column('project_id').doUpdateSet({ limit_bytes: limitBytes }))
        .execute();
    }
    return true;
  }

  /** Every project that stores something or has a quota, by name. */
  async allStorage(): Promise<ProjectStorageRow[]> {
    const used = await this.db.selectFrom('project_usage').select(['project', 'used_bytes']).execute();
    const limits = await this.db
      .selectFrom('project_quotas as q')
      .innerJoin('projects as p', 'p.id', 'q.project_id')
      .select(['p.name', 'q.limit_bytes'])
      .execute();
    const byName = new Map<string, ProjectStorageRow>();
    for (const row of used) {
      byName.set(row.project, { project: row.project, usedBytes: Number(row.used_bytes), limitBytes: null });
    }
    for (const row of limits) {
      const entry = byName.get(row.name) ?? { project: row.name, usedBytes: 0, limitBytes: null };
      entry.limitBytes = Number(row.limit_bytes);
      byName.set(row.name, entry);
    }
    return [...byName.values()].sort((a, b) => (a.project < b.project ? -1 : a.project > b.project ? 1 : 0));
  }

  /** Bytes of every stored blob, each once, linked or not (what the storage holds, garbage included). */
  async storedBytes(): Promise<number> {
    const row = await this.db
      .selectFrom('blobs')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('size'), sql<number>`0`).as('total'))
      .executeTakeFirstOrThrow();
    return Number(row.total);
  }

  /** Whether a repository of the project links the blob (it then counts toward the project already). */
  holds(project: string, digest: string): Promise<boolean> {
    return projectHoldsBlob(this.db, project, digest);
  }

  /** Each project's usage computed from the links themselves: what the counters must equal. */
  async recount(): Promise<Map<string, number>> {
    const project = projectOfName(this.db);
    const rows = await this.db
      .selectFrom(
        this.db
          .selectFrom('repository_blobs as l')
          .innerJoin('repositories as r', 'r.id', 'l.repository_id')
          .select([project.as('project'), 'l.digest'])
          .distinct()
          .as('held'),
      )
      .innerJoin('blobs as b', 'b.digest', 'held.digest')
      .select((eb) => ['held.project', eb.fn.sum<number>('b.size').as('used')])
      .groupBy('held.project')
      .execute();
    return new Map(rows.map((row) => [row.project, Number(row.used)]));
  }

  async projectExists(name: string): Promise<boolean> {
    return (await this.projectId(name)) !== undefined;
  }

  private async projectId(name: string): Promise<number | undefined> {
    const row = await this.db.selectFrom('projects').select('id').where('name', '=', name).executeTakeFirst();
    return row === undefined ? undefined : Number(row.id);
  }
}
