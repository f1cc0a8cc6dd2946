import { type ColumnDefinitionBuilder, type Kysely, type Migration, sql } from 'kysely';
import type { Dialect } from './migrations.js';

/**
 * 0009: vulnerability scanning's per-project settings and its reports.
 *
 * - `scan_settings`: scan on push, the pull-time policies (severity threshold with an expiring CVE allowlist,
 *   no root, no SSH server, nothing unscanned) and an optional Harbor-compatible scanner adapter;
 * - `scan_reports`: one per image manifest of a repository; also the scan queue (status `queued`, claimed by a
 *   node with a lease so that a crashed node's scan is taken over), and what the scan found: the inventory
 *   (kept so that a new vulnerability database re-matches without walking layers again), the findings, the
 *   counts per severity and the SBOM referrers written.
 */
export function scanningMigration(dialect: Dialect): Migration {
  const id = dialect === 'postgres' ? 'bigserial' : 'integer';
  const primaryId = (c: ColumnDefinitionBuilder) =>
    dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement();
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('scan_settings')
        .addColumn('project_id', 'bigint', (c) =>
          c.primaryKey().references('projects.id').onDelete('cascade'),
        )
        .addColumn('scan_on_push', 'integer', (c) => c.notNull())
        .addColumn('block_severity', 'text')
        .addColumn('allowlist', 'text', (c) => c.notNull())
        .addColumn('block_root', 'integer', (c) => c.notNull())
        .addColumn('block_ssh', 'integer', (c) => c.notNull())
        .addColumn('block_unscanned', 'integer', (c) => c.notNull())
        .addColumn('adapter_url', 'text')
        .addColumn('adapter_authorization', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('scan_reports')
        .addColumn('id', sql.raw(id), primaryId)
        .addColumn('repository_id', 'bigint', (c) =>
          c.notNull().references('repositories.id').onDelete('cascade'),
        )
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('requested_at', 'bigint', (c) => c.notNull())
        .addColumn('lease_until', 'bigint')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .addColumn('scanner', 'text')
        .addColumn('db_version', 'bigint')
        .addColumn('inventory', 'text')
        .addColumn('findings', 'text')
        .addColumn('summary', 'text')
        .addColumn('error', 'text')
        .addColumn('sboms', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('scan_reports_artifact', ['repository_id', 'digest'])
        .execute();
      await db.schema
        .createIndex('scan_reports_queue')
        .on('scan_reports')
        .columns(['status', 'requested_at'])
        .execute();
      await db.schema.createIndex('scan_reports_digest').on('scan_reports').column('digest').execute();
    },
  };
}
