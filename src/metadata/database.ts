import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { StaticMigrationProvider } from './migrations.js';
import type { Database } from './schema.js';

/**
 * Kysely's SQLite driver prepares every query anew, and preparing costs more than running our small queries.
 * Statements are reusable (Kysely runs them with all()/run(), never holding an iterator open), so keep them
 * by SQL text. Kysely's queries are parameterised, so the set of distinct texts stays small.
 */
function withStatementCache(sqlite: SQLite.Database): SQLite.Database {
  const statements = new Map<string, SQLite.Statement>();
  const prepare = sqlite.prepare.bind(sqlite);
  return Object.assign(Object.create(sqlite) as SQLite.Database, {
    prepare(source: string) {
      let statement = statements.get(source);
      if (!statement) {
        statement = prepare(source);
        if (statements.size < 1000) statements.set(source, statement);
      }
      return statement;
    },
    close: () => sqlite.close(),
  });
}

/**
 * Opens the metadata database named by `url` and brings its schema up to date.
 * `sqlite:<path>` (or a bare path) is the embedded default; `postgres://…` is planned (issue #4).
 */
export async function openDatabase(url: string): Promise<Kysely<Database>> {
  if (/^postgres(ql)?:\/\//.test(url)) {
    throw new Error('metadata: PostgreSQL is not available in this build yet; use sqlite:<path>');
  }
  const path = resolve(url.replace(/^sqlite:/, ''));
  mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SQLite(path);
  // WAL: readers never wait for the writer. NORMAL sync survives a process crash (kill -9); FULL would also
  // survive power loss at a cost on every commit.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  const { error } = await new Migrator({
    db,
    provider: new StaticMigrationProvider('sqlite'),
  }).migrateToLatest();
  if (error) {
    await db.destroy();
    throw error;
  }
  return db;
}
