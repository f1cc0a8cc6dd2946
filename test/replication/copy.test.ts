// The copy engine between real registries on loopback: CNCF Distribution 2.8.2 (anonymous, and htpasswd Basic
// auth) and Berth with token auth. One multi-arch artifact, signed with the real cosign and given an SBOM
// referrer with the real oras, travels Distribution → Berth → Distribution and Berth → Berth; every hop keeps
// digests and bytes, carries the referrers, and a second run skips everything.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CopySummary,
  copyArtifact,
  type Descriptor,
  RegistryClient,
} from '../../src/replication/index.js';
import { type PrivateRegistry, startPrivateRegistry } from '../e2e/private-registry.js';
import { run } from '../fixtures/image.js';
import { privateHome, requireGoTools } from '../helpers/go-tools.js';
import { type Distribution, requireDistribution, startDistribution } from './distribution.js';
import { pushSignedIndexWithSbom, SBOM_TYPE } from './signed-index.js';
import { expectSameManifest, type PushedIndex, pushImage } from './support.js';

const TIMEOUT = 180_000;
const tools = requireGoTools(['cosign', 'oras'], 'replication copy tests (cosign signs, oras attaches)');
const distribution = requireDistribution('replication copy tests', true);
const BASIC = { username: 'mirror', password: 'mirror-password-123' };

