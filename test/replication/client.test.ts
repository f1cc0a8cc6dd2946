// The registry client on its own, against real registries on loopback: Distribution 2.8.2 with htpasswd (Basic)
// and Berth with Docker token auth, through the fault injector where a test needs to see or bend the traffic.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChallenge } from '../../src/replication/client/challenge.js';
import { nextLink } from '../../src/replication/client/link-header.js';
import {
  ContentMismatchError,
  type Descriptor,
  RegistryClient,
  RemoteRegistryError,
} from '../../src/replication/index.js';
import { type PrivateRegistry, startPrivateRegistry } from '../e2e/private-registry.js';
import { type Distribution, requireDistribution, startDistribution } from './distribution.js';
import { blobBytes, digestOf, FaultInjector, pushImage } from './support.js';

const TIMEOUT = 120_000;
const distribution = requireDistribution('registry client tests', true);
const BASIC = { username: 'alice', password: 'alice-secret-pw' };

describe('WWW-Authenticate and Link parsing', () => {
  it.each([
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push"',
      'bearer',
      {
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: 'repository:a/b:pull,push',
      },
    ],
    ['Basic realm="distribution"', 'basic', { realm: 'distribution' }],
    ['bearer realm=http://x/token, service=x', 'bearer', { realm: 'http://x/token', service: 'x' }],
    [
      'Bearer realm="a\\"b",error="insufficient_scope"',
      'bearer',
      { realm: 'a"b', error: 'insufficient_scope' },
    ],
  ])('%s', (header, scheme, params) => {
    expect(parseChallenge(header)).toEqual({ scheme, params });
  });

  it('finds rel="next" among links, relative to the request', () => {
    const base = new URL('http://r.example/v2/a/tags/list?n=2');
    expect(nextLink('</v2/a/tags/list?n=2&last=b>; rel="next"', base)?.toString()).toBe(
      'http://r.example/v2/a/tags/list?n=2&last=b',
    );
    expect(nextLink('<http://o/x>; rel="prev", <http://o/y>; rel=next', base)?.toString()).toBe('http://o/y');
    expect(nextLink('<http://o/x>; rel="prev"', base)).toBeUndefined();
    expect(nextLink(null, base)).toBeUndefined();
  });
});

