// The S3 driver's streamed reads when the store cuts a body short: through a TCP fault proxy in front of the
// real Swift (test/fault/fault-proxy.ts), a connection reset, closed cleanly short of its Content-Length or
// stalled mid-body makes the reader ask for the rest with a ranged GET, and the consumer gets the whole object,
// byte-exact, as one stream. A store that answers the resumption with other bytes fails the read instead;
// so does one that stays away.
import { Buffer } from 'node:buffer';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReadBufferPool, SLAB_BYTES } from '../../src/storage/read-buffer-pool.js';
import { S3BlobStore } from '../../src/storage/s3.js';
import { S3ObjectReader } from '../../src/storage/s3-object-reader.js';
import { FaultProxy } from '../fault/fault-proxy.js';
import { createBucket, deleteBucket, ensureSwift, s3Client, serveReads } from '../helpers/swift.js';

const swift = await ensureSwift();
const KiB = 1024;
const MiB = 1024 * KiB;
/** Longer than any test: the pool never counts as stuck. */
const NEVER_STUCK_MS = 10 * 60_000;
/** The stall timeout of the store whose connections the proxy stalls. */
const STALL_MS = 3_000;

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** The stream's bytes, and its error if it failed (with the bytes that came before). */
async function drain(stream: Readable): Promise<{ bytes: Buffer; error?: Error }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
    return { bytes: Buffer.concat(chunks) };
  } catch (error) {
    return { bytes: Buffer.concat(chunks), error: error as Error };
  }
}

/** The Range headers of the GETs in `heads` (undefined for a GET of the whole object). */
const rangesOf = (heads: string[]) =>
  heads.filter((head) => head.startsWith('GET ')).map((head) => /\r\nRange: bytes=(\d+)-(\d+)/i.exec(head));

describe.skipIf(!swift)('S3 streamed reads resume a body the store cut short (Swift s3api)', () => {
  let client: S3Client;
  let bucket: string;
  let proxy: FaultProxy;
  let direct: S3BlobStore;
  let store: S3BlobStore;
  let stalling: S3BlobStore;
  let server: Awaited<ReturnType<typeof serveReads>>;
  const pool = new ReadBufferPool(16 * SLAB_BYTES, SLAB_BYTES, NEVER_STUCK_MS);
  const data = randomBytes(4 * MiB + 13);
  const key = 'blobs/resumed';
  const prefix = `p-${randomUUID().slice(0, 8)}/`;
  /** A store's options that reach Swift through the proxy. */
  const through = () => ({ endpoint: `http://127.0.0.1:${proxy.port}`, bucket, prefix, readBuffers: pool });

  beforeAll(async () => {
    const endpoint = swift as NonNullable<typeof swift>;
    client = s3Client(endpoint);
    bucket = await createBucket(client);
    direct = new S3BlobStore({ ...endpoint, bucket, prefix });
    await direct.write(`uploads/${key}`, [data], 0);
    await direct.commit(`uploads/${key}`, key);
    const target = new URL(endpoint.endpoint);
    proxy = await FaultProxy.start({ host: target.hostname, port: Number(target.port) });
    store = new S3BlobStore({ ...endpoint, ...through() });
    stalling = new S3BlobStore({ ...endpoint, ...through(), requestTimeoutMs: STALL_MS });
    // A blob GET as the registry serves it: the stream piped into the response (the reader's other mode).
    server = await serveReads(store);
  }, 120_000);

  afterAll(async () => {
    server?.close();
    store?.destroy();
    stalling?.destroy();
    direct?.destroy();
    await proxy?.close();
    if (bucket) await deleteBucket(client, bucket);
    client?.destroy();
  });

  it('a connection reset mid-body: the rest comes with a ranged GET, the whole object byte-exact', async () => {
    proxy.requests.splice(0);
    const cutsBefore = proxy.cuts;
    proxy.cut({ afterBytes: MiB + 7 });
    const { bytes, error } = await drain(await store.read(key));
    expect(error).toBeUndefined();
    expect({ size: bytes.length, digest: sha256(bytes) }).toEqual({
      size: data.length,
      digest: sha256(data),
    });
    expect(proxy.cuts - cutsBefore).toBe(1);
    const [whole, resumed, ...more] = rangesOf(proxy.requests);
    expect(whole).toBeNull();
    expect(more).toEqual([]);
    // From the offset the first answer reached (its head and at most MiB + 7 bytes got through), to the end.
    expect(Number(resumed?.[1])).toBeGreaterThan(0);
    expect(Number(resumed?.[1])).toBeLessThan(MiB + 7);
    expect(Number(resumed?.[2])).toBe(data.length - 1);
    await expect.poll(() => pool.inUse).toBe(0);
  });

  it.each([
    ['reset', 6],
    ['end', 6],
  ] as const)(
    'cut %s %d times while piped into an HTTP response: byte-exact, one ranged GET per cut',
    async (how, times) => {
      proxy.requests.splice(0);
      const cutsBefore = proxy.cuts;
      // 600 KiB per connection: the 4 MiB object needs 7 of them.
      proxy.cut({ afterBytes: 600 * KiB, times, how });
      const response = await fetch(`${server.base}/${key}`);
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(response.status).toBe(200);
      expect({ size: bytes.length, digest: sha256(bytes) }).toEqual({
        size: data.length,
        digest: sha256(data),
      });
      expect(proxy.cuts - cutsBefore).toBe(times);
      const ranges = rangesOf(proxy.requests);
      expect(ranges).toHaveLength(times + 1);
      expect(ranges[0]).toBeNull();
      // Each resumption starts further on, and asks for everything up to the end.
      let offset = 0;
      for (const range of ranges.slice(1)) {
        expect(Number(range?.[1])).toBeGreaterThan(offset);
        expect(Number(range?.[2])).toBe(data.length - 1);
        offset = Number(range?.[1]);
      }
      await expect.poll(() => pool.inUse, { timeout: 30_000 }).toBe(0);
    },
  );

  it('a ranged read cut short resumes within its range', async () => {
    proxy.requests.splice(0);
    proxy.cut({ afterBytes: 700 * KiB, how: 'end' });
    const range = { start: 100_000, end: 3 * MiB };
    const { bytes, error } = await drain(await store.read(key, range));
    expect(error).toBeUndefined();
    expect(sha256(bytes)).toBe(sha256(data.subarray(range.start, range.end + 1)));
    const [first, resumed] = rangesOf(proxy.requests);
    expect(first?.slice(1)).toEqual([String(range.start), String(range.end)]);
    expect(Number(resumed?.[1])).toBeGreaterThan(range.start);
    expect(Number(resumed?.[2])).toBe(range.end);
  });

  it('a body that stalls mid-way resumes once the stall timeout gives up on it', async () => {
    proxy.requests.splice(0);
    proxy.cut({ afterBytes: MiB, how: 'stall' });
    const { bytes, error } = await drain(await stalling.read(key));
    expect(error).toBeUndefined();
    expect(sha256(bytes)).toBe(sha256(data));
    const ranges = rangesOf(proxy.requests);
    expect(ranges).toHaveLength(2);
    expect(Number(ranges[1]?.[2])).toBe(data.length - 1);
  });

  it('a store that stays away after the cut fails the read after 3 resumptions without progress', async () => {
    // A store of its own: no kept-alive connection of another test stands in for a new one.
    const alone = new S3BlobStore({ ...(swift as NonNullable<typeof swift>), ...through() });
    const acceptedBefore = proxy.accepted;
    proxy.cut({ afterBytes: MiB, thenMode: 'refuse' });
    try {
      const { bytes, error } = await drain(await alone.read(key));
      expect(error).toMatchObject({ name: 'NetworkError' });
      expect(bytes.length).toBeLessThan(MiB);
      expect(bytes.equals(data.subarray(0, bytes.length))).toBe(true);
      // The first connection, then one per resumption, each refused.
      expect(proxy.accepted - acceptedBefore).toBe(4);
    } finally {
      proxy.set('pass');
      alone.destroy();
    }
    await expect.poll(() => pool.inUse).toBe(0);
  });

  it('a body cut again and again fails after 16 resumptions, progress or not', async () => {
    proxy.requests.splice(0);
    proxy.cut({ afterBytes: 64 * KiB, times: 100 });
    try {
      const { bytes, error } = await drain(await store.read(key));
      expect(error).toMatchObject({ name: 'NetworkError' });
      expect(bytes.equals(data.subarray(0, bytes.length))).toBe(true);
      expect(rangesOf(proxy.requests).filter((range) => range !== null)).toHaveLength(16);
    } finally {
      proxy.cut({ afterBytes: 0, times: 0 });
    }
    await expect.poll(() => pool.inUse).toBe(0);
  });
});

