// Streaming writes and server-side concatenation on S3, with bounded memory and nothing half-visible:
// a multipart upload that fails is aborted, so its object never appears.
import { Buffer } from 'node:buffer';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { type BudgetHolder, ByteBudget } from './byte-budget.js';
import { MiB, type Piece, planParts, S3_LIMITS } from './s3-segments.js';

/**
 * Parts of a streamed write: the smallest S3 allows, as memory is what many concurrent writes run out of.
 * On Swift a lone 256 MiB write is as fast as with 8 MiB parts (given PARALLEL 4), writes of 16 MiB some 15%
 * slower. With Swift's limit of 1,000 parts, a streamed object holds at most 5,000 MiB (see putStream).
 */
export const PART_SIZE = S3_LIMITS.minPart;
/**
 * Parts in flight per write or copy, budget permitting: a write holds at most PARALLEL + 1 part buffers. Fewer
 * cost a lone 256 MiB write on Swift 10-15% of its speed; the budget bounds what many writes hold together.
 */
export const PARALLEL = 4;
/** What the part buffers of all of a store's streamed writes may hold together, unless configured. */
export const DEFAULT_PART_MEMORY = 64 * MiB;
const CONTENT_TYPE = 'application/octet-stream';
const EMPTY = Buffer.alloc(0);

export interface BucketRef {
  client: S3Client;
  bucket: string;
  /** The part buffers of all the store's streamed writes. */
  partMemory: PartMemory;
}

/**
 * Writes or last parts of at most this much (a twentieth of a part: 256 KiB) that have arrived whole bypass
 * the budget: they are in memory by then, and small blobs should not queue behind big ones.
 */
const SMALL_FRACTION = 20;

/** A buffer holding one part of a streamed write. */
export interface Part {
  body: Buffer;
  /** Gives the part's memory back once its upload has ended; `sent` says whether it succeeded. */
  done(sent: boolean): void;
}

/** The part buffers of one streamed write. */
export interface PartWriter {
  /**
   * The write's next part: at most `size` bytes from its source, fewer only at the end. Resolves once the
   * budget grants the memory, which is asked for before the part is read (but for the small read ahead).
   */
  next(size: number): Promise<Part>;
  /** Gives back whatever the write still holds, whatever became of its parts. */
  end(): void;
}

/**
 * The part buffers of all of a store's streamed writes: granted by one budget (see byte-budget.ts), so
 * memory stays flat however many uploads run, and reused rather than dropped, as the garbage collector frees
 * big buffers late (measured with fresh buffers: a peak of twice the live ones under 32 concurrent uploads).
 * Outside the budget, each write reads ahead at most a twentieth of a part (and one chunk) from its source.
 */
export class PartMemory {
  readonly budget: ByteBudget;
  /** Full-size buffers to reuse, up to the budget's worth; dropped when no write is running. */
  private readonly spares: Buffer[] = [];
  private readonly maxSpares: number;
  private writers = 0;

  constructor(
    limit: number,
    readonly partSize = PART_SIZE,
    stallMs?: number,
  ) {
    this.budget = new ByteBudget(limit, stallMs);
    this.maxSpares = Math.max(1, Math.floor(limit / partSize));
  }

  /** Part buffers for a write from `chunks`. */
  writer(chunks: ByteChunker): PartWriter {
    const holder = this.budget.holder();
    let ended = false;
    this.writers++;
    return {
      next: (size) => this.next(holder, chunks, size),
      end: () => {
        if (ended) return;
        ended = true;
        holder.end();
        if (--this.writers === 0) this.spares.length = 0;
      },
    };
  }

  /** Spare buffers kept for reuse. */
  get spareCount(): number {
    return this.spares.length;
  }

  private async next(holder: BudgetHolder, chunks: ByteChunker, size: number): Promise<Part> {
    const small = Math.ceil(this.partSize / SMALL_FRACTION);
    if ((await chunks.readAhead(small)) < small) {
      // The rest of the source is here, and small.
      return { body: await chunks.take(size), done: () => undefined };
    }
    await holder.acquire(size);
    if (size !== this.partSize) {
      // A last part cut short by the object's size limit: a buffer of its own size.
      const body = await chunks.take(size);
      holder.release(size - body.length);
      return { body, done: () => holder.release(body.length) };
    }
    const buffer = this.spares.pop() ?? Buffer.allocUnsafeSlow(size);
    let filled: number;
    try {
      filled = await chunks.fill(buffer);
    } catch (error) {
      this.recycle(buffer);
      throw error;
    }
    return {
      body: buffer.subarray(0, filled),
      done: (sent) => {
        holder.release(size);
        // A failed request might still be writing from the buffer as its socket closes: let it go.
        if (sent) this.recycle(buffer);
      },
    };
  }

  private recycle(buffer: Buffer): void {
    if (this.writers > 0 && this.spares.length < this.maxSpares) this.spares.push(buffer);
  }
}

