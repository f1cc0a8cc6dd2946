/**
 * The shared S3-compatible endpoint for the S3 rounds of the benchmark: the OpenStack Swift all-in-one that
 * scripts/swift-s3.sh starts on 127.0.0.1:8080 (it installs the Debian packages when absent).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';

export interface S3Target {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
}

const ENDPOINT = { endpoint: 'http://127.0.0.1:8080', region: 'us-east-1' };
const CREDENTIALS = { accessKeyId: 'test:tester', secretAccessKey: 'testing' };

function client(): S3Client {
  return new S3Client({
    ...ENDPOINT,
    credentials: CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}

/** Starts Swift if needed; returns why it could not, or undefined when it answers. */
export function ensureSwift(): string | undefined {
  const started = spawnSync('bash', ['scripts/swift-s3.sh', 'start'], { encoding: 'utf8' });
  if (started.status === 0) return undefined;
  return `scripts/swift-s3.sh start failed:\n${`${started.stdout}${started.stderr}`.trim().split('\n').slice(-8).join('\n')}`;
}

/** A fresh, empty bucket for one registry's run. */
export async function freshBucket(name: string): Promise<S3Target> {
  const bucket = `bench-${name}-${randomBytes(4).toString('hex')}`;
  await client().send(new CreateBucketCommand({ Bucket: bucket }));
  return { ...ENDPOINT, ...CREDENTIALS, bucket };
}

/** Deletes every object of the bucket and the bucket (best effort: the data would only waste disk). */
export async function removeBucket(bucket: string): Promise<void> {
  const s3 = client();
  for (let token: string | undefined; ; ) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    // One by one, 16 at a time: Swift's multi-object delete wants a Content-MD5 the SDK no longer sends.
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : []));
    for (let i = 0; i < keys.length; i += 16) {
      await Promise.all(
        keys.slice(i, i + 16).map((Key) => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key }))),
      );
    }
    if (!page.IsTruncated) break;
    token = page.NextContinuationToken;
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}
