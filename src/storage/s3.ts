import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { BlobStore, PutOptions } from './blob-store.js';
import { ByteChunker } from './byte-chunker.js';
import { DEFAULT_READ_BUFFER_BYTES, ReadBufferPool } from './read-buffer-pool.js';
import { type BucketRef, compose, putStream, readPieces } from './s3-multipart.js';
import { S3ObjectReader } from './s3-object-reader.js';
import { DEFAULT_PART_MEMORY, PartMemory } from './s3-part-memory.js';
import {
  type Chain,
  type Piece,
  parseSegmentName,
  resolveChain,
  S3_LIMITS,
  type Segment,
  type StoredObject,
  segmentName,
} from './s3-segments.js';
import { StorageUnavailableError } from './storage-errors.js';
import { TaskPool } from './task-pool.js';

export interface S3StoreOptions {
  /** For S3-compatible servers (MinIO, Ceph, Swift s3api); AWS when absent. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Prepended to every key, so several stores can share a bucket. */
  prefix?: string;
  /** Path-style URLs (http://host/bucket/key), which most S3-compatible servers need. */
  forcePathStyle?: boolean;
  /** Without these the SDK's standard chain applies (environment, profile, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /**
   * Bytes that the part buffers of all the store's concurrent writes may hold together (64 MiB by default).
   * Beyond it writes wait, which slows their clients; only while it is stuck (held by clients that stopped
   * sending) may a write that holds nothing take one part beyond it.
   */
  partMemoryBytes?: number;
  /**
   * Bytes that the read buffers of all the store's concurrent streamed reads may hold together (64 MiB by
   * default; see read-buffer-pool.ts). Beyond it reads wait, which pauses their store connections.
   */
  readBufferBytes?: number;
  /** A pool shared with other stores of the process instead (readBufferBytes is then ignored). */
  readBuffers?: ReadBufferPool;
  /** How long connecting to the store may take (5 s by default). */
  connectTimeoutMs?: number;
  /**
   * How long a request may wait for the response to begin, and a response body may stall (120 s by default:
   * a server-side copy of a large object answers late). The SDK tries three times before giving up.
   */
  requestTimeoutMs?: number;
}

const KEY_PATTERN = /^[a-zA-Z0-9._-]+(?:\/[a-zA-Z0-9._-]+)*\/?$/;
const MAX_SOCKETS = 256;
/** A streamed read's presigned URL need only last until its request begins. */
const PRESIGNED_READ_SECONDS = 300;
/** Deletes in flight at once when removing a key's segments. */
const PARALLEL_DELETES = 8;

/**
 * A BlobStore on an S3 bucket. All state lives in the bucket, so any number of processes with the same
 * options share it: one may continue an upload that another started. Written objects are chains of
 * segments that commit stitches into plain objects; see s3-segments.ts.
 *
 * Consistency: written objects are found by listing their segments (a write or commit lists a key's plain
 * object with them, one request for both), so this relies on read-after-write listings (AWS S3, MinIO, Ceph;
 * on Swift, as long as container updates are not deferred). Committed objects are read with plain HEAD and
 * GET. A blob pushed whole (put) skips all of that: one PutObject or multipart upload straight to its key.
 */
export class S3BlobStore implements BlobStore {
  readonly bucket: string;
  readonly prefix: string;
  /** Which object store: the endpoint URL, or AWS and its region. */
  readonly endpointId: string;
  private readonly client: S3Client;
  private readonly ref: BucketRef;
  private readonly region: string;
  /** Streamed reads from a plain-HTTP store (s3-object-reader.ts); the SDK's GetObject otherwise. */
  private readonly reader: S3ObjectReader | undefined;
  readonly readBuffers: ReadBufferPool;

