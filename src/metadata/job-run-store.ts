import type { Kysely, Selectable } from 'kysely';
import type { Database } from './schema.js';

export type JobKind = 'gc' | 'retention' | 'rescan' | 'scrub' | 'replication';
export type JobStatus = 'running' | 'succeeded' | 'failed' | 'interrupted';

/** A garbage collection or retention run, as the history shows it. */
export interface JobRunRow {
  id: number;
  kind: JobKind;
  /** '' for the whole registry; the project for retention; the policy's id for replication. */
  scope: string;
  /** `event`: a replication execution started by pushes or deletes. */
  trigger: 'manual' | 'schedule' | 'event';
  dryRun: boolean;
  status: JobStatus;
  requestedBy: string | null;
  startedAt: number;
  heartbeatAt: number;
  finishedAt: number | null;
  /** What the run is doing now (phase, counts so far). */
  progress: unknown;
  /** What it did, or for a dry run what it would do. */
  summary: unknown;
  error: string | null;
}

export interface NewJobRun {
  kind: JobKind;
  scope: string;
  trigger: 'manual' | 'schedule' | 'event';
  dryRun: boolean;
  requestedBy?: string | undefined;
  /** A scheduled run: the time it was due. Not started when a scheduled run has started since then. */
  dueAt?: number | undefined;
}

/**
 * The history of collection and retention runs, which is also their lock: at most one run per kind and scope
 * is 'running' (a unique index over those rows), whatever the number of processes. A run whose process died
 * stops sending heartbeats and is marked 'interrupted' by the next one that wants to start.
 */
export class JobRunStore {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Starts a run; undefined when one of the same kind and scope is running (its heartbeat is fresh), or for a
   * scheduled run (`dueAt`), when another node started it already.
   */
  async start(run: NewJobRun, staleMs: number, now = Date.now()): Promise<JobRunRow | undefined> {
    await this.db
      .updateTable('job_runs')
      .set({ status: 'interrupted', finished_at: now, error: 'its process stopped sending heartbeats' })
      .where('kind', '=', run.kind)
      .where('scope', '=', run.scope)
      .where('status', '=', 'running')
      .where('heartbeat_at', '<', now - staleMs)
      .execute();
    try {
      const row = await this.insert(run, now).returningAll().executeTakeFirst();
      return row && toRun(row);
    } catch (error) {
      if (isUniqueViolation(error)) return undefined;
      throw error;
    }
  }

  /**
   * The insert of a new running run. For a scheduled run due at `dueAt`, one statement that inserts only if
   * no scheduled run of the kind and scope started since: two nodes that both found the schedule due start
   * it once, even when the first run ends before the second node gets here.
   */
  private insert(run: NewJobRun, now: number) {
    if (run.dueAt === undefined) {
      return this.db.insertInto('job_runs').values({
        kind: run.kind,
        scope: run.scope,
        trigger: run.trigger,
        dry_run: run.dryRun ? 1 : 0,
        status: 'running',
        requested_by: run.requestedBy ?? null,
        started_at: now,
        heartbeat_at: now,
      });
    }
    const dueAt = run.dueAt;
    return this.db
      .insertInto('job_runs')
      .columns([
        'kind',
        'scope',
        'trigger',
        'dry_run',
        'status',
        'requested_by',
        'started_at',
        'heartbeat_at',
      ])
      .expression(
        this.db
          .selectNoFrom((eb) => [
            eb.cast<string>(eb.val(run.kind), 'text').as('kind'),
            eb.cast<string>(eb.val(run.scope), 'text').as('scope'),
            eb.cast<string>(eb.val(run.trigger), 'text').as('trigger'),
            eb.cast<number>(eb.val(run.dryRun ? 1 : 0), 'integer').as('dry_run'),
            eb.cast<string>(eb.val('running'), 'text').as('status'),
            eb.cast<string | null>(eb.val(run.requestedBy ?? null), 'text').as('requested_by'),
            eb.cast<number>(eb.val(now), 'bigint').as('started_at'),
            eb.cast<number>(eb.val(now), 'bigint').as('heartbeat_at'),
          ])
          .where(({ not, exists, selectFrom }) =>
            not(
              exists(
                selectFrom('job_runs')
                  .select('id')
                  .where('kind', '=', run.kind)
                  .where('scope', '=', run.scope)
                  .where('trigger', '=', 'schedule')
                  .where('started_at', '>=', dueAt),
              ),
            ),
          ),
      );
  }

  /** Marks every running run interrupted: for a process alone on its database, at start. */
  async interruptAll(now = Date.now()): Promise<void> {
    await this.db
      .updateTable('job_runs')
      .set({ status: 'interrupted', finished_at: now, error: 'the server stopped while it ran' })
      .where('status', '=', 'running')
      .execute();
  }

  /** Records progress and proves the run alive. */
  async heartbeat(id: number, progress: unknown, now = Date.now()): Promise<void> {
    await this.db
      .updateTable('job_runs')
      .set({ heartbeat_at: now, progress: JSON.stringify(progress) })
      .where('id', '=', id)
      .where('status', '=', 'running')
      .execute();
  }

  async finish(
    id: number,
    outcome: { status: 'succeeded' | 'failed'; summary?: unknown; error?: string },
    now = Date.now(),
  ): Promise<void> {
    await this.db
      .updateTable('job_runs')
      .set({
        status: outcome.status,
        finished_at: now,
        heartbeat_at: now,
        summary: outcome.summary === undefined ? null : JSON.stringify(outcome.summary),
        error: outcome.error ?? null,
      })
      .where('id', '=', id)
      .execute();
  }

  async get(id: number): Promise<JobRunRow | undefined> {
    const row = await this.db.selectFrom('job_runs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRun(row);
  }

  /** Runs of a kind (and scope, when given), newest first, with ids below `before`. */
  async list(
    kind: JobKind,
    options: { scope?: string; limit: number; before?: number },
  ): Promise<JobRunRow[]> {
    let query = this.db.selectFrom('job_runs').selectAll().where('kind', '=', kind);
    if (options.scope !== undefined) query = query.where('scope', '=', options.scope);
    if (options.before !== undefined) query = query.where('id', '<', options.before);
    const rows = await query.orderBy('id', 'desc').limit(options.limit).execute();
    return rows.map(toRun);
  }

  /** When the last run of a kind and scope started by `trigger` began, for schedules. */
  async lastStarted(
    kind: JobKind,
    scope: string,
    trigger: 'manual' | 'schedule',
  ): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('job_runs')
      .select((eb) => eb.fn.max('started_at').as('at'))
      .where('kind', '=', kind)
      .where('scope', '=', scope)
      .where('trigger', '=', trigger)
      .executeTakeFirst();
    return row?.at === null || row?.at === undefined ? undefined : Number(row.at);
  }
}

function parse(text: string | null): unknown {
  return text === null ? null : JSON.parse(text);
}

function toRun(row: Selectable<Database['job_runs']>): JobRunRow {
  return {
    id: Number(row.id),
    kind: row.kind as JobKind,
    scope: row.scope,
    trigger: row.trigger as JobRunRow['trigger'],
    dryRun: Number(row.dry_run) === 1,
    status: row.status as JobStatus,
    requestedBy: row.requested_by,
    startedAt: Number(row.started_at),
    heartbeatAt: Number(row.heartbeat_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    progress: parse(row.progress),
    summary: parse(row.summary),
    error: row.error,
  };
}

/** SQLite's SQLITE_CONSTRAINT_UNIQUE or PostgreSQL's 23505. */
function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}
