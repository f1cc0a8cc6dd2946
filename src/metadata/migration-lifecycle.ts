import { type ColumnDefinitionBuilder, type Kysely, type Migration, sql } from 'kysely';
import type { Dialect } from './migrations.js';

/**
 * 0004: tag immutability rules, project storage quotas, and each project's storage usage.
 *
 * Usage is a counter per project, kept in the transactions that add and remove blob links (a blob counts once
 * per project: when its first link into the project appears and when its last one goes). It is keyed by
 * project name, not by a projects row, because repositories exist without one when auth is off; quotas and
 * rules are project settings and go with their project.
 */
export function lifecycleMigration(dialect: Dialect): Migration {
  const id = dialect === 'postgres' ? 'bigserial' : 'integer';
  const name = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  const primaryId = (c: ColumnDefinitionBuilder) =>
    dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement();
  // The project of a repository: its first path segment, or `library` (DEFAULT_PROJECT) when it has none.
  const projectOf =
    dialect === 'postgres'
      ? sql`case when strpos(r.name, '/') > 0 then split_part(r.name, '/', 1) else 'library' end`
      : sql`case when instr(r.name, '/') > 0 then substr(r.name, 1, instr(r.name, '/') - 1) else 'library' end`;
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('immutability_rules')
        .addColumn('id', sql.raw(id), primaryId)
        .addColumn('project_id', 'bigint', (c) => c.notNull().references('projects.id').onDelete('cascade'))
        /** Globs (lifecycle/glob.ts) over the whole repository name and over the tag. */
        .addColumn('repository_pattern', 'text', (c) => c.notNull())
        .addColumn('tag_pattern', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('immutability_rules_project')
        .on('immutability_rules')
        .column('project_id')
        .execute();
      await db.schema
        .createTable('project_quotas')
        .addColumn('project_id', 'bigint', (c) =>
          c.primaryKey().references('projects.id').onDelete('cascade'),
        )
        .addColumn('limit_bytes', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('project_usage')
        .addColumn('project', name, (c) => c.primaryKey())
        .addColumn('used_bytes', 'bigint', (c) => c.notNull())
        .execute();
      // What is already stored counts from the start.
      await sql`
        insert into project_usage (project, used_bytes)
        select held.project, sum(b.size)
        from (
          select distinct ${projectOf} as project, l.digest
          from repository_blobs l join repositories r on r.id = l.repository_id
        ) held
        join blobs b on b.digest = held.digest
        group by held.project`.execute(db);
    },
  };
}
