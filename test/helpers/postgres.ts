// Throwaway PostgreSQL databases for tests: the machine's server (127.0.0.1:5432, trust auth), one database
// per Berth under test, named after the test run so the run's global teardown can drop them all.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const ADMIN_URL = process.env.BERTH_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Whether the PostgreSQL server answers. Tests that need it skip loudly without it on a developer machine;
 * under CI its absence is an error, since CI must run them.
 */
export const postgresAvailable: boolean = await (async () => {
  try {
    await withAdmin((client) => client.query('select 1'));
    return true;
  } catch (error) {
    const reason = `PostgreSQL at ${ADMIN_URL.replace(/\/\/[^@]*@/, '//')} does not answer: ${(error as Error).message}`;
    if (process.env.CI) throw new Error(`${reason} (CI must run the PostgreSQL tests)`);
    console.warn(`\n!!! SKIPPING PostgreSQL tests: ${reason} !!!\n`);
    return false;
  }
})();

/** 'postgres' when this test process runs the suite against PostgreSQL (the `postgres` Vitest project). */
export const testMetadata = process.env.BERTH_TEST_METADATA === 'postgres' ? 'postgres' : 'sqlite';

export function runPrefix(): string {
  const run = process.env.BERTH_TEST_RUN ?? 'adhoc';
  return `berth_test_${run}_`;
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function urlFor(database: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Creates an empty database; returns its URL. It sorts text the way most installations do (ICU en-US, which
 * ignores punctuation at first), not bytewise like this machine's default, so that a query relying on the
 * database's default order for tags/list or _catalog fails here too.
 */
export async function createTestDatabase(): Promise<string> {
  const name = `${runPrefix()}${randomBytes(6).toString('hex')}`;
  await withAdmin((client) =>
    client.query(
      `CREATE DATABASE "${name}" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`,
    ),
  );
  return urlFor(name);
}

export async function dropTestDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

/** Drops every database this run created (names start with the run's prefix). */
export async function dropRunDatabases(): Promise<number> {
  return withAdmin(async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
      [runPrefix()],
    );
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    return rows.length;
  });
}
