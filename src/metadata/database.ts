import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';
import pg from 'pg';
import { reportingUnavailable } from './database-errors.js';
import { type Dialect, StaticMigrationProvider } from './migrations.js';
import type { Database } from './schema.js';
import { WalCheckpointer } from './wal-checkpointer.js';

/** An open metadata database and which engine it runs on. */
export interface MetadataDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  /** On PostgreSQL: the connection string (the change feed opens its own connection) and the pool. */
  postgres?: { url: string; pool: pg.Pool };
}

export interface OpenOptions {
  /** PostgreSQL connections per process. */
  poolSize?: number;
  /**
   * How long a query may wait for a PostgreSQL connection (opening one, or a free one from the pool) before it
   * fails as unavailable; 30 s by default.
   */
  connectTimeoutMs?: number;
  /** Apply pending migrations (the default). Cluster workers skip it: the primary already did. */
  migrate?: boolean;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

const UNCACHED_PARAMETERS = 64;

/** The `?` placeholders of a statement Kysely compiled (values are never inlined, so every `?` is one). */
function parameterCount(source: string): number {
  let n = 0;
  for (let i = source.indexOf('?'); i !== -1 && n < UNCACHED_PARAMETERS; i = source.indexOf('?', i + 1)) n++;
  return n;
}

/**
 * Kysely's SQLite driver prepares every query anew, and preparing costs more than running our small queries.
 * Statements are reusable (Kysely runs them with all()/run(), never holding an iterator open), so keep them
 * by SQL text. Kysely's queries are parameterised, so the set of distinct texts stays small — except for
 * `in` lists, whose text changes with their length: a statement with UNCACHED_PARAMETERS or more is not
 * kept. (Garbage collection's batches of 256 (repository, digest) pairs each had a text of their own: at
 * 1,000,000 blobs they filled the cache with 1,000 compiled statements of ~70 KiB each, kept for good, and
 * left no room for the rest.)
 */
export function withStatementCache(sqlite: SQLite.Database): SQLite.Database {
  const statements = new Map<string, SQLite.Statement>();
  const prepare = sqlite.prepare.bind(sqlite);
  return Object.assign(Object.create(sqlite) as SQLite.Database, {
    prepare(source: string) {
      let statement = statements.get(source);
      if (!statement) {
        statement = prepare(source);
        if (statements.size < 1000 && parameterCount(source) < UNCACHED_PARAMETERS) {
          statements.set(source, statement);
        }
      }
      return statement;
    },
    close: () => sqlite.close(),
  });
}

/**
 * Kysely begins SQLite transactions DEFERRED: one that reads before it writes holds a read snapshot until
 * its first write, and if another process (a `--workers` sibling) has committed since, SQLite refuses that
 * write with SQLITE_BUSY at once — busy_timeout cannot help, as waiting would not make the snapshot current.
 * Under load a worker is easily preempted between two statements while its sibling writes (pull times,
 * upload leases, pushes), so such requests failed now and then. Every transaction Berth runs writes, so each
 * begins IMMEDIATE instead: it takes the write lock first, waiting up to busy_timeout for another process's.
 */
class ImmediateTransactionDriver extends SqliteDriver {
  constructor(
    config: SqliteDialectConfig,
    private readonly sqlite: SQLite.Database,
    private readonly checkpointer: WalCheckpointer,
  ) {
    super(config);
  }

  /** The checkpoint thread's connection goes first, so that the main one is the last to close. */
  override async destroy(): Promise<void> {
    await this.checkpointer.close();
    await super.destroy();
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  /**
   * SQLite itself rolls the transaction back when a statement fails for want of disk space (SQLITE_FULL) and
   * on some I/O errors; a ROLLBACK then fails with "no transaction is active" and would hide the real error.
   */
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (this.sqlite.inTransaction) await super.rollbackTransaction(connection);
  }
}

class SqliteImmediateDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  readonly #sqlite: SQLite.Database;
  readonly #checkpointer: WalCheckpointer;

  constructor(sqlite: SQLite.Database, checkpointer: WalCheckpointer) {
    const config = { database: withStatementCache(sqlite) };
    super(config);
    this.#config = config;
    this.#sqlite = sqlite;
    this.#checkpointer = checkpointer;
  }

  override createDriver(): Driver {
    return new ImmediateTransactionDriver(this.#config, this.#sqlite, this.#checkpointer);
  }
}

function openSqlite(url: string): Kysely<Database> {
  const path = resolve(url.replace(/^sqlite:/, ''));
  mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SQLite(path);
  // WAL: readers never wait for the writer. NORMAL sync survives a process crash (kill -9); FULL would also
  // survive power loss at a cost on every commit.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  return new Kysely<Database>({
    dialect: new SqliteImmediateDialect(sqlite, new WalCheckpointer(sqlite, path)),
  });
}

/**
 * int8 (bigint) columns hold sizes and millisecond times; they fit a double exactly up to 2^53 (8 PiB,
 * year 287396), so read them as numbers rather than pg's default strings.
 */
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

function postgresPool(url: string, max: number, connectTimeoutMs: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    types,
    // Without it a server that accepts but never answers, or a pool kept busy by stuck queries, holds a
    // request forever; keep-alive notices a peer that vanished without closing the connection.
    connectionTimeoutMillis: connectTimeoutMs,
    keepAlive: true,
  });
  // An idle connection that the server ends (a restart, a terminated backend) is re-emitted by the pool as
  // 'error'; without a listener that is an uncaught exception that takes the whole process down. The pool
  // has already dropped that connection, and the next query opens a new one: there is nothing else to do.
  pool.on('error', () => {});
  // The same for a connection lost while checked out between two queries (a transaction's, or the job lock's
  // held one): the pool listens only to idle ones, so the client's 'error' would crash the process. Its next
  // query fails instead (as unavailable), and the pool discards it on release.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/**
 * Opens the metadata database named by `url` and brings its schema up to date: `sqlite:<path>` (or a bare
 * path) is the embedded default, `postgres://…` a shared PostgreSQL. Migrations are safe when several nodes
 * start at once: on PostgreSQL, Kysely's migrator holds an advisory lock while it migrates.
 */
export async function openDatabase(url: string, options: OpenOptions = {}): Promise<MetadataDatabase> {
  const postgres = isPostgresUrl(url);
  let opened: MetadataDatabase;
  if (postgres) {
    const pool = postgresPool(url, options.poolSize ?? 10, options.connectTimeoutMs ?? 30_000);
    opened = {
      db: new Kysely<Database>({ dialect: new PostgresDialect({ pool: reportingUnavailable(pool) }) }),
      dialect: 'postgres',
      postgres: { url, pool },
    };
  } else {
    opened = { db: openSqlite(url), dialect: 'sqlite' };
  }
  if (options.migrate === false) return opened;
  const { error } = await new Migrator({
    db: opened.db,
    provider: new StaticMigrationProvider(opened.dialect),
  }).migrateToLatest();
  if (error) {
    await opened.db.destroy();
    throw error;
  }
  return opened;
}
