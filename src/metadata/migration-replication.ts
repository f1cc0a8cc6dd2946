import { type ColumnDefinitionBuilder, type Kysely, type Migration, sql } from 'kysely';
import type { Dialect } from './migrations.js';

/**
 * 0013: replication (replication/policies): remote registries (credentials sealed with replication.secretKey),
 * policies, and the tasks of their executions (an execution is a job run of kind `replication` whose scope is
 * the policy's id; each task copies or deletes one artifact).
 */
export function replicationMigration(dialect: Dialect): Migration {
  const id = dialect === 'postgres' ? 'bigserial' : 'integer';
  const primaryId = (c: ColumnDefinitionBuilder) =>
    dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement();
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('replication_registries')
        .addColumn('id', sql.raw(id), primaryId)
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('username', 'text')
        /** The password or token, sealed (berth-secret:v1:…); never returned. */
        .addColumn('password', 'text')
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('replication_policies')
        .addColumn('id', sql.raw(id), primaryId)
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('registry_id', 'bigint', (c) => c.notNull().references('replication_registries.id'))
        /** push (local → remote) or pull (remote → local). */
        .addColumn('direction', 'text', (c) => c.notNull())
        /** Filters: repository glob, tag glob ('' every tag), artifact type ('' any, 'image', or a media type). */
        .addColumn('repositories', 'text', (c) => c.notNull())
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('artifact_type', 'text', (c) => c.notNull())
        /** Destination names: a source name matching `rewrite_from` becomes `rewrite_to`; null keeps names. */
        .addColumn('rewrite_from', 'text')
        .addColumn('rewrite_to', 'text')
        /** manual, schedule (cron in `schedule`) or event (on push, and on delete with replicate_deletes). */
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('schedule', 'text')
        .addColumn('replicate_deletes', 'integer', (c) => c.notNull())
        .addColumn('referrers', 'integer', (c) => c.notNull())
        .addColumn('bytes_per_second', 'bigint')
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('replication_tasks')
        .addColumn('id', sql.raw(id), primaryId)
        .addColumn('run_id', 'bigint', (c) => c.notNull().references('job_runs.id').onDelete('cascade'))
        .addColumn('policy_id', 'bigint', (c) =>
          c.notNull().references('replication_policies.id').onDelete('cascade'),
        )
        /** copy or delete. */
        .addColumn('operation', 'text', (c) => c.notNull())
        .addColumn('source_repository', 'text', (c) => c.notNull())
        /** A tag, or a digest. */
        .addColumn('source_reference', 'text', (c) => c.notNull())
        .addColumn('target_repository', 'text', (c) => c.notNull())
        /** pending, running, succeeded, failed, immutable (refused by the target's tag immutability), skipped. */
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('digest', 'text')
        .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('error', 'text')
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .execute();
      await db.schema
        .createIndex('replication_tasks_run')
        .on('replication_tasks')
        .columns(['run_id', 'id'])
        .execute();
      await db.schema
        .createIndex('replication_tasks_policy')
        .on('replication_tasks')
        .column('policy_id')
        .execute();
    },
  };
}
