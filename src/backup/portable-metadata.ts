import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, resolve as resolvePath } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { isPostgresUrl, openDatabase, StaticMigrationProvider } from '../metadata/index.js';

/**
 * Berth's metadata in a form that either engine can load: gzipped JSON lines, written from one PostgreSQL
 * transaction (REPEATABLE READ, so every table is read as of the same instant while the server goes on
 * writing). Needs no pg_dump of a matching version, and loads into PostgreSQL or SQLite alike:
 *
 *     {"format":"berth-metadata","version":1,"dialect":"postgres","migrations":[…],"tables":[…],"created":…}
 *     {"table":"repositories","columns":["id","name","created_at"]}
 *     [1,"library/busybox",1700000000000]                  one line per row; bytes as {"b":"<base64>"}
 *     {"end":"repositories","rows":1}
 *     …                                                    tables parents first (foreign keys)
 *     {"done":true,"rows":1234}                            written last: a dump without it is truncated
 *
 * Tables are those of the database's current schema but Kysely's migration bookkeeping; the migrations
 * applied are listed instead, so a restore builds the same schema first. Upload sessions (rows naming
 * temporary objects a backup does not hold) are left out, as in an SQLite snapshot.
 */
export const DUMP_FILE = 'metadata.jsonl.gz';

interface DumpHeader {
  format: 'berth-metadata';
  version: 1;
  dialect: 'postgres' | 'sqlite';
  created: string;
  migrations: string[];
  tables: string[];
}

/** Rows of one table, a batch at a time. */
interface RowBatch {
  table: string;
  columns: string[];
  rows: unknown[][];
}

/** Where a restore reads metadata from: a dump, or an SQLite snapshot (so it can go into PostgreSQL too). */
export interface MetadataSource {
  migrations: string[];
  tables: string[];
  batches(): AsyncIterable<RowBatch>;
  close(): Promise<void>;
}

const SKIPPED_TABLES = new Set(['kysely_migration', 'kysely_migration_lock']);
/** Tables whose rows a snapshot leaves out. */
const EMPTIED_TABLES = new Set(['uploads']);
const FETCH_ROWS = 1000;

function encode(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return { b: value.toString('base64') };
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.toISOString();
  return value;
}

function decode(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && 'b' in value) {
    return Buffer.from((value as { b: string }).b, 'base64');
  }
  return value;
}

/** Tables ordered so that each comes after those its foreign keys point to. */
function parentsFirst(tables: string[], references: { child: string; parent: string }[]): string[] {
  const ordered: string[] = [];
  const seen = new Set<string>();
  const visit = (table: string) => {
    if (seen.has(table)) return;
    seen.add(table);
    for (const { child, parent } of references)
      if (child === table && parent !== table && tables.includes(parent)) visit(parent);
    ordered.push(table);
  };
  for (const table of [...tables].sort()) visit(table);
  return ordered;
}

export interface DumpResult {
  /** `digest size` of every blob linked into a repository, as of the dump's instant. */
  blobs: { digest: string; size: number }[];
  rows: number;
}

/**
 * Dumps a PostgreSQL metadata database into `file` (see DUMP_FILE), and lists the blobs it links, all in one
 * REPEATABLE READ READ ONLY transaction: the dump and the blob list are the same instant.
 */
