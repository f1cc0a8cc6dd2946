import { createHash, type Hash } from 'node:crypto';
import type { ChunkReader } from './chunk-reader.js';

/**
 * Where a resumed read of a blob starts: `offset`, and the hash state over the bytes before it when the reader
 * verifies the digest (it hashes on from a copy of `hash`, so the whole blob is still checked). A verifying
 * reader given no hash reads the blob whole and leaves the prefix out.
 */
export interface BlobPrefix {
  offset: number;
  hash?: Hash | undefined;
}

/**
 * Where one chunked upload stands as far as this side knows: what the registry acknowledged (its 202 to a
 * PATCH) and what was handed to request bodies since (the most it can hold). When the source is reopened with
 * the hash of the bytes before (a verifying source), the bytes sent are hashed here too, with the hash state
 * kept at the acknowledged offset and at the end of the last chunk handed over whole: the points a resumed
 * read can start from.
 */
export class UploadSession {
  /** Bytes the registry acknowledged. */
  acknowledged = 0;
  /** Bytes handed to request bodies: the registry cannot hold more. */
  sent = 0;
  /** All bytes were acknowledged and the closing PUT went out: a lost session may mean the blob landed. */
  closing = false;
  /** The hash of the bytes sent so far (set by resume, which every run of chunks starts with). */
  private hash: Hash | undefined;
  /** Hash states at the acknowledged offset and at the end of the last chunk handed over whole. */
  private marks: Required<BlobPrefix>[] = [];

  constructor(
    public location: URL,
    /** The PATCH size: the client's, or more when the registry asks for more (OCI-Chunk-Min-Length). */
    readonly chunkSize: number,
    /** The digest's algorithm when the bytes are to be hashed on this side; undefined: no hashing. */
    private readonly algorithm: string | undefined,
  ) {}

  /** Counts (and hashes) the bytes of one chunk as they go into its request body; marks its end once whole. */
  async *send(parts: AsyncIterable<Buffer>, length: number): AsyncGenerator<Buffer> {
    const end = this.sent + length;
    for await (const part of parts) {
      this.hash?.update(part);
      this.sent += part.length;
      yield part;
    }
    if (this.sent === end && this.hash) this.mark(end, this.hash.copy());
  }

  /** The registry acknowledged everything up to `offset` and said where to go on. */
  acknowledge(offset: number, location: URL): void {
    this.acknowledged = offset;
    this.location = location;
    this.marks = this.marks.filter((mark) => mark.offset >= offset);
  }

  /**
   * Where a registry's upload status (`Range: 0-<end>`) lets the upload go on, or undefined when it cannot be
   * trusted: before what it acknowledged (it lost bytes it took), beyond what it was sent (it claims bytes it
   * never got), or "0-0" (nothing or one byte: Distribution and Berth answer it for an empty session).
   */
  resumable(range: string | null): number | undefined {
    const matched = /^(?:bytes=)?0-(\d{1,15})$/.exec(range?.trim() ?? '');
    if (!matched) return undefined;
    const end = Number(matched[1]);
    if (end === 0) return undefined;
    const offset = end + 1;
    return offset >= this.acknowledged && offset <= this.sent ? offset : undefined;
  }

  /**
   * Where to reopen the source for a resume at `offset`: there, when not hashing; else the last hashed point
   * at or before it (the bytes in between are read and hashed again, not sent).
   */
  reopenAt(offset: number): BlobPrefix {
    if (!this.algorithm) return { offset };
    let best: Required<BlobPrefix> | undefined;
    for (const mark of this.marks) {
      if (mark.offset <= offset && (!best || mark.offset > best.offset)) best = mark;
    }
    return best ? { offset: best.offset, hash: best.hash.copy() } : { offset: 0 };
  }

  /**
   * Goes on at `offset` (the registry holds exactly that much) with a source positioned at `from` (from
   * reopenAt, or undefined for a source read again from the start): reads the bytes in between without
   * sending them, hashing them on from the hash state at `from`.
   */
  async resume(offset: number, from: BlobPrefix | undefined, reader: ChunkReader): Promise<void> {
    const start = from?.offset ?? 0;
    const hash =
      from?.hash?.copy() ?? (this.algorithm && start === 0 ? createHash(this.algorithm) : undefined);
    let skipped = 0;
    for await (const part of reader.take(offset - start)) {
      hash?.update(part);
      skipped += part.length;
    }
    if (skipped !== offset - start) {
      throw new Error(`the source ended after ${start + skipped} bytes, before ${offset}`);
    }
    this.hash = hash;
    this.sent = offset;
    this.acknowledged = offset;
    this.closing = false;
    this.marks = hash ? [{ offset, hash: hash.copy() }] : [];
  }

  private mark(offset: number, hash: Hash): void {
    this.marks = [...this.marks.filter((mark) => mark.offset !== offset), { offset, hash }];
  }
}