  constructor(options: S3StoreOptions) {
    const {
      accessKeyId,
      secretAccessKey,
      partMemoryBytes = DEFAULT_PART_MEMORY,
      connectTimeoutMs = 5_000,
      requestTimeoutMs = 120_000,
      readBufferBytes = DEFAULT_READ_BUFFER_BYTES,
    } = options;
    if (!Number.isSafeInteger(partMemoryBytes) || partMemoryBytes <= 0) {
      throw new RangeError(
        `partMemoryBytes must be a positive whole number of bytes, not ${partMemoryBytes}`,
      );
    }
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
      // The SDK's default CRC32 on every request and response costs CPU (it is computed in JavaScript) and
      // S3-compatible servers handle it unevenly; send checksums only where the API requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // A streamed read holds its connection until the client has it all; the SDK's default of 50 per
      // client would queue the 51st concurrent pull behind the others.
      requestHandler: {
        httpAgent: { keepAlive: true, maxSockets: MAX_SOCKETS },
        httpsAgent: { keepAlive: true, maxSockets: MAX_SOCKETS },
        // Without these a store that accepts connections but never answers holds every request forever.
        connectionTimeout: connectTimeoutMs,
        requestTimeout: requestTimeoutMs,
        throwOnRequestTimeout: true,
        socketTimeout: requestTimeoutMs,
      },
    });
    // Whatever the call, a store that is down or failing surfaces as one error type (after the SDK's retries).
    this.client.middlewareStack.add(
      (next) => async (args) => {
        try {
          return await next(args);
        } catch (error) {
          throw unavailable(error) ?? error;
        }
      },
      { step: 'initialize', name: 'berthStoreUnavailable' },
    );
    this.bucket = options.bucket;
    this.region = options.region;
    this.endpointId = options.endpoint ? options.endpoint.replace(/\/+$/, '') : `aws:${options.region}`;
    const prefix = (options.prefix ?? '').replace(/^\/+/, '');
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.readBuffers = options.readBuffers ?? new ReadBufferPool(readBufferBytes);
    if (options.endpoint?.startsWith('http://')) {
      this.reader = new S3ObjectReader({ pool: this.readBuffers, connectTimeoutMs, requestTimeoutMs });
    }
    this.ref = {
      client: this.client,
      bucket: this.bucket,
      partMemory: new PartMemory(partMemoryBytes),
    };
  }

  /** A store whose bucket exists (created when missing). */
  static async create(options: S3StoreOptions): Promise<S3BlobStore> {
    const store = new S3BlobStore(options);
    await store.ensureBucket();
    return store;
  }

  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (error) {
      if (status(error) !== 404) throw error;
    }
    try {
      await this.client.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          // AWS wants the region spelled out everywhere but its default one.
          CreateBucketConfiguration:
            this.region === 'us-east-1' ? undefined : { LocationConstraint: this.region as never },
        }),
      );
    } catch (error) {
      // Another process created it first.
      if ((error as Error).name !== 'BucketAlreadyOwnedByYou') throw error;
    }
  }

  async stat(key: string): Promise<{ size: number; modified: Date } | null> {
    const name = this.objectName(key);
    const plain = await this.head(name);
    if (plain) return { size: plain.size, modified: plain.modified };
    const chain = resolveChain(await this.segments(name));
    return chain ? { size: chain.size, modified: chain.modified } : null;
  }

  async read(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const name = this.objectName(key);
    try {
      if (this.reader) {
        // A body the store cuts short resumes with a ranged GET (blobs never change), maybe after the first
        // URL expired: each request gets a fresh one.
        const presign = async () => {
          const command = new GetObjectCommand({ Bucket: this.bucket, Key: name });
          return new URL(await getSignedUrl(this.client, command, { expiresIn: PRESIGNED_READ_SECONDS }));
        };
        return await this.reader.open(await presign(), range, presign);
      }
      const response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: name,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      return response.Body as Readable;
    } catch (error) {
      if (!isNotFound(error)) throw unavailable(error) ?? error;
    }
    const chain = resolveChain(await this.segments(name));
    if (!chain) throw notFound(key);
    const start = range?.start ?? 0;
    const end = Math.min(range?.end ?? chain.size - 1, chain.size - 1);
    return Readable.from(readPieces(this.ref, piecesOf(chain, start, end)), { objectMode: false });
  }

  async write(
    key: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    offset: number,
  ): Promise<number> {
    const name = this.objectName(key);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`invalid offset ${offset}`);
    await this.cutAt(key, name, offset);
    const chunks = new ByteChunker(source);
    const written: string[] = [];
    let at = offset;
    try {
      // One segment per write, unless a write outgrows what a commit can copy as one part.
      do {
        const segment = segmentName(name, at);
        const bytes = await putStream(this.ref, segment, chunks, S3_LIMITS.maxPart, at === 0);
        if (bytes > 0 || at === 0) written.push(segment);
        at += bytes;
      } while (!chunks.done);
    } catch (error) {
      // Leave the object as it was before the write began: at `offset`, nothing of this write visible.
      await chunks.close();
      await this.remove(written).catch(() => undefined);
      throw error;
    }
    return at - offset;
  }

  /**
   * Makes the stored object end at `offset`, ready for a write there: later segments are deleted and one
   * that spans the offset is replaced by a trimmed copy (server-side; rare, as only an interrupted write
   * leaves bytes past the offset). A committed (plain) object becomes a segment again.
   */
  private async cutAt(key: string, name: string, offset: number): Promise<void> {
    const { plain, segments } = await this.objects(name);
    const chain: Chain | undefined = plain
      ? { segments: [{ ...plain, offset: 0 }], size: plain.size, modified: plain.modified }
      : resolveChain(segments);
    const size = chain?.size ?? 0;
    // A filesystem would leave a hole of zeros; an upload never writes past its end, so refuse.
    if (offset > size) throw new RangeError(`write at ${offset} past the end (${size}) of ${key}`);
    const keep = new Set<string>();
    for (const segment of chain?.segments ?? []) {
      const end = segment.offset + segment.size;
      // At offset 0 nothing is kept, so the new segment's name is always free (no overwrites, see segmentName).
      if (end <= offset && offset > 0 && !plain) keep.add(segment.name);
      else if (segment.offset < offset) {
        const length = offset - segment.offset;
        const trimmed = plain ? segmentName(name, 0) : segmentName(name, segment.offset, length);
        await compose(this.ref, trimmed, [{ name: segment.name, start: 0, size: length }], end <= offset);
        keep.add(trimmed);
      }
    }
    const stale = [...(plain ? [plain] : []), ...segments].map((object) => object.name);
    await this.remove(stale.filter((object) => !keep.has(object)));
  }

  /**
   * Segments a write left under the target are not looked for: the plain object hides them from stat, read and
   * list, and the target's next write or delete removes them (commit targets are never written in Berth).
   */
  async commit(from: string, to: string, size?: number): Promise<void> {
    const source = this.objectName(from);
    const target = this.objectName(to);
    const { plain, segments } = await this.objects(source);
    const chain: Chain | undefined = plain
      ? { segments: [{ ...plain, offset: 0 }], size: plain.size, modified: plain.modified }
      : resolveChain(segments);
    if (!chain) throw notFound(from);
    const end = size ?? chain.size;
    if (!Number.isSafeInteger(end) || end < 0 || end > chain.size)
      throw new RangeError(`cannot commit ${end} bytes of ${from}: it holds ${chain.size}`);
    // CopyObject, PutObject or CompleteMultipartUpload replace the target in one step: readers see old or new,
    // whole.
    await compose(this.ref, target, end > 0 ? piecesOf(chain, 0, end - 1) : [], end === chain.size);
    const leftovers = [...(plain ? [plain] : []), ...segments];
    await this.remove(leftovers.map((object) => object.name));
  }

  /**
   * Straight to `key` when the size is known and one object can hold it: in memory and one PutObject when it
   * fits in a part, else a multipart upload completed only once `seal` agrees; the store shows nothing of it
   * before, and a crash leaves an unfinished multipart upload (purgeAbandoned). Otherwise written under `temp`
   * and committed.
   */
  async put(
    key: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: PutOptions,
  ): Promise<number> {
    const name = this.objectName(key);
    const { size, seal } = options;
    const limit = Math.min(S3_LIMITS.maxPart, S3_LIMITS.maxParts * this.ref.partMemory.partSize);
    if (size === undefined || size > limit) return this.putVia(key, source, options);
    const chunks = new ByteChunker(source);
    try {
      return await putStream(this.ref, name, chunks, limit, true, seal);
    } catch (error) {
      await chunks.close();
      throw error;
    }
  }

  /** put by way of a written object under `temp`, for a source of unknown or great length. */
  private async putVia(
    key: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    { temp, seal }: PutOptions,
  ): Promise<number> {
    const written = await this.write(temp, source, 0);
    try {
      if (await seal(written)) await this.commit(temp, key);
      else await this.delete(temp);
    } catch (error) {
      await this.delete(temp).catch(() => undefined);
      throw error;
    }
    return written;
  }

  /**
   * Copies an object of this store's bucket named in full (outside the store's prefix too: another program's
   * objects, such as a Distribution tree) to `key`, server-side: CopyObject, or UploadPartCopy parts when it is
   * larger than one copy may be. Replaces `key` in one step.
   */
  async copyFromBucket(name: string, size: number, key: string): Promise<void> {
    await compose(this.ref, this.objectName(key), [{ name, start: 0, size }], true);
  }

  async delete(key: string): Promise<void> {
    const name = this.objectName(key);
    const segments = await this.segments(name);
    await this.remove([name, ...segments.map((segment) => segment.name)]);
  }

  async *list(prefix: string): AsyncIterable<{ key: string; modified: Date }> {
    const dir = this.objectName(prefix.endsWith('/') ? prefix : `${prefix}/`);
    // A key's plain object and segments are adjacent in the listing (see s3-segments.ts): gather each run.
    let base: string | undefined;
    let plain: StoredObject | undefined;
    let segments: Segment[] = [];
    const finish = () => {
      const modified = plain?.modified ?? resolveChain(segments)?.modified;
      return base !== undefined && modified ? { key: base.slice(this.prefix.length), modified } : undefined;
    };
    for await (const object of this.listObjects(dir, '/')) {
      const segment = parseSegmentName(object.name);
      const objectBase = segment?.base ?? object.name;
      if (objectBase !== base) {
        const entry = finish();
        if (entry) yield entry;
        base = objectBase;
        plain = undefined;
        segments = [];
      }
      if (segment) segments.push({ ...object, offset: segment.offset });
      else plain = object;
    }
    const entry = finish();
    if (entry) yield entry;
  }

  async *walk(prefix: string): AsyncIterable<{ key: string; modified?: Date }> {
    for await (const object of this.listObjects(this.objectName(prefix))) {
      // Committed objects only: the segments of a write in progress are not objects of their own.
      if (parseSegmentName(object.name)) continue;
      yield { key: object.name.slice(this.prefix.length), modified: object.modified };
    }
  }

  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  /** A URL that fetches a committed object without credentials until it expires (for 307 redirects). */
  async presignGet(key: string, expiresInSeconds: number): Promise<string> {
    const command = new GetObjectCommand({ Bucket: this.bucket, Key: this.objectName(key) });
    return getSignedUrl(this.client, command, { expiresIn: expiresInSeconds });
  }

  /**
   * Aborts multipart uploads under the store's prefix begun before `cutoff`: those of writes whose process
   * died mid-way. Their parts are invisible but take space until aborted (AWS can do this with a lifecycle
   * rule; Swift's s3api has none). Returns how many were aborted.
   */
  async abortStaleMultipartUploads(cutoff: Date): Promise<number> {
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.bucket,
          Prefix: this.prefix,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      );
      for (const { Key, UploadId, Initiated } of page.Uploads ?? []) {
        if (!Key || !UploadId || !Initiated || Initiated >= cutoff) continue;
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId }));
        aborted++;
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.NextUploadIdMarker;
    } while (keyMarker);
    return aborted;
  }

  purgeAbandoned(cutoff: Date): Promise<number> {
    return this.abortStaleMultipartUploads(cutoff);
  }

  /** Closes the client's connections. */
  destroy(): void {
    this.reader?.close();
    this.client.destroy();
  }

  async close(): Promise<void> {
    this.destroy();
  }

  private objectName(key: string): string {
    if (!KEY_PATTERN.test(key) || key.split('/').some((part) => part === '.' || part === '..')) {
      throw new Error(`invalid storage key: ${JSON.stringify(key)}`);
    }
    return this.prefix + key;
  }

  private async head(name: string): Promise<StoredObject | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: name }));
      return { name, size: head.ContentLength ?? 0, modified: head.LastModified ?? new Date(0) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * The plain object and the segments of `name`, from one listing (they come first and together under the
   * prefix `name`, see s3-segments.ts): where a HEAD and a listing of segments would be two requests.
   */
  private async objects(name: string): Promise<{ plain: StoredObject | undefined; segments: Segment[] }> {
    let plain: StoredObject | undefined;
    const segments: Segment[] = [];
    for await (const object of this.listObjects(name)) {
      const segment = parseSegmentName(object.name);
      if (segment?.base === name) segments.push({ ...object, offset: segment.offset });
      else if (object.name === name) plain = object;
      // Past the run: other keys that merely start with `name` ("name-2", "name/child").
      else break;
    }
    return { plain, segments };
  }

  /** Every segment object of `name`, in offset order. */
  private async segments(name: string): Promise<Segment[]> {
    const segments: Segment[] = [];
    for await (const object of this.listObjects(`${name}!`)) {
      const segment = parseSegmentName(object.name);
      if (segment?.base === name) segments.push({ ...object, offset: segment.offset });
    }
    return segments;
  }

  private async *listObjects(prefix: string, delimiter?: string): AsyncIterable<StoredObject> {
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          Delimiter: delimiter,
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield { name: object.Key, size: object.Size ?? 0, modified: object.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  private async remove(names: readonly string[]): Promise<void> {
    // One DeleteObject each: Swift's multi-object delete insists on Content-MD5, which the SDK no longer sends.
    const pool = new TaskPool(PARALLEL_DELETES);
    for (const name of names) {
      await pool.run(async () => {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: name }));
      });
    }
    await pool.drain();
  }
}

