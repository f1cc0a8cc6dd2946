// `berth import-distribution s3://bucket/root`: Debian's docker-registry 2.8.2 with its s3 driver against Swift
// is filled by skopeo (an OCI image under several tags, a Docker schema 2 image, a multi-arch index); Berth,
// storing in the same bucket under another prefix, registers it with server-side copies only (no blob byte
// through Berth), then serves every tag byte-identical and skopeo pulls the index. Into another bucket the
// blobs are streamed and hashed instead.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxLayout, buildMultiArchLayout, requireTool } from '../fixtures/image.js';
import { type ChildBerth, startChildBerth } from '../helpers/child-server.js';
import { runCli } from '../helpers/cli.js';
import {
  createBucket,
  deleteBucket,
  ensureSwift,
  objectNames,
  type S3Endpoint,
  s3Client,
} from '../helpers/swift.js';
import {
  catalog,
  contentOf,
  DISTRIBUTION,
  type DistributionPeer,
  getBlobDigest,
  listTags,
  pullWithSkopeo,
  skopeoCopy,
  startDistributionIn,
} from './support.js';

const endpoint: S3Endpoint | undefined = await ensureSwift();
const missing = [
  ...(DISTRIBUTION ? [] : ['docker-registry (apt-get install docker-registry)']),
  ...['skopeo', 'umoci'].filter((tool) => !requireTool(tool)),
  ...(endpoint ? [] : ['Swift S3']),
];
if (missing.length > 0)
  console.warn(`\n!!! SKIPPING import-distribution from S3 tests: missing ${missing.join(', ')} !!!\n`);

const TIMEOUT = 240_000;
const TAGS = ['1.0', '1.1', '1.2', 'stable', 'latest'];

/** A Berth storing in `bucket` under `berth/` (its metadata: SQLite in the data directory). */
function berthEnv(s3: S3Endpoint, bucket: string): Record<string, string> {
  return {
    BERTH_AUTH_ENABLED: 'false',
    BERTH_STORAGE_DRIVER: 's3',
    BERTH_STORAGE_S3_BUCKET: bucket,
    BERTH_STORAGE_S3_PREFIX: 'berth',
    BERTH_STORAGE_S3_ENDPOINT: s3.endpoint,
    BERTH_STORAGE_S3_REGION: s3.region,
    BERTH_STORAGE_S3_FORCE_PATH_STYLE: 'true',
    BERTH_STORAGE_S3_ACCESS_KEY_ID: s3.accessKeyId,
    BERTH_STORAGE_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
  };
}

