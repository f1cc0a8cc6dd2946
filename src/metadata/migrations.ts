import { type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';
import { accountsMigration } from './migration-accounts.js';
import { auditAnomaliesMigration } from './migration-audit-anomalies.js';
import { authRevocationMigration } from './migration-auth-revocation.js';
import { collectionMigration } from './migration-collection.js';
import { lifecycleMigration } from './migration-lifecycle.js';
import { listingsMigration } from './migration-listings.js';
import { oidcMigration } from './migration-oidc.js';
import { operationsMigration } from './migration-operations.js';
import { proxyMigration } from './migration-proxy.js';
import { replicationMigration } from './migration-replication.js';
import { replicationEventsMigration } from './migration-replication-events.js';
import { scanningMigration } from './migration-scanning.js';
import { signaturesMigration } from './migration-signatures.js';
import { vulnerabilityDbMigration } from './migration-vulnerability-db.js';

/** The same migrations serve SQLite and PostgreSQL; only a few column types differ. */
export type Dialect = 'sqlite' | 'postgres';

function migrations(dialect: Dialect): Record<string, Migration> {
  const bytes = dialect === 'postgres' ? 'bytea' : 'blob';
  const id = dialect === 'postgres' ? 'bigserial' : 'integer';
  // Names are listed in byte order (tags/list, _catalog): PostgreSQL must compare them bytewise too.
  const name = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    '0001_core': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('repositories')
          .addColumn('id', sql.raw(id), (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('name', name, (c) => c.notNull().unique())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('blobs')
          .addColumn('digest', 'text', (c) => c.primaryKey())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('repository_blobs')
          .addColumn('repository_id', 'bigint', (c) =>
            c.notNull().references('repositories.id').onDelete('cascade'),
          )
          .addColumn('digest', 'text', (c) => c.notNull().references('blobs.digest'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('repository_blobs_pk', ['repository_id', 'digest'])
          .execute();
        await db.schema
          .createIndex('repository_blobs_digest')
          .on('repository_blobs')
          .column('digest')
          .execute();
        await db.schema
          .createTable('manifests')
          .addColumn('repository_id', 'bigint', (c) =>
            c.notNull().references('repositories.id').onDelete('cascade'),
          )
          .addColumn('digest', 'text', (c) => c.notNull())
          .addColumn('media_type', 'text', (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('content', sql.raw(bytes), (c) => c.notNull())
          .addColumn('subject', 'text')
          .addColumn('artifact_type', 'text')
          .addColumn('annotations', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('manifests_pk', ['repository_id', 'digest'])
          .execute();
        await db.schema
          .createIndex('manifests_subject')
          .on('manifests')
          .columns(['repository_id', 'subject'])
          .execute();
        await db.schema
          .createTable('manifest_references')
          .addColumn('repository_id', 'bigint', (c) => c.notNull())
          .addColumn('manifest_digest', 'text', (c) => c.notNull())
          .addColumn('child_digest', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('manifest_references_pk', [
            'repository_id',
            'manifest_digest',
            'child_digest',
          ])
          .addForeignKeyConstraint(
            'manifest_references_manifest',
            ['repository_id', 'manifest_digest'],
            'manifests',
            ['repository_id', 'digest'],
            (c) => c.onDelete('cascade'),
          )
          .execute();
        await db.schema
          .createIndex('manifest_references_child')
          .on('manifest_references')
          .column('child_digest')
          .execute();
        await db.schema
          .createTable('tags')
          .addColumn('repository_id', 'bigint', (c) => c.notNull())
          .addColumn('name', name, (c) => c.notNull())
          .addColumn('manifest_digest', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('tags_pk', ['repository_id', 'name'])
          .addForeignKeyConstraint(
            'tags_manifest',
            ['repository_id', 'manifest_digest'],
            'manifests',
            ['repository_id', 'digest'],
            (c) => c.onDelete('cascade'),
          )
          .execute();
        await db.schema
          .createTable('uploads')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('repository', 'text', (c) => c.notNull())
          .addColumn('offset', 'bigint', (c) => c.notNull())
          .addColumn('started_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('uploads_updated_at').on('uploads').column('updated_at').execute();
      },
    },
    '0002_accounts': accountsMigration(dialect),
    '0003_upload_writer': {
      // One writer per upload session across every process: the writer holds a lease it keeps renewing, and
      // `generation` counts claims, so a process can tell whether its running hash still covers the bytes.
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('uploads').addColumn('writer', 'text').execute();
        await db.schema.alterTable('uploads').addColumn('lease_until', 'bigint').execute();
        await db.schema
          .alterTable('uploads')
          .addColumn('generation', 'bigint', (c) => c.notNull().defaultTo(0))
          .execute();
      },
    },
    '0004_lifecycle': lifecycleMigration(dialect),
    '0005_collection': collectionMigration(dialect),
    '0006_auth_revocation': authRevocationMigration(dialect),
    '0007_signatures': signaturesMigration(dialect),
    '0008_vulnerability_db': vulnerabilityDbMigration(dialect),
    '0009_scanning': scanningMigration(dialect),
    '0010_operations': operationsMigration(dialect),
    '0011_oidc': oidcMigration(dialect),
    '0012_proxy': proxyMigration(),
    '0013_replication': replicationMigration(dialect),
    '0014_audit_anomalies': auditAnomaliesMigration(dialect),
    '0015_replication_events': replicationEventsMigration(),
    '0016_listing_indexes': listingsMigration(),
  };
}

export class StaticMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.dialect);
  }
}
