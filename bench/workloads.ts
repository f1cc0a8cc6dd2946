/**
 * The workloads, run identically against each registry through the OCI Distribution API only. Every response
 * status is checked; an unexpected one stops that workload and is reported with the whole exchange. The large
 * pull is measured apart, alternating between the two registries (pull.ts).
 */
import type { Readable } from 'node:stream';
import {
  bufferDigest,
  Client,
  concurrently,
  KiB,
  locationOf,
  MB,
  MiB,
  median,
  newPattern,
  nextLink,
  now,
  pathOf,
  patternDigest,
  patternStream,
  percentile,
  timed,
} from './client.js';
import { memoryOf, type Server } from './servers.js';
import { runWrk } from './wrk.js';

export interface Sizes {
  smallCount: number;
  smallBytes: number;
  smallClients: number;
  largeBytes: number;
  chunkBytes: number;
  /** Concurrent GETs of the large blob per pull (see pull.ts). */
  pulls: number;
  /** Alternating pull rounds; each registry's pull figure is the median of its rounds. */
  pullRounds: number;
  getConnections: number;
  getSeconds: number;
  tags: number;
  putConcurrency: number;
  listRuns: number;
  pageSize: number;
  repositories: number;
  finalUploads: number;
  finalBytes: number;
}

/**
 * The S3 round's sizes: the same workloads, fewer repetitions where a Swift object store on this machine
 * would take many minutes (Distribution pushes ~4 small blobs/s there). Counts only shrink, so the
 * filesystem round's fixtures serve both.
 */
export function s3SizesFor(quick: boolean): Sizes {
  const sizes = sizesFor(quick);
  return {
    ...sizes,
    smallCount: Math.min(sizes.smallCount, 200),
    tags: Math.min(sizes.tags, quick ? 500 : 2000),
    repositories: Math.min(sizes.repositories, quick ? 100 : 300),
    finalUploads: Math.min(sizes.finalUploads, 8),
  };
}

export function sizesFor(quick: boolean): Sizes {
  return {
    smallCount: quick ? 300 : 2000,
    smallBytes: 64 * KiB,
    smallClients: 16,
    largeBytes: (quick ? 32 : 256) * MiB,
    chunkBytes: 16 * MiB,
    pulls: 4,
    pullRounds: quick ? 3 : 5,
    getConnections: 64,
    getSeconds: quick ? 3 : 10,
    tags: quick ? 500 : 5000,
    putConcurrency: 16,
    listRuns: 5,
    pageSize: 100,
    repositories: quick ? 100 : 1000,
    finalUploads: quick ? 8 : 32,
    finalBytes: (quick ? 16 : 256) * MiB,
  };
}

/** A large blob: its 1 MiB pattern, size and precomputed digest. */
export interface Large {
  pattern: Buffer;
  size: number;
  digest: string;
}

/** Blob data and digests, computed once before any server starts and shared by both runs. */
export interface Fixtures {
  smallPattern: Buffer;
  smallDigests: string[];
  mono: Large;
  chunked: Large;
  final: Large[];
  config: Buffer;
  layer: Buffer;
  manifest: Buffer;
  manifestDigest: string;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCTETS = 'application/octet-stream';

/** The i-th distinct small blob: the pattern's head with the index in its last 8 bytes. */
function smallBlob(pattern: Buffer, size: number, i: number): Buffer {
  return Buffer.concat([pattern.subarray(0, size - 8), Buffer.from(i.toString().padStart(8, '0'))]);
}

export function largeBlob(size: number): Large {
  const pattern = newPattern();
  return { pattern, size, digest: patternDigest(size, pattern) };
}

export function makeFixtures(sizes: Sizes): Fixtures {
  if (sizes.chunkBytes % MiB !== 0) throw new Error('chunks must be whole patterns');
  const smallPattern = newPattern();
  const smallDigests = Array.from({ length: sizes.smallCount }, (_, i) =>
    bufferDigest(smallBlob(smallPattern, sizes.smallBytes, i)),
  );
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } }),
  );
  const layer = newPattern().subarray(0, 4 * KiB);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: bufferDigest(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: bufferDigest(layer),
          size: layer.length,
        },
      ],
    }),
  );
  return {
    smallPattern,
    smallDigests,
    mono: largeBlob(sizes.largeBytes),
    chunked: largeBlob(sizes.largeBytes),
    final: Array.from({ length: sizes.finalUploads }, () => largeBlob(sizes.finalBytes)),
    config,
    layer,
    manifest,
    manifestDigest: bufferDigest(manifest),
  };
}

export type Figures = Record<string, number | string>;

