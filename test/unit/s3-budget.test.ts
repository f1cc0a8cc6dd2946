// The memory budget shared by the S3 driver's streamed writes: the budget itself, and putStream under it
// against an in-memory S3 (parts of a few KiB, so that many parts and writes run in milliseconds).
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { type BudgetHolder, ByteBudget } from '../../src/storage/byte-budget.js';
import { ByteChunker } from '../../src/storage/byte-chunker.js';
import { S3BlobStore } from '../../src/storage/s3.js';
import { type BucketRef, PARALLEL, putStream } from '../../src/storage/s3-multipart.js';
import { PartMemory } from '../../src/storage/s3-part-memory.js';
import { S3_LIMITS } from '../../src/storage/s3-segments.js';

/** Whether `promise` has settled once pending callbacks have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await sleep(1);
  return done;
}

describe('ByteBudget', () => {
  it('grants what fits at once and counts it', async () => {
    const budget = new ByteBudget(100);
    const a = budget.holder();
    const b = budget.holder();
    await a.acquire(40);
    await a.acquire(30);
    await b.acquire(30);
    expect([a.held, b.held, budget.inUse]).toEqual([70, 30, 100]);
  });

  it('makes a holder that holds something wait until enough is released', async () => {
    const budget = new ByteBudget(100);
    const a = budget.holder();
    const b = budget.holder();
    await a.acquire(60);
    await b.acquire(30);
    const more = b.acquire(30);
    expect(await settled(more)).toBe(false);
    a.release(20);
    expect(await settled(more)).toBe(true);
    expect([a.held, b.held, budget.inUse]).toEqual([40, 60, 100]);
  });

  it('grants any request while nothing is granted, even one bigger than the budget', async () => {
    const budget = new ByteBudget(100);
    const a = budget.holder();
    await a.acquire(250);
    expect(budget.inUse).toBe(250);
    const b = budget.holder();
    const waiting = b.acquire(1);
    expect(await settled(waiting)).toBe(false);
    a.release(250);
    expect(await settled(waiting)).toBe(true);
  });

  it('serves waiting requests in the order they were made', async () => {
    const budget = new ByteBudget(10);
    const owner = budget.holder();
    await owner.acquire(10);
    const holders = Array.from({ length: 4 }, () => budget.holder());
    const order: number[] = [];
    const requests = holders.map((holder, i) => holder.acquire(3).then(() => order.push(i)));
    expect(budget.waiters).toBe(4);
    owner.release(10);
    await Promise.all(requests.slice(0, 3));
    expect(order).toEqual([0, 1, 2]);
    expect(budget.waiters).toBe(1);
    holders[0]?.release(3);
    await requests[3];
    expect(order).toEqual([0, 1, 2, 3]);
  });

  it('makes a request that would fit wait behind an earlier one that does not', async () => {
    const budget = new ByteBudget(10);
    const owner = budget.holder();
    await owner.acquire(6);
    const big = budget.holder().acquire(8);
    const small = budget.holder().acquire(1);
    expect(await settled(small)).toBe(false);
    owner.release(6);
    expect(await settled(big)).toBe(true);
    expect(await settled(small)).toBe(true);
  });

  it('grants the waiters that hold nothing, beyond the budget, once it has released nothing for stallMs', async () => {
    const budget = new ByteBudget(10, 30);
    const holding = budget.holder();
    await holding.acquire(4);
    const pin = budget.holder(); // a writer whose client stalls mid-part
    await pin.acquire(6);
    const fresh = budget.holder().acquire(5);
    const more = holding.acquire(1);
    expect(await settled(fresh)).toBe(false);
    await sleep(80);
    expect(await settled(fresh)).toBe(true);
    // One that holds something is waiting for its own bytes to come back, which they will.
    expect(await settled(more)).toBe(false);
    expect(budget.inUse).toBe(15);
    holding.release(4);
    pin.release(6);
    expect(await settled(more)).toBe(true);
  });

  it('does not count a budget that keeps releasing as stuck', async () => {
    const budget = new ByteBudget(100, 300);
    const pin = budget.holder();
    await pin.acquire(100);
    const waiting = budget.holder().acquire(50);
    for (let i = 0; i < 20; i++) {
      await sleep(20);
      pin.release(2);
    }
    // Past stallMs, but each release was progress: still waiting for 50 to fit.
    expect(budget.inUse).toBe(60);
    expect(await settled(waiting)).toBe(false);
    pin.release(10);
    expect(await settled(waiting)).toBe(true);
    expect(budget.peak).toBe(100);
  });

  it('releases everything at end() and withdraws a pending request', async () => {
    const budget = new ByteBudget(10);
    const a = budget.holder();
    const b = budget.holder();
    await a.acquire(8);
    await b.acquire(2);
    const pending = b.acquire(5);
    const later = a.acquire(2);
    b.end();
    await expect(pending).rejects.toThrow(/ended/);
    // b's withdrawn request no longer blocks a's behind it.
    await expect(later).resolves.toBeUndefined();
    expect([b.held, budget.inUse, budget.waiters]).toEqual([0, 10, 0]);
    await expect(b.acquire(1)).rejects.toThrow(/ended/);
    a.end();
    expect(budget.inUse).toBe(0);
  });

  it('releases no more than is held, and one request at a time', async () => {
    const budget = new ByteBudget(10);
    const a = budget.holder();
    const b = budget.holder();
    await a.acquire(9);
    await b.acquire(1);
    a.release(50);
    expect([a.held, budget.inUse]).toEqual([0, 1]);
    await b.acquire(9);
    const waiting = b.acquire(1);
    await expect(b.acquire(1)).rejects.toThrow(/one grant at a time/);
    b.end();
    await expect(waiting).rejects.toThrow();
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses a limit of %s', (limit) => {
    expect(() => new ByteBudget(limit)).toThrow(RangeError);
  });

  it('deadlocks writers that ask while holding a filled buffer, which is why putStream never does', async () => {
    const budget = new ByteBudget(10, 20);
    const [a, b] = [budget.holder(), budget.holder()];
    await a.acquire(10); // filled, not yet sent
    const bFirst = b.acquire(10); // holds nothing: granted once the budget is found stuck
    await sleep(60);
    expect(await settled(bFirst)).toBe(true);
    // Each now asks for a part to read ahead before sending the one it filled: nothing is ever released.
    const aNext = a.acquire(10);
    const bNext = b.acquire(10);
    await sleep(100);
    expect([await settled(aNext), await settled(bNext)]).toEqual([false, false]);
    a.end();
    b.end();
  });

  it('lets 6 writers of 3 parts each with a budget of one part all finish, never beyond it', async () => {
    // Each writer follows putStream's protocol: ask before filling a part, hold it while it uploads (up to
    // `parallel` at once), give it back when the upload ends.
    const part = 10;
    const budget = new ByteBudget(part);
    const parallel = 3;
    const writer = async (holder: BudgetHolder, parts: number) => {
      const inFlight = new Set<Promise<void>>();
      for (let i = 0; i < parts; i++) {
        await holder.acquire(part);
        await sleep(Math.random() * 3); // filling from the client
        while (inFlight.size >= parallel) await Promise.race(inFlight);
        const upload: Promise<void> = sleep(Math.random() * 5).then(() => {
          holder.release(part);
          inFlight.delete(upload);
        });
        inFlight.add(upload);
      }
      await Promise.all(inFlight);
      holder.end();
      return parts;
    };
    const writers = 6;
    const done = await Promise.all(Array.from({ length: writers }, () => writer(budget.holder(), 3)));
    expect(done).toEqual(Array(writers).fill(3));
    expect(budget.inUse).toBe(0);
    expect(budget.peak).toBe(part);
  });
});

/** An in-memory S3 for putStream: multipart uploads with parts that take a little while to arrive. */
class FakeBucket {
  readonly objects = new Map<string, Buffer>();
  readonly uploads = new Map<string, { key: string; parts: Map<number, Buffer> }>();
  created = 0;
  aborted = 0;
  inFlight = 0;
  maxInFlight = 0;
  failPart: number | undefined;
  private nextId = 0;
  readonly client = { send: (command: unknown) => this.send(command) } as unknown as S3Client;

