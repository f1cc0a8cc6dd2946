import type { Generated, Kysely, Selectable } from 'kysely';
import type { Database } from '../../metadata/index.js';
import type { Direction, PolicyTrigger, RemoteRegistry, ReplicationPolicy } from './policy.js';

/** The tables of migration 0013 this store uses. */
interface ReplicationTables {
  replication_registries: {
    id: Generated<number>;
    name: string;
    url: string;
    username: string | null;
    password: string | null;
    description: string;
    created_by: string | null;
    created_at: number;
    updated_at: number;
  };
  replication_policies: {
    id: Generated<number>;
    name: string;
    description: string;
    registry_id: number;
    direction: string;
    repositories: string;
    tags: string;
    artifact_type: string;
    rewrite_from: string | null;
    rewrite_to: string | null;
    trigger: string;
    schedule: string | null;
    replicate_deletes: number;
    referrers: number;
    bytes_per_second: number | null;
    enabled: number;
    /** Migration 0015: sealed; null: the policy takes no events from its remote. */
    event_secret: string | null;
    created_by: string | null;
    created_at: number;
    updated_at: number;
  };
  replication_tasks: {
    id: Generated<number>;
    run_id: number;
    policy_id: number;
    operation: string;
    source_repository: string;
    source_reference: string;
    target_repository: string;
    status: string;
    digest: string | null;
    bytes: Generated<number>;
    error: string | null;
    started_at: number | null;
    finished_at: number | null;
  };
}

type Tables = Database & ReplicationTables;

/** A remote registry with its sealed password, for the engine only. */
export interface StoredRegistry extends RemoteRegistry {
  sealedPassword: string | null;
}

export type RegistryRow = Omit<StoredRegistry, 'id' | 'hasPassword'>;
export type PolicyRow = Omit<ReplicationPolicy, 'id' | 'registry' | 'hasEventSecret'>;

export type TaskOperation = 'copy' | 'delete';
export type TaskStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'immutable' | 'skipped';

/** One artifact of an execution: copied (or deleted) from a source reference to a target repository. */
export interface ReplicationTask {
  id: number;
  executionId: number;
  policyId: number;
  operation: TaskOperation;
  sourceRepository: string;
  /** A tag or a digest. */
  sourceReference: string;
  targetRepository: string;
  status: TaskStatus;
  digest: string | null;
  bytes: number;
  error: string | null;
  startedAt: number | null;
  finishedAt: number | null;
}

export type NewTask = Pick<
  ReplicationTask,
  'operation' | 'sourceRepository' | 'sourceReference' | 'targetRepository'
>;

/** Rows of remote registries, policies and execution tasks (executions themselves are job runs). */
export class ReplicationStore {
  private readonly db: Kysely<Tables>;

  constructor(db: Kysely<Database>) {
    this.db = db as unknown as Kysely<Tables>;
  }

  // ------------------------------------------------------------------------------------------- registries

  async registries(): Promise<StoredRegistry[]> {
    const rows = await this.db.selectFrom('replication_registries').selectAll().orderBy('name').execute();
    return rows.map(toRegistry);
  }

  async registry(by: { id: number } | { name: string }): Promise<StoredRegistry | undefined> {
    let query = this.db.selectFrom('replication_registries').selectAll();
    query = 'id' in by ? query.where('id', '=', by.id) : query.where('name', '=', by.name);
    const row = await query.executeTakeFirst();
    return row && toRegistry(row);
  }

  /** The new registry's id; undefined when the name is taken. */
  async addRegistry(row: RegistryRow): Promise<number | undefined> {
    return uniquely(async () => {
      const inserted = await this.db
        .insertInto('replication_registries')
        .values({ ...registryColumns(row), created_by: row.createdBy, created_at: row.createdAt })
        .returning('id')
        .executeTakeFirstOrThrow();
      return Number(inserted.id);
    });
  }

  /** False when the name is taken by another registry. */
  async updateRegistry(id: number, row: RegistryRow): Promise<boolean> {
    const done = await uniquely(async () => {
      await this.db
        .updateTable('replication_registries')
        .set(registryColumns(row))
        .where('id', '=', id)
        .execute();
      return true;
    });
    return done === true;
  }