export async function dumpPostgres(url: string, file: string): Promise<DumpResult> {
  const database = await openDatabase(url, { migrate: false, poolSize: 1 });
  const pool = database.postgres?.pool;
  if (!pool) throw new Error(`${url}: not a PostgreSQL URL`);
  const client = await pool.connect();
  try {
    await client.query('begin isolation level repeatable read read only');
    // The snapshot is taken by the first query of the transaction.
    const { rows: tableRows } = await client.query<{ name: string }>(
      `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = current_schema() and c.relkind in ('r', 'p')`,
    );
    const { rows: references } = await client.query<{ child: string; parent: string }>(
      `select cl.relname as child, pl.relname as parent from pg_constraint c
       join pg_class cl on cl.oid = c.conrelid join pg_class pl on pl.oid = c.confrelid
       join pg_namespace n on n.oid = c.connamespace
       where c.contype = 'f' and n.nspname = current_schema()`,
    );
    const names = tableRows.map((r) => r.name);
    if (!names.includes('repositories') || !names.includes('kysely_migration'))
      throw new Error(
        `${redact(url)}: not a Berth metadata database (no repositories/kysely_migration table)`,
      );
    const { rows: migrationRows } = await client.query<{ name: string }>(
      'select name from kysely_migration order by name',
    );
    const tables = parentsFirst(
      names.filter((name) => !SKIPPED_TABLES.has(name)),
      references,
    );
    const { rows: blobs } = await client.query<{ digest: string; size: number }>(
      `select b.digest, b.size from blobs b
       where exists (select 1 from repository_blobs l where l.digest = b.digest) order by b.digest`,
    );
    const header: DumpHeader = {
      format: 'berth-metadata',
      version: 1,
      dialect: 'postgres',
      created: new Date().toISOString(),
      migrations: migrationRows.map((r) => r.name),
      tables,
    };
    let total = 0;
    async function* lines(): AsyncGenerator<string> {
      yield `${JSON.stringify(header)}\n`;
      for (const table of tables) {
        const { rows: columnRows } = await client.query<{ name: string }>(
          `select column_name as name from information_schema.columns
           where table_schema = current_schema() and table_name = $1 order by ordinal_position`,
          [table],
        );
        const columns = columnRows.map((r) => r.name);
        yield `${JSON.stringify({ table, columns })}\n`;
        let count = 0;
        if (!EMPTIED_TABLES.has(table)) {
          const list = columns.map(quoteIdent).join(', ');
          await client.query(
            `declare berth_dump no scroll cursor for select ${list} from ${quoteIdent(table)}`,
          );
          for (;;) {
            const page = await client.query({
              text: `fetch forward ${FETCH_ROWS} from berth_dump`,
              rowMode: 'array',
            });
            if (page.rows.length === 0) break;
            let text = '';
            for (const row of page.rows as unknown[][]) text += `${JSON.stringify(row.map(encode))}\n`;
            count += page.rows.length;
            yield text;
          }
          await client.query('close berth_dump');
        }
        total += count;
        yield `${JSON.stringify({ end: table, rows: count })}\n`;
      }
      yield `${JSON.stringify({ done: true, rows: total })}\n`;
    }
    await pipeline(Readable.from(lines()), createGzip({ level: 6 }), createWriteStream(file));
    await syncFile(file);
    await client.query('commit');
    return { blobs: blobs.map((b) => ({ digest: b.digest, size: Number(b.size) })), rows: total };
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
    await database.db.destroy();
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A dump file as a source; reading it to the end checks it is whole (its `done` line). */
export async function dumpSource(file: string): Promise<MetadataSource> {
  const input = createReadStream(file).pipe(createGunzip());
  const reader = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  const iterator = reader[Symbol.asyncIterator]();
  const first = await iterator.next();
  let header: DumpHeader;
  try {
    header = JSON.parse(first.done ? '' : first.value) as DumpHeader;
  } catch {
    throw new Error(`${file}: not a Berth metadata dump`);
  }
  if (header.format !== 'berth-metadata' || header.version !== 1)
    throw new Error(`${file}: not a Berth metadata dump (version 1)`);
  const close = async () => {
    reader.close();
    input.destroy();
  };
  return {
    migrations: header.migrations,
    tables: header.tables,
    close,
    async *batches() {
      let current: { table: string; columns: string[] } | undefined;
      let rows: unknown[][] = [];
      let counted = 0;
      for (;;) {
        const next = await iterator.next();
        if (next.done) throw new Error(`${file}: the dump is truncated (no end line)`);
        const line = JSON.parse(next.value) as unknown;
        if (Array.isArray(line)) {
          if (!current) throw new Error(`${file}: a row outside a table`);
          rows.push(line.map(decode));
          counted++;
          if (rows.length >= 500) {
            yield { ...current, rows };
            rows = [];
          }
          continue;
        }
        const entry = line as {
          table?: string;
          columns?: string[];
          end?: string;
          rows?: number;
          done?: boolean;
        };
        if (entry.table !== undefined && entry.columns) {
          current = { table: entry.table, columns: entry.columns };
          counted = 0;
        } else if (entry.end !== undefined) {
          if (!current || entry.end !== current.table || entry.rows !== counted)
            throw new Error(`${file}: table ${entry.end}: ${counted} rows read, the dump says ${entry.rows}`);
          if (rows.length > 0) yield { ...current, rows };
          rows = [];
          current = undefined;
        } else if (entry.done) return;
      }
    },
  };
}

/** An SQLite snapshot file as a source (to restore an SQLite backup into PostgreSQL). */
export async function sqliteSource(file: string): Promise<MetadataSource> {
  const database = new SQLite(file, { readonly: true, fileMustExist: true });
  const names = (
    database
      .prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'")
      .all() as { name: string }[]
  ).map((r) => r.name);
  const references: { child: string; parent: string }[] = [];
  for (const child of names) {
    for (const fk of database.prepare(`pragma foreign_key_list(${quoteIdent(child)})`).all() as {
      table: string;
    }[])
      references.push({ child, parent: fk.table });
  }
  const migrations = (
    database.prepare('select name from kysely_migration order by name').all() as { name: string }[]
  ).map((r) => r.name);
  const tables = parentsFirst(
    names.filter((name) => !SKIPPED_TABLES.has(name)),
    references,
  );
  return {
    migrations,
    tables,
    close: async () => {
      database.close();
    },
    async *batches() {
      for (const table of tables) {
        if (EMPTIED_TABLES.has(table)) continue;
        const statement = database.prepare(`select * from ${quoteIdent(table)}`).raw(true);
        const columns = statement.columns().map((c) => c.name);
        let rows: unknown[][] = [];
        for (const row of statement.iterate() as Iterable<unknown[]>) {
          rows.push(row);
          if (rows.length >= 500) {
            yield { table, columns, rows };
            rows = [];
          }
        }
        if (rows.length > 0) yield { table, columns, rows };
      }
    },
  };
}

type AnyDb = Kysely<Record<string, never>>;

/**
 * Loads a source into the metadata database at `url`, which must be empty (no repositories): into
 * PostgreSQL in one transaction (its DDL is transactional: the schema of the source's migrations is built,
 * filled, and committed at once, so an interrupted restore leaves the database as it was); into SQLite as a
 * new file renamed into place when complete. Then the newer migrations of this Berth are applied.
 */
export async function loadMetadata(source: MetadataSource, url: string): Promise<number> {
  let rows: number;
  if (isPostgresUrl(url)) {
    const database = await openDatabase(url, { migrate: false, poolSize: 1 });
    try {
      rows = await database.db.connection().execute(async (connection) => {
        const db = connection as unknown as AnyDb;
        await sql`begin`.execute(db);
        try {
          await clearPostgres(db, url);
          const loaded = await fill(db, source, 'postgres');
          await resetSequences(db);
          await sql`commit`.execute(db);
          return loaded;
        } catch (error) {
          await sql`rollback`.execute(db).catch(() => undefined);
          throw error;
        }
      });
    } finally {
      await database.db.destroy();
    }
  } else {
    const path = resolvePath(url.replace(/^sqlite:/, ''));
    const building = `${path}.restoring`;
    await mkdir(dirname(path), { recursive: true });
    await rm(building, { force: true });
    const sqlite = new SQLite(building);
    const db = new Kysely<Record<string, never>>({ dialect: new SqliteDialect({ database: sqlite }) });
    try {
      rows = await db.connection().execute(async (connection) => {
        await sql`begin`.execute(connection);
        const loaded = await fill(connection, source, 'sqlite');
        await sql`commit`.execute(connection);
        return loaded;
      });
    } finally {
      await db.destroy();
    }
    await syncFile(building);
    for (const suffix of ['', '-wal', '-shm']) await rm(`${path}${suffix}`, { force: true });
    await rename(building, path);
  }
  // The migrations this Berth has beyond the source's, as `serve` would apply them.
  const migrated = await openDatabase(url, { poolSize: 1 });
  await migrated.db.destroy();
  return rows;
}

/** Throws unless the PostgreSQL database at `url` can take a restore (see clearPostgres); changes nothing. */
export async function assertPostgresRestorable(url: string): Promise<void> {
  const database = await openDatabase(url, { migrate: false, poolSize: 1 });
  try {
    await database.db
      .connection()
      .execute((connection) => refuseContent(connection as unknown as AnyDb, url));
  } finally {
    await database.db.destroy();
  }
}

/** The tables of the current schema; throws when any is not Berth's or repositories has rows. */
async function refuseContent(db: AnyDb, url: string): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = current_schema() and c.relkind in ('r', 'p')`.execute(db);
  const names = rows.map((r) => r.name);
  if (names.length === 0) return names;
  if (!names.includes('kysely_migration'))
    throw new Error(`${redact(url)} holds tables that are not Berth's: restore into an empty database`);
  if (names.includes('repositories')) {
    const { rows: count } = await sql<{ n: number }>`select count(*)::int as n from repositories`.execute(db);
    const n = count[0]?.n ?? 0;
    if (n > 0) throw new Error(`${redact(url)} holds ${n} repositories: restore only into an empty instance`);
  }
  return names;
}

/** Refuses a database holding repositories or tables not Berth's; drops an unused Berth schema (no repositories). */
async function clearPostgres(db: AnyDb, url: string): Promise<void> {
  const names = await refuseContent(db, url);
  // A Berth that started once (its administrator, the library project) but holds no content: replaced.
  for (const name of names) await sql`drop table if exists ${sql.table(name)} cascade`.execute(db);
}

/** Builds the source's schema (its migrations), then inserts its rows; the number of rows. */
async function fill(db: AnyDb, source: MetadataSource, dialect: 'postgres' | 'sqlite'): Promise<number> {
  const provider = new StaticMigrationProvider(dialect);
  const known = Object.keys(await provider.getMigrations()).sort();
  const unknown = source.migrations.filter((name) => !known.includes(name));
  if (unknown.length > 0)
    throw new Error(`the backup comes from a newer Berth (migrations ${unknown.join(', ')} unknown here)`);
  const last = source.migrations.at(-1);
  if (last) {
    const { error } = await new Migrator({ db, provider, disableTransactions: true }).migrateTo(last);
    if (error) throw error;
  }
  // Rows that migrations seed (defaults) give way to the source's.
  for (const table of [...source.tables].reverse()) await sql`delete from ${sql.table(table)}`.execute(db);
  let rows = 0;
  for await (const batch of source.batches()) {
    const perInsert = Math.max(1, Math.min(500, Math.floor(10_000 / batch.columns.length)));
    const columns = sql.join(batch.columns.map((c) => sql.ref(c)));
    for (let i = 0; i < batch.rows.length; i += perInsert) {
      const values = batch.rows.slice(i, i + perInsert).map((row) => sql`(${sql.join(row)})`);
      await sql`insert into ${sql.table(batch.table)} (${columns}) values ${sql.join(values)}`.execute(db);
    }
    rows += batch.rows.length;
  }
  return rows;
}

/** bigserial counters continue after the restored ids. */
async function resetSequences(db: AnyDb): Promise<void> {
  const { rows } = await sql<{ table: string; column: string }>`
    select table_name as table, column_name as column from information_schema.columns
    where table_schema = current_schema() and column_default like 'nextval(%'`.execute(db);
  for (const { table, column } of rows) {
    await sql`select setval(pg_get_serial_sequence(${quoteIdent(table)}, ${column}),
      coalesce((select max(${sql.ref(column)}) from ${sql.table(table)}), 0) + 1, false)`.execute(db);
  }
}

/** Reads a dump to its end (gzip, every table's row count, the final line): throws naming what is wrong. */
export async function checkDump(
  file: string,
): Promise<{ rows: number; linked: Set<string>; migrations: string[] }> {
  const source = await dumpSource(file);
  const linked = new Set<string>();
  let rows = 0;
  try {
    for await (const batch of source.batches()) {
      rows += batch.rows.length;
      if (batch.table !== 'repository_blobs') continue;
      const at = batch.columns.indexOf('digest');
      for (const row of batch.rows) linked.add(String(row[at]));
    }
  } finally {
    await source.close();
  }
  return { rows, linked, migrations: source.migrations };
}
