/**
 * The manifest GET hot path with auth on, as a multi-node deployment serves it: by tag and by digest, anonymous
 * on a public project and with a Bearer token, with wrk. Berth on its embedded SQLite and on PostgreSQL (a fresh
 * database on 127.0.0.1:5432, BERTH_BENCH_POSTGRES_URL to change) on filesystem storage, and with `s3` also
 * Berth on PostgreSQL + Swift S3 against Distribution on Swift S3 (anonymous: Distribution has no auth here),
 * in rounds that turn the order so that the load of this shared machine hits all alike; medians and ranges.
 */
import { randomBytes } from 'node:crypto';
import { createBenchDatabase, dropBenchDatabase, withAdmin } from './bench-database.js';
import { bufferDigest as digestOf, median } from './client.js';
import { type Server, startBerth, startDistribution } from './servers.js';
import { freshBucket, removeBucket, type S3Target } from './swift.js';
import { runWrk } from './wrk.js';

const ADMIN_PASSWORD = 'bench hot path admin';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const REPOSITORY = 'library/hot';

export const HOT_PATH_CASES = ['tag, anonymous', 'digest, anonymous', 'tag, token', 'digest, token'] as const;
export type HotPathCase = (typeof HOT_PATH_CASES)[number];
/** What serves: Berth on SQLite or PostgreSQL (filesystem), Berth on PostgreSQL + S3, Distribution on S3. */
export type Metadata = 'sqlite' | 'postgres' | 'postgres-s3' | 'distribution-s3';
const LABELS: Record<Metadata, string> = {
  sqlite: 'SQLite req/s',
  postgres: 'PostgreSQL req/s',
  'postgres-s3': 'PG + S3 req/s',
  'distribution-s3': 'Distribution S3 req/s',
};

export interface HotPathBench {
  rounds: number;
  seconds: number;
  connections: number;
  /** Requests per second of each round, per target and case (targets not run are absent). */
  rps: Partial<Record<Metadata, Record<HotPathCase, number[]>>>;
  /** Database transactions per request on PostgreSQL, from pg_stat_database (queries outside transactions count one each). */
  postgresQueriesPerRequest: Partial<Record<HotPathCase, number>>;
}

const basic = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;

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

/** Pushes a small image to the public default project; returns its digest and a pull token (Berth only). */
async function prepare(base: string, berth: boolean): Promise<{ digest: string; token: string }> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } }),
  );
  const layer = randomBytes(4096);
  // POST, then PUT with the bytes: Distribution takes no bytes with the POST.
  for (const blob of [config, layer]) {
    const started = await fetch(`${base}/v2/${REPOSITORY}/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization: basic },
    });
    await started.arrayBuffer();
    const location = new URL(started.headers.get('location') ?? '', base);
    if (started.status !== 202) throw new Error(`POST blob upload on ${base}: HTTP ${started.status}`);
    location.searchParams.set('digest', digestOf(blob));
    await call(location.toString(), 'PUT', blob, { 'content-type': 'application/octet-stream' });
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
  if (!berth) return { digest: digestOf(manifest), token: '' };
  const scope = `repository:${REPOSITORY}:pull`;
  const { token } = JSON.parse(await call(`${base}/token?service=berth&scope=${scope}`, 'GET')) as {
    token: string;
  };
  return { digest: digestOf(manifest), token };
}

interface Target {
  metadata: Metadata;
  server: Server;
  digest: string;
  token: string;
  database?: string;
  bucket?: string;
}

async function start(metadata: Metadata, distribution: string | undefined): Promise<Target> {
  const env: Record<string, string> = { BERTH_AUTH_ENABLED: 'true', BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD };
  let database: string | undefined;
  let s3: S3Target | undefined;
  if (metadata.endsWith('s3')) s3 = await freshBucket(metadata);
  if (metadata.startsWith('postgres')) {
    const created = await createBenchDatabase();
    database = created.name;
    env.BERTH_METADATA_URL = created.url;
  }
  const server =
    metadata === 'distribution-s3'
      ? await startDistribution(distribution as string, s3)
      : await startBerth(s3, env);
  return {
    metadata,
    server,
    ...(await prepare(server.url, metadata !== 'distribution-s3')),
    ...(database && { database }),
    ...(s3 && { bucket: s3.bucket }),
  };
}

async function stop(target: Target): Promise<void> {
  await target.server.stop();
  const { database, bucket } = target;
  if (database) await dropBenchDatabase(database);
  if (bucket) await removeBucket(bucket).catch(() => {});
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
  /** Also Berth on PostgreSQL + S3 and, with `distribution` (its binary), Distribution on S3 (Swift up). */
  s3?: boolean;
  distribution?: string | undefined;
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
    rps: {},
    postgresQueriesPerRequest: {},
  };
  const targets: Target[] = [];
  try {
    const kinds: Metadata[] = ['sqlite', 'postgres'];
    if (options.s3) kinds.push('postgres-s3');
    if (options.s3 && options.distribution) kinds.push('distribution-s3');
    for (const metadata of kinds) {
      targets.push(await start(metadata, options.distribution));
      result.rps[metadata] = empty();
    }
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
        const turned = [
          ...targets.slice(round % targets.length),
          ...targets.slice(0, round % targets.length),
        ];
        for (const target of turned) {
          // Distribution here has no auth: it takes part in the anonymous cases only.
          if (target.metadata === 'distribution-s3' && which.endsWith('token')) continue;
          const before = target.database ? await transactions(target.database) : 0;
          const run = await wrk(target, which);
          if (run.non2xx > 0) throw new Error(`${run.command}: ${run.non2xx} answers were not 2xx`);
          result.rps[target.metadata]?.[which].push(run.requestsPerSecond);
          if (target.metadata === 'postgres' && target.database && round === 0) {
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

/** The table: median (min–max) per case and target, PostgreSQL over SQLite, PG + S3 over Distribution on S3. */
export function hotPathTable(bench: HotPathBench): string {
  const cell = (values: number[] | undefined) =>
    !values || values.length === 0
      ? '—'
      : `${median(values).toFixed(0)} (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;
  const ratio = (a: number[] | undefined, b: number[] | undefined) =>
    a?.length && b?.length ? `${(median(a) / median(b)).toFixed(2)}` : '—';
  const kinds = (Object.keys(LABELS) as Metadata[]).filter((kind) => bench.rps[kind]);
  const s3 = kinds.includes('distribution-s3');
  const lines = [
    [
      'manifest GET',
      ...kinds.map((kind) => LABELS[kind]),
      'PG/SQLite',
      ...(s3 ? ['PG+S3/Distribution S3'] : []),
      'PG queries/req',
    ],
  ];
  for (const which of HOT_PATH_CASES) {
    lines.push([
      which,
      ...kinds.map((kind) => cell(bench.rps[kind]?.[which])),
      ratio(bench.rps.postgres?.[which], bench.rps.sqlite?.[which]),
      ...(s3 ? [ratio(bench.rps['postgres-s3']?.[which], bench.rps['distribution-s3']?.[which])] : []),
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