  async send(command: unknown): Promise<unknown> {
    await sleep(Math.random() * 2);
    if (command instanceof PutObjectCommand) {
      const { Key, Body } = command.input;
      this.objects.set(String(Key), Buffer.from(Body as Buffer));
      return {};
    }
    if (command instanceof CreateMultipartUploadCommand) {
      this.created++;
      const id = String(this.nextId++);
      this.uploads.set(id, { key: String(command.input.Key), parts: new Map() });
      return { UploadId: id };
    }
    if (command instanceof UploadPartCommand) {
      const { UploadId, PartNumber, Body, ContentLength } = command.input;
      const body = Body as Buffer;
      expect(body.length).toBe(ContentLength);
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      try {
        await sleep(Math.random() * 4);
        if (PartNumber === this.failPart) throw new Error('part upload failed');
        // Read the body only now, at the end of the "request": a buffer reused too early would show here.
        this.upload(UploadId).parts.set(Number(PartNumber), Buffer.from(body));
        return { ETag: `"${PartNumber}"` };
      } finally {
        this.inFlight--;
      }
    }
    if (command instanceof CompleteMultipartUploadCommand) {
      const { UploadId, MultipartUpload } = command.input;
      const upload = this.upload(UploadId);
      const numbers = (MultipartUpload?.Parts ?? []).map((p) => Number(p.PartNumber));
      expect(numbers).toEqual(numbers.map((_, i) => i + 1));
      this.objects.set(upload.key, Buffer.concat(numbers.map((n) => upload.parts.get(n) as Buffer)));
      this.uploads.delete(String(UploadId));
      return {};
    }
    if (command instanceof AbortMultipartUploadCommand) {
      this.aborted++;
      this.uploads.delete(String(command.input.UploadId));
      return {};
    }
    throw new Error(`unexpected command ${(command as object).constructor.name}`);
  }