/** Cuts a stream of chunks of any size into buffers of a requested size. */
export class ByteChunker {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private buffered: Uint8Array[] = [];
  private bufferedBytes = 0;
  /** The source has ended (known only once a take() asked for more than was left, or hasMore() said no). */
  done = false;

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.iterator = (async function* () {
      yield* source;
    })();
  }

  /** The next `size` bytes, or fewer at the end of the source. */
  async take(size: number): Promise<Buffer> {
    await this.readAhead(size);
    const length = Math.min(size, this.bufferedBytes);
    const first = this.buffered[0];
    if (first?.byteLength === length) {
      // A chunk of exactly the size wanted goes out as it is, uncopied.
      this.buffered.shift();
      this.bufferedBytes -= length;
      return Buffer.from(first.buffer, first.byteOffset, first.byteLength);
    }
    const out = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const chunk = this.buffered[0] as Uint8Array;
      const wanted = length - filled;
      if (chunk.byteLength <= wanted) {
        out.set(chunk, filled);
        filled += chunk.byteLength;
        this.buffered.shift();
      } else {
        out.set(chunk.subarray(0, wanted), filled);
        filled += wanted;
        this.buffered[0] = chunk.subarray(wanted);
      }
    }
    this.bufferedBytes -= length;
    return out;
  }

  /**
   * Fills `target` with the next bytes, copying each chunk in as it arrives (so chunks die young); returns how
   * many, fewer than its length only at the end of the source.
   */
  async fill(target: Buffer): Promise<number> {
    let filled = 0;
    while (filled < target.length && (this.bufferedBytes > 0 || (await this.pull()))) {
      const chunk = this.buffered[0] as Uint8Array;
      const length = Math.min(chunk.byteLength, target.length - filled);
      target.set(length === chunk.byteLength ? chunk : chunk.subarray(0, length), filled);
      filled += length;
      this.bufferedBytes -= length;
      if (length === chunk.byteLength) this.buffered.shift();
      else this.buffered[0] = chunk.subarray(length);
    }
    return filled;
  }

  /** Whether the source has bytes left: reads at most one chunk ahead to find out. */
  async hasMore(): Promise<boolean> {
    return (await this.readAhead(1)) > 0;
  }

  /** Reads ahead until `bytes` are buffered or the source has ended; returns how many are buffered. */
  async readAhead(bytes: number): Promise<number> {
    while (this.bufferedBytes < bytes && (await this.pull())) {}
    return this.bufferedBytes;
  }

  /** Buffers the source's next chunk; false once it has ended. */
  private async pull(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.iterator.next();
    if (next.done) this.done = true;
    else if (next.value.byteLength > 0) {
      this.buffered.push(next.value);
      this.bufferedBytes += next.value.byteLength;
    }
    return !this.done;
  }

  /** Stops the source early (as pipeline would destroy it), so a request body is not left half-read. */
  async close(): Promise<void> {
    await this.iterator.return?.().catch(() => undefined);
  }
}

/**
 * Streams up to `maxBytes` from `chunks` into the object `name`: one PutObject when it fits in a part, else a
 * multipart upload. Writes nothing for an empty source unless `createEmpty`. Returns the bytes written: fewer
 * than `maxBytes` though the source has more only at S3_LIMITS.maxParts parts, where the caller goes on in
 * another object.
 *
 * Part buffers come out of the store's budget: each is granted before it is filled and given back once its
 * upload ends, so a write waiting for a grant holds only parts in flight (see byte-budget.ts). Whether more
 * follows a full part is found by peeking one source chunk, not by reading a part ahead.
 */
export async function putStream(
  ref: BucketRef,
  name: string,
  chunks: ByteChunker,
  maxBytes: number,
  createEmpty: boolean,
): Promise<number> {
  const { partSize } = ref.partMemory;
  const limit = Math.min(maxBytes, S3_LIMITS.maxPart, S3_LIMITS.maxParts * partSize);
  const parts = ref.partMemory.writer(chunks);
  try {
    const first = await parts.next(Math.min(partSize, limit));
    const { body } = first;
    if (body.length < partSize || body.length === limit || !(await chunks.hasMore())) {
      if (body.length > 0 || createEmpty) {
        await ref.client.send(
          new PutObjectCommand({ Bucket: ref.bucket, Key: name, Body: body, ContentType: CONTENT_TYPE }),
        );
      }
      return body.length;
    }
    return await multipart(ref, name, async (queue) => {
      let written = 0;
      for (let part = first; ; part = await parts.next(Math.min(partSize, limit - written))) {
        const { body, done } = part;
        await queue.upload(body.length, () => body, done);
        written += body.length;
        if (written === limit || !(await chunks.hasMore())) return written;
      }
    });
  } finally {
    parts.end();
  }
}

