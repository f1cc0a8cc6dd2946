// A real S3-compatible server for tests: OpenStack Swift with s3api, started by scripts/swift-s3.sh when it
// does not answer yet. Missing Swift is fatal in CI (CI must run it); locally the S3 tests skip with a warning.
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { run } from '../fixtures/image.js';

export interface S3Endpoint {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
}

/** What scripts/swift-s3.sh sets up. */
export const SWIFT: S3Endpoint = {
  endpoint: 'http://127.0.0.1:8080',
  region: 'us-east-1',
  accessKeyId: 'test:tester',
  secretAccessKey: 'testing',
  forcePathStyle: true,
};

const SCRIPT = fileURLToPath(new URL('../../scripts/swift-s3.sh', import.meta.url));
/** The first start may install the Debian packages. */
const START_TIMEOUT_MS = 10 * 60_000;

let started: Promise<S3Endpoint | undefined> | undefined;

/**
 * The file by which a test run (BERTH_TEST_RUN, named by test/setup/global.ts) records that it started Swift
 * itself, so that the run's global teardown stops it again.
 */
export function swiftStartedMarker(testRun = process.env.BERTH_TEST_RUN ?? 'unnamed'): string {
  return join(tmpdir(), `berth-swift-started-by-${testRun}`);
}

/** Swift's S3 endpoint, starting Swift when needed; undefined (after a loud warning) when it cannot run here. */
export function ensureSwift(): Promise<S3Endpoint | undefined> {
  started ??= start();
  return started;
}

async function start(): Promise<S3Endpoint | undefined> {
  if (await swiftAnswers()) return SWIFT;
  let reason = 'it does not answer after starting';
  try {
    const { stdout } = await run('bash', [SCRIPT, 'start'], { timeoutMs: START_TIMEOUT_MS });
    // Not when it says "already up": another test file of this run, or someone else, started it meanwhile.
    if (/swift s3api up on/.test(stdout)) await writeFile(swiftStartedMarker(), '');
    if (await swiftAnswers()) return SWIFT;
  } catch (error) {
    reason = (error as Error).message;
    // A failed start may have left some of the servers running: the run's teardown stops them too.
    await writeFile(swiftStartedMarker(), '');
  }
  if (process.env.CI === 'true') {
    throw new Error(`Swift (S3) could not be started; CI must run it (see .ci/run): ${reason}`);
  }
  console.warn(
    `\n!!! SKIPPING S3 tests: Swift s3api could not be started (scripts/swift-s3.sh): ${reason} !!!\n`,
  );
  return undefined;
}

/** Whether Swift's S3 endpoint answers at all (any status). */
export async function swiftAnswers(): Promise<boolean> {
  try {
    await fetch(`${SWIFT.endpoint}/`, { signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
}

export function s3Client(endpoint: S3Endpoint): S3Client {
  const { accessKeyId, secretAccessKey } = endpoint;
  return new S3Client({
    ...endpoint,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Berth's storage config (dotted keys) for `bucket` on `endpoint`: the S3 driver, path-style. */
export function berthS3Storage(endpoint: S3Endpoint, bucket: string): Record<string, unknown> {
  return {
    'storage.driver': 's3',
    'storage.s3.endpoint': endpoint.endpoint,
    'storage.s3.region': endpoint.region,
    'storage.s3.bucket': bucket,
    'storage.s3.forcePathStyle': true,
    'storage.s3.accessKeyId': endpoint.accessKeyId,
    'storage.s3.secretAccessKey': endpoint.secretAccessKey,
  };
}

/** A new bucket with a unique name. */
export async function createBucket(client: S3Client): Promise<string> {
  const bucket = `berth-test-${randomUUID().slice(0, 13)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** Every object name under `prefix`, in listing order. */
export async function objectNames(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) if (object.Key) names.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return names;
}

/** Multipart uploads begun and neither completed nor aborted under `prefix`. */
export async function openUploads(client: S3Client, bucket: string, prefix = '') {
  const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  return (page.Uploads ?? []).map((upload) => ({ key: upload.Key ?? '', uploadId: upload.UploadId ?? '' }));
}

/** Removes every object and open multipart upload under `prefix`. */
export async function emptyPrefix(client: S3Client, bucket: string, prefix = ''): Promise<void> {
  for (const { key, uploadId } of await openUploads(client, bucket, prefix)) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  }
  const names = await objectNames(client, bucket, prefix);
  for (let i = 0; i < names.length; i += 16) {
    await Promise.all(
      names
        .slice(i, i + 16)
        .map((name) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: name }))),
    );
  }
}

/** Deletes the bucket with everything in it. */
export async function deleteBucket(client: S3Client, bucket: string): Promise<void> {
  await emptyPrefix(client, bucket);
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/**
 * Serves a store's objects over HTTP as the registry serves a blob: GET /<key>[?start=&end=] pipes the read
 * into the response, and a read failing mid-body ends the response, as Fastify does (the client sees it cut).
 */
export async function serveReads(store: BlobStore): Promise<{ base: string; close(): void }> {
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    const start = url.searchParams.get('start');
    const end = url.searchParams.get('end');
    const range = start === null ? undefined : { start: Number(start), end: Number(end) };
    store.read(url.pathname.slice(1), range).then(
      (body) => {
        body.once('error', () => response.destroy());
        body.pipe(response);
      },
      (error: Error) => response.writeHead(500).end(error.message),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => server.close(),
  };
}