  private upload(id: string | undefined) {
    const upload = this.uploads.get(String(id));
    if (!upload) throw new Error(`no upload ${id}`);
    return upload;
  }
}

/** `data` in chunks of `size`, arriving asynchronously as from a socket. */
async function* arriving(data: Buffer, size: number): AsyncIterable<Uint8Array> {
  for (let at = 0; at < data.length; at += size) {
    if (Math.random() < 0.2) await sleep(0);
    yield data.subarray(at, at + size);
  }
}

describe('putStream under a part memory budget', () => {
  const PART = 4096;
  const setup = (limit: number) => {
    const bucket = new FakeBucket();
    const memory = new PartMemory(limit, PART);
    const ref: BucketRef = { client: bucket.client, bucket: 'b', partMemory: memory };
    return { bucket, memory, ref };
  };

  it('completes 6 concurrent writes of 3 parts each with a budget of one part, byte for byte', async () => {
    const { bucket, memory, ref } = setup(PART);
    const sources = Array.from({ length: 6 }, (_, i) => randomBytes(3 * PART - i * 100));
    const written = await Promise.all(
      sources.map((data, i) => putStream(ref, `o${i}`, new ByteChunker(arriving(data, 1000)), 1e9, false)),
    );
    expect(written).toEqual(sources.map((data) => data.length));
    sources.forEach((data, i) => {
      expect(bucket.objects.get(`o${i}`)?.equals(data)).toBe(true);
    });
    expect(memory.budget.inUse).toBe(0);
    expect(memory.budget.peak).toBe(PART);
    expect(bucket.uploads.size).toBe(0);
  });

  it('completes concurrent writes with a budget smaller than one part', async () => {
    const { bucket, memory, ref } = setup(PART / 2);
    const sources = Array.from({ length: 4 }, () => randomBytes(3 * PART + 1));
    await Promise.all(
      sources.map((data, i) => putStream(ref, `o${i}`, new ByteChunker(arriving(data, 1000)), 1e9, false)),
    );
    sources.forEach((data, i) => {
      expect(bucket.objects.get(`o${i}`)?.equals(data)).toBe(true);
    });
    expect(memory.budget.inUse).toBe(0);
  });

  it('completes many concurrent writes of many parts with a small budget, byte for byte', async () => {
    const { bucket, memory, ref } = setup(3 * PART);
    const sources = Array.from({ length: 24 }, (_, i) => randomBytes(i * 1731 + (i % 5) * PART));
    const written = await Promise.all(
      sources.map((data, i) => putStream(ref, `o${i}`, new ByteChunker(arriving(data, 700)), 1e9, true)),
    );
    expect(written).toEqual(sources.map((data) => data.length));
    sources.forEach((data, i) => {
      expect(bucket.objects.get(`o${i}`)?.equals(data)).toBe(true);
    });
    expect(memory.budget.inUse).toBe(0);
    expect(memory.budget.peak).toBeLessThanOrEqual(3 * PART);
    // Buffers are dropped once no write runs.
    expect(memory.spareCount).toBe(0);
  });

  it('holds at most one part being filled plus its parts in flight', async () => {
    const { bucket, memory, ref } = setup(1000 * PART);
    const data = randomBytes(40 * PART + 5);
    expect(await putStream(ref, 'o', new ByteChunker(arriving(data, 512)), 1e9, false)).toBe(data.length);
    expect(bucket.objects.get('o')?.equals(data)).toBe(true);
    expect(bucket.maxInFlight).toBeLessThanOrEqual(PARALLEL);
    expect(memory.budget.peak).toBeLessThanOrEqual((PARALLEL + 1) * PART);
  });

  it('lets a small write that has arrived whole pass a full budget', async () => {
    const { memory } = setup(PART);
    const pin = memory.budget.holder();
    await pin.acquire(PART);
    const part = await memory.writer(new ByteChunker([randomBytes(100)])).next(PART);
    expect(part.body.length).toBe(100);
    expect(memory.budget.inUse).toBe(PART);
    part.done(true);
    pin.end();
  });

  it('charges a part cut short by the size limit only its bytes', async () => {
    const { memory } = setup(10 * PART);
    const writer = memory.writer(new ByteChunker([randomBytes(3 * PART)]));
    const part = await writer.next(PART / 2);
    expect(part.body.length).toBe(PART / 2);
    expect(memory.budget.inUse).toBe(PART / 2);
    part.done(true);
    expect(memory.budget.inUse).toBe(0);
    writer.end();
  });

  it('lets other writes through, beyond the budget, while a stalled client holds it all', async () => {
    const bucket = new FakeBucket();
    const memory = new PartMemory(PART, PART, 20);
    const ref: BucketRef = { client: bucket.client, bucket: 'b', partMemory: memory };
    let resume: () => void = () => undefined;
    async function* stalling(): AsyncIterable<Uint8Array> {
      yield randomBytes(PART / 2);
      await new Promise<void>((resolve) => {
        resume = resolve;
      });
      yield randomBytes(3 * PART);
    }
    const stalled = putStream(ref, 'stalled', new ByteChunker(stalling()), 1e9, false);
    await sleep(5);
    expect(memory.budget.inUse).toBe(PART);
    const sources = Array.from({ length: 3 }, () => randomBytes(3 * PART));
    await Promise.all(
      sources.map((data, i) => putStream(ref, `o${i}`, new ByteChunker(arriving(data, 1000)), 1e9, false)),
    );
    sources.forEach((data, i) => {
      expect(bucket.objects.get(`o${i}`)?.equals(data)).toBe(true);
    });
    resume();
    expect(await stalled).toBe(PART / 2 + 3 * PART);
    expect(memory.budget.inUse).toBe(0);
  });

  it('reuses a full part buffer once it was sent, but not one whose upload failed', async () => {
    const { memory } = setup(10 * PART);
    const writer = memory.writer(new ByteChunker([randomBytes(4 * PART)]));
    const first = await writer.next(PART);
    first.done(true);
    expect(memory.spareCount).toBe(1);
    const second = await writer.next(PART);
    expect(second.body.buffer).toBe(first.body.buffer);
    second.done(false);
    expect(memory.spareCount).toBe(0);
    writer.end();
    expect(memory.budget.inUse).toBe(0);
  });

  it('gives everything back and aborts when a part upload fails', async () => {
    const { bucket, memory, ref } = setup(2 * PART);
    bucket.failPart = 3;
    const data = randomBytes(10 * PART);
    await expect(putStream(ref, 'o', new ByteChunker(arriving(data, 1000)), 1e9, false)).rejects.toThrow(
      'part upload failed',
    );
    expect(memory.budget.inUse).toBe(0);
    expect(bucket.aborted).toBe(1);
    expect(bucket.objects.has('o')).toBe(false);
  });

  it('gives everything back when the source fails mid-part', async () => {
    const { bucket, memory, ref } = setup(2 * PART);
    async function* failing(): AsyncIterable<Uint8Array> {
      yield* arriving(randomBytes(5 * PART + 10), 1000);
      throw new Error('client went away');
    }
    await expect(putStream(ref, 'o', new ByteChunker(failing()), 1e9, false)).rejects.toThrow('went away');
    expect(memory.budget.inUse).toBe(0);
    expect(bucket.aborted).toBe(1);
  });

  it('ends an object at the most parts a multipart upload may have, leaving the rest for the next', async () => {
    const { bucket, ref } = setup(8 * PART);
    const cap = S3_LIMITS.maxParts * PART;
    const data = randomBytes(cap + 3 * PART + 7);
    const chunks = new ByteChunker(arriving(data, 8192));
    expect(await putStream(ref, 'a', chunks, 1e12, false)).toBe(cap);
    expect(chunks.done).toBe(false);
    expect(await putStream(ref, 'b', chunks, 1e12, false)).toBe(3 * PART + 7);
    expect(chunks.done).toBe(true);
    expect(
      Buffer.concat([bucket.objects.get('a') as Buffer, bucket.objects.get('b') as Buffer]).equals(data),
    ).toBe(true);
  });

  it.each([0, -5, 2.5])('refuses a store with partMemoryBytes %s, naming the option', (partMemoryBytes) => {
    expect(() => new S3BlobStore({ region: 'us-east-1', bucket: 'b', partMemoryBytes })).toThrow(
      /partMemoryBytes/,
    );
  });

  it('writes a source of exactly one part as one object, reading only a chunk past it', async () => {
    const { bucket, ref } = setup(8 * PART);
    const data = randomBytes(PART);
    expect(await putStream(ref, 'o', new ByteChunker(arriving(data, 1024)), 1e9, false)).toBe(PART);
    expect(bucket.objects.get('o')?.equals(data)).toBe(true);
    expect(bucket.created).toBe(0);
  });
});
