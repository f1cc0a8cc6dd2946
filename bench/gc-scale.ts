/**
 * `npm run bench:gc`: online garbage collection on a large registry — its time per phase, the collecting
 * process's peak RSS, and what it does to pushes going on meanwhile.
 *
 * The registry is built directly in the metadata and on disk (bulk inserts, a slice of repositories at a
 * time; pushing a million blobs over HTTP would take hours and measure the push path). Shape: --repositories
 * (default: blobs / 100) × --blobs / 2 / repositories tagged images (one config + one layer each), plus garbage
 * (a tenth of --blobs of each kind): untagged images, links no manifest references, blob rows no repository
 * links. Every blob is a 16-byte file, so the storage walk sees every one.
 *
 * Then `berth serve` (from dist/: `npm run build` first, as the script does; auth off, default grace window)
 * starts on that data, and the bench:
 * 1. pushes small images (a config, a layer, a tagged manifest) one after another for --idle-seconds: the
 *    idle push latency;
 * 2. asks that server for a dry run, then a real run while the same pusher goes on (the latency under GC, also
 *    by the collector's phase, and where the slowest 1% of pushes waited, by request kind);
 *    each run's summary and the server's peak RSS during it (VmHWM, reset before each run);
 * 3. pushes for --idle-seconds again, and checks that exactly the referenced and the pushed blobs are left.
 *
 * Flags: --blobs=N referenced blobs (default 100000; 1000000 for the issue-17 scale), --repositories=N,
 * --postgres=URL (metadata on PostgreSQL: a fresh database, dropped at the end), --idle-seconds=S (20),
 * --quiet-run (the real run with no pushes going on: the collector paces itself only while requests are
 * served, so this is its speed on a quiet server).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Insertable, type Kysely, sql } from 'kysely';
import type { CollectionSummary } from '../src/lifecycle/index.js';
import { type Database, openDatabase } from '../src/metadata/index.js';
import { createBenchDatabase, dropBenchDatabase } from './bench-database.js';

function flag(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

const sha256Hex = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const digestOf = (text: string) => `sha256:${sha256Hex(Buffer.from(text))}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const ADMIN_PASSWORD = `bench-${randomUUID()}`;

/** A run as the server reports it, with the server's RSS when it started and at its peak (VmHWM), MiB. */
interface RunReport {
  summary: CollectionSummary;
  startMiB: number;
  peakMiB: number;
  rssByPhase: Record<string, number>;
  /** When each phase was first seen (performance.now(), polled every 0.5 s). */
  phaseStarts: { phase: string; at: number }[];
}

// --- build, start the server, push, collect, report ----------------------------------------------------------