/** The ranges of the chain's segments that hold bytes start..end (inclusive). */
function piecesOf(chain: Chain, start: number, end: number): Piece[] {
  const pieces: Piece[] = [];
  for (const segment of chain.segments) {
    const from = Math.max(start, segment.offset);
    const to = Math.min(end, segment.offset + segment.size - 1);
    if (from <= to) pieces.push({ name: segment.name, start: from - segment.offset, size: to - from + 1 });
  }
  return pieces;
}

function status(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** Network failures of a request (as opposed to a refusal by the store, or our own abort). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** A StorageUnavailableError when `error` says the store is unreachable, timed out or failing (5xx). */
function unavailable(error: unknown): StorageUnavailableError | undefined {
  if (!(error instanceof Error) || error.name === 'AbortError') return undefined;
  const code = (error as NodeJS.ErrnoException).code;
  const httpStatus = status(error);
  const failing =
    (httpStatus !== undefined && httpStatus >= 500) ||
    (httpStatus === undefined &&
      (error.name === 'TimeoutError' || (code !== undefined && NETWORK_CODES.has(code))));
  if (!failing) return undefined;
  return new StorageUnavailableError(`object store unavailable: ${error.message || error.name}`, {
    cause: error,
  });
}

function isNotFound(error: unknown): boolean {
  const name = (error as Error).name;
  return name === 'NoSuchKey' || (status(error) === 404 && name !== 'NoSuchBucket');
}

/** The registry checks `code === 'ENOENT'`, as for the filesystem driver. */
function notFound(key: string): Error {
  return Object.assign(new Error(`no such object: ${key}`), { code: 'ENOENT' });
}
