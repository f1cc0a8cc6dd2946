/**
 * Replication throughput (issue 13, "Speed"): a Berth holding many small images (one config and one layer of
 * 4 KiB each, 10 tags per repository) runs a manual push policy over all of them to a fresh target — CNCF
 * Distribution, or a second Berth — through /api/v1 as an operator would. The figure is images per second
 * from the execution's start to its end (the server's startedAt/finishedAt); every task must succeed and every
 * tag must be at the target afterwards. Each round uses a fresh target, so everything is copied.
 */
import { randomBytes } from 'node:crypto';
import { bufferDigest, Client, concurrently, locationOf, median, pathOf } from './client.js';
import { ADMIN_BASIC, startBerthWithApi } from './proxy-pull.js';
import { type Server, startBerth, startDistribution } from './servers.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const TAGS_PER_REPOSITORY = 10;
const LAYER_BYTES = 4096;

export interface ReplicationFigures {
  target: 'Distribution' | 'Berth';
  images: number;
  /** Images per second of each round. */
  samples: number[];
  median: number;
  /** Seconds of each round (execution start to end). */
  seconds: number[];
  /** Blob bytes copied per round, as the execution counted them. */
  bytes: number;
}

export interface ReplicationBench {
  images: number;
  repositories: number;
  seedSeconds: number;
  targets: ReplicationFigures[];
}

export interface ReplicationBenchOptions {
  distribution: string | undefined;
  quick: boolean;
  /** Images to replicate; default 1,000 (50 with quick). */
  images?: number;
  rounds?: number;
  log: (line: string) => void;
  track: (server: Server) => void;
  interrupted: () => boolean;
}

/**
 * A push token per repository, asked for once with the administrator's password: Basic on every request would
 * verify the password hash each time (deliberately slow), which would measure that rather than pushes.
 */
function tokens(server: Server): (repository: string) => Promise<string> {
  const known = new Map<string, Promise<string>>();
  return (repository) => {
    let token = known.get(repository);
    if (!token) {
      const url = new URL('/token', server.url);
      url.searchParams.set('service', 'berth');
      url.searchParams.set('scope', `repository:${repository}:pull,push`);
      token = fetch(url, { headers: { authorization: ADMIN_BASIC } }).then(async (res) => {
        const body = (await res.json()) as { token?: string };
        if (res.status !== 200 || !body.token) throw new Error(`token for ${repository}: HTTP ${res.status}`);
        return `Bearer ${body.token}`;
      });
      known.set(repository, token);
    }
    return token;
  };
}

async function upload(
  client: Client,
  repository: string,
  data: Buffer,
  authorization: string,
): Promise<string> {
  const digest = bufferDigest(data);
  const start = await client.expect('start upload', 202, 'POST', `/v2/${repository}/blobs/uploads/`, {
    headers: { authorization },
  });
  const location = locationOf(client, start, 'start upload');
  location.searchParams.set('digest', digest);
  await client.expect('finish upload', 201, 'PUT', pathOf(location), {
    headers: {
      'content-type': 'application/octet-stream',
      'content-length': data.length,
      authorization,
    },
    body: data,
  });
  return digest;
}

/** `images` distinct small images, TAGS_PER_REPOSITORY per repository `rep/rNNN`, 16 clients at once. */
async function seed(server: Server, images: number): Promise<string[]> {
  const client = new Client(server.url);
  const tokenFor = tokens(server);
  const repositories = Array.from(
    { length: Math.ceil(images / TAGS_PER_REPOSITORY) },
    (_, i) => `rep/r${String(i).padStart(4, '0')}`,
  );
  try {
    await concurrently(images, 16, async (i) => {
      const repository = repositories[Math.floor(i / TAGS_PER_REPOSITORY)] as string;
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', image: i }));
      const layer = randomBytes(LAYER_BYTES);
      const authorization = await tokenFor(repository);
      const configDigest = await upload(client, repository, config, authorization);
      const layerDigest = await upload(client, repository, layer, authorization);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: {
            mediaType: 'application/vnd.oci.image.config.v1+json',
            digest: configDigest,
            size: config.length,
          },
          layers: [
            { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: LAYER_BYTES },
          ],
        }),
      );
      const tag = `t${i % TAGS_PER_REPOSITORY}`;
      await client.expect('manifest PUT', 201, 'PUT', `/v2/${repository}/manifests/${tag}`, {
        headers: { 'content-type': OCI_MANIFEST, authorization },
        body: manifest,
      });
    });
  } finally {
    client.close();
  }
  return repositories;
}