describe.skipIf(!tools || !distribution)('copy engine between Distribution and Berth', () => {
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  /** Distribution, anonymous: where the artifact is born. */
  let upstream: Distribution;
  /** Distribution with htpasswd (Basic auth). */
  let basicDist: Distribution;
  let berthA: PrivateRegistry;
  let berthB: PrivateRegistry;
  const clients = {} as Record<'upstream' | 'basicDist' | 'berthA' | 'berthB', RegistryClient>;
  let artifact: PushedIndex;
  let signatureTag: string;
  let sbom: string;
  let signer: { key: string; pub: string };

  const tool = (name: 'cosign' | 'oras', args: string[]) =>
    run(tools?.[name] as string, args, { env, cwd: tmp, timeoutMs: 60_000 });

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'berth-replication-'));
    env = {
      ...(await privateHome(join(tmp, 'home'))),
      COSIGN_PASSWORD: 'replication test key',
      TUF_MIRROR: 'http://127.0.0.1:9',
    };
    [upstream, basicDist, berthA, berthB] = await Promise.all([
      startDistribution(),
      startDistribution({ htpasswd: BASIC }),
      startPrivateRegistry(),
      startPrivateRegistry(),
    ]);
    // Berth makes SBOM referrers of pushed images in the background by default: off, so each test knows what
    // the source holds while it copies.
    for (const berth of [berthA, berthB]) {
      await berth.berth.berth.scanning.changeSettings(berth.project, { scanOnPush: false });
    }
    clients.upstream = new RegistryClient({ url: upstream.url, access: 'push' });
    clients.basicDist = new RegistryClient({ url: basicDist.url, access: 'push', credentials: BASIC });
    clients.berthA = new RegistryClient({
      url: berthA.berth.url,
      access: 'push',
      credentials: berthA.member,
    });
    clients.berthB = new RegistryClient({
      url: berthB.berth.url,
      access: 'push',
      credentials: berthB.member,
    });

    ({ artifact, signatureTag, sbom, signer } = await pushSignedIndexWithSbom(
      clients.upstream,
      upstream.host,
      'app/multi',
      tools as { cosign: string; oras: string },
      env,
      tmp,
    ));
  }, TIMEOUT);

  afterAll(async () => {
    await Promise.all([upstream?.close(), basicDist?.close(), berthA?.close(), berthB?.close()]);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  /** Every manifest and blob the artifact holds at `where`, walked independently of the engine. */
  async function contentOf(client: RegistryClient, repository: string) {
    const manifests = new Set<string>([artifact.digest, ...artifact.children.map((c) => c.digest), sbom]);
    const signature = await client.getManifest(repository, signatureTag);
    expect(signature, 'the cosign signature tag').toBeDefined();
    manifests.add(signature?.digest as string);
    const blobs = new Set<string>();
    for (const digest of manifests) {
      const m = JSON.parse((await client.getManifest(repository, digest))?.bytes.toString() as string) as {
        config?: Descriptor;
        layers?: Descriptor[];
      };
      for (const blob of [...(m.config ? [m.config] : []), ...(m.layers ?? [])]) blobs.add(blob.digest);
    }
    return { manifests, blobs };
  }

  async function expectFaithful(
    from: { client: RegistryClient; repository: string },
    to: { client: RegistryClient; repository: string },
  ): Promise<void> {
    await expectSameManifest(from, to, 'v1');
    await expectSameManifest(from, to, artifact.digest);
    await expectSameManifest(from, to, signatureTag);
    await expectSameManifest(from, to, sbom);
    const referrers = await to.client.referrers(to.repository, artifact.digest);
    expect(referrers.manifests).toContainEqual(
      expect.objectContaining({
        digest: sbom,
        artifactType: SBOM_TYPE,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
      }),
    );
  }

  function expectAllSkipped(summary: CopySummary): void {
    // The index, the signature and the SBOM answer a HEAD: nothing under them is looked at again.
    expect(summary.manifests).toEqual({ copied: 0, skipped: 3 });
    expect(summary.blobs).toEqual({ copied: 0, skipped: 0, mounted: 0 });
    expect(summary.bytes).toBe(0);
    expect(summary.referrers).toBe(2);
  }

  it(
    'Distribution → Berth: index, children, cosign signature and SBOM referrer, byte for byte; the signature verifies on Berth',
    async () => {
      const source = { client: clients.upstream, repository: 'app/multi' };
      const target = { client: clients.berthA, repository: 'team/multi' };
      const events: string[] = [];
      const summary = await copyArtifact({
        source: { ...source, reference: 'v1' },
        target,
        referrers: true,
        onProgress: (event) => events.push(`${event.kind}:${event.outcome}`),
      });
      const { manifests, blobs } = await contentOf(clients.upstream, 'app/multi');
      expect(summary.digest).toBe(artifact.digest);
      expect(summary.tagged).toEqual({ tag: 'v1', digest: artifact.digest });
      expect(summary.manifests).toEqual({ copied: manifests.size, skipped: 0 });
      expect(summary.blobs).toEqual({ copied: blobs.size, skipped: 0, mounted: 0 });
      expect(summary.referrers).toBe(2);
      expect(events.filter((e) => e === 'blob:copied')).toHaveLength(blobs.size);
      await expectFaithful(source, target);

      await tool('cosign', [
        'login',
        berthA.host,
        '-u',
        berthA.member.username,
        '-p',
        berthA.member.password,
      ]);
      const { stdout } = await tool('cosign', [
        'verify',
        '--key',
        signer.pub,
        '--insecure-ignore-tlog=true',
        '--allow-http-registry',
        `${berthA.host}/team/multi@${artifact.digest}`,
      ]);
      const claims = JSON.parse(stdout) as Array<{
        critical: { image: { 'docker-manifest-digest': string } };
      }>;
      expect(claims.map((c) => c.critical.image['docker-manifest-digest'])).toEqual([artifact.digest]);

      expectAllSkipped(
        await copyArtifact({ source: { ...source, reference: 'v1' }, target, referrers: true }),
      );
    },
    TIMEOUT,
  );

  it(
    'Berth → Distribution with Basic auth: the referrer lands in the tag-schema index oras reads',
    async () => {
      const source = { client: clients.berthA, repository: 'team/multi' };
      const target = { client: clients.basicDist, repository: 'mirror/multi' };
      const summary = await copyArtifact({ source: { ...source, reference: 'v1' }, target, referrers: true });
      const { manifests, blobs } = await contentOf(clients.berthA, 'team/multi');
      expect(summary.manifests).toEqual({ copied: manifests.size, skipped: 0 });
      expect(summary.blobs).toEqual({ copied: blobs.size, skipped: 0, mounted: 0 });
      await expectFaithful(source, target);
      expect((await clients.basicDist.referrers('mirror/multi', artifact.digest)).via).toBe('tag-schema');

      // The real oras finds it there too.
      await tool('oras', [
        'login',
        '--plain-http',
        basicDist.host,
        '-u',
        BASIC.username,
        '-p',
        BASIC.password,
      ]);
      const { stdout } = await tool('oras', [
        'discover',
        '--plain-http',
        '--format',
        'json',
        `${basicDist.host}/mirror/multi@${artifact.digest}`,
      ]);
      expect(stdout).toContain(sbom);

      expectAllSkipped(
        await copyArtifact({ source: { ...source, reference: 'v1' }, target, referrers: true }),
      );
    },
    TIMEOUT,
  );

  it(
    'Berth → Berth, then into another repository of the target by cross-repository mount',
    async () => {
      const source = { client: clients.berthA, repository: 'team/multi' };
      const target = { client: clients.berthB, repository: 'team/multi' };
      await copyArtifact({ source: { ...source, reference: 'v1' }, target, referrers: true });
      await expectFaithful(source, target);
      expectAllSkipped(
        await copyArtifact({ source: { ...source, reference: 'v1' }, target, referrers: true }),
      );

      const { blobs } = await contentOf(clients.berthA, 'team/multi');
      const other = { client: clients.berthB, repository: 'team/other' };
      const mounted = await copyArtifact({
        source: { ...source, reference: 'v1' },
        target: { ...other, mountFrom: ['team/multi'] },
        referrers: true,
      });
      expect(mounted.blobs).toEqual({ copied: 0, skipped: 0, mounted: blobs.size });
      expect(mounted.bytes).toBe(0);
      await expectFaithful(source, other);
    },
    TIMEOUT,
  );

  it(
    'a platform filter copies only the matching child, by digest, and points the tag at it',
    async () => {
      const arm = artifact.children[1] as { digest: string };
      const amd = artifact.children[0] as { digest: string };
      const summary = await copyArtifact({
        source: { client: clients.upstream, repository: 'app/multi', reference: 'v1' },
        target: { client: clients.berthA, repository: 'team/arm-only', tag: 'v1-arm64' },
        platforms: ['linux/arm64'],
      });
      expect(summary.manifests).toEqual({ copied: 1, skipped: 0 });
      expect(summary.tagged).toEqual({ tag: 'v1-arm64', digest: arm.digest });
      expect((await clients.berthA.headManifest('team/arm-only', 'v1-arm64'))?.digest).toBe(arm.digest);
      expect(await clients.berthA.headManifest('team/arm-only', artifact.digest)).toBeUndefined();
      expect(await clients.berthA.headManifest('team/arm-only', amd.digest)).toBeUndefined();
      await expect(
        copyArtifact({
          source: { client: clients.upstream, repository: 'app/multi', reference: 'v1' },
          target: { client: clients.berthA, repository: 'team/arm-only' },
          platforms: ['windows/amd64'],
        }),
      ).rejects.toThrow(/no child matches windows\/amd64 \(it has linux\/amd64, linux\/arm64\)/);
    },
    TIMEOUT,
  );

  it(
    'a small image in PATCH chunks to Berth; 50 × 1 MiB blobs Distribution → Berth (throughput printed)',
    async () => {
      const chunked = new RegistryClient({
        url: berthA.berth.url,
        access: 'push',
        credentials: berthA.member,
        chunkSize: 1000,
      });
      const small = await pushImage(clients.upstream, 'app/small', {
        tag: 'v1',
        layers: [randomBytes(4500)],
      });
      const smallCopy = await copyArtifact({
        source: { client: clients.upstream, repository: 'app/small', reference: 'v1' },
        target: { client: chunked, repository: 'team/small' },
      });
      expect(smallCopy.blobs.copied).toBe(2);
      await expectSameManifest(
        { client: clients.upstream, repository: 'app/small' },
        { client: clients.berthA, repository: 'team/small' },
        small.digest,
      );

      const layers = Array.from({ length: 50 }, () => randomBytes(1 << 20));
      const big = await pushImage(clients.upstream, 'app/big', { tag: 'v1', layers });
      const started = process.hrtime.bigint();
      const summary = await copyArtifact({
        source: { client: clients.upstream, repository: 'app/big', reference: 'v1' },
        target: { client: clients.berthA, repository: 'team/big' },
        concurrency: 4,
      });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      expect(summary.blobs.copied).toBe(51);
      expect(summary.bytes).toBe(50 * (1 << 20) + (big.blobs[0] as Descriptor).size);
      console.info(
        `replication throughput: 50 x 1 MiB Distribution -> Berth in ${seconds.toFixed(2)} s = ${(50 / seconds).toFixed(1)} MiB/s`,
      );
      await expectSameManifest(
        { client: clients.upstream, repository: 'app/big' },
        { client: clients.berthA, repository: 'team/big' },
        'v1',
      );
    },
    TIMEOUT,
  );

  it(
    'a bandwidth limit holds a copy to its rate (lower bound only)',
    async () => {
      const image = await pushImage(clients.upstream, 'app/slow', { layers: [randomBytes(1 << 20)] });
      const started = Date.now();
      const summary = await copyArtifact({
        source: { client: clients.upstream, repository: 'app/slow', reference: image.digest },
        target: { client: clients.berthA, repository: 'team/slow' },
        bytesPerSecond: 1 << 20,
      });
      expect(summary.bytes).toBeGreaterThan(1 << 20);
      // 1 MiB at 1 MiB/s: the first chunk goes at once, the rest waits for its slot.
      expect(Date.now() - started).toBeGreaterThanOrEqual(800);
      expect(summary.tagged).toBeUndefined();
    },
    TIMEOUT,
  );
});
