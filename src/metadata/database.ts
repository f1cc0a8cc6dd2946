import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { StaticMigrationProvider } from './migrations.js';
import type { Database } from './schema.js';

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
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
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
