// Garbage collection on the S3 driver (a real Swift s3api): blobs, unreferenced links and objects that no
// metadata knows are deleted from the bucket; what tagged images reference stays and pulls whole.
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesOf, OciClient, randomBytes, sha256, sleep, uniqueRepo } from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';
import {
  berthS3Storage,
  createBucket,
  deleteBucket,
  ensureSwift,
  objectNames,
  type S3Endpoint,
  s3Client,
} from '../helpers/swift.js';

const endpoint: S3Endpoint | undefined = await ensureSwift();

function keyOf(digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return `blobs/sha256/${hex.slice(0, 2)}/${hex}`;
}

describe.skipIf(!endpoint)('garbage collection on S3 storage', () => {
  let s3: S3Client;
  let bucket: string;
  let server: TestBerth;

  beforeAll(async () => {
    const target = endpoint as S3Endpoint;
    s3 = s3Client(target);
    bucket = await createBucket(s3);
    server = await startBerth({
      config: {
        ...berthS3Storage(target, bucket),
        'gc.graceSeconds': 0,
      },
    });
  });

  afterAll(async () => {
    await server?.close();
    if (bucket) await deleteBucket(s3, bucket);
  });

  it('deletes garbage objects from the bucket and keeps what tagged images reference', async () => {
    const client = new OciClient(server.url);
    const repo = uniqueRepo('s3gc');
    const kept = await client.pushRandomImage(repo, 'v1', { layers: 2, layerSize: 100_000 });
    const dropped = await client.pushRandomImage(repo, 'old', { layers: 2, layerSize: 100_000 });
    expect((await client.delete(`/v2/${repo}/manifests/old`)).status).toBe(202);
    const abandoned = randomBytes(50_000);
    await client.pushBlob(repo, abandoned);
    const orphan = randomBytes(1000);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: keyOf(sha256(orphan)), Body: orphan }));
    // Swift keeps modification times to the second: let the orphan be strictly older than the run.
    await sleep(1100);

    const run = await server.berth.gc.wait((await server.berth.gc.start({ dryRun: false })).id);
    expect(run?.status, run?.error ?? '').toBe('succeeded');
    const summary = run?.summary as { blobs: number; orphans: { objects: number }; bytes: number };
    expect(summary.blobs).toBe(4);
    expect(summary.orphans.objects).toBe(1);
    expect(summary.bytes).toBe(dropped.config.length + 200_000 + abandoned.length + orphan.length);

    const keptKeys = [kept.config, ...kept.layers].map((blob) => keyOf(sha256(blob))).sort();
    expect((await objectNames(s3, bucket, 'blobs/')).sort()).toEqual(keptKeys);
    for (const blob of [kept.config, ...kept.layers]) {
      const res = await client.get(`/v2/${repo}/blobs/${sha256(blob)}`);
      expect(res.status).toBe(200);
      expect(sha256(await bytesOf(res))).toBe(sha256(blob));
    }
  });
});
