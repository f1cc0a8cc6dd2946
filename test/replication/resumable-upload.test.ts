// Chunked uploads of the copy engine cut off mid-blob and resumed: real targets (Distribution 2.8.2, and Berth
// with token auth) behind a fault-injecting proxy that fails one PATCH (503, or a connection cut once the body
// is in), loses the session, or lies about where it stands; the source reopened at the offset (Distribution
// behind its own proxy: a Range GET verified whole; a push policy's: this Berth's store). The proxies count
// the bytes that went through.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BlobPrefix,
  ContentMismatchError,
  copyArtifact,
  type Descriptor,
  RegistryClient,
  type RemoteRegistryError,
} from '../../src/replication/index.js';
import { type PrivateRegistry, startPrivateRegistry } from '../e2e/private-registry.js';
import { startBerth } from '../helpers/server.js';
import { type Distribution, requireDistribution, startDistribution } from './distribution.js';
import {
  blobBytes,
  expectSameManifest,
  FaultInjector,
  type PushedImage,
  pushImage,
  type Seen,
} from './support.js';

const TIMEOUT = 120_000;
const distribution = requireDistribution('resumable upload tests');
const RETRY = { retries: 4, initialDelayMs: 20, maxDelayMs: 200 };
const CHUNK = 64 * 1024;
/** Five chunks, the last one short. */
const LAYER_SIZE = 5 * CHUNK - 1000;
const THIRD = `${2 * CHUNK}-${3 * CHUNK - 1}`;

const isPatch = (range: string) => (method: string, _path: string, headers: { [k: string]: unknown }) =>
  method === 'PATCH' && headers['content-range'] === range;
const isStatus = (method: string, path: string) => method === 'GET' && path.includes('/blobs/uploads/');

