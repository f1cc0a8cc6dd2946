import { type ColumnDefinitionBuilder, type Kysely, type Migration, sql } from 'kysely';
import type { Dialect } from './migrations.js';

/**
 * 0005: what online garbage collection and retention need.
 *
 * - `blobs.touched_at`: when a push or a mount last relied on the blob. Garbage collection leaves a blob
 *   alone for its grace window after that, so a push between "the bytes are there" and "the link is written"
 *   is never undercut.
 * - `blobs.deleting_until`: garbage collection's claim on a blob while it deletes the bytes (a lease: a
 *   collector that dies loses it). A push that finds the claim waits for it to end instead of linking bytes
 *   that are about to go.
 * - `tags_manifest`: an index for finding a manifest's tags.
 * - `manifests.last_pulled_at`: for "keep what was pulled within D days", written in batches.
 * - `job_runs`: the history of collection and retention runs, and the lock that lets one run at a time
 *   per scope across every process (a unique index over the running ones).
 * - `retention_policies`: per project, the rules (JSON, validated by lifecycle/retention) and a schedule.
 */
export function collectionMigration(dialect: Dialect): Migration {
  const id = dialect === 'postgres' ? 'bigserial' : 'integer';
  const primaryId = (c: ColumnDefinitionBuilder) =>
    dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement();
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('blobs')
        .addColumn('touched_at', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('blobs').addColumn('deleting_until', 'bigint').execute();
      await sql`update blobs set touched_at = created_at`.execute(db);
      await db.schema.alterTable('manifests').addColumn('last_pulled_at', 'bigint').execute();
      // A manifest's tags: what a manifest delete cascades to and what the collector checks; without it each
      // delete scans the repository's tags.
      await db.schema
        .createIndex('tags_manifest')
        .on('tags')
        .columns(['repository_id', 'manifest_digest'])
        .execute();

      await db.schema
        .createTable('job_runs')
        .addColumn('id', sql.raw(id), primaryId)
        /** 'gc' or 'retention'. */
        .addColumn('kind', 'text', (c) => c.notNull())
        /** '' for the whole registry (gc), the project's name for retention. */
        .addColumn('scope', 'text', (c) => c.notNull())
        /** 'manual' or 'schedule'. */
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('dry_run', 'integer', (c) => c.notNull())
        /** 'running', 'succeeded', 'failed' or 'interrupted' (its process died). */
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('requested_by', 'text')
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
        .addColumn('finished_at', 'bigint')
        /** JSON: the phase and how far it got. */
        .addColumn('progress', 'text')
        /** JSON: counts and bytes, and for a dry run what would go. */
        .addColumn('summary', 'text')
        .addColumn('error', 'text')
        .execute();
      // One running run per kind and scope, across every process on the database.
      await sql`create unique index job_runs_running on job_runs (kind, scope) where status = 'running'`.execute(
        db,
      );
      await db.schema
        .createIndex('job_runs_history')
        .on('job_runs')
        .columns(['kind', 'scope', 'started_at'])
        .execute();

      await db.schema
        .createTable('retention_policies')
        .addColumn('project_id', 'bigint', (c) =>
          c.primaryKey().references('projects.id').onDelete('cascade'),
        )
        .addColumn('rules', 'text', (c) => c.notNull())
        /** Cron expression (5 fields), or null for manual runs only. */
        .addColumn('schedule', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  };
}
