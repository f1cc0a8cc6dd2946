import type { Kysely, Migration } from 'kysely';

/**
 * 0012: pull-through cache projects. A project with a row in `proxy_projects` is a cache of the registry at
 * `url`: pulls fetch what it lacks from there, pushes are refused. `password` is sealed with
 * replication.secretKey (replication/secrets.ts); null for an anonymous upstream.
 */
export function proxyMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('proxy_projects')
        .addColumn('project_id', 'bigint', (c) =>
          c.primaryKey().references('projects.id').onDelete('cascade'),
        )
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('username', 'text')
        .addColumn('password', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  };
}
