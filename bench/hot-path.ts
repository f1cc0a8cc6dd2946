/**
 * The manifest GET hot path with auth on, as a multi-node deployment serves it: by tag and by digest, anonymous
 * on a public project and with a Bearer token, with wrk. Berth on its embedded SQLite and on PostgreSQL (a fresh
 * database on 127.0.0.1:5432, BERTH_BENCH_POSTGRES_URL to change), filesystem storage, in alternating rounds
 * so that the load of this shared machine hits both alike; medians and ranges are reported.
 */
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { median } from './client.js';
import { type Server, startBerth } from './servers.js';
import { runWrk } from './wrk.js';

const ADMIN_PASSWORD = 'bench hot path admin';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const REPOSITORY = 'library/hot';
const ADMIN_URL = process.env.BERTH_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const HOT_PATH_CASES = ['tag, anonymous', 'digest, anonymous', 'tag, token', 'digest, token'] as const;
export type HotPathCase = (typeof HOT_PATH_CASES)[number];
export type Metadata = 'sqlite' | 'postgres';

export interface HotPathBench {
  rounds: number;
  seconds: number;
  connections: number;
  /** Requests per second of each round, per metadata database and case. */
  rps: Record<Metadata, Record<HotPathCase, number[]>>;
  /** Database transactions per request on PostgreSQL, from pg_stat_database (queries outside transactions count one each). */
  postgresQueriesPerRequest: Partial<Record<HotPathCase, number>>;
}

const basic = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function call(url: string, method: string, body?: Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method,
    headers: { authorization: basic, ...headers },
    ...(body && { body }),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${url}: HTTP ${res.status}: ${text}`);
  return text;
}

/** Pushes a small image to the public default project; returns its digest and a pull token. */
async function prepare(base: string): Promise<{ digest: string; token: string }> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } }),
  );
  const layer = randomBytes(4096);
  for (const blob of [config, layer]) {
    await call(`${base}/v2/${REPOSITORY}/blobs/uploads/?digest=${digestOf(blob)}`, 'POST', blob, {
      'content-type': 'application/octet-stream',
    });
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: digestOf(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: digestOf(layer),
          size: layer.length,
        },
      ],
    }),
  );
  await call(`${base}/v2/${REPOSITORY}/manifests/latest`, 'PUT', manifest, { 'content-type': OCI_MANIFEST });
  const scope = `repository:${REPOSITORY}:pull`;
  const { token } = JSON.parse(await call(`${base}/token?service=berth&scope=${scope}`, 'GET')) as {
    token: string;
  };
  return { digest: digestOf(manifest), token };
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

interface Target {
  metadata: Metadata;
  server: Server;
  digest: string;
  token: string;
  database?: string;
}

async function start(metadata: Metadata): Promise<Target> {
  const env: Record<string, string> = { BERTH_AUTH_ENABLED: 'true', BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD };
  let database: string | undefined;
  if (metadata === 'postgres') {
    database = `berth_bench_${randomBytes(6).toString('hex')}`;
    await withAdmin((client) => client.query(`CREATE DATABASE "${database}"`));
    const url = new URL(ADMIN_URL);
    url.pathname = `/${database}`;
    env.BERTH_METADATA_URL = url.toString();
  }
  const server = await startBerth(undefined, env);
  return { metadata, server, ...(await prepare(server.url)), ...(database && { database }) };
}

async function stop(target: Target): Promise<void> {
  await target.server.stop();
  const { database } = target;
  if (database)
    await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));
}

async function transactions(database: string): Promise<number> {
  return withAdmin(async (client) => {
    await client.query('select pg_stat_force_next_flush()').catch(() => {});
    const { rows } = await client.query<{ n: string }>(
      'select xact_commit + xact_rollback as n from pg_stat_database where datname = $1',
      [database],
    );
    return Number(rows[0]?.n ?? Number.NaN);
  });
}

export async function benchHotPath(options: {
  wrk: string;
  quick: boolean;
  log: (line: string) => void;
}): Promise<HotPathBench> {
  const rounds = options.quick ? 1 : 3;
  const seconds = options.quick ? 2 : 5;
  const connections = 32;
  const empty = () =>
    Object.fromEntries(HOT_PATH_CASES.map((c) => [c, [] as number[]])) as Record<HotPathCase, number[]>;
  const result: HotPathBench = {
    rounds,
    seconds,
    connections,
    rps: { sqlite: empty(), postgres: empty() },
    postgresQueriesPerRequest: {},
  };
  const targets: Target[] = [];
  try {
    for (const metadata of ['sqlite', 'postgres'] as const) targets.push(await start(metadata));
    const wrk = (target: Target, which: HotPathCase) => {
      const reference = which.startsWith('tag') ? 'latest' : target.digest;
      return runWrk(options.wrk, `${target.server.url}/v2/${REPOSITORY}/manifests/${reference}`, {
        connections,
        seconds,
        headers: {
          accept: OCI_MANIFEST,
          ...(which.endsWith('token') && { authorization: `Bearer ${target.token}` }),
        },
      });
    };
    // Warm up both (JIT, caches) before anything is counted.
    for (const target of targets) await wrk(target, 'tag, anonymous');
    for (let round = 0; round < rounds; round++) {
      for (const which of HOT_PATH_CASES) {
        for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
          const before = target.database ? await transactions(target.database) : 0;
          const run = await wrk(target, which);
          if (run.non2xx > 0) throw new Error(`${run.command}: ${run.non2xx} answers were not 2xx`);
          result.rps[target.metadata][which].push(run.requestsPerSecond);
          if (target.database && round === 0) {
            // The pull times and audit events are written in batches: a second later, they are in.
            await new Promise((resolve) => setTimeout(resolve, 1500));
            const per = ((await transactions(target.database)) - before) / run.requests;
            result.postgresQueriesPerRequest[which] = Number(per.toFixed(3));
          }
          options.log(`  hot path, ${target.metadata}, ${which}: ${run.requestsPerSecond.toFixed(0)} req/s`);
        }
      }
    }
  } finally {
    for (const target of targets) await stop(target).catch(() => {});
  }
  return result;
}

/** The table: median (min–max) per case and database, and PostgreSQL over SQLite. */
export function hotPathTable(bench: HotPathBench): string {
  const cell = (values: number[]) =>
    values.length === 0
      ? '—'
      : `${median(values).toFixed(0)} (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;
  const lines = [['manifest GET', 'SQLite req/s', 'PostgreSQL req/s', 'PG/SQLite', 'PG queries/req']];
  for (const which of HOT_PATH_CASES) {
    const sqlite = bench.rps.sqlite[which];
    const postgres = bench.rps.postgres[which];
    const ratio = sqlite.length && postgres.length ? (median(postgres) / median(sqlite)).toFixed(2) : '—';
    lines.push([
      which,
      cell(sqlite),
      cell(postgres),
      ratio,
      String(bench.postgresQueriesPerRequest[which] ?? '—'),
    ]);
  }
  const widths = lines[0]?.map((_, i) => Math.max(...lines.map((l) => (l[i] as string).length))) ?? [];
  return lines
    .map((l) =>
      l
        .map((c, i) => c.padEnd(widths[i] as number))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