// Swift cannot be made to answer a resumption wrongly, so these use a tiny node:http upstream that serves one
// object, cuts its first answer half-way and then answers the ranged GET as told: an honest 206 (showing the
// fake itself works), or one wrong in a single respect: its Content-Range starting a byte early, naming an
// object a byte longer, or a 200 with the object's first bytes (a store ignoring Range).
describe('a resumed read answered with other bytes fails rather than splice them', () => {
  const data = randomBytes(2 * MiB + 5);
  const half = MiB;
  let answer: 'honest' | 'wrong start' | 'wrong size' | 'whole';
  let server: Server;
  let url: URL;
  const pool = new ReadBufferPool(8 * SLAB_BYTES, SLAB_BYTES, NEVER_STUCK_MS);
  const reader = new S3ObjectReader({ pool, connectTimeoutMs: 5_000, requestTimeoutMs: 30_000 });

  beforeAll(async () => {
    server = createServer((request, response) => {
      const range = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '');
      if (!range) {
        response.writeHead(200, { 'Content-Length': data.length });
        response.write(data.subarray(0, half), () => response.socket?.destroy());
        return;
      }
      const [start, end] = [Number(range[1]), Number(range[2])];
      // Every header right but one: the status, the range's start, or the object's size.
      const length = end - start + 1;
      const from = answer === 'wrong start' ? start - 1 : start;
      const size = answer === 'wrong size' ? data.length + 1 : data.length;
      response
        .writeHead(answer === 'whole' ? 200 : 206, {
          'Content-Length': length,
          'Content-Range': `bytes ${from}-${end}/${size}`,
        })
        .end(answer === 'whole' ? data.subarray(0, length) : data.subarray(from, from + length));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/bucket/object`);
  });

  afterAll(() => {
    reader.close();
    server?.close();
  });

  it('an honest 206 from the offset reached: the whole object', async () => {
    answer = 'honest';
    const { bytes, error } = await drain(await reader.open(url));
    expect(error).toBeUndefined();
    expect(sha256(bytes)).toBe(sha256(data));
  });

  it.each(['wrong start', 'wrong size', 'whole'] as const)(
    '%s: the read fails, the bytes before are exact',
    async (how) => {
      answer = how;
      const { bytes, error } = await drain(await reader.open(url));
      expect(error).toMatchObject({ name: 'ProtocolError' });
      expect(error?.message).toMatch(/resumed read/);
      expect(bytes.length).toBeLessThanOrEqual(half);
      expect(bytes.equals(data.subarray(0, bytes.length))).toBe(true);
      await expect.poll(() => pool.inUse).toBe(0);
    },
  );
});
