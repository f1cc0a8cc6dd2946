// The registry client and copy engine under injected faults: a real registry (Distribution 2.8.2, or Berth
// with token auth) behind a real HTTP proxy that answers some requests itself (503, 429 + Retry-After), holds
// others without an answer, stalls or corrupts a body; or a TCP proxy that resets connections. Retries,
// timeouts, verification and resumption.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ContentMismatchError,
  copyArtifact,
  type Descriptor,
  parseRetryAfter,
  RegistryClient,
  RegistryNetworkError,
  RegistryTimeoutError,
  RemoteRegistryError,
} from '../../src/replication/index.js';
import { type PrivateRegistry, startPrivateRegistry } from '../e2e/private-registry.js';
import { FaultProxy } from '../fault/fault-proxy.js';
import { type Distribution, requireDistribution, startDistribution } from './distribution.js';
import { blobBytes, expectSameManifest, FaultInjector, pushImage } from './support.js';

const TIMEOUT = 120_000;
const distribution = requireDistribution('replication fault tests');
/** Short backoffs: the faults here clear after a few tries. */
const RETRY = { retries: 4, initialDelayMs: 20, maxDelayMs: 200 };

describe.skipIf(!distribution)('replication under injected faults', () => {
  let upstream: Distribution;
  let berth: PrivateRegistry;
  let source: RegistryClient;

  beforeAll(async () => {
    [upstream, berth] = await Promise.all([startDistribution(), startPrivateRegistry()]);
    source = new RegistryClient({ url: upstream.url, access: 'push', retry: RETRY });
  }, TIMEOUT);

  afterAll(async () => {
    await Promise.all([upstream?.close(), berth?.close()]);
  });

  function berthThrough(proxy: FaultInjector, retry = RETRY): RegistryClient {
    return new RegistryClient({ url: proxy.url, access: 'push', credentials: berth.member, retry });
  }

  it(
    'a target that answers 503 twice to uploads and manifests, then works: the copy completes, identical',
    async () => {
      const image = await pushImage(source, 'app/flaky', { tag: 'v1' });
      const proxy = await FaultInjector.start(berth.berth.url);
      try {
        proxy.fail((m, p) => m === 'POST' && p.includes('/blobs/uploads/'), 2, 503);
        proxy.fail((m, p) => m === 'PUT' && p.includes('/manifests/'), 2, 503);
        const target = berthThrough(proxy);
        const summary = await copyArtifact({
          source: { client: source, repository: 'app/flaky', reference: 'v1' },
          target: { client: target, repository: 'team/flaky' },
        });
        expect(summary.blobs.copied).toBe(image.blobs.length);
        expect(summary.manifests.copied).toBe(1);
        const puts = proxy.seen.filter((s) => s.method === 'PUT' && s.path.includes('/manifests/'));
        // One PUT, under the tag (it stores the manifest and tags it), tried until it passes.
        expect(puts.map((s) => s.status)).toEqual([503, 503, 201]);
        expect(proxy.seen.filter((s) => s.method === 'POST' && s.status === 503)).toHaveLength(2);
        await expectSameManifest(
          { client: source, repository: 'app/flaky' },
          { client: berthThrough(proxy), repository: 'team/flaky' },
          'v1',
        );
      } finally {
        await proxy.close();
      }
    },
    TIMEOUT,
  );

  it(
    'a 429 with Retry-After is waited out (at least that long) before the next try',
    async () => {
      const image = await pushImage(source, 'app/limited', { tag: 'v1' });
      const proxy = await FaultInjector.start(upstream.url);
      try {
        const manifestGet = (m: string, p: string) => m === 'GET' && p.endsWith('/manifests/v1');
        proxy.fail(manifestGet, 1, 429, { 'retry-after': '2' });
        const limited = new RegistryClient({ url: proxy.url, retry: RETRY });
        const summary = await copyArtifact({
          source: { client: limited, repository: 'app/limited', reference: 'v1' },
          target: {
            client: new RegistryClient({ url: berth.berth.url, access: 'push', credentials: berth.member }),
            repository: 'team/limited',
          },
        });
        expect(summary.digest).toBe(image.digest);
        const tries = proxy.seen.filter((s) => manifestGet(s.method, s.path));
        expect(tries.map((s) => s.status)).toEqual([429, 200]);
        expect((tries[1]?.at as number) - (tries[0]?.at as number)).toBeGreaterThanOrEqual(2000);
      } finally {
        await proxy.close();
      }
      expect(parseRetryAfter('120')).toBe(120_000);
      const inFive = new Date(Date.now() + 5000).toUTCString();
      expect(parseRetryAfter(inFive)).toBeGreaterThan(3000);
      expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT')).toBe(0);
      expect(parseRetryAfter('soon')).toBeUndefined();
    },
    TIMEOUT,
  );

  it(
    'a source blob whose bytes do not match its digest: a clear error, nothing stored for it, no retry',
    async () => {
      const layer = randomBytes(300_000);
      const image = await pushImage(source, 'app/corrupt', { tag: 'v1', layers: [layer] });
      const bad = image.blobs[1] as Descriptor;
      const proxy = await FaultInjector.start(upstream.url);
      const target = new RegistryClient({ url: berth.berth.url, access: 'push', credentials: berth.member });
      try {
        proxy.corrupt(`/blobs/${bad.digest}`);
        const corrupting = new RegistryClient({ url: proxy.url, retry: RETRY });
        const failed = await copyArtifact({
          source: { client: corrupting, repository: 'app/corrupt', reference: 'v1' },
          target: { client: target, repository: 'team/corrupt' },
        }).catch((e: unknown) => e);
        expect(failed).toBeInstanceOf(ContentMismatchError);
        expect((failed as Error).message).toContain(bad.digest);
        expect((failed as Error).message).toMatch(/hash to sha256:[0-9a-f]{64}/);
        expect(await target.headBlob('team/corrupt', bad.digest)).toBeUndefined();
        expect(await target.headManifest('team/corrupt', 'v1')).toBeUndefined();
        expect(proxy.seen.filter((s) => s.method === 'GET' && s.path.endsWith(bad.digest))).toHaveLength(1);

        // The client on its own: the stream fails, and the last bytes are never handed over.
        const stream = await corrupting.getBlob('app/corrupt', bad);
        let received = 0;
        const error = await (async () => {
          for await (const chunk of stream) received += (chunk as Buffer).length;
        })().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ContentMismatchError);
        expect(received).toBeLessThan(bad.size);
      } finally {
        await proxy.close();
      }
    },
    TIMEOUT,
  );

  it(
    'a copy cut off by a target that keeps failing resumes: the next run skips every blob that landed',
    async () => {
      const image = await pushImage(source, 'app/resume', {
        tag: 'v1',
        layers: [randomBytes(5000), randomBytes(6000)],
      });
      const proxy = await FaultInjector.start(berth.berth.url);
      try {
        proxy.fail((m, p) => m === 'PUT' && p.includes('/manifests/'), 1000, 503);
        const failed = await copyArtifact({
          source: { client: source, repository: 'app/resume', reference: 'v1' },
          target: { client: berthThrough(proxy, { ...RETRY, retries: 1 }), repository: 'team/resume' },
        }).catch((e: unknown) => e);
        expect(failed).toBeInstanceOf(RemoteRegistryError);
        expect((failed as RemoteRegistryError).status).toBe(503);
        expect((failed as RemoteRegistryError).url).toBe(`${proxy.url}/v2/team/resume/manifests/v1`);
      } finally {
        await proxy.close();
      }
      const target = new RegistryClient({ url: berth.berth.url, access: 'push', credentials: berth.member });
      const missing = await copyArtifact({
        source: { client: source, repository: 'app/resume', reference: 'v404' },
        target: { client: target, repository: 'team/resume' },
      }).catch((e: unknown) => e);
      expect((missing as RemoteRegistryError).code).toBe('MANIFEST_UNKNOWN');
      expect((missing as Error).message).toContain(`${upstream.url}/v2/app/resume/manifests/v404`);
      const resumed = await copyArtifact({
        source: { client: source, repository: 'app/resume', reference: 'v1' },
        target: { client: target, repository: 'team/resume' },
      });
      expect(resumed.blobs).toEqual({ copied: 0, skipped: image.blobs.length, mounted: 0 });
      expect(resumed.manifests).toEqual({ copied: 1, skipped: 0 });
      await expectSameManifest(
        { client: source, repository: 'app/resume' },
        { client: target, repository: 'team/resume' },
        'v1',
      );
    },
    TIMEOUT,
  );

  it(
    'a blob body that stalls fails on the idle timeout; a slow consumer (throttled) is not a stall',
    async () => {
      const image = await pushImage(source, 'app/stall', { tag: 'v1', layers: [randomBytes(400_000)] });
      const blob = image.blobs[1] as Descriptor;
      const proxy = await FaultInjector.start(upstream.url);
      try {
        proxy.stall(`/blobs/${blob.digest}`);
        const stalling = new RegistryClient({
          url: proxy.url,
          timeouts: { idleTimeoutMs: 300 },
          retry: RETRY,
        });
        const stream = await stalling.getBlob('app/stall', blob);
        const error = await (async () => {
          for await (const _ of stream);
        })().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RegistryTimeoutError);
        expect((error as Error).message).toMatch(/no body bytes within 300 ms/);
      } finally {
        await proxy.close();
      }
      // 400 kB at 100 kB/s: each chunk waits well over 300 ms for its slot, on our side, not the registries'.
      const patient = { timeouts: { idleTimeoutMs: 300, headersTimeoutMs: 5000 }, retry: { retries: 0 } };
      const summary = await copyArtifact({
        source: {
          client: new RegistryClient({ url: upstream.url, ...patient }),
          repository: 'app/stall',
          reference: 'v1',
        },
        target: {
          client: new RegistryClient({
            url: berth.berth.url,
            access: 'push',
            credentials: berth.member,
            ...patient,
          }),
          repository: 'team/stall',
        },
        bytesPerSecond: 100_000,
      });
      expect(summary.blobs.copied).toBe(image.blobs.length);
    },
    TIMEOUT,
  );

  it(
    'connections reset at the TCP level are retried until the registry is reachable again',
    async () => {
      const image = await pushImage(source, 'app/reset', { tag: 'v1' });
      const proxy = await FaultProxy.start({ host: '127.0.0.1', port: upstream.port });
      try {
        proxy.set('refuse');
        const client = new RegistryClient({ url: `http://127.0.0.1:${proxy.port}`, retry: RETRY });
        const fetched = client.getManifest('app/reset', 'v1');
        while (proxy.accepted < 2) await new Promise((resolve) => setTimeout(resolve, 5));
        proxy.set('pass');
        expect((await fetched)?.digest).toBe(image.digest);
        expect(proxy.accepted).toBeGreaterThanOrEqual(3);

        proxy.set('refuse');
        const error = await new RegistryClient({
          url: `http://127.0.0.1:${proxy.port}`,
          retry: { ...RETRY, retries: 1 },
        })
          .getManifest('app/reset', 'v1')
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RegistryNetworkError);
        expect((error as Error).message).toMatch(
          /^GET http:\/\/127\.0\.0\.1:\d+\/v2\/app\/reset\/manifests\/v1 failed: /,
        );
      } finally {
        await proxy.close();
      }
    },
    TIMEOUT,
  );

  it(
    'a registry that never answers times out (headers timeout), retried, then a clear timeout error',
    async () => {
      const image = await pushImage(source, 'app/silent', { tag: 'v1' });
      const proxy = await FaultInjector.start(upstream.url);
      try {
        proxy.hang((m, p) => m === 'GET' && p.includes('/blobs/'));
        const slow = new RegistryClient({
          url: proxy.url,
          timeouts: { headersTimeoutMs: 300 },
          retry: { ...RETRY, retries: 1 },
        });
        const blob = image.blobs[1] as Descriptor;
        const error = await slow.getBlob('app/silent', blob).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RegistryTimeoutError);
        expect((error as Error).message).toMatch(/no response within 300 ms/);
        expect(proxy.seen.filter((s) => s.path.endsWith(blob.digest))).toHaveLength(2);
        // The manifest still comes through the same proxy.
        expect((await slow.getManifest('app/silent', 'v1'))?.digest).toBe(image.digest);
        expect((await blobBytes(source, 'app/silent', blob)).length).toBe(blob.size);
      } finally {
        await proxy.close();
      }
    },
    TIMEOUT,
  );
});