export interface SuiteResult {
  figures: Figures;
  details: Record<string, unknown>;
  /** Workload name → the error that stopped it. */
  errors: Record<string, string>;
}

/** POST a session, then PUT the whole body to its Location with the digest: the flow docker uses. */
async function pushPostPut(
  client: Client,
  repo: string,
  digest: string,
  size: number,
  body: Buffer | (() => Readable),
): Promise<void> {
  const start = await client.expect('start upload', 202, 'POST', `/v2/${repo}/blobs/uploads/`);
  const location = locationOf(client, start, 'start upload');
  location.searchParams.set('digest', digest);
  await client.expect('finish upload (PUT with body)', 201, 'PUT', pathOf(location), {
    headers: { 'content-type': OCTETS, 'content-length': size },
    body,
  });
}

async function pushChunked(client: Client, repo: string, blob: Large, chunk: number): Promise<void> {
  const start = await client.expect('start chunked upload', 202, 'POST', `/v2/${repo}/blobs/uploads/`);
  let location = locationOf(client, start, 'start chunked upload');
  for (let offset = 0; offset < blob.size; offset += chunk) {
    const n = Math.min(chunk, blob.size - offset);
    const patch = await client.expect('PATCH chunk', 202, 'PATCH', pathOf(location), {
      headers: {
        'content-type': OCTETS,
        'content-length': n,
        'content-range': `${offset}-${offset + n - 1}`,
      },
      body: () => patternStream(n, blob.pattern),
    });
    location = locationOf(client, patch, 'PATCH chunk');
  }
  location.searchParams.set('digest', blob.digest);
  await client.expect('finish chunked upload (PUT)', 201, 'PUT', pathOf(location), {
    headers: { 'content-length': 0 },
  });
}

async function mount(client: Client, repo: string, digest: string, from: string): Promise<void> {
  await client.expect(
    'cross-repository mount',
    201,
    'POST',
    `/v2/${repo}/blobs/uploads/?mount=${digest}&from=${from}`,
  );
}

async function putManifest(client: Client, repo: string, reference: string, manifest: Buffer): Promise<void> {
  await client.expect('PUT manifest', 201, 'PUT', `/v2/${repo}/manifests/${reference}`, {
    headers: { 'content-type': OCI_MANIFEST },
    body: manifest,
  });
}

/** GETs a listing and follows its Link headers; returns the items and how many requests it took. */
async function walk(
  client: Client,
  first: string,
  key: 'tags' | 'repositories',
): Promise<{ items: string[]; pages: number }> {
  const items: string[] = [];
  let pages = 0;
  let path: string | undefined = first;
  while (path !== undefined) {
    const reply = await client.expect(`GET ${key} listing`, 200, 'GET', path);
    pages++;
    const page = JSON.parse((reply.body ?? Buffer.alloc(0)).toString('utf8')) as Record<string, unknown>;
    const list = page[key];
    if (list !== null && !Array.isArray(list)) throw new Error(`GET ${path}: no "${key}" array in the body`);
    items.push(...((list as string[] | null) ?? []));
    path = nextLink(reply);
    if (pages > 100_000) throw new Error(`GET ${first}: the Link chain does not end`);
  }
  return { items, pages };
}

/** Median time of `runs` walks, after checking each one saw `expected` (a check on the items). */
async function timeWalks(
  client: Client,
  first: string,
  key: 'tags' | 'repositories',
  runs: number,
  check: (items: string[]) => string | undefined,
): Promise<{ ms: number; pages: number; items: number }> {
  const times: number[] = [];
  let pages = 0;
  let count = 0;
  for (let run = 0; run < runs; run++) {
    const { ms, value } = await timed(() => walk(client, first, key));
    const problem = check(value.items);
    if (problem) throw new Error(`GET ${first} (following Link): ${problem}`);
    times.push(ms);
    pages = value.pages;
    count = value.items.length;
  }
  return { ms: median(times), pages, items: count };
}

/** GETs `path` on `connections` keep-alive connections for `seconds` with the node client (when wrk is missing). */
async function nodeGetStorm(
  client: Client,
  path: string,
  headers: Record<string, string>,
  connections: number,
  seconds: number,
): Promise<{ requestsPerSecond: number; p50: number; p99: number; requests: number }> {
  const end = now() + seconds * 1000;
  const latencies: number[] = [];
  const t0 = now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (now() < end) {
        const start = now();
        await client.expect('GET manifest by tag', 200, 'GET', path, { headers });
        latencies.push(now() - start);
      }
    }),
  );
  const elapsed = (now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requestsPerSecond: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    requests: latencies.length,
  };
}

