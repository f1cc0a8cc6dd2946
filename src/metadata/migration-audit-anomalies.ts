import { type ColumnDefinitionBuilder, type Kysely, type Migration, sql } from 'kysely';
import type { Dialect } from './migrations.js';

/**
 * 0014: what the audit anomaly detector found (events/anomalies): one row per finding, shared by every node so
 * that a finding is raised once across the cluster and the events it counted are not counted again. The
 * (kind, subject, time) index answers "when was this subject last flagged for this".
 */
export function auditAnomaliesMigration(dialect: Dialect): Migration {
  const id = dialect === 'postgres' ? 'bigserial' : 'integer';
  const primaryId = (c: ColumnDefinitionBuilder) =>
    dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement();
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('audit_anomalies')
        .addColumn('id', sql.raw(id), primaryId)
        /** When the detector raised it (milliseconds since the epoch). */
        .addColumn('time', 'bigint', (c) => c.notNull())
        /** mass-pull, failed-logins-account, failed-logins-address, robot-project-sweep. */
        .addColumn('kind', 'text', (c) => c.notNull())
        /** The account (a login, `robot$…`) or, for failed-logins-address, the client address. */
        .addColumn('subject', 'text', (c) => c.notNull())
        /** The project a robot swept; null for the other kinds. */
        .addColumn('project', 'text')
        /** The events counted: from this time (inclusive) to `time`. */
        .addColumn('window_start', 'bigint', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        /** One sentence for people (the CLI, a chat channel). */
        .addColumn('summary', 'text', (c) => c.notNull())
        /** JSON: the numbers the rule compared (baseline, thresholds, repositories). */
        .addColumn('details', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_anomalies_time').on('audit_anomalies').column('time').execute();
      await db.schema
        .createIndex('audit_anomalies_subject')
        .on('audit_anomalies')
        .columns(['kind', 'subject', 'time'])
        .execute();
    },
  };
}