describe.skipIf(!distribution)('resumable chunked uploads', () => {
  let dist: Distribution;
  let berth: PrivateRegistry;
  let origin: RegistryClient;

  beforeAll(async () => {
    [dist, berth] = await Promise.all([startDistribution(), startPrivateRegistry()]);
    origin = new RegistryClient({ url: dist.url, access: 'push', retry: RETRY });
  }, TIMEOUT);

  afterAll(async () => {
    await Promise.all([dist?.close(), berth?.close()]);
  });

  const targets = [
    { name: 'Distribution', upstream: () => dist.url, credentials: () => undefined },
    { name: 'Berth', upstream: () => berth.berth.url, credentials: () => berth.member },
  ] as const;

  function through(proxy: FaultInjector, credentials: { username: string; password: string } | undefined) {
    return new RegistryClient({
      url: proxy.url,
      access: 'push',
      credentials,
      retry: RETRY,
      chunkSize: CHUNK,
    });
  }

  /** An image whose one layer goes up in five chunks (its config in one PUT). */
  async function image(repository: string): Promise<PushedImage & { layer: Descriptor }> {
    const pushed = await pushImage(origin, repository, { tag: 'v1', layers: [randomBytes(LAYER_SIZE)] });
    return { ...pushed, layer: pushed.blobs[1] as Descriptor };
  }

  /** What the target's proxy saw of uploads: POSTs, PATCH ranges with their statuses, status GETs, bytes. */
  function uploads(seen: Seen[]) {
    return {
      posts: seen.filter((s) => s.method === 'POST').length,
      patches: seen.filter((s) => s.method === 'PATCH').map((s) => `${s.contentRange} ${s.status}`),
      statuses: seen.filter((s) => isStatus(s.method, s.path)).map((s) => s.status),
      /** Chunk bytes that reached the target's proxy, the failed ones included. */
      bytes: seen.filter((s) => s.method === 'PATCH').reduce((sum, s) => sum + s.received, 0),
    };
  }

  const allPatches = (from: number, failed?: string) => {
    const ranges: string[] = [];
    for (let at = from; at < LAYER_SIZE; at += CHUNK) {
      const range = `${at}-${Math.min(at + CHUNK, LAYER_SIZE) - 1}`;
      if (range === failed) ranges.push(`${range} FAILED`);
      ranges.push(`${range} 202`);
    }
    return ranges;
  };

  for (const target of targets) {
    it(
      `${target.name}: the 3rd of 5 PATCHes fails (503, then a cut connection): the upload goes on from the 3rd chunk, the source reopened there`,
      async () => {
        for (const [n, fault] of (['503', 'cut'] as const).entries()) {
          const repository = `app/resume-${target.name.toLowerCase()}-${n}`;
          const pushed = await image(repository);
          const source = await FaultInjector.start(dist.url);
          const proxy = await FaultInjector.start(target.upstream());
          try {
            if (fault === '503') proxy.fail(isPatch(THIRD), 1, 503);
            else proxy.cut(isPatch(THIRD), 1);
            const summary = await copyArtifact({
              source: {
                client: new RegistryClient({ url: source.url, retry: RETRY }),
                repository,
                reference: 'v1',
              },
              target: { client: through(proxy, target.credentials()), repository: `team/resume-${n}` },
            });
            expect(summary.blobs.copied).toBe(2);
            const seen = uploads(proxy.seen);
            // One session per blob: the layer's was resumed, not replaced.
            expect(seen.posts).toBe(2);
            expect(seen.statuses).toEqual([204]);
            expect(seen.patches).toEqual(
              allPatches(0, THIRD).map((p) => p.replace('FAILED', fault === '503' ? '503' : '-1')),
            );
            // Only the failed chunk went twice: far less than the blob twice.
            expect(seen.bytes).toBeLessThanOrEqual(LAYER_SIZE + CHUNK);
            expect(seen.bytes).toBeLessThan(2 * LAYER_SIZE);
            // The source: read from the start once, then from the 3rd chunk on with a Range GET.
            const reads = source.seen.filter(
              (s) => s.method === 'GET' && s.path.endsWith(pushed.layer.digest),
            );
            expect(reads.map((s) => [s.range, s.status])).toEqual([
              [undefined, 200],
              [`bytes=${2 * CHUNK}-`, 206],
            ]);
            expect(reads[1]?.served).toBe(LAYER_SIZE - 2 * CHUNK);
            await expectSameManifest(
              { client: origin, repository },
              { client: through(proxy, target.credentials()), repository: `team/resume-${n}` },
              'v1',
            );
          } finally {
            await Promise.all([proxy.close(), source.close()]);
          }
        }
      },
      TIMEOUT,
    );

    it(
      `${target.name}: a lost session (404) or a Range beyond what was sent or behind what was acknowledged: a new session, the blob whole again, identical`,
      async () => {
        const lies = [
          { name: 'lost', range: undefined },
          { name: 'beyond', range: `0-${LAYER_SIZE - 1}` },
          { name: 'behind', range: '0-99' },
        ];
        for (const lie of lies) {
          const repository = `app/lost-${target.name.toLowerCase()}-${lie.name}`;
          await image(repository);
          const proxy = await FaultInjector.start(target.upstream());
          try {
            if (lie.range === undefined) proxy.failAndCancelUpload(isPatch(THIRD), 1, 503);
            else {
              proxy.fail(isPatch(THIRD), 1, 503);
              const range = lie.range;
              proxy.rewrite(isStatus, 1, (headers) => {
                headers.range = range;
              });
            }
            const summary = await copyArtifact({
              source: { client: origin, repository, reference: 'v1' },
              target: { client: through(proxy, target.credentials()), repository: `team/lost-${lie.name}` },
            });
            expect(summary.blobs.copied).toBe(2);
            const seen = uploads(proxy.seen);
            expect(seen.posts, lie.name).toBe(3);
            expect(seen.statuses, lie.name).toEqual([lie.range === undefined ? 404 : 204]);
            expect(seen.patches, lie.name).toEqual([
              `0-${CHUNK - 1} 202`,
              `${CHUNK}-${2 * CHUNK - 1} 202`,
              `${THIRD} 503`,
              ...allPatches(0),
            ]);
            // The lie was not acted on: no chunk started where it pointed, no session closed early.
            const closes = proxy.seen.filter((s) => s.method === 'PUT' && s.path.includes('/uploads/'));
            expect(closes.map((s) => s.status)).toEqual([201, 201]);
            await expectSameManifest(
              { client: origin, repository },
              { client: through(proxy, target.credentials()), repository: `team/lost-${lie.name}` },
              'v1',
            );
          } finally {
            await proxy.close();
          }
        }
      },
      TIMEOUT,
    );
  }

  it(
    'resumes count against the retry policy: a chunk that always fails ends the copy after the allowed tries, its session cancelled',
    async () => {
      const repository = 'app/bounded';
      await image(repository);
      const proxy = await FaultInjector.start(dist.url);
      try {
        proxy.fail(isPatch(THIRD), 1000, 503);
        const target = new RegistryClient({
          url: proxy.url,
          access: 'push',
          retry: { ...RETRY, retries: 2 },
          chunkSize: CHUNK,
        });
        const failed = await copyArtifact({
          source: { client: origin, repository, reference: 'v1' },
          target: { client: target, repository: 'team/bounded' },
        }).catch((e: unknown) => e);
        expect((failed as RemoteRegistryError).status).toBe(503);
        const seen = uploads(proxy.seen);
        expect(seen.posts).toBe(2);
        expect(seen.statuses).toEqual([204, 204]);
        expect(seen.patches).toEqual([
          `0-${CHUNK - 1} 202`,
          `${CHUNK}-${2 * CHUNK - 1} 202`,
          `${THIRD} 503`,
          `${THIRD} 503`,
          `${THIRD} 503`,
        ]);
        // The cancel is best effort, sent without waiting: wait for it to come by.
        for (let i = 0; i < 200 && !proxy.seen.some((s) => s.method === 'DELETE'); i++) {
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        const cancels = proxy.seen.filter((s) => s.method === 'DELETE' && s.path.includes('/uploads/'));
        expect(cancels.map((s) => s.status)).toEqual([204]);
      } finally {
        await proxy.close();
      }
    },
    TIMEOUT,
  );

  it(
    'a target asking for larger chunks (OCI-Chunk-Min-Length) gets them; the last one shorter',
    async () => {
      const repository = 'app/min-chunk';
      await image(repository);
      const proxy = await FaultInjector.start(dist.url);
      try {
        proxy.rewrite(
          (m) => m === 'POST',
          2,
          (headers) => {
            headers['oci-chunk-min-length'] = String(2 * CHUNK);
          },
        );
        await copyArtifact({
          source: { client: origin, repository, reference: 'v1' },
          target: { client: through(proxy, undefined), repository: 'team/min-chunk' },
        });
        expect(uploads(proxy.seen).patches).toEqual([
          `0-${2 * CHUNK - 1} 202`,
          `${2 * CHUNK}-${4 * CHUNK - 1} 202`,
          `${4 * CHUNK}-${LAYER_SIZE - 1} 202`,
        ]);
      } finally {
        await proxy.close();
      }
    },
    TIMEOUT,
  );

  it(
    'a push policy with replication.uploadChunkBytes: a failed PATCH and a failed closing PUT, both resumed, the source read from the store at the offset',
    async () => {
      const centre = await startBerth({ config: { 'replication.uploadChunkBytes': CHUNK } });
      const proxy = await FaultInjector.start(dist.url);
      try {
        const own = new RegistryClient({ url: centre.url, access: 'push' });
        const pushed = await pushImage(own, 'team/local', { tag: 'v1', layers: [randomBytes(LAYER_SIZE)] });
        const layer = pushed.blobs[1] as Descriptor;
        proxy.fail(isPatch(THIRD), 1, 503);
        proxy.fail(
          (m, p) => m === 'PUT' && p.includes('/uploads/') && p.includes(layer.digest.slice(7)),
          1,
          503,
        );
        const { replication } = centre.berth;
        await replication.createRegistry({ name: 'dist', url: proxy.url }, 'admin');
        const policy = await replication.createPolicy(
          {
            name: 'to-dist',
            registry: 'dist',
            direction: 'push',
            repositories: 'team/**',
            rewrite: { from: 'team/**', to: 'mirror/**' },
            trigger: 'manual',
          },
          'admin',
        );
        const execution = await replication.run(policy.id, 'admin');
        const ended = await replication.wait(execution.id);
        const tasks = await replication.tasks(policy.id, execution.id);
        expect(tasks.map((t) => [t.status, t.error])).toEqual([['succeeded', null]]);
        expect(ended?.status).toBe('succeeded');
        const seen = uploads(proxy.seen);
        expect(seen.posts).toBe(2);
        expect(seen.statuses).toEqual([204, 204]);
        expect(seen.patches).toEqual(allPatches(0, THIRD).map((p) => p.replace('FAILED', '503')));
        expect(seen.bytes).toBeLessThanOrEqual(LAYER_SIZE + CHUNK);
        // The closing PUT went again alone, without a byte.
        const closes = proxy.seen.filter((s) => s.method === 'PUT' && s.path.includes(layer.digest.slice(7)));
        expect(closes.map((s) => [s.status, s.received])).toEqual([
          [503, 0],
          [201, 0],
        ]);
        await expectSameManifest(
          { client: own, repository: 'team/local' },
          { client: origin, repository: 'mirror/local' },
          'v1',
        );
      } finally {
        await Promise.all([proxy.close(), centre.close()]);
      }
    },
    TIMEOUT,
  );

  it(
    'getBlob from an offset: a Range GET verified from the prefix hash; a registry ignoring ranges is read whole; a wrong prefix fails',
    async () => {
      const repository = 'app/ranged';
      const pushed = await image(repository);
      const bytes = await blobBytes(origin, repository, pushed.layer);
      const offset = 100_000;
      const prefix = () => ({ offset, hash: createHash('sha256').update(bytes.subarray(0, offset)) });
      const read = async (client: RegistryClient, from: BlobPrefix) => {
        const chunks: Buffer[] = [];
        for await (const chunk of await client.getBlob(repository, pushed.layer, undefined, from))
          chunks.push(chunk);
        return Buffer.concat(chunks);
      };
      expect((await read(origin, prefix())).equals(bytes.subarray(offset))).toBe(true);

      const proxy = await FaultInjector.start(dist.url);
      try {
        const client = new RegistryClient({ url: proxy.url, retry: RETRY });
        // Without the prefix's hash nothing can be verified from the offset: the whole blob is read.
        expect((await read(client, { offset })).equals(bytes.subarray(offset))).toBe(true);
        proxy.ignoreRanges();
        expect((await read(client, prefix())).equals(bytes.subarray(offset))).toBe(true);
        const get = proxy.seen.filter((s) => s.method === 'GET' && s.path.endsWith(pushed.layer.digest));
        expect(get.map((s) => [s.range, s.status, s.served])).toEqual([
          [undefined, 200, LAYER_SIZE],
          [`bytes=${offset}-`, 200, LAYER_SIZE],
        ]);
      } finally {
        await proxy.close();
      }

      const wrong = { offset, hash: createHash('sha256').update(randomBytes(offset)) };
      const error = await read(origin, wrong).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ContentMismatchError);
      expect((error as Error).message).toMatch(/hash to sha256:/);
    },
    TIMEOUT,
  );
});
