import { type ColumnDefinitionBuilder, type Kysely, type Migration, sql } from 'kysely';
import type { Dialect } from './migrations.js';

/**
 * 0002: users, projects and their members, robot accounts, personal access tokens, the audit log, and
 * the token signing key.
 * Booleans are 0/1 integers and lists are JSON text, the same on both engines.
 */
export function accountsMigration(dialect: Dialect): Migration {
  const id = dialect === 'postgres' ? 'bigserial' : 'integer';
  const name = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  const primaryId = (c: ColumnDefinitionBuilder) =>
    dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement();
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('id', sql.raw(id), primaryId)
        .addColumn('username', name, (c) => c.notNull().unique())
        /** scrypt hash; null for LDAP users, who authenticate against the directory. */
        .addColumn('password_hash', 'text')
        .addColumn('email', 'text')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('system_admin', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        /** LDAP users: JSON list of group names seen at their last login. */
        .addColumn('ldap_groups', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('password_changed_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('projects')
        .addColumn('id', sql.raw(id), primaryId)
        .addColumn('name', name, (c) => c.notNull().unique())
        .addColumn('public', 'integer', (c) => c.notNull().defaultTo(0))
        /** JSON list of CIDRs allowed to push and delete; null means anywhere. */
        .addColumn('push_allowlist', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('project_members')
        .addColumn('project_id', 'bigint', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        /** 'user' or 'group' (LDAP group name). Robots carry their permissions themselves. */
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', name, (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('project_members_pk', ['project_id', 'kind', 'name'])
        .execute();
      await db.schema
        .createTable('robots')
        .addColumn('id', sql.raw(id), primaryId)
        .addColumn('name', name, (c) => c.notNull().unique())
        .addColumn('description', 'text')
        /** The id part of its `berth_<id>_<secret>` secret, to find the row from a login. */
        .addColumn('secret_id', 'text', (c) => c.notNull().unique())
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        /** JSON [{project, actions}] ('*' project: every project). */
        .addColumn('permissions', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint')
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('access_tokens')
        /** The id part of the token's `berth_<id>_<secret>`. */
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        /** JSON [{project, actions}] narrowing what the user may do with it; null: all the user may. */
        .addColumn('permissions', 'text')
        .addColumn('expires_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .execute();
      await db.schema.createIndex('access_tokens_user').on('access_tokens').column('user_id').execute();
      await db.schema
        .createTable('audit_events')
        .addColumn('id', sql.raw(id), primaryId)
        .addColumn('time', 'bigint', (c) => c.notNull())
        .addColumn('actor', name, (c) => c.notNull())
        /** 'user', 'robot', 'anonymous', 'system'. */
        .addColumn('actor_kind', 'text', (c) => c.notNull())
        .addColumn('source_ip', 'text')
        .addColumn('user_agent', 'text')
        /** push, pull, delete, login, token, user.create, member.add, … */
        .addColumn('action', 'text', (c) => c.notNull())
        /** repository:tag, repository@digest, project, user… */
        .addColumn('resource', name, (c) => c.notNull())
        /** 'success' or 'failure'. */
        .addColumn('result', 'text', (c) => c.notNull())
        .addColumn('detail', 'text')
        .execute();
      await db.schema
        .createTable('signing_keys')
        /** 'token': the key registry tokens are signed with, shared by every node. */
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('jwk', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_events_time').on('audit_events').column('time').execute();
      await db.schema
        .createIndex('audit_events_actor')
        .on('audit_events')
        .columns(['actor', 'time'])
        .execute();
      await db.schema
        .createIndex('audit_events_resource')
        .on('audit_events')
        .columns(['resource', 'time'])
        .execute();
    },
  };
}
