import { type ColumnDefinitionBuilder, type Kysely, type Migration, sql } from 'kysely';
import type { Dialect } from './migrations.js';

/**
 * 0007: what a project trusts to sign its artifacts, and its pull-time signature policy.
 *
 * - `trusted_keys`: public keys (PEM SubjectPublicKeyInfo) for cosign / sigstore / skopeo signatures;
 * - `notation_trust_stores`: Notary Project trust stores (root CA PEMs, JSON array) and their trusted identities;
 * - `signature_policies`: `signatures.required` (off / warn / enforce), optionally scoped by repository globs,
 *   and the project's trust version, which every change to any of the three moves forward (caches key on it).
 */
export function signaturesMigration(dialect: Dialect): Migration {
  const id = dialect === 'postgres' ? 'bigserial' : 'integer';
  const primaryId = (c: ColumnDefinitionBuilder) =>
    dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement();
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('trusted_keys')
        .addColumn('id', sql.raw(id), primaryId)
        .addColumn('project_id', 'bigint', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('public_key_pem', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('trusted_keys_name', ['project_id', 'name'])
        .execute();
      await db.schema
        .createTable('notation_trust_stores')
        .addColumn('id', sql.raw(id), primaryId)
        .addColumn('project_id', 'bigint', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('root_certificates', 'text', (c) => c.notNull())
        .addColumn('trusted_identities', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('notation_trust_stores_name', ['project_id', 'name'])
        .execute();
      await db.schema
        .createTable('signature_policies')
        .addColumn('project_id', 'bigint', (c) =>
          c.primaryKey().references('projects.id').onDelete('cascade'),
        )
        .addColumn('required', 'text', (c) => c.notNull())
        .addColumn('repositories', 'text')
        .addColumn('trust_version', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  };
}
