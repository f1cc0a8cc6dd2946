/**
 * Small pushes to Swift S3 (issue 17: pushes were Swift-bound at ~10 object-store requests each). One Berth node
 * on PostgreSQL (or SQLite) with its blobs in a Swift bucket; `concurrency` clients push fresh 4 KiB blobs for
 * `seconds`, either monolithically (one POST ?digest= with the body) or chunked (POST, one PATCH, PUT ?digest=).
 * Reports pushes per second and latency, and the S3 requests one push makes, counted on the wire by a logging
 * proxy in front of Swift (a second node, so the proxy is not in the path that is timed).
 *
 * `--baseline=<dir>`: a build of another commit (`npx tsc -p tsconfig.build.json --outDir <dir>`, <dir> one level
 * below the checkout so that its ../../package.json resolves) measured in alternating rounds with dist/ (before
 * and after a change, under the same load).
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { S3RequestLog } from '../test/helpers/s3-request-log.js';
import { createBenchDatabase, dropBenchDatabase } from './bench-database.js';
import { closedLoop, bufferDigest as digestOf, median } from './client.js';
import { type Server, startBerth } from './servers.js';
import { ensureSwift, freshBucket, type S3Target } from './swift.js';

export const S3_PUSH_KINDS = ['monolithic', 'chunked'] as const;
export type S3PushKind = (typeof S3_PUSH_KINDS)[number];

export interface S3PushRun {
  perSecond: number;
  p50: number;
  p99: number;
}

export interface S3PushBuild {
  /** Where the CLI came from: dist/ or the baseline's directory. */
  build: string;
  runs: Partial<Record<S3PushKind, S3PushRun[]>>;
  /** S3 requests per push by operation (first attempts, averaged over the counted pushes). */
  requests: Partial<Record<S3PushKind, Record<string, number>>>;
}

export interface S3PushBench {
  rounds: number;
  seconds: number;
  concurrency: number;
  blobBytes: number;
  metadata: 'postgres' | 'sqlite';
  builds: S3PushBuild[];
}

interface Reply {
  status: number;
  location: string | undefined;
}

function send(agent: Agent, base: URL, method: string, path: string, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        method,
        path,
        agent,
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': body?.length ?? 0,
          ...(method === 'PATCH' && body && { 'content-range': `0-${body.length - 1}` }),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** One push of a fresh blob; throws unless the registry answers as the distribution spec says. */
async function pushOne(agent: Agent, base: URL, kind: S3PushKind, repository: string, blob: Buffer) {
  const digest = digestOf(blob);
  if (kind === 'monolithic') {
    const done = await send(agent, base, 'POST', `/v2/${repository}/blobs/uploads/?digest=${digest}`, blob);
    if (done.status !== 201) throw new Error(`monolithic push: HTTP ${done.status}`);
    return;
  }
  const started = await send(agent, base, 'POST', `/v2/${repository}/blobs/uploads/`);
  if (started.status !== 202 || !started.location) throw new Error(`POST: HTTP ${started.status}`);
  const location = new URL(started.location, base);
  const patched = await send(agent, base, 'PATCH', location.pathname, blob);
  if (patched.status !== 202) throw new Error(`PATCH: HTTP ${patched.status}`);
  location.searchParams.set('digest', digest);
  const done = await send(agent, base, 'PUT', `${location.pathname}${location.search}`);
  if (done.status !== 201) throw new Error(`PUT: HTTP ${done.status}`);
}

async function pushStorm(
  url: string,
  kind: S3PushKind,
  options: { concurrency: number; seconds: number; blobBytes: number },
): Promise<S3PushRun> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const base = new URL(url);
  try {
    return await closedLoop(options, (client) =>
      pushOne(agent, base, kind, `library/push-${client % 8}`, randomBytes(options.blobBytes)),
    );
  } finally {
    agent.destroy();
  }
}

/** S3 requests per push by operation, from `pushes` pushes one at a time through the logging proxy. */
async function countRequests(
  url: string,
  log: S3RequestLog,
  kind: S3PushKind,
  pushes: number,
  blobBytes: number,
): Promise<Record<string, number>> {
  const agent = new Agent({ keepAlive: true });
  const base = new URL(url);
  log.clear();
  for (let i = 0; i < pushes; i++)
    await pushOne(agent, base, kind, 'library/counted', randomBytes(blobBytes));
  agent.destroy();
  const perPush: Record<string, number> = {};
  for (const [operation, count] of Object.entries(log.counts())) perPush[operation] = count / pushes;
  return perPush;
}

