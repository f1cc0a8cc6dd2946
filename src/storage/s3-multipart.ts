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
import { MiB, type Piece, planParts, S3_LIMITS } from './s3-segments.js';

/** Parts of a streamed write: big enough to keep request overhead small, small enough to hold a few. */
const PART_SIZE = 8 * MiB;
/** Parts in flight per write or copy: a write holds at most (PARALLEL + 1) × PART_SIZE in memory. */
const PARALLEL = 4;
const CONTENT_TYPE = 'application/octet-stream';
const EMPTY = Buffer.alloc(0);

export interface BucketRef {
  client: S3Client;
  bucket: string;
}

/** Cuts a stream of chunks of any size into buffers of a requested size. */
export class ByteChunker {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private buffered: Uint8Array[] = [];
  private bufferedBytes = 0;
  /** The source has ended (known only once a take() asked for more than was left). */
  done = false;

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.iterator = (async function* () {
      yield* source;
    })();
  }

  /** The next `size` bytes, or fewer at the end of the source. */
  async take(size: number): Promise<Buffer> {
    while (this.bufferedBytes < size && !this.done) {
      const next = await this.iterator.next();
      if (next.done) this.done = true;
      else if (next.value.byteLength > 0) {
        this.buffered.push(next.value);
        this.bufferedBytes += next.value.byteLength;
      }
    }
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

  /** Stops the source early (as pipeline would destroy it), so a request body is not left half-read. */
  async close(): Promise<void> {
    await this.iterator.return?.().catch(() => undefined);
  }
}

/**
 * Streams up to `maxBytes` from `chunks` into the object `name`: one PutObject when it fits in a part, else a
 * multipart upload. Writes nothing for an empty source unless `createEmpty`. Returns the bytes written.
 */
export async function putStream(
  ref: BucketRef,
  name: string,
  chunks: ByteChunker,
  maxBytes: number,
  createEmpty: boolean,
): Promise<number> {
  const nextPart = (written: number) =>
    written < maxBytes ? chunks.take(Math.min(PART_SIZE, maxBytes - written)) : Promise.resolve(EMPTY);
  const first = await nextPart(0);
  // One part more is read ahead to tell "exactly one part" from "more to come".
  let next = first.length === PART_SIZE ? await nextPart(first.length) : EMPTY;
  if (next.length === 0) {
    if (first.length > 0 || createEmpty) {
      await ref.client.send(
        new PutObjectCommand({ Bucket: ref.bucket, Key: name, Body: first, ContentType: CONTENT_TYPE }),
      );
    }
    return first.length;
  }
  return multipart(ref, name, async (queue) => {
    let written = 0;
    let data = first;
    while (data.length > 0) {
      const body = data;
      await queue.upload(body.length, () => body);
      written += body.length;
      data = next.length > 0 ? next : await nextPart(written);
      next = EMPTY;
    }
    return written;
  });
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
  /** Queues a part of `size` bytes; `body` is called when the part starts. */
  upload(size: number, body: () => Buffer | Readable): Promise<void>;
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
    upload: (size, body) =>
      queuePart(async (PartNumber) => {
        const command = new UploadPartCommand({ ...target, PartNumber, Body: body(), ContentLength: size });
        return (await client.send(command)).ETag;
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