describe.skipIf(missing.length > 0)('berth import-distribution from S3', () => {
  const s3 = endpoint as S3Endpoint;
  let client: S3Client;
  let tmp: string;
  let bucket: string;
  const buckets: string[] = [];
  let distribution: DistributionPeer;
  let berth: ChildBerth | undefined;
  const expected = new Map<string, Awaited<ReturnType<typeof contentOf>>>();
  let expectedCatalog: string[] = [];

  beforeAll(async () => {
    client = s3Client(s3);
    bucket = await createBucket(client);
    buckets.push(bucket);
    const [busybox, multi] = await Promise.all([buildBusyboxLayout(), buildMultiArchLayout()]);
    tmp = await mkdtemp(join(tmpdir(), 'berth-import-s3-'));
    distribution = await startDistributionIn(join(tmp, 'distribution'), {
      s3: { ...s3, bucket, rootDirectory: 'registry' },
    });
    const to = (ref: string) => `docker://${distribution.host}/${ref}`;
    for (const tag of TAGS)
      await skopeoCopy(`oci:${busybox.dir}:${busybox.tag}`, to(`library/busybox:${tag}`));
    await skopeoCopy(`oci:${busybox.dir}:${busybox.tag}`, to('team/app/docker:v1'), '--format', 'v2s2');
    await skopeoCopy(`oci:${multi.dir}:${multi.tag}`, to('team/multi:multi'), '--all');
    expectedCatalog = await catalog(distribution.url);
    for (const repository of expectedCatalog) {
      for (const tag of await listTags(distribution.url, repository))
        expected.set(`${repository}:${tag}`, await contentOf(distribution.url, repository, tag));
    }
    await distribution.stop();
  }, TIMEOUT);

  afterAll(async () => {
    await distribution?.stop();
    await berth?.kill('SIGTERM');
    for (const name of buckets) await deleteBucket(client, name).catch(() => undefined);
    client?.destroy();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it(
    "registers the tree with server-side copies in Berth's bucket; Berth then serves it byte-identical",
    async () => {
      expect(expectedCatalog).toEqual(['library/busybox', 'team/app/docker', 'team/multi']);
      expect(await objectNames(client, bucket, 'registry/docker/registry/v2/blobs/')).not.toHaveLength(0);
      const dataDir = join(tmp, 'berth');
      const env = berthEnv(s3, bucket);
      const imported = await runCli(
        ['import-distribution', `s3://${bucket}/registry`, '-d', dataDir, '--json'],
        {
          env,
        },
      );
      expect(imported.code, imported.stderr).toBe(0);
      const summary = JSON.parse(imported.stdout);
      expect(summary.problems).toEqual([]);
      expect(summary.repositories).toBe(3);
      expect(summary.tags).toBe(TAGS.length + 2);
      expect(summary.blobs.copied).toBe(0);
      expect(summary.blobs.copiedBytes).toBe(0);
      expect(summary.blobs.serverCopied).toBeGreaterThan(0);
      const ours = await objectNames(client, bucket, 'berth/blobs/');
      expect(ours.length).toBe(summary.blobs.serverCopied);

      berth = await startChildBerth(dataDir, { env });
      expect(await catalog(berth.url)).toEqual(expectedCatalog);
      for (const [reference, want] of expected) {
        const [repository, tag] = reference.split(':') as [string, string];
        const got = await contentOf(berth.url, repository, tag);
        expect([...got.manifests.keys()]).toEqual([...want.manifests.keys()]);
        for (const [digest, bytes] of got.manifests)
          expect(bytes.equals(want.manifests.get(digest) as Buffer)).toBe(true);
        for (const blob of got.blobs) expect(await getBlobDigest(berth.url, repository, blob)).toBe(blob);
      }
      expect(await listTags(berth.url, 'library/busybox')).toEqual([...TAGS].sort());
      const pulled = await pullWithSkopeo(new URL(berth.url).host, 'team/multi', 'multi', join(tmp, 'pull'));
      expect(expected.get('team/multi:multi')?.manifests.has(pulled.get('manifest.json') as string)).toBe(
        true,
      );

      // Again: everything is already there.
      await berth.kill('SIGTERM');
      berth = undefined;
      const again = await runCli(
        ['import-distribution', `s3://${bucket}/registry`, '-d', dataDir, '--json'],
        {
          env,
        },
      );
      expect(again.code, again.stderr).toBe(0);
      const second = JSON.parse(again.stdout);
      expect(second.blobs.serverCopied + second.blobs.copied).toBe(0);
      expect(second.blobs.present).toBeGreaterThan(0);
    },
    TIMEOUT,
  );

  it(
    'streams and hashes the blobs into a Berth in another bucket',
    async () => {
      const other = await createBucket(client);
      buckets.push(other);
      const env = {
        ...berthEnv(s3, other),
        // The tree is read with backup.s3's connection (here the same Swift).
        BERTH_BACKUP_S3_ENDPOINT: s3.endpoint,
        BERTH_BACKUP_S3_FORCE_PATH_STYLE: 'true',
        BERTH_BACKUP_S3_ACCESS_KEY_ID: s3.accessKeyId,
        BERTH_BACKUP_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      };
      const imported = await runCli(
        [
          'import-distribution',
          `s3://${bucket}/registry`,
          '-d',
          join(tmp, 'other'),
          '--repository',
          'team/multi',
          '--json',
        ],
        { env },
      );
      expect(imported.code, imported.stderr).toBe(0);
      const summary = JSON.parse(imported.stdout);
      expect(summary.problems).toEqual([]);
      expect(summary.blobs.serverCopied).toBe(0);
      expect(summary.blobs.copied).toBeGreaterThan(0);
      expect(summary.tags).toBe(1);
    },
    TIMEOUT,
  );
});
