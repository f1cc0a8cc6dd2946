// The S3 driver's streamed reads through its capped, shared read-buffer pool, against a real Swift s3api: many
// concurrent reads (whole and ranged, consumed as a stream and piped into HTTP responses) return exact bytes,
// and the bytes the pool grants never pass its limit, counted by the pool itself.
import { Buffer } from 'node:buffer';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { ReadBufferPool, SLAB_BYTES } from '../../src/storage/read-buffer-pool.js';
import { S3BlobStore } from '../../src/storage/s3.js';
import { createBucket, deleteBucket, ensureSwift, s3Client, serveReads } from '../helpers/swift.js';

const swift = await ensureSwift();
const KiB = 1024;
const MiB = 1024 * KiB;
/** Four slabs: far fewer than the reads below want at once. */
const LIMIT = 4 * SLAB_BYTES;
/** Longer than any test: the pool never counts as stuck, so nothing is granted beyond its limit. */
const NEVER_STUCK_MS = 10 * 60_000;

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Reads a stream as a slow consumer might: a turn of the event loop between chunks. */
async function digestOf(stream: Readable, slow: boolean): Promise<{ digest: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Uint8Array);
    bytes += (chunk as Uint8Array).length;
    if (slow) await yieldToLoop();
  }
  return { digest: hash.digest('hex'), bytes };
}

describe.skipIf(!swift)('S3 streamed reads through the read-buffer pool (Swift s3api)', () => {
  let client: S3Client;
  let bucket: string;
  let server: Awaited<ReturnType<typeof serveReads>>;
  const pool = new ReadBufferPool(LIMIT, SLAB_BYTES, NEVER_STUCK_MS);
  let store: S3BlobStore;
  /** Objects of several sizes: bigger than the whole pool, a slab and a bit, a few bytes, none. */
  const objects = new Map<string, Buffer>([
    ['blobs/big', randomBytes(3 * MiB + 17)],
    ['blobs/slab', randomBytes(SLAB_BYTES + 1)],
    ['blobs/small', randomBytes(1000)],
    ['blobs/empty', Buffer.alloc(0)],
  ]);
  /** What each read asks for: whole objects and ranges inside, across slabs and at the ends. */
  const reads: { key: string; range?: { start: number; end: number } }[] = [
    ...[...objects.keys()].map((key) => ({ key })),
    { key: 'blobs/big', range: { start: 0, end: 0 } },
    { key: 'blobs/big', range: { start: 5, end: 2 * MiB + 3 } },
    { key: 'blobs/big', range: { start: 3 * MiB, end: 3 * MiB + 16 } },
    { key: 'blobs/slab', range: { start: SLAB_BYTES - 3, end: SLAB_BYTES } },
  ];
  const expected = (read: (typeof reads)[number]) => {
    const data = objects.get(read.key) as Buffer;
    return read.range ? data.subarray(read.range.start, read.range.end + 1) : data;
  };

  beforeAll(async () => {
    const endpoint = swift as NonNullable<typeof swift>;
    client = s3Client(endpoint);
    bucket = await createBucket(client);
    store = new S3BlobStore({
      ...endpoint,
      bucket,
      prefix: `p-${randomUUID().slice(0, 8)}/`,
      readBuffers: pool,
    });
    for (const [key, data] of objects) {
      await store.write(`uploads/${key}`, [data], 0);
      await store.commit(`uploads/${key}`, key);
    }
    // A blob GET as the registry serves it: the stream piped into the response.
    server = await serveReads(store);
  }, 120_000);

  afterAll(async () => {
    server?.close();
    store?.destroy();
    if (bucket) await deleteBucket(client, bucket);
    client?.destroy();
  });

  it('many concurrent reads consumed as streams return exact bytes, within the pool', async () => {
    const peakBefore = pool.peak;
    const jobs = Array.from({ length: 48 }, (_, i) => reads[i % reads.length] as (typeof reads)[number]);
    const results = await Promise.all(
      jobs.map(async (read, i) => digestOf(await store.read(read.key, read.range), i % 3 === 0)),
    );
    results.forEach((result, i) => {
      const want = expected(jobs[i] as (typeof reads)[number]);
      expect(result).toEqual({ digest: sha256(want), bytes: want.length });
    });
    // The reads wanted far more than the pool holds at once; it granted no more than its limit, and got
    // every byte back.
    expect(Math.max(pool.peak, peakBefore)).toBeLessThanOrEqual(LIMIT);
    expect(pool.peak).toBeGreaterThan(0);
    expect(pool.inUse).toBe(0);
    expect(pool.budget.waiters).toBe(0);
  }, 120_000);

  it('many concurrent reads piped into HTTP responses return exact bytes, within the pool, reusing slabs', async () => {
    const allocatedBefore = pool.allocated;
    const jobs = Array.from({ length: 48 }, (_, i) => reads[i % reads.length] as (typeof reads)[number]);
    const results = await Promise.all(
      jobs.map(async (read) => {
        const query = read.range ? `?start=${read.range.start}&end=${read.range.end}` : '';
        const response = await fetch(`${server.base}/${read.key}${query}`);
        const body = Buffer.from(await response.arrayBuffer());
        return { status: response.status, digest: sha256(body), bytes: body.length };
      }),
    );
    let total = 0;
    results.forEach((result, i) => {
      const want = expected(jobs[i] as (typeof reads)[number]);
      total += want.length;
      expect(result).toEqual({ status: 200, digest: sha256(want), bytes: want.length });
    });
    expect(pool.peak).toBeLessThanOrEqual(LIMIT);
    // Responses close a moment after their last write: then the pool has every slab back.
    await expect.poll(() => pool.inUse, { timeout: 30_000 }).toBe(0);
    // Written slabs came back for reuse: far fewer were allocated than the bytes read would fill.
    expect(pool.allocated - allocatedBefore).toBeLessThan(total / SLAB_BYTES / 4);
  }, 120_000);

  it('reports an absent key as ENOENT and a missing bucket as the store says, holding nothing after', async () => {
    await expect(store.read('blobs/absent')).rejects.toMatchObject({ code: 'ENOENT' });
    const elsewhere = new S3BlobStore({
      ...(swift as NonNullable<typeof swift>),
      bucket: `absent-${randomUUID().slice(0, 8)}`,
      readBuffers: pool,
    });
    try {
      await expect(elsewhere.read('blobs/x')).rejects.toMatchObject({ name: 'NoSuchBucket' });
    } finally {
      elsewhere.destroy();
    }
    expect(pool.inUse).toBe(0);
  });

  it('gives the slabs back when the consumer stops half-way', async () => {
    const body = await store.read('blobs/big');
    let got = 0;
    for await (const chunk of body) {
      got += (chunk as Uint8Array).length;
      if (got > SLAB_BYTES) break;
    }
    expect(body.destroyed).toBe(true);
    expect(pool.inUse).toBe(0);
    // And the next read is whole.
    const again = await digestOf(await store.read('blobs/big'), false);
    expect(again.digest).toBe(sha256(objects.get('blobs/big') as Buffer));
  });

  it('storage.s3.readBufferBytes: 64 MiB by default, refused below one slab', () => {
    expect(loadConfig({ env: {} }).storage.s3.readBufferBytes).toBe(64 * MiB);
    expect(() => loadConfig({ env: { BERTH_STORAGE_S3_READ_BUFFER_BYTES: '1000' } })).toThrow(ConfigError);
  });
});