describe.skipIf(!distribution)(
  'registry client against Distribution (htpasswd) and Berth (token auth)',
  () => {
    let basicDist: Distribution;
    let berth: PrivateRegistry;

    beforeAll(async () => {
      [basicDist, berth] = await Promise.all([
        startDistribution({ htpasswd: BASIC }),
        startPrivateRegistry(),
      ]);
    }, TIMEOUT);

    afterAll(async () => {
      await Promise.all([basicDist?.close(), berth?.close()]);
    });

    it(
      'Basic auth: refused anonymous or with a wrong password (the error names the URL, never the password); works with the right one',
      async () => {
        const anonymous = new RegistryClient({ url: basicDist.url });
        const wrong = new RegistryClient({
          url: basicDist.url,
          credentials: { ...BASIC, password: 'nope-nope' },
        });
        for (const client of [anonymous, wrong]) {
          const error = await client.headManifest('x/y', 'v1').catch((e: unknown) => e);
          expect(error).toBeInstanceOf(RemoteRegistryError);
          expect((error as RemoteRegistryError).status).toBe(401);
          expect((error as RemoteRegistryError).url).toBe(`${basicDist.url}/v2/x/y/manifests/v1`);
          expect((error as Error).message).not.toContain('nope-nope');
        }
        const error = await wrong.ping().catch((e: unknown) => e);
        expect((error as RemoteRegistryError).code).toBe('UNAUTHORIZED');

        const client = new RegistryClient({ url: basicDist.url, access: 'push', credentials: BASIC });
        await client.ping();
        const image = await pushImage(client, 'team/basic', { tag: 'v1' });
        expect((await client.getManifest('team/basic', 'v1'))?.digest).toBe(image.digest);
        expect(() => new RegistryClient({ url: 'http://u:p@127.0.0.1:1' })).toThrow(
          /must not carry credentials/,
        );
      },
      TIMEOUT,
    );

    it(
      'tags page by page through Link (Berth: Distribution 2.8 ignores n); a repository the registry does not know is an error',
      async () => {
        const client = new RegistryClient({
          url: berth.berth.url,
          access: 'push',
          credentials: berth.member,
        });
        const image = await pushImage(client, 'team/tags');
        const tags = ['a', 'b', 'c', 'd', 'e'];
        const manifest = { bytes: image.manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json' };
        for (const tag of tags) await client.putManifest('team/tags', tag, manifest);
        const proxy = await FaultInjector.start(berth.berth.url);
        try {
          const paged = new RegistryClient({ url: proxy.url, credentials: berth.member });
          const listed: string[] = [];
          for await (const tag of paged.tags('team/tags', { pageSize: 2 })) listed.push(tag);
          expect(listed.sort()).toEqual(tags);
          expect(proxy.seen.filter((s) => s.path.includes('/tags/list') && s.status === 200)).toHaveLength(3);
          const error = await (async () => {
            for await (const _ of paged.tags('team/none')) break;
          })().catch((e: unknown) => e);
          expect((error as RemoteRegistryError).code).toBe('NAME_UNKNOWN');
        } finally {
          await proxy.close();
        }
      },
      TIMEOUT,
    );

    it(
      'a manifest whose bytes do not match its digest reference or Docker-Content-Digest is refused',
      async () => {
        const client = new RegistryClient({ url: basicDist.url, access: 'push', credentials: BASIC });
        const image = await pushImage(client, 'team/lying', { tag: 'v1' });
        const proxy = await FaultInjector.start(basicDist.url);
        try {
          proxy.corrupt(`/manifests/${image.digest}`);
          proxy.corrupt('/manifests/v1');
          const through = new RegistryClient({ url: proxy.url, credentials: BASIC });
          for (const reference of [image.digest, 'v1']) {
            const error = await through.getManifest('team/lying', reference).catch((e: unknown) => e);
            expect(error, reference).toBeInstanceOf(ContentMismatchError);
            expect((error as Error).message).toContain(`not ${image.digest}`);
          }
        } finally {
          await proxy.close();
        }
      },
      TIMEOUT,
    );

    it(
      'token auth on Berth: one token per scope set, reused; the outsider is refused; pushes monolithic, chunked and by mount',
      async () => {
        const proxy = await FaultInjector.start(berth.berth.url);
        try {
          const client = new RegistryClient({
            url: proxy.url,
            access: 'push',
            credentials: berth.member,
            chunkSize: 4096,
          });
          const layers = [randomBytes(3000), randomBytes(10_000), Buffer.alloc(0)];
          const image = await pushImage(client, 'team/tok', { tag: 'v1', layers });
          expect((await client.getManifest('team/tok', 'v1'))?.digest).toBe(image.digest);
          for (const blob of image.blobs) {
            expect((await client.headBlob('team/tok', blob.digest))?.size).toBe(blob.size);
            expect(digestOf(await blobBytes(client, 'team/tok', blob))).toBe(blob.digest);
          }
          // The 10,000-byte layer went up in three PATCHes of at most 4 KiB.
          expect(proxy.seen.filter((s) => s.method === 'PATCH' && s.status === 202)).toHaveLength(3);
          const tokenCalls = () => proxy.seen.filter((s) => !s.path.startsWith('/v2/'));
          expect(tokenCalls()).toHaveLength(1);

          // A mount names a second repository: another scope set, another token, reused by the second mount.
          const layer = image.blobs[1] as Descriptor;
          const never = async (): Promise<Readable> => {
            throw new Error('a mount must not read the source');
          };
          expect(await client.pushBlob('team/tok2', layer, never, { mountFrom: 'team/tok' })).toBe('mounted');
          // Mounting from a repository that lacks the blob: the registry opens an upload instead (202).
          const fresh = randomBytes(100);
          const freshBlob = { digest: digestOf(fresh), size: fresh.length };
          const outcome = await client.pushBlob('team/tok2', freshBlob, async () => Readable.from([fresh]), {
            mountFrom: 'team/tok',
          });
          expect(outcome).toBe('uploaded');
          expect((await client.headBlob('team/tok2', freshBlob.digest))?.size).toBe(100);
          // Scope sets so far: tok; tok2 with pull on tok (both mounts); tok2 alone (the HEAD).
          expect(tokenCalls()).toHaveLength(3);

          const outsider = new RegistryClient({ url: berth.berth.url, credentials: berth.outsider });
          const refused = await outsider.getManifest('team/tok', 'v1').catch((e: unknown) => e);
          expect(refused).toBeInstanceOf(RemoteRegistryError);
          expect([401, 403]).toContain((refused as RemoteRegistryError).status);
          expect((refused as Error).message).not.toContain(berth.outsider.password);
          const anonymous = new RegistryClient({ url: berth.berth.url });
          expect(
            await anonymous.headManifest('team/tok', 'v1').catch((e: RemoteRegistryError) => e.status),
          ).toBe(401);
        } finally {
          await proxy.close();
        }
      },
      TIMEOUT,
    );
  },
);