async function main(): Promise<void> {
  const referencedBlobs = Number(flag('blobs') ?? 100_000);
  const repositories = Number(flag('repositories') ?? Math.max(1, Math.round(referencedBlobs / 100)));
  const idleSeconds = Number(flag('idle-seconds') ?? 20);
  const postgresUrl = flag('postgres');
  // The real run with no pushes going on: how long a run takes on a server with nothing else to do.
  const quietRun = process.argv.includes('--quiet-run');
  const dir = await mkdtemp(join(tmpdir(), 'berth-gc-scale-'));
  // --postgres=URL names the server's administrative database; the bench's own is made there and dropped.
  const created = postgresUrl ? await createBenchDatabase(postgresUrl) : undefined;
  const url = created?.url ?? `sqlite:${join(dir, 'berth.db')}`;
  const database = postgresUrl ? 'PostgreSQL' : 'SQLite';
  console.log(
    `load average at start: ${loadavg()
      .map((n) => n.toFixed(1))
      .join(' ')}`,
  );
  try {
    const setup = Date.now();
    const { db } = await openDatabase(url);
    let counts: Awaited<ReturnType<typeof populate>>;
    try {
      counts = await populate(db, dir, referencedBlobs, repositories);
      // A registry that grew to this size has planner statistics (autovacuum's ANALYZE); a bulk load has none.
      await sql`analyze`.execute(db);
    } finally {
      await db.destroy();
    }
    console.log(
      `built ${counts.blobs} blobs (${counts.garbageBlobs} garbage), ${counts.manifests} manifests in ` +
        `${repositories} repositories in ${((Date.now() - setup) / 1000).toFixed(1)} s on ${database}`,
    );

    const server = await startServer(dir, url);
    try {
      const pusher = new Pusher(server.url, repositories);
      const idle = await pusher.pushFor(idleSeconds * 1000);
      console.log(`pushes, idle:        ${latencies(idle.map((p) => p.ms))}`);
      console.log(`  the slowest 1% of them spent their time in: ${slowestSteps(idle)}`);
      for (const dryRun of [true, false]) {
        const during = dryRun || quietRun ? undefined : pusher.pushUntil();
        const report = await server.collect(dryRun);
        const pushes = await pusher.stop(during);
        const s = report.summary;
        console.log(
          `${dryRun ? 'dry run' : 'run    '}: ${(s.durationMs / 1000).toFixed(2)} s — ${s.manifests} manifests, ` +
            `${s.links} links, ${s.blobs} blobs, ${s.orphans.objects} orphans; spared ${JSON.stringify(s.spared)}; ` +
            `RSS ${Math.round(report.startMiB)} → peak ${Math.round(report.peakMiB)} MiB; ` +
            `phases ${JSON.stringify(s.phases)}; RSS seen by phase ${JSON.stringify(report.rssByPhase)}`,
        );
        if (pushes) {
          console.log(`pushes, during GC:   ${latencies(pushes.map((p) => p.ms))}`);
          console.log(`  the slowest 1% of them spent their time in: ${slowestSteps(pushes)}`);
          // By the phase the collector was in when each push ended (phases seen by 0.5 s polls: approximate;
          // a slice's mark, manifests and links alternate).
          const byPhase = new Map<string, number[]>();
          for (const [i, { phase, at }] of report.phaseStarts.entries()) {
            const until = report.phaseStarts[i + 1]?.at ?? Number.POSITIVE_INFINITY;
            const list = byPhase.get(phase) ?? [];
            byPhase.set(phase, list);
            list.push(...pushes.filter((p) => p.at >= at && p.at < until).map((p) => p.ms));
          }
          for (const [phase, ms] of byPhase) {
            if (ms.length > 0) console.log(`  during ${phase.padEnd(10)} ${latencies(ms)}`);
          }
        }
      }
      // The same pushes with no run going on: what the server's RSS does without the collector (its caches
      // fill with what is pushed, during a run as well).
      server.resetPeak();
      const after = await pusher.pushFor(idleSeconds * 1000);
      const memory = server.memory();
      console.log(`pushes, idle after:  ${latencies(after.map((p) => p.ms))}`);
      console.log(
        `  server RSS after them ${Math.round(memory.rssMiB)} MiB, peak while they ran ${Math.round(memory.peakMiB)} MiB`,
      );
      await server.exit();
      const { db: check } = await openDatabase(url);
      try {
        const left = await check
          .selectFrom('blobs')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow();
        const expected = counts.blobs - counts.garbageBlobs + 2 * pusher.pushed;
        console.log(`blobs left: ${Number(left.n)} (expected ${expected}: referenced + 2 per push)`);
        if (Number(left.n) !== expected) process.exitCode = 1;
      } finally {
        await check.destroy();
      }
    } finally {
      await server.exit();
    }
  } finally {
    console.log(
      `load average at end: ${loadavg()
        .map((n) => n.toFixed(1))
        .join(' ')}`,
    );
    if (created) await dropBenchDatabase(created.name, postgresUrl);
    await rm(dir, { recursive: true, force: true });
  }
}

