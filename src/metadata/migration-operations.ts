import { type ColumnDefinitionBuilder, type Kysely, type Migration, sql } from 'kysely';
import type { Dialect } from './migrations.js';

/**
 * 0010: webhooks (endpoints, and deliveries that are also the delivery queue, claimed with a lease like scan
 * reports) and the integrity scrub's quarantine (blobs whose stored bytes no longer match their digest).
 */
export function operationsMigration(dialect: Dialect): Migration {
  const id = dialect === 'postgres' ? 'bigserial' : 'integer';
  const primaryId = (c: ColumnDefinitionBuilder) =>
    dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement();
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('webhook_endpoints')
        .addColumn('id', sql.raw(id), primaryId)
        /** Null: system-wide (every project's events). */
        .addColumn('project_id', 'bigint', (c) => c.references('projects.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('url', 'text', (c) => c.notNull())
        /** JSON array of event types (push, pull, delete, scan, quota, gc). */
        .addColumn('event_types', 'text', (c) => c.notNull())
        /** cloudevents, harbor or slack. */
        .addColumn('format', 'text', (c) => c.notNull())
        /** The signing secret: encrypted (berth-secret:v1:…) when a key is configured, else as given. */
        .addColumn('secret', 'text')
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0))
        /** Why Berth disabled it (repeated failures); null when enabled or disabled by a person. */
        .addColumn('disabled_reason', 'text')
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('webhook_endpoints_project')
        .on('webhook_endpoints')
        .column('project_id')
        .execute();
      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('id', sql.raw(id), primaryId)
        .addColumn('endpoint_id', 'bigint', (c) =>
          c.notNull().references('webhook_endpoints.id').onDelete('cascade'),
        )
        /** The event's id (CloudEvents `id`): redeliveries of one event share it. */
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        /** The exact body sent (rendered once, so every attempt and the signature cover the same bytes). */
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('content_type', 'text', (c) => c.notNull())
        /** pending (waiting for its next attempt), delivered, failed (gave up), cancelled (endpoint disabled). */
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        /** The node attempting it now, until when (a lapsed lease is claimed again). */
        .addColumn('claimed_by', 'text')
        .addColumn('lease_until', 'bigint')
        .addColumn('response_code', 'integer')
        .addColumn('latency_ms', 'integer')
        .addColumn('error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('finished_at', 'bigint')
        .execute();
      await db.schema
        .createIndex('webhook_deliveries_due')
        .on('webhook_deliveries')
        .columns(['status', 'next_attempt_at'])
        .execute();
      await db.schema
        .createIndex('webhook_deliveries_endpoint')
        .on('webhook_deliveries')
        .columns(['endpoint_id', 'id'])
        .execute();
      await db.schema
        .createTable('blob_quarantine')
        .addColumn('digest', 'text', (c) => c.primaryKey())
        .addColumn('run_id', 'bigint', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('quarantined_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  };
}
