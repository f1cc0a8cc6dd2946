// Berth serving from S3 (a real Swift s3api): the registry protocol on the S3 driver, and blob GETs
// redirected to presigned URLs (storage.s3.redirect) so the bytes bypass Berth.
import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesOf, OciClient, sha256, uniqueRepo } from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';
import {
  berthS3Storage,
  createBucket,
  deleteBucket,
  ensureSwift,
  type S3Endpoint,
  s3Client,
} from '../helpers/swift.js';

const endpoint: S3Endpoint | undefined = await ensureSwift();

function s3Config(target: S3Endpoint, bucket: string, redirect: boolean): Record<string, unknown> {
  return {
    ...berthS3Storage(target, bucket),
    'storage.s3.redirect': redirect,
  };
}

describe.skipIf(!endpoint)('Berth on S3 storage', () => {
  let s3: S3Client;
  let bucket: string;
  let direct: TestBerth;
  let redirecting: TestBerth;

  beforeAll(async () => {
    const target = endpoint as S3Endpoint;
    s3 = s3Client(target);
    bucket = await createBucket(s3);
    // Two servers on one bucket and one database: one serves bytes itself, the other redirects.
    direct = await startBerth({ config: s3Config(target, bucket, false) });
    redirecting = await startBerth({
      dataDir: direct.dataDir,
      config: s3Config(target, bucket, true),
    });
  });

  afterAll(async () => {
    await redirecting?.close();
    await direct?.close();
    if (bucket) await deleteBucket(s3, bucket);
  });

  it('pushes an image and pulls it back byte for byte', async () => {
    const client = new OciClient(direct.url);
    const repo = uniqueRepo('s3');
    const image = await client.pushRandomImage(repo, 'v1', { layers: 2, layerSize: 300_000 });
    const manifest = await client.get(`/v2/${repo}/manifests/v1`, { accept: image.mediaType });
    expect(manifest.status).toBe(200);
    expect(await bytesOf(manifest)).toEqual(image.manifest);
    for (const layer of image.layers) {
      const res = await client.get(`/v2/${repo}/blobs/${sha256(layer)}`);
      expect(res.status).toBe(200);
      expect(sha256(await bytesOf(res))).toBe(sha256(layer));
    }
  });

  it('redirects a blob GET (307) to a presigned URL that serves exactly the blob, ranges included', async () => {
    const client = new OciClient(redirecting.url);
    const repo = uniqueRepo('s3');
    const blob = randomBytes(200_000);
    const digest = await client.pushBlob(repo, blob);

    const res = await client.get(`/v2/${repo}/blobs/${digest}`);
    expect(res.status).toBe(307);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    const location = res.headers.get('location') as string;
    expect(location.startsWith(`${(endpoint as S3Endpoint).endpoint}/`)).toBe(true);
    expect(location).toContain('X-Amz-Signature=');
    const fetched = await fetch(location);
    expect(fetched.status).toBe(200);
    expect(sha256(Buffer.from(await fetched.arrayBuffer()))).toBe(digest);
    const ranged = await fetch(location, { headers: { range: 'bytes=10-19' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer())).toEqual(blob.subarray(10, 20));

    // HEAD answers itself (size and digest), and a tampered URL is refused by the store.
    const head = await client.head(`/v2/${repo}/blobs/${digest}`);
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(blob.length));
    expect(
      (await fetch(location.replace(/X-Amz-Signature=[0-9a-f]+/, `X-Amz-Signature=${'0'.repeat(64)}`)))
        .status,
    ).toBe(403);
  });

  it('never redirects for a repository that does not hold the blob', async () => {
    const client = new OciClient(redirecting.url);
    const owner = uniqueRepo('s3');
    const digest = await client.pushBlob(owner, randomBytes(1000));
    const res = await client.get(`/v2/${uniqueRepo('s3')}/blobs/${digest}`);
    expect(res.status).toBe(404);
    expect(res.headers.get('location')).toBeNull();
  });
});