// biome-ignore lint/suspicious/noExplicitAny: API answers are read field by field and checked
async function api(server: Server, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(new URL(`/api/v1${path}`, server.url), {
    method,
    headers: {
      authorization: ADMIN_BASIC,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 300)
    throw new Error(`${method} /api/v1${path} on ${server.name}: HTTP ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Runs one push execution to `target`; returns its seconds and bytes, after checking every tag arrived. */
async function replicateOnce(
  source: Server,
  target: Server,
  round: number,
  images: number,
  repositories: string[],
): Promise<{ seconds: number; bytes: number }> {
  const name = `target${round}`;
  await api(source, 'POST', '/registries', { name, url: target.url });
  const policy = await api(source, 'POST', '/replication/policies', {
    name: `bench${round}`,
    registry: name,
    direction: 'push',
    repositories: 'rep/**',
    trigger: 'manual',
  });
  const started = await api(source, 'POST', `/replication/policies/${policy.id}/executions`);
  let execution = started;
  const deadline = Date.now() + 30 * 60_000;
  while (execution.status === 'running') {
    if (Date.now() > deadline) throw new Error('replication execution still running after 30 minutes');
    await new Promise((resolve) => setTimeout(resolve, 100));
    execution = await api(source, 'GET', `/replication/policies/${policy.id}/executions/${started.id}`);
  }
  const progress = execution.progress ?? {};
  if (execution.status !== 'succeeded' || progress.succeeded !== images) {
    throw new Error(
      `replication to ${target.name}: ${execution.status}, progress ${JSON.stringify(progress)}, ` +
        `failed tasks: ${JSON.stringify((execution.tasks ?? []).filter((t: { status: string }) => t.status !== 'succeeded').slice(0, 3))}`,
    );
  }
  // Every tag is at the target.
  const client = new Client(target.url);
  try {
    let tags = 0;
    for (const repository of repositories) {
      const reply = await client.expect('tag list', 200, 'GET', `/v2/${repository}/tags/list`);
      tags += (JSON.parse(reply.body?.toString('utf8') ?? '{}') as { tags?: string[] }).tags?.length ?? 0;
    }
    if (tags !== images)
      throw new Error(`${target.name} lists ${tags} tags after replication, not ${images}`);
  } finally {
    client.close();
  }
  const seconds = (execution.finishedAt - execution.startedAt) / 1000;
  return { seconds, bytes: Number(progress.bytes ?? 0) };
}

export async function benchReplication(options: ReplicationBenchOptions): Promise<ReplicationBench> {
  const { log, quick } = options;
  const images = options.images ?? (quick ? 50 : 1000);
  const rounds = options.rounds ?? (quick ? 1 : 3);
  const servers: Server[] = [];
  const start = async (server: Promise<Server>) => {
    const started = await server;
    servers.push(started);
    options.track(started);
    return started;
  };
  try {
    const source = await start(startBerthWithApi());
    log(`bench: replication source Berth at ${source.url}; seeding ${images} images`);
    const t0 = Date.now();
    const repositories = await seed(source, images);
    const seedSeconds = (Date.now() - t0) / 1000;
    log(`  seeded ${images} images in ${repositories.length} repositories in ${seedSeconds.toFixed(1)} s`);
    // --quick (CI) keeps the harness working in a few seconds: one target.
    const kinds: ('Distribution' | 'Berth')[] = options.distribution
      ? quick
        ? ['Distribution']
        : ['Distribution', 'Berth']
      : ['Berth'];
    const targets: ReplicationFigures[] = [];
    let round = 0;
    for (const kind of kinds) {
      const samples: number[] = [];
      const seconds: number[] = [];
      let bytes = 0;
      for (let i = 0; i < rounds; i++) {
        if (options.interrupted()) throw new Error('interrupted');
        const target = await start(
          kind === 'Distribution' ? startDistribution(options.distribution as string) : startBerth(),
        );
        const outcome = await replicateOnce(source, target, round++, images, repositories);
        samples.push(images / outcome.seconds);
        seconds.push(outcome.seconds);
        bytes = outcome.bytes;
        log(
          `  replication → ${kind} round ${i + 1}/${rounds}: ${images} images in ${outcome.seconds.toFixed(1)} s, ` +
            `${(images / outcome.seconds).toFixed(1)} images/s`,
        );
        await target.stop();
      }
      targets.push({ target: kind, images, samples, median: median(samples), seconds, bytes });
    }
    return { images, repositories: repositories.length, seedSeconds, targets };
  } finally {
    await Promise.allSettled(servers.map((s) => s.stop()));
  }
}

export function replicationTable(bench: ReplicationBench): string {
  return bench.targets
    .map(
      (t) =>
        `push policy → ${t.target.padEnd(12)} ${t.images} images: ${t.median.toFixed(1)} images/s median ` +
        `(${t.samples.map((s) => s.toFixed(1)).join(' ')}; ${t.seconds.map((s) => s.toFixed(1)).join(' ')} s)`,
    )
    .join('\n');
}