/**
 * Writes the concatenation of `pieces` (ranges of existing objects) to `target`: CopyObject when it is one
 * `wholeObject`, else a multipart upload whose parts are server-side range copies where possible.
 */
export async function compose(
  ref: BucketRef,
  target: string,
  pieces: readonly Piece[],
  wholeObject: boolean,
): Promise<void> {
  const { client, bucket } = ref;
  const total = pieces.reduce((sum, piece) => sum + piece.size, 0);
  const [only] = pieces;
  if (total === 0) {
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: target, Body: EMPTY, ContentType: CONTENT_TYPE }),
    );
  } else if (only && pieces.length === 1 && wholeObject && only.size <= S3_LIMITS.maxPart) {
    await client.send(
      new CopyObjectCommand({ Bucket: bucket, Key: target, CopySource: copySource(ref, only) }),
    );
  } else {
    await multipart(ref, target, async (queue) => {
      for (const part of planParts(pieces)) {
        if ('copy' in part) await queue.copy(part.copy);
        else {
          const ranges = part.upload;
          await queue.upload(part.size, () => Readable.from(readPieces(ref, ranges), { objectMode: false }));
        }
      }
      return total;
    });
  }
}

interface PartQueue {
  /** Queues a part of `size` bytes; `body` is called when the part starts, `ended` when it has ended. */
  upload(size: number, body: () => Buffer | Readable, ended?: (sent: boolean) => void): Promise<void>;
  /** Queues a server-side copy of `piece` as a part. */
  copy(piece: Piece): Promise<void>;
}

/**
 * Runs one multipart upload: `produce` queues parts in order, at most PARALLEL in flight (queueing waits for
 * a free slot, which is what bounds memory). On any failure the upload is aborted and the error rethrown, so
 * the object is either complete or absent.
 */
async function multipart(
  ref: BucketRef,
  name: string,
  produce: (queue: PartQueue) => Promise<number>,
): Promise<number> {
  const { client, bucket } = ref;
  const { UploadId } = await client.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: name, ContentType: CONTENT_TYPE }),
  );
  const target = { Bucket: bucket, Key: name, UploadId };
  const parts: { PartNumber: number; ETag: string | undefined }[] = [];
  const pool = new TaskPool(PARALLEL);
  const queuePart = (send: (PartNumber: number) => Promise<string | undefined>) => {
    const part = { PartNumber: parts.length + 1, ETag: undefined as string | undefined };
    parts.push(part);
    return pool.run(async () => {
      part.ETag = await send(part.PartNumber);
    });
  };
  const queue: PartQueue = {
    upload: (size, body, ended) =>
      queuePart(async (PartNumber) => {
        let sent = false;
        try {
          const command = new UploadPartCommand({ ...target, PartNumber, Body: body(), ContentLength: size });
          const { ETag } = await client.send(command);
          sent = true;
          return ETag;
        } finally {
          ended?.(sent);
        }
      }),
    copy: (piece) =>
      queuePart(async (PartNumber) => {
        const command = new UploadPartCopyCommand({
          ...target,
          PartNumber,
          CopySource: copySource(ref, piece),
          CopySourceRange: `bytes=${piece.start}-${piece.start + piece.size - 1}`,
        });
        return (await client.send(command)).CopyPartResult?.ETag;
      }),
  };
  try {
    const written = await produce(queue);
    await pool.drain();
    await client.send(new CompleteMultipartUploadCommand({ ...target, MultipartUpload: { Parts: parts } }));
    return written;
  } catch (error) {
    await pool.settle();
    await client.send(new AbortMultipartUploadCommand(target)).catch(() => undefined);
    throw error;
  }
}

/** The bytes of `pieces` in order, by ranged GETs. */
export async function* readPieces(ref: BucketRef, pieces: readonly Piece[]): AsyncGenerator<Uint8Array> {
  for (const piece of pieces) {
    if (piece.size === 0) continue;
    const response = await ref.client.send(
      new GetObjectCommand({
        Bucket: ref.bucket,
        Key: piece.name,
        Range: `bytes=${piece.start}-${piece.start + piece.size - 1}`,
      }),
    );
    yield* response.Body as Readable;
  }
}

function copySource(ref: BucketRef, piece: Piece): string {
  return `${ref.bucket}/${piece.name.split('/').map(encodeURIComponent).join('/')}`;
}

/** Runs tasks at most `limit` at a time; the first failure stops further runs and is rethrown. */
export class TaskPool {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(private readonly limit: number) {}

  /** Starts `task` once a slot is free; rejects (without starting it) once an earlier task has failed. */
  async run(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    this.check();
    const running: Promise<void> = task()
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.running.delete(running));
    this.running.add(running);
  }

  /** Waits for every task; rejects with the first failure. */
  async drain(): Promise<void> {
    await this.settle();
    this.check();
  }

  /** Waits for every task, failed or not. */
  async settle(): Promise<void> {
    await Promise.all(this.running);
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }
}