function latencies(ms: number[]): string {
  if (ms.length === 0) return 'none';
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
  return (
    `${ms.length} pushes, p50 ${at(50).toFixed(0)} ms, p99 ${at(99).toFixed(0)} ms, ` +
    `max ${(sorted[sorted.length - 1] as number).toFixed(0)} ms`
  );
}

/**
 * Berth as `berth serve` runs it (dist/, or BERTH_BENCH_CLI_JS: a private build while others rebuild dist/),
 * on the built data, auth off, logging warnings only; its collections started and followed through the API.
 */
async function startServer(dataDir: string, metadataUrl: string) {
  const main = process.env.BERTH_BENCH_CLI_JS || 'dist/cli/main.js';
  const port = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('BERTH_')));
  // Auth off for /v2 (the pushes); the management API still wants the administrator.
  Object.assign(env, {
    BERTH_AUTH_ENABLED: 'false',
    BERTH_METADATA_URL: metadataUrl,
    BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
  });
  // BERTH_BENCH_NODE_ARGS: options for Berth's node (e.g. --max-old-space-size=256, --cpu-prof).
  const nodeArgs = (process.env.BERTH_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(
    process.execPath,
    [
      ...nodeArgs,
      main,
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--data-dir',
      dataDir,
      '--log-level',
      'warn',
    ],
    { env, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`berth serve exited with ${proc.exitCode}`);
    const up = await fetch(`${url}/v2/`).then(
      (res) => res.status,
      () => 0,
    );
    if (up === 200) break;
    if (Date.now() > deadline) throw new Error('berth serve did not answer within 120 s');
    await sleep(200);
  }
  // Once before measuring: the first check of the administrator's password (scrypt) allocates, later ones hit
  // the credentials cache.
  await api(url, 'GET', '/api/v1/gc/runs');
  const status = () => readFileSync(`/proc/${proc.pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status())?.[1] ?? 0);
  /** Resets the server's peak RSS (VmHWM) to its current RSS: `memory()` then reports the peak since. */
  const resetPeak = () => writeFileSync(`/proc/${proc.pid}/clear_refs`, '5');
  /** The server's RSS now and its peak, MiB. */
  const memory = () => ({ rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 });
  return {
    url,
    resetPeak,
    memory,
    async collect(dryRun: boolean): Promise<RunReport> {
      // The peak reported is this run's.
      resetPeak();
      const startMiB = memory().rssMiB;
      // The RSS seen while each phase was reported (sampled every 0.5 s), MiB.
      const rssByPhase: Record<string, number> = {};
      const phaseStarts: { phase: string; at: number }[] = [{ phase: 'start', at: performance.now() }];
      const started = await api<{ id: number }>(url, 'POST', '/api/v1/gc/runs', { dryRun });
      for (;;) {
        await sleep(500);
        const run = await api<{
          status: string;
          error?: string;
          summary?: CollectionSummary;
          progress?: { phase?: string };
        }>(url, 'GET', `/api/v1/gc/runs/${started.id}`);
        const phase = run.progress?.phase ?? 'start';
        if (phaseStarts.at(-1)?.phase !== phase) phaseStarts.push({ phase, at: performance.now() });
        rssByPhase[phase] = Math.max(rssByPhase[phase] ?? 0, Math.round(memory().rssMiB));
        if (run.status === 'running') continue;
        if (run.status !== 'succeeded' || !run.summary) throw new Error(`gc ${run.status}: ${run.error}`);
        return {
          summary: run.summary,
          startMiB,
          peakMiB: memory().peakMiB,
          rssByPhase,
          phaseStarts,
        };
      }
    },
    async exit(): Promise<void> {
      if (proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      await new Promise((resolve) => proc.once('exit', resolve));
    },
  };
}

async function api<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(new URL(path, base), {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface PushTiming {
  ms: number;
  at: number;
  /** Milliseconds by request kind (upload start, PUT blob, PUT manifest). */
  steps: Record<string, number>;
}

/** Where the slowest 1% of pushes spent their time, by request kind (shares of their summed time). */
function slowestSteps(pushes: PushTiming[]): string {
  const sorted = [...pushes].sort((a, b) => b.ms - a.ms);
  const slow = sorted.slice(0, Math.max(1, Math.ceil(sorted.length / 100)));
  const sums: Record<string, number> = {};
  for (const push of slow)
    for (const [step, ms] of Object.entries(push.steps)) sums[step] = (sums[step] ?? 0) + ms;
  const total = Object.values(sums).reduce((a, b) => a + b, 0) || 1;
  return Object.entries(sums)
    .sort((a, b) => b[1] - a[1])
    .map(([step, ms]) => `${step} ${Math.round((100 * ms) / total)}%`)
    .join(', ');
}

/** Pushes small tagged images one after another into the built repositories, timing each whole push. */
class Pusher {
  pushed = 0;
  private running = false;

  constructor(
    private readonly base: string,
    private readonly repositories: number,
  ) {}

  async pushFor(ms: number): Promise<PushTiming[]> {
    const deadline = Date.now() + ms;
    const times: PushTiming[] = [];
    while (Date.now() < deadline) times.push(await this.pushOne());
    return times;
  }

  /** Pushes until stop(); resolves to the pushes' timings. */
  pushUntil(): Promise<PushTiming[]> {
    this.running = true;
    return (async () => {
      const times: PushTiming[] = [];
      while (this.running) times.push(await this.pushOne());
      return times;
    })();
  }

  async stop<T>(during: Promise<T> | undefined): Promise<T | undefined> {
    this.running = false;
    return during;
  }

  private async pushOne(): Promise<PushTiming> {
    const n = this.pushed++;
    const repository = `scale/repo${n % this.repositories}`;
    const steps: Record<string, number> = {};
    const started = performance.now();
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomUUID() }));
    const layer = randomBytes(1024);
    const descriptors = [];
    for (const [blob, mediaType] of [
      [config, 'application/vnd.oci.image.config.v1+json'],
      [layer, 'application/vnd.oci.image.layer.v1.tar+gzip'],
    ] as const) {
      const digest = `sha256:${sha256Hex(blob)}`;
      const post = await this.call(steps, 'POST', 'upload start', `/v2/${repository}/blobs/uploads/`, 202);
      const location = new URL(post.headers.get('location') as string, this.base);
      location.searchParams.set('digest', digest);
      await this.call(
        steps,
        'PUT',
        'blob',
        location.pathname + location.search,
        201,
        blob,
        'application/octet-stream',
      );
      descriptors.push({ mediaType, digest, size: blob.length });
    }
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: descriptors[0],
      layers: [descriptors[1]],
    });
    const path = `/v2/${repository}/manifests/pushed-${n}`;
    await this.call(steps, 'PUT', 'manifest', path, 201, Buffer.from(manifest), OCI_MANIFEST);
    const at = performance.now();
    return { ms: at - started, at, steps };
  }

  /** Sends the request; its time is added to `steps` under its method and `kind`. */
  private async call(
    steps: Record<string, number>,
    method: string,
    kind: string,
    path: string,
    status: number,
    body?: Buffer,
    type?: string,
  ) {
    const started = performance.now();
    const res = await fetch(new URL(path, this.base), {
      method,
      ...(body && { body, headers: { 'content-type': type as string } }),
    });
    await res.arrayBuffer();
    const step = `${method} ${kind}`;
    steps[step] = (steps[step] ?? 0) + performance.now() - started;
    if (res.status !== status) throw new Error(`${method} ${path}: HTTP ${res.status}, expected ${status}`);
    return res;
  }
}

// --- building the registry ----------------------------------------------------------------------------------

/** Rows and files for the shape described at the top, a slice of repositories at a time. */
async function populate(db: Kysely<Database>, root: string, referencedBlobs: number, repositories: number) {
  const old = Date.now() - 86_400_000;
  const imagesPerRepo = Math.max(1, Math.round(referencedBlobs / 2 / repositories));
  const garbage = Math.round(referencedBlobs / 10);
  await Promise.all(
    Array.from({ length: 256 }, (_, i) =>
      mkdir(join(root, 'blobs', 'sha256', i.toString(16).padStart(2, '0')), { recursive: true }),
    ),
  );
  const totals = { blobs: 0, garbageBlobs: 0, manifests: 0 };
  const SLICE = 100;
  for (let first = 0; first < repositories; first += SLICE) {
    const last = Math.min(repositories, first + SLICE);
    const files: string[] = [];
    const blobs: Insertable<Database['blobs']>[] = [];
    const links: Insertable<Database['repository_blobs']>[] = [];
    const manifests: Insertable<Database['manifests']>[] = [];
    const references: Insertable<Database['manifest_references']>[] = [];
    const tags: Insertable<Database['tags']>[] = [];
    const blob = (text: string) => {
      const digest = digestOf(text);
      blobs.push({ digest, size: 16, created_at: old, touched_at: old });
      files.push(digest);
      return digest;
    };
    const image = (repositoryId: number, n: string, tag: string | undefined) => {
      const config = blob(`config ${n}`);
      const layer = blob(`layer ${n}`);
      const content = Buffer.from(JSON.stringify({ n, config, layer }));
      const digest = `sha256:${sha256Hex(content)}`;
      manifests.push({
        repository_id: repositoryId,
        digest,
        media_type: OCI_MANIFEST,
        size: content.length,
        content,
        subject: null,
        artifact_type: null,
        annotations: null,
        created_at: old,
      });
      for (const child of [config, layer]) {
        links.push({ repository_id: repositoryId, digest: child, created_at: old });
        references.push({
          repository_id: repositoryId,
          manifest_digest: digest,
          child_digest: child,
          kind: 'blob',
        });
      }
      if (tag)
        tags.push({ repository_id: repositoryId, name: tag, manifest_digest: digest, updated_at: old });
    };
    const ids = (
      await db
        .insertInto('repositories')
        .values(
          Array.from({ length: last - first }, (_, i) => ({
            name: `scale/repo${first + i}`,
            created_at: old,
          })),
        )
        .returning('id')
        .execute()
    ).map((row) => Number(row.id));
    ids.forEach((id, i) => {
      const r = first + i;
      for (let k = 0; k < imagesPerRepo; k++) image(id, `${r}/${k}`, `v${k}`);
      // Garbage item g goes to repository g % repositories.
      for (let g = r; g < garbage; g += repositories) {
        image(id, `untagged ${g}`, undefined);
        links.push({ repository_id: id, digest: blob(`abandoned ${g}`), created_at: old });
        blob(`unlinked ${g}`);
        totals.garbageBlobs += 4;
      }
    });
    await db.transaction().execute(async (trx) => {
      const insert = async <T extends keyof Database>(table: T, rows: Insertable<Database[T]>[]) => {
        for (let i = 0; i < rows.length; i += 1000) {
          await trx
            .insertInto(table)
            .values(rows.slice(i, i + 1000) as never)
            .execute();
        }
      };
      await insert('blobs', blobs);
      await insert('repository_blobs', links);
      await insert('manifests', manifests);
      await insert('manifest_references', references);
      await insert('tags', tags);
    });
    for (let i = 0; i < files.length; i += 64) {
      await Promise.all(
        files.slice(i, i + 64).map((digest) => {
          const hex = digest.slice('sha256:'.length);
          return writeFile(join(root, 'blobs', 'sha256', hex.slice(0, 2), hex), '0123456789abcdef');
        }),
      );
    }
    totals.blobs += blobs.length;
    totals.manifests += manifests.length;
    if (repositories >= 1000 && last % 1000 === 0)
      console.error(`built ${last}/${repositories} repositories`);
  }
  return totals;
}

await main();
