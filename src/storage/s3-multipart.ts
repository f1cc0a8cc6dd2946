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
import type { ByteChunker } from './byte-chunker.js';
import type { PartMemory } from './s3-part-memory.js';
import { type Piece, planParts, S3_LIMITS } from './s3-segments.js';
import { TaskPool } from './task-pool.js';

/**
 * Parts in flight per write or copy, budget permitting: a write holds at most PARALLEL + 1 part buffers. Fewer
 * cost a lone 256 MiB write on Swift 10-15% of its speed; the budget bounds what many writes hold together.
 */
export const PARALLEL = 4;
const CONTENT_TYPE = 'application/octet-stream';
const EMPTY = Buffer.alloc(0);

export interface BucketRef {
  client: S3Client;
  bucket: string;
  /** The part buffers of all the store's streamed writes. */
  partMemory: PartMemory;
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
 *
 * With `seal`, the object appears only if `seal(size)`, called once the source has ended and every part is
 * stored, resolves true: before the PutObject of a one-part object, or the CompleteMultipartUpload of a larger
 * one (whose parts nobody sees until then). False, or a throw, leaves nothing; so does a source longer than
 * `maxBytes`, which is then an error rather than a short object.
 */
export async function putStream(
  ref: BucketRef,
  name: string,
  chunks: ByteChunker,
  maxBytes: number,
  createEmpty: boolean,
  seal?: (size: number) => Promise<boolean>,
): Promise<number> {
  const { partSize } = ref.partMemory;
  const limit = Math.min(maxBytes, S3_LIMITS.maxPart, S3_LIMITS.maxParts * partSize);
  const parts = ref.partMemory.writer(chunks);
  /** Whether the object may appear now that all `size` bytes are in; the whole source must be. */
  const sealed = async (size: number) => {
    if (!seal) return true;
    if (size === limit && (await chunks.hasMore()))
      throw new RangeError(`the source is longer than one object may be here (${limit} bytes)`);
    return seal(size);
  };
  try {
    const first = await parts.next(Math.min(partSize, limit));
    const { body } = first;
    if (body.length < partSize || body.length === limit || !(await chunks.hasMore())) {
      if ((body.length > 0 || createEmpty) && (await sealed(body.length))) {
        await ref.client.send(
          new PutObjectCommand({ Bucket: ref.bucket, Key: name, Body: body, ContentType: CONTENT_TYPE }),
        );
      }
      return body.length;
    }
    return await multipart(
      ref,
      name,
      async (queue) => {
        let written = 0;
        for (let part = first; ; part = await parts.next(Math.min(partSize, limit - written))) {
          const { body, done } = part;
          await queue.upload(body.length, () => body, done);
          written += body.length;
          if (written === limit || !(await chunks.hasMore())) return written;
        }
      },
      seal && sealed,
    );
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
    const parts = planParts(pieces);
    const [part] = parts;
    if (part && parts.length === 1 && 'upload' in part) {
      // Small pieces only (the segments of a few small PATCHes): their bytes go through us in any case, so one
      // PutObject of them all, rather than a multipart upload of one part (two requests more, and on Swift a
      // manifest object to read through).
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: target,
          Body: Readable.from(readPieces(ref, part.upload), { objectMode: false }),
          ContentLength: part.size,
          ContentType: CONTENT_TYPE,
        }),
      );
      return;
    }
    await multipart(ref, target, async (queue) => {
      for (const part of parts) {
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
 * the object is either complete or absent. With `seal`, it is completed only if `seal` resolves true once
 * every part is stored, else aborted.
 */
async function multipart(
  ref: BucketRef,
  name: string,
  produce: (queue: PartQueue) => Promise<number>,
  seal?: (size: number) => Promise<boolean>,
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
    if (seal && !(await seal(written))) {
      // Not wanted after all: its parts go (or, should that fail, wait for purgeAbandoned).
      await client.send(new AbortMultipartUploadCommand(target)).catch(() => undefined);
      return written;
    }
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
