// How many object-store requests a push costs (issue 17: pushes to Swift were bound by ~10-20 S3 requests
// each). Berth on a real Swift s3api behind a proxy that logs every S3 request: each kind of push must make
// exactly the requests listed here, so that a change adding requests to the push path fails loudly. Retries
// after a failure on Swift's side are not counted (the SDK numbers its attempts).
import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MT, sha256, uniqueRepo } from '../helpers/oci-client.js';
import { S3RequestLog } from '../helpers/s3-request-log.js';
import { startBerth, type TestBerth } from '../helpers/server.js';
import {
  createBucket,
  deleteBucket,
  ensureSwift,
  objectNames,
  openUploads,
  type S3Endpoint,
  s3Client,
} from '../helpers/swift.js';

const endpoint: S3Endpoint | undefined = await ensureSwift();
const MiB = 1024 * 1024;

describe.skipIf(!endpoint)('S3 requests per push (Swift s3api)', () => {
  let s3: S3Client;
  let bucket: string;
  let log: S3RequestLog;
  let berth: TestBerth;

  beforeAll(async () => {
    const target = endpoint as S3Endpoint;
    s3 = s3Client(target);
    bucket = await createBucket(s3);
    log = await S3RequestLog.start(target.endpoint);
    berth = await startBerth({
      config: {
        'storage.driver': 's3',
        'storage.s3.endpoint': log.endpoint,
        'storage.s3.region': target.region,
        'storage.s3.bucket': bucket,
        'storage.s3.forcePathStyle': true,
        'storage.s3.accessKeyId': target.accessKeyId,
        'storage.s3.secretAccessKey': target.secretAccessKey,
      },
    });
  });

  afterAll(async () => {
    await berth?.close();
    await log?.close();
    if (bucket) await deleteBucket(s3, bucket);
    s3?.destroy();
  });

  beforeEach(() => log?.clear());

  const url = (path: string) => `${berth.url}${path}`;

  async function expectStatus(res: Response, status: number): Promise<Response> {
    if (res.status !== status) expect(`${res.status} ${await res.text()}`).toBe(String(status));
    return res;
  }

  const monolithic = (repo: string, blob: Buffer, digest = sha256(blob)) =>
    fetch(url(`/v2/${repo}/blobs/uploads/?digest=${digest}`), {
      method: 'POST',
      body: blob,
      headers: { 'content-type': 'application/octet-stream' },
    });

  /** POST, then a PATCH per chunk but the last, which the closing PUT carries when `lastInPut`. */
  async function chunked(repo: string, chunks: Buffer[], lastInPut: boolean): Promise<void> {
    const blob = Buffer.concat(chunks);
    const post = await expectStatus(await fetch(url(`/v2/${repo}/blobs/uploads/`), { method: 'POST' }), 202);
    const location = new URL(post.headers.get('location') as string, berth.url);
    const patches = lastInPut ? chunks.slice(0, -1) : chunks;
    let offset = 0;
    for (const chunk of patches) {
      await expectStatus(
        await fetch(location, {
          method: 'PATCH',
          body: chunk,
          headers: { 'content-range': `${offset}-${offset + chunk.length - 1}` },
        }),
        202,
      );
      offset += chunk.length;
    }
    location.searchParams.set('digest', sha256(blob));
    const last = chunks.at(-1) as Buffer;
    await expectStatus(
      await fetch(location, {
        method: 'PUT',
        ...(lastInPut && {
          body: last,
          headers: { 'content-range': `${offset}-${offset + last.length - 1}` },
        }),
      }),
      201,
    );
  }

  /** The blob's bytes come back whole, and no upload left anything behind in the bucket. */
  async function expectStored(repo: string, blob: Buffer): Promise<void> {
    const res = await expectStatus(await fetch(url(`/v2/${repo}/blobs/${sha256(blob)}`)), 200);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(blob));
    expect(await objectNames(s3, bucket, 'uploads/')).toEqual([]);
    expect(await openUploads(s3, bucket)).toEqual([]);
  }

  it('monolithic push of a small new blob: one PutObject, straight to its digest key', async () => {
    const repo = uniqueRepo('s3req');
    const blob = randomBytes(4096);
    await expectStatus(await monolithic(repo, blob), 201);
    expect(log.counts()).toEqual({ PutObject: 1 });
    expect(log.firstAttempts().map((r) => r.key)).toEqual([
      `blobs/sha256/${sha256(blob).slice(7, 9)}/${sha256(blob).slice(7)}`,
    ]);
    await expectStored(repo, blob);
  });

  it('monolithic push of a blob stored already (another repository): one HeadObject, no write', async () => {
    const blob = randomBytes(4096);
    await expectStatus(await monolithic(uniqueRepo('s3req'), blob), 201);
    log.clear();
    const repo = uniqueRepo('s3req');
    await expectStatus(await monolithic(repo, blob), 201);
    expect(log.counts()).toEqual({ HeadObject: 1 });
    await expectStored(repo, blob);
  });

  it('monolithic push larger than a part: one multipart upload to its digest key, completed once verified', async () => {
    const repo = uniqueRepo('s3req');
    const blob = randomBytes(12 * MiB);
    await expectStatus(await monolithic(repo, blob), 201);
    expect(log.counts()).toEqual({ CreateMultipartUpload: 1, UploadPart: 3, CompleteMultipartUpload: 1 });
    await expectStored(repo, blob);
  });

  it.each([
    ['small', 4096, {}],
    ['larger than a part', 12 * MiB, { CreateMultipartUpload: 1, UploadPart: 3, AbortMultipartUpload: 1 }],
  ])(
    'monolithic push of a %s blob with a wrong digest: nothing ever shows under a digest key',
    async (_label, size, expected) => {
      const repo = uniqueRepo('s3req');
      const blob = randomBytes(size);
      const claimed = sha256(randomBytes(16));
      const res = await expectStatus(await monolithic(repo, blob, claimed), 400);
      expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('DIGEST_INVALID');
      expect(log.counts()).toEqual(expected);
      expect(log.firstAttempts().filter((r) => r.operation === 'PutObject')).toEqual([]);
      expect(await objectNames(s3, bucket, `blobs/sha256/${sha256(blob).slice(7, 9)}/`)).not.toContain(
        `blobs/sha256/${sha256(blob).slice(7, 9)}/${sha256(blob).slice(7)}`,
      );
      expect(await openUploads(s3, bucket)).toEqual([]);
    },
  );

  it('chunked push (POST, PATCH, PUT): a listing for the write and one for the commit, a copy, a delete', async () => {
    const repo = uniqueRepo('s3req');
    const blob = randomBytes(4096);
    await chunked(repo, [blob], false);
    expect(log.counts()).toEqual({ ListObjectsV2: 2, PutObject: 1, CopyObject: 1, DeleteObject: 1 });
    await expectStored(repo, blob);
  });

  it('chunked push with the last chunk in the PUT: small segments stitched by one PutObject', async () => {
    const repo = uniqueRepo('s3req');
    const chunks = [randomBytes(4096), randomBytes(1000)];
    await chunked(repo, chunks, true);
    expect(log.counts()).toEqual({ ListObjectsV2: 3, PutObject: 3, GetObject: 2, DeleteObject: 2 });
    await expectStored(repo, Buffer.concat(chunks));
  });

  it('manifest push: no object-store request (manifests live in the database)', async () => {
    const repo = uniqueRepo('s3req');
    const config = Buffer.from(
      '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}',
    );
    const layer = randomBytes(1024);
    for (const blob of [config, layer]) await expectStatus(await monolithic(repo, blob), 201);
    log.clear();
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length },
      layers: [{ mediaType: MT.ociLayer, digest: sha256(layer), size: layer.length }],
    });
    await expectStatus(
      await fetch(url(`/v2/${repo}/manifests/v1`), {
        method: 'PUT',
        body: manifest,
        headers: { 'content-type': MT.ociManifest },
      }),
      201,
    );
    expect(log.counts()).toEqual({});
  });
});