export interface SuiteOptions {
  server: Server;
  sizes: Sizes;
  fixtures: Fixtures;
  wrk?: string;
  /** Query for GET /v2/_catalog (Distribution's default page is 100 entries). */
  catalogQuery: string;
  log: (line: string) => void;
  /** True once the run is being interrupted: the remaining workloads are skipped. */
  interrupted?: () => boolean;
}

export async function runSuite(options: SuiteOptions): Promise<SuiteResult> {
  const { server, sizes, fixtures, log } = options;
  const client = new Client(server.url);
  const figures: Figures = {};
  const details: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  const done = new Set<string>();
  const step = async (name: string, needs: string[], work: () => Promise<void>) => {
    if (options.interrupted?.()) {
      errors[name] = 'not run: interrupted';
      return;
    }
    const missing = needs.filter((n) => !done.has(n));
    if (missing.length > 0) {
      errors[name] = `not run: ${missing.join(', ')} failed`;
      return;
    }
    const t0 = now();
    try {
      await work();
      done.add(name);
      log(`  ${server.name}: ${name} done in ${((now() - t0) / 1000).toFixed(1)} s`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      errors[name] = message;
      if (options.interrupted?.()) return;
      log(`\n!!! ${server.name}: ${name} FAILED\n${message}\n`);
    }
  };

  try {
    await step('push small blobs', [], async () => {
      const { smallCount, smallBytes, smallClients } = sizes;
      const { ms, value } = await timed(() =>
        concurrently(smallCount, smallClients, (i) =>
          pushPostPut(
            client,
            'bench/small',
            fixtures.smallDigests[i] as string,
            smallBytes,
            smallBlob(fixtures.smallPattern, smallBytes, i),
          ),
        ),
      );
      figures.smallBlobsPerSecond = smallCount / (ms / 1000);
      figures.smallP50Ms = percentile(value, 50);
      figures.smallP99Ms = percentile(value, 99);
    });

    await step('push large blob, monolithic', [], async () => {
      const { mono } = fixtures;
      const { ms } = await timed(() =>
        pushPostPut(client, 'bench/large', mono.digest, mono.size, () =>
          patternStream(mono.size, mono.pattern),
        ),
      );
      figures.monolithicMBps = mono.size / MB / (ms / 1000);
    });

    await step('push large blob, chunked', [], async () => {
      const { ms } = await timed(() =>
        pushChunked(client, 'bench/large', fixtures.chunked, sizes.chunkBytes),
      );
      figures.chunkedMBps = fixtures.chunked.size / MB / (ms / 1000);
    });

    await step('push manifest', [], async () => {
      const { config, layer, manifest } = fixtures;
      await pushPostPut(client, 'bench/app', bufferDigest(config), config.length, config);
      await pushPostPut(client, 'bench/app', bufferDigest(layer), layer.length, layer);
      await putManifest(client, 'bench/app', 'latest', manifest);
      const reply = await client.expect('GET manifest by tag', 200, 'GET', '/v2/bench/app/manifests/latest', {
        headers: { accept: OCI_MANIFEST },
        hash: true,
      });
      if (reply.digest !== fixtures.manifestDigest)
        throw new Error(
          `GET /v2/bench/app/manifests/latest: body digest ${reply.digest} is not the pushed one`,
        );
    });

    await step('manifest GET storm', ['push manifest'], async () => {
      const path = '/v2/bench/app/manifests/latest';
      const headers = { Accept: OCI_MANIFEST };
      if (options.wrk) {
        // A short unmeasured run first, for both registries alike: the figures are steady-state ones, not
        // those of a cold JIT (Berth) or of cold caches (either).
        await runWrk(options.wrk, `${server.url}${path}`, {
          connections: sizes.getConnections,
          seconds: 2,
          headers,
        });
        const result = await runWrk(options.wrk, `${server.url}${path}`, {
          connections: sizes.getConnections,
          seconds: sizes.getSeconds,
          headers,
        });
        details.wrk = result;
        if (result.non2xx > 0) {
          // Show one such exchange: wrk only counts them.
          await client.expect('GET manifest by tag', 200, 'GET', path, { headers });
          throw new Error(`${result.command}: ${result.non2xx} non-2xx responses (a retry answered 200)`);
        }
        figures.manifestTool = 'wrk';
        figures.manifestRps = result.requestsPerSecond;
        figures.manifestP50Ms = result.p50;
        figures.manifestP99Ms = result.p99;
        figures.manifestTimeouts = result.socketErrors.timeout;
      } else {
        const result = await nodeGetStorm(client, path, headers, sizes.getConnections, sizes.getSeconds);
        details.getStorm = result;
        figures.manifestTool = 'node (wrk missing)';
        figures.manifestRps = result.requestsPerSecond;
        figures.manifestP50Ms = result.p50;
        figures.manifestP99Ms = result.p99;
      }
    });

    const tagName = (i: number) => `t${i.toString().padStart(5, '0')}`;
    await step('tag repository', ['push manifest'], async () => {
      await mount(client, 'bench/tags', bufferDigest(fixtures.config), 'bench/app');
      await mount(client, 'bench/tags', bufferDigest(fixtures.layer), 'bench/app');
      const { ms } = await timed(() =>
        concurrently(sizes.tags, sizes.putConcurrency, (i) =>
          putManifest(client, 'bench/tags', tagName(i), fixtures.manifest),
        ),
      );
      figures.tagPutsPerSecond = sizes.tags / (ms / 1000);
    });

    const checkTags = (tags: string[]) => {
      const distinct = new Set(tags);
      if (tags.length !== sizes.tags || distinct.size !== sizes.tags)
        return `expected ${sizes.tags} distinct tags, got ${tags.length} (${distinct.size} distinct)`;
      for (let i = 0; i < sizes.tags; i++) if (!distinct.has(tagName(i))) return `tag ${tagName(i)} missing`;
      return undefined;
    };
    await step('list tags', ['tag repository'], async () => {
      const whole = await timeWalks(client, '/v2/bench/tags/tags/list', 'tags', sizes.listRuns, checkTags);
      figures.tagListMs = whole.ms;
      figures.tagListRequests = whole.pages;
      const paged = await timeWalks(
        client,
        `/v2/bench/tags/tags/list?n=${sizes.pageSize}`,
        'tags',
        sizes.listRuns,
        checkTags,
      );
      figures.tagWalkMs = paged.ms;
      figures.tagWalkRequests = paged.pages;
    });

    const repoName = (i: number) => `bench/catalog/r${i.toString().padStart(5, '0')}`;
    await step('fill catalog', ['push manifest'], async () => {
      const { ms } = await timed(() =>
        concurrently(sizes.repositories, sizes.putConcurrency, async (i) => {
          await mount(client, repoName(i), bufferDigest(fixtures.config), 'bench/app');
          await mount(client, repoName(i), bufferDigest(fixtures.layer), 'bench/app');
          await putManifest(client, repoName(i), 'latest', fixtures.manifest);
        }),
      );
      figures.repositoriesPerSecond = sizes.repositories / (ms / 1000);
    });

    await step('catalog', ['fill catalog'], async () => {
      const result = await timeWalks(
        client,
        `/v2/_catalog${options.catalogQuery}`,
        'repositories',
        sizes.listRuns,
        (repositories) => {
          const seen = new Set(repositories);
          if (seen.size !== repositories.length) return 'a repository is listed twice';
          for (let i = 0; i < sizes.repositories; i++)
            if (!seen.has(repoName(i))) return `${repoName(i)} is missing (${repositories.length} listed)`;
          return undefined;
        },
      );
      figures.catalogMs = result.ms;
      figures.catalogRequests = result.pages;
      figures.catalogRepositories = result.items;
    });

    await step('peak RSS after workloads', [], async () => {
      figures.hwmAfterWorkloadsMiB = (await memoryOf(server.pid)).hwm;
    });

    await step('concurrent large uploads', [], async () => {
      let peakRss = 0;
      let sampling: Promise<void> | undefined;
      const sample = () => {
        sampling ??= memoryOf(server.pid)
          .then((m) => {
            peakRss = Math.max(peakRss, m.rss);
          })
          .catch(() => undefined)
          .finally(() => {
            sampling = undefined;
          });
      };
      const timer = setInterval(sample, 100);
      try {
        const { ms } = await timed(() =>
          concurrently(sizes.finalUploads, sizes.finalUploads, (i) => {
            const blob = fixtures.final[i] as Large;
            return pushPostPut(client, 'bench/final', blob.digest, blob.size, () =>
              patternStream(blob.size, blob.pattern),
            );
          }),
        );
        figures.finalMBps = (sizes.finalUploads * sizes.finalBytes) / MB / (ms / 1000);
      } finally {
        clearInterval(timer);
        await sampling;
      }
      const end = await memoryOf(server.pid);
      figures.finalPeakRssMiB = Math.max(peakRss, end.rss);
      figures.finalHwmMiB = end.hwm;
    });
  } finally {
    client.close();
  }
  return { figures, details, errors };
}
