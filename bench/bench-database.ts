/**
 * The benches' PostgreSQL: a fresh database per run on the server at BERTH_BENCH_POSTGRES_URL (default
 * 127.0.0.1:5432 as postgres), dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const ADMIN_URL =
  process.env.BERTH_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Runs `work` on a connection to the administrative database (`admin`), closed afterwards. */
export async function withAdmin<T>(work: (client: pg.Client) => Promise<T>, admin = ADMIN_URL): Promise<T> {
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database on the server of `admin`; its name, and its URL for BERTH_METADATA_URL. */
export async function createBenchDatabase(admin = ADMIN_URL): Promise<{ name: string; url: string }> {
  const name = `berth_bench_${randomBytes(6).toString('hex')}`;
  await withAdmin((client) => client.query(`CREATE DATABASE "${name}"`), admin);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

/** Drops it, closing whatever is still connected. */
export async function dropBenchDatabase(name: string, admin = ADMIN_URL): Promise<void> {
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`), admin);
}