  /** Removes a registry no policy uses: 'removed', 'unknown', or the names of the policies in the way. */
  async removeRegistry(id: number): Promise<'removed' | 'unknown' | string[]> {
    return this.db.transaction().execute(async (tx) => {
      const users = await tx
        .selectFrom('replication_policies')
        .select('name')
        .where('registry_id', '=', id)
        .execute();
      if (users.length > 0) return users.map((u) => u.name);
      const deleted = await tx.deleteFrom('replication_registries').where('id', '=', id).executeTakeFirst();
      return Number(deleted.numDeletedRows) > 0 ? 'removed' : 'unknown';
    });
  }

  // --------------------------------------------------------------------------------------------- policies

  async policies(): Promise<ReplicationPolicy[]> {
    const rows = await this.policyQuery().orderBy('p.name').execute();
    return rows.map(toPolicy);
  }

  async policy(by: { id: number } | { name: string }): Promise<ReplicationPolicy | undefined> {
    const query = this.policyQuery();
    const row = await ('id' in by
      ? query.where('p.id', '=', by.id)
      : query.where('p.name', '=', by.name)
    ).executeTakeFirst();
    return row && toPolicy(row);
  }

  async addPolicy(row: PolicyRow): Promise<number | undefined> {
    return uniquely(async () => {
      const inserted = await this.db
        .insertInto('replication_policies')
        .values({ ...policyColumns(row), created_by: row.createdBy, created_at: row.createdAt })
        .returning('id')
        .executeTakeFirstOrThrow();
      return Number(inserted.id);
    });
  }

  async updatePolicy(id: number, row: PolicyRow): Promise<boolean> {
    const done = await uniquely(async () => {
      await this.db
        .updateTable('replication_policies')
        .set(policyColumns(row))
        .where('id', '=', id)
        .execute();
      return true;
    });
    return done === true;
  }

  /** The policy's sealed event secret; undefined without one (or without the policy). */
  async eventSecret(id: number): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('replication_policies')
      .select('event_secret')
      .where('id', '=', id)
      .executeTakeFirst();
    return row?.event_secret ?? undefined;
  }

  async setEventSecret(id: number, sealed: string | null): Promise<void> {
    await this.db
      .updateTable('replication_policies')
      .set({ event_secret: sealed })
      .where('id', '=', id)
      .execute();
  }

  async removePolicy(id: number): Promise<boolean> {
    const deleted = await this.db.deleteFrom('replication_policies').where('id', '=', id).executeTakeFirst();
    return Number(deleted.numDeletedRows) > 0;
  }

  private policyQuery() {
    return (
      this.db
        .selectFrom('replication_policies as p')
        .innerJoin('replication_registries as r', 'r.id', 'p.registry_id')
        .select([
          'p.id',
          'p.name',
          'p.description',
          'p.registry_id',
          'p.direction',
          'p.repositories',
          'p.tags',
          'p.artifact_type',
          'p.rewrite_from',
          'p.rewrite_to',
          'p.trigger',
          'p.schedule',
          'p.replicate_deletes',
          'p.referrers',
          'p.bytes_per_second',
          'p.enabled',
          'p.created_by',
          'p.created_at',
          'p.updated_at',
        ])
        // Whether there is one, never the (sealed) secret itself.
        .select((eb) => eb('p.event_secret', 'is not', null).as('has_event_secret'))
        .select('r.name as registry_name')
    );
  }

  /** The tags of a repository that point at a manifest. */
  async tagsOf(repository: string, digest: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('tags as t')
      .innerJoin('repositories as r', 'r.id', 't.repository_id')
      .select('t.name')
      .where('r.name', '=', repository)
      .where('t.manifest_digest', '=', digest)
      .execute();
    return rows.map((row) => row.name);
  }

  // ------------------------------------------------------------------------------------------------ tasks

  async addTasks(executionId: number, policyId: number, tasks: NewTask[]): Promise<void> {
    // SQLite takes at most 32766 variables a statement: 8 columns, 1000 rows.
    for (let i = 0; i < tasks.length; i += 1000) {
      await this.db
        .insertInto('replication_tasks')
        .values(
          tasks.slice(i, i + 1000).map((task) => ({
            run_id: executionId,
            policy_id: policyId,
            operation: task.operation,
            source_repository: task.sourceRepository,
            source_reference: task.sourceReference,
            target_repository: task.targetRepository,
            status: 'pending',
          })),
        )
        .execute();
    }
  }

  async tasks(
    executionId: number,
    options: { status?: TaskStatus; limit?: number; after?: number } = {},
  ): Promise<ReplicationTask[]> {
    let query = this.db.selectFrom('replication_tasks').selectAll().where('run_id', '=', executionId);
    if (options.status) query = query.where('status', '=', options.status);
    if (options.after !== undefined) query = query.where('id', '>', options.after);
    if (options.limit !== undefined) query = query.limit(options.limit);
    const rows = await query.orderBy('id').execute();
    return rows.map(toTask);
  }

  async taskStarted(id: number, now = Date.now()): Promise<void> {
    await this.db
      .updateTable('replication_tasks')
      .set({ status: 'running', started_at: now })
      .where('id', '=', id)
      .execute();
  }

  async taskFinished(
    id: number,
    outcome: { status: TaskStatus; digest?: string | null; bytes?: number; error?: string | null },
    now = Date.now(),
  ): Promise<void> {
    await this.db
      .updateTable('replication_tasks')
      .set({
        status: outcome.status,
        digest: outcome.digest ?? null,
        bytes: outcome.bytes ?? 0,
        error: outcome.error ?? null,
        finished_at: now,
      })
      .where('id', '=', id)
      .execute();
  }

  /** Tasks an execution left 'pending' or 'running' (it was interrupted): they count as failed. */
  async abandonTasks(executionId: number, reason: string, now = Date.now()): Promise<void> {
    await this.db
      .updateTable('replication_tasks')
      .set({ status: 'failed', error: reason, finished_at: now })
      .where('run_id', '=', executionId)
      .where('status', 'in', ['pending', 'running'])
      .execute();
  }
}