export async function benchS3Push(options: {
  quick: boolean;
  log: (line: string) => void;
  track: (stop: { stop(): Promise<void> }) => void;
  baseline?: string;
  metadata?: 'postgres' | 'sqlite';
}): Promise<S3PushBench> {
  const problem = ensureSwift();
  if (problem) throw new Error(problem);
  const metadata = options.metadata ?? 'postgres';
  const rounds = options.quick ? 1 : 3;
  const seconds = options.quick ? 3 : 10;
  const concurrency = 32;
  const blobBytes = 4096;
  const counted = options.quick ? 3 : 10;
  const builds = [
    ...(options.baseline ? [`${options.baseline.replace(/\/+$/, '')}/cli/main.js`] : []),
    process.env.BERTH_BENCH_CLI_JS || 'dist/cli/main.js',
  ];
  const result: S3PushBench = { rounds, seconds, concurrency, blobBytes, metadata, builds: [] };
  const stoppers: { stop(): Promise<void> }[] = [];
  const databases: string[] = [];
  const log = await S3RequestLog.start('http://127.0.0.1:8080');
  stoppers.push({ stop: () => log.close() });
  /** A node of `cli` on a fresh bucket (and database), its S3 requests going to `endpoint`. */
  const startNode = async (cli: string, endpoint?: string): Promise<Server> => {
    const bucket: S3Target = await freshBucket('s3push');
    const env: Record<string, string> = {
      BERTH_LIMITS_CONNECTIONS_PER_ADDRESS: '0',
      BERTH_LIMITS_UPLOADS_PER_USER: '0',
    };
    if (metadata === 'postgres') {
      const database = await createBenchDatabase();
      databases.push(database.name);
      env.BERTH_METADATA_URL = database.url;
    }
    const previous = process.env.BERTH_BENCH_CLI_JS;
    process.env.BERTH_BENCH_CLI_JS = cli;
    try {
      const node = await startBerth({ ...bucket, ...(endpoint && { endpoint }) }, env);
      stoppers.push(node);
      options.track(node);
      return node;
    } finally {
      if (previous === undefined) delete process.env.BERTH_BENCH_CLI_JS;
      else process.env.BERTH_BENCH_CLI_JS = previous;
    }
  };
  try {
    const nodes: { build: S3PushBuild; timed: Server }[] = [];
    for (const cli of builds) {
      const build: S3PushBuild = { build: cli.replace(/\/cli\/main\.js$/, ''), runs: {}, requests: {} };
      const counting = await startNode(cli, log.endpoint);
      for (const kind of S3_PUSH_KINDS) {
        build.requests[kind] = await countRequests(counting.url, log, kind, counted, blobBytes);
        const total = Object.values(build.requests[kind] ?? {}).reduce((a, b) => a + b, 0);
        options.log(`  ${build.build}, ${kind}: ${total.toFixed(1)} S3 requests per push`);
      }
      await counting.stop();
      const timed = await startNode(cli);
      // Warm-up (JIT, pools) before anything counts.
      await pushStorm(timed.url, 'monolithic', { concurrency, seconds: 2, blobBytes });
      nodes.push({ build, timed });
      result.builds.push(build);
    }
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? nodes : [...nodes].reverse();
      for (const kind of S3_PUSH_KINDS) {
        for (const { build, timed } of order) {
          const run = await pushStorm(timed.url, kind, { concurrency, seconds, blobBytes });
          build.runs[kind] = [...(build.runs[kind] ?? []), run];
          options.log(
            `  ${build.build}, ${kind}: ${run.perSecond.toFixed(1)} pushes/s, p50 ${run.p50.toFixed(0)} ms, p99 ${run.p99.toFixed(0)} ms`,
          );
        }
      }
    }
  } finally {
    for (const s of stoppers.reverse()) await s.stop().catch(() => {});
    for (const database of databases) {
      await dropBenchDatabase(database).catch(() => {});
    }
  }
  return result;
}

export function s3PushTable(bench: S3PushBench): string {
  const lines = [['build', 'push', 'pushes/s: median (min–max)', 'p50 ms', 'p99 ms', 'S3 requests per push']];
  for (const build of bench.builds) {
    for (const kind of S3_PUSH_KINDS) {
      const runs = build.runs[kind] ?? [];
      const rates = runs.map((r) => r.perSecond);
      const requests = build.requests[kind] ?? {};
      const total = Object.values(requests).reduce((a, b) => a + b, 0);
      const detail = Object.entries(requests)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([operation, n]) => `${operation} ${Number(n.toFixed(1))}`)
        .join(', ');
      lines.push([
        build.build,
        kind,
        rates.length
          ? `${median(rates).toFixed(1)} (${Math.min(...rates).toFixed(1)}–${Math.max(...rates).toFixed(1)})`
          : '-',
        rates.length ? median(runs.map((r) => r.p50)).toFixed(0) : '-',
        rates.length ? median(runs.map((r) => r.p99)).toFixed(0) : '-',
        `${Number(total.toFixed(1))}: ${detail}`,
      ]);
    }
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