/** Runs `write`; undefined when it broke a unique constraint (a name taken). */
async function uniquely<T>(write: () => Promise<T>): Promise<T | undefined> {
  try {
    return await write();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505') return undefined;
    throw error;
  }
}

function registryColumns(row: RegistryRow) {
  return {
    name: row.name,
    url: row.url,
    username: row.username,
    password: row.sealedPassword,
    description: row.description,
    updated_at: row.updatedAt,
  };
}

function policyColumns(row: PolicyRow) {
  return {
    name: row.name,
    description: row.description,
    registry_id: row.registryId,
    direction: row.direction,
    repositories: row.repositories,
    tags: row.tags,
    artifact_type: row.artifactType,
    rewrite_from: row.rewrite?.from ?? null,
    rewrite_to: row.rewrite?.to ?? null,
    trigger: row.trigger,
    schedule: row.schedule,
    replicate_deletes: row.replicateDeletes ? 1 : 0,
    referrers: row.referrers ? 1 : 0,
    bytes_per_second: row.bytesPerSecond,
    enabled: row.enabled ? 1 : 0,
    updated_at: row.updatedAt,
  };
}

function toRegistry(row: Selectable<ReplicationTables['replication_registries']>): StoredRegistry {
  return {
    id: Number(row.id),
    name: row.name,
    url: row.url,
    username: row.username,
    hasPassword: row.password !== null,
    sealedPassword: row.password,
    description: row.description,
    createdBy: row.created_by,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toPolicy(
  row: Omit<Selectable<ReplicationTables['replication_policies']>, 'event_secret'> & {
    registry_name: string;
    has_event_secret: unknown;
  },
): ReplicationPolicy {
  return {
    id: Number(row.id),
    name: row.name,
    description: row.description,
    registry: row.registry_name,
    registryId: Number(row.registry_id),
    direction: row.direction as Direction,
    repositories: row.repositories,
    tags: row.tags,
    artifactType: row.artifact_type,
    rewrite:
      row.rewrite_from !== null && row.rewrite_to !== null
        ? { from: row.rewrite_from, to: row.rewrite_to }
        : null,
    trigger: row.trigger as PolicyTrigger,
    schedule: row.schedule,
    replicateDeletes: Number(row.replicate_deletes) === 1,
    referrers: Number(row.referrers) === 1,
    bytesPerSecond: row.bytes_per_second === null ? null : Number(row.bytes_per_second),
    enabled: Number(row.enabled) === 1,
    // SQLite answers 1/0, PostgreSQL true/false.
    hasEventSecret: row.has_event_secret === true || Number(row.has_event_secret) === 1,
    createdBy: row.created_by,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toTask(row: Selectable<ReplicationTables['replication_tasks']>): ReplicationTask {
  return {
    id: Number(row.id),
    executionId: Number(row.run_id),
    policyId: Number(row.policy_id),
    operation: row.operation as TaskOperation,
    sourceRepository: row.source_repository,
    sourceReference: row.source_reference,
    targetRepository: row.target_repository,
    status: row.status as TaskStatus,
    digest: row.digest,
    bytes: Number(row.bytes),
    error: row.error,
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
  };
}
