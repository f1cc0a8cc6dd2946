import type { Hash } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MetadataStore, UploadRow } from '../metadata/index.js';
import type { BlobStore } from '../storage/index.js';
import type { BlobService } from './blob-service.js';
import { createDigester, type Digest } from './digest.js';
import { RegistryError } from './errors.js';
import type { RegistryPolicy } from './policy.js';
import type { ByteRange } from './range.js';
import { UPLOADS_PREFIX, uploadKey } from './storage-keys.js';

const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A chunk of an upload: the request body, with what the client claimed about it. */
export interface Chunk {
  body: AsyncIterable<Uint8Array>;
  /** Content-Range of a chunked PATCH, when sent. */
  range?: ByteRange | undefined;
  /** Content-Length, when sent. */
  length?: number | undefined;
}

export interface UploadServiceOptions {
  /** Sessions untouched for this long are removed. */
  ttlMs: number;
  /**
   * How long a writer's claim on a session lasts unless renewed (it is renewed every third of it). After
   * a crash, another process can take the session over this much later at most.
   */
  leaseMs?: number;
  /**
   * Whether other processes share the metadata database (PostgreSQL nodes, or --workers). Alone, the
   * in-process guard is enough and the lease's queries are skipped (they cost a small push ~10%).
   */
  shared?: boolean;
  /** Called with the number of bytes received, for metrics. */
  onBytes?: (bytes: number) => void;
  /** Its admitUpload refuses uploads a project's quota cannot take, before their bytes are written. */
  policy?: Pick<RegistryPolicy, 'admitUpload'>;
}

/** What a request holds while it writes to a session. */
interface Claim {
  /** Its lease on the row; null when the process is alone on the database and takes no lease. */
  writer: string | null;
  /** Set when the lease could not be renewed: stop writing at once. */
  lost: boolean;
}

/**
 * Upload sessions (distribution-spec "Pushing blobs"). A session is a metadata row plus a temporary object;
 * the row's offset is the truth, so a session survives a restart and can continue on another node.
 *
 * One request writes to a session at a time, across every process: it claims the row's write lease first
 * and writes only while it holds it, so a second, concurrent request (on any node) can never overwrite
 * bytes the first one wrote. The sha256 state of a session is kept in memory by the process that wrote its
 * last chunk and used only if no other process claimed the session since (the row's generation says);
 * otherwise the digest is computed by re-reading the stored bytes when the upload is closed.
 */
export class UploadService {
  private readonly hashes = new Map<string, { offset: number; hash: Hash; generation: number }>();
  private readonly busy = new Set<string>();
  private readonly leaseMs: number;

  constructor(
    private readonly store: BlobStore,
    private readonly meta: MetadataStore,
    private readonly blobs: BlobService,
    private readonly options: UploadServiceOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 10_000;
  }

  /** Sessions with a request writing to them right now (a gauge for metrics). */
  get inFlight(): number {
    return this.busy.size;
  }

  /** Opens a session; `digest` when the blob is known already (a monolithic upload). */
  async start(repository: string, digest?: string): Promise<UploadRow> {
    await this.options.policy?.admitUpload?.(repository, undefined, digest);
    const id = randomUUID();
    // The temporary object is created by the first write (or, for an empty blob, when the upload closes).
    await this.meta.uploads.create(id, repository);
    this.hashes.set(id, { offset: 0, hash: createDigester('sha256'), generation: 0 });
    const now = Date.now();
    return {
      id,
      repository,
      offset: 0,
      startedAt: now,
      updatedAt: now,
      writer: null,
      leaseUntil: null,
      generation: 0,
    };
  }

  /** The session, or BLOB_UPLOAD_UNKNOWN when the id is malformed, unknown or of another repository. */
  async get(repository: string, id: string): Promise<UploadRow> {
    const row = UPLOAD_ID.test(id) ? await this.meta.uploads.get(id) : undefined;
    if (!row || row.repository !== repository) {
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', { detail: { uuid: id } });
    }
    return row;
  }

  /** Appends a chunk (PATCH); returns the new offset. */
  async append(repository: string, id: string, chunk: Chunk): Promise<number> {
    const session = await this.get(repository, id);
    return this.exclusive(session, (claim) => this.write(session, chunk, claim));
  }

  /** Closes the session (PUT): appends the final chunk if any, verifies the digest, commits the blob. */
  async finish(repository: string, id: string, digest: Digest, chunk?: Chunk): Promise<number> {
    const session = await this.get(repository, id);
    return this.exclusive(session, async (claim) => {
      const size = chunk ? await this.write(session, chunk, claim, digest.value) : session.offset;
      const actual = await this.digestOf(session.id, size, digest);
      if (actual !== digest.hex) {
        await this.discard(session.id);
        throw new RegistryError('DIGEST_INVALID', {
          detail: { expected: digest.value, actual: `${digest.algorithm}:${actual}` },
        });
      }
      // A failed or cut-off chunk may have left bytes past the offset: the blob is exactly the first `size`,
      // which is what the commit takes. An empty blob sent without a chunk has no object yet.
      if (size === 0 && !chunk) await this.store.write(uploadKey(session.id), [], 0);
      try {
        // Checked before the bytes move, and again (authoritatively) when the blob is linked.
        await this.options.policy?.admitUpload?.(repository, size, digest.value);
        await this.blobs.commit(repository, uploadKey(session.id), digest, size, session.id);
      } catch (error) {
        // Refused for good: the session's data would only wait for the purge.
        if (error instanceof RegistryError && error.code === 'DENIED') await this.discard(session.id);
        throw error;
      }
      this.hashes.delete(session.id);
      return size;
    });
  }

  /**
   * A whole blob in one request (POST ?digest=), stored straight under its digest once verified (see
   * BlobService.put): no session, as no other request can see it. What the store stages it under (a temp file,
   * a temp object for a body of unknown length) is named like a session's, so purgeStale removes what a crash
   * leaves there.
   */
  async uploadWhole(repository: string, digest: Digest, chunk: Chunk): Promise<number> {
    const { length } = chunk;
    await this.options.policy?.admitUpload?.(repository, length, digest.value);
    const id = randomUUID();
    const hash = createDigester(digest.algorithm);
    const onBytes = this.options.onBytes;
    const tap = async function* (source: AsyncIterable<Uint8Array>) {
      let received = 0;
      for await (const piece of source) {
        received += piece.byteLength;
        if (length !== undefined && received > length) {
          throw new RegistryError('SIZE_INVALID', {
            message: 'body longer than declared',
            detail: { expected: length },
          });
        }
        hash.update(piece);
        onBytes?.(piece.byteLength);
        yield piece;
      }
    };
    this.busy.add(id);
    try {
      return await this.blobs.put(repository, digest, tap(chunk.body), {
        temp: uploadKey(id),
        size: length,
        verify: async (size) => {
          if (length !== undefined && size !== length) {
            throw new RegistryError('SIZE_INVALID', { detail: { expected: length, received: size } });
          }
          const actual = hash.digest('hex');
          if (actual !== digest.hex) {
            throw new RegistryError('DIGEST_INVALID', {
              detail: { expected: digest.value, actual: `${digest.algorithm}:${actual}` },
            });
          }
          await this.options.policy?.admitUpload?.(repository, size, digest.value);
        },
      });
    } finally {
      this.busy.delete(id);
    }
  }

  async cancel(repository: string, id: string): Promise<void> {
    const session = await this.get(repository, id);
    await this.discard(session.id);
  }

  /** Removes sessions idle for longer than the TTL, and temporary objects no session owns. */
  async purgeStale(now = Date.now(), limit = 100): Promise<number> {
    const cutoff = now - this.options.ttlMs;
    let removed = 0;
    for (const id of await this.meta.uploads.stale(cutoff, limit)) {
      if (this.busy.has(id)) continue;
      await this.discard(id);
      removed++;
    }
    for await (const { key, modified } of this.store.list(`${UPLOADS_PREFIX}/`)) {
      const id = key.slice(UPLOADS_PREFIX.length + 1);
      if (modified.getTime() >= cutoff || this.busy.has(id)) continue;
      if (!UPLOAD_ID.test(id) || !(await this.meta.uploads.get(id))) {
        await this.store.delete(key);
        removed++;
      }
    }
    removed += (await this.store.purgeAbandoned?.(new Date(cutoff))) ?? 0;
    return removed;
  }

  /** How many sessions purgeStale would remove (up to `limit`), for garbage collection's dry run. */
  async countStale(now = Date.now(), limit = 100_000): Promise<number> {
    return (await this.meta.uploads.stale(now - this.options.ttlMs, limit)).length;
  }

  private async discard(id: string): Promise<void> {
    this.hashes.delete(id);
    await this.meta.uploads.delete(id);
    await this.store.delete(uploadKey(id));
  }

  /**
   * Runs `work` holding the session's write lease. A second request on this process is turned away at once;
   * one on another process finds the lease taken and waits for it to be released or to lapse (its holder
   * died), then continues only if the offset it was told is still the session's.
   */
  private async exclusive<T>(session: UploadRow, work: (claim: Claim) => Promise<T>): Promise<T> {
    if (this.busy.has(session.id))
      throw this.outOfOrder(session, 'another request is writing to this upload');
    this.busy.add(session.id);
    if (this.options.shared === false) {
      try {
        return await work({ writer: null, lost: false });
      } finally {
        this.busy.delete(session.id);
      }
    }
    const writer = randomUUID();
    const claim: Claim = { writer, lost: false };
    let renewal: NodeJS.Timeout | undefined;
    try {
      const generation = await this.claim(session, writer);
      // The running hash is good only if this process wrote the session's last chunk under the previous claim.
      const state = this.hashes.get(session.id);
      if (state && state.generation === generation - 1) state.generation = generation;
      else this.hashes.delete(session.id);
      renewal = setInterval(() => {
        this.meta.uploads.renew(session.id, writer, this.leaseMs).then(
          (held) => {
            if (!held) claim.lost = true;
          },
          () => {},
        );
      }, this.leaseMs / 3);
      renewal.unref();
      return await work(claim);
    } finally {
      clearInterval(renewal);
      this.busy.delete(session.id);
      await this.meta.uploads.release(session.id, writer).catch(() => {});
    }
  }

  private async claim(session: UploadRow, writer: string): Promise<number> {
    const deadline = Date.now() + this.leaseMs + 1000;
    for (;;) {
      const generation = await this.meta.uploads.claim(session.id, session.offset, writer, this.leaseMs);
      if (generation !== undefined) return generation;
      const now = await this.meta.uploads.get(session.id);
      if (!now) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', { detail: { uuid: session.id } });
      if (now.offset !== session.offset) {
        throw this.outOfOrder(session, 'the upload moved on concurrently', now.offset);
      }
      if (Date.now() > deadline) throw this.outOfOrder(session, 'another request is writing to this upload');
      await sleep(100);
    }
  }

  private outOfOrder(session: UploadRow, message: string, offset = session.offset): RegistryError {
    return new RegistryError('BLOB_UPLOAD_INVALID', {
      status: 416,
      message,
      detail: { offset },
      headers: {
        location: `/v2/${session.repository}/blobs/uploads/${session.id}`,
        range: `0-${Math.max(offset - 1, 0)}`,
        'docker-upload-uuid': session.id,
      },
    });
  }

  /** Writes a chunk at the session's offset and advances it; returns the new offset. */
  private async write(session: UploadRow, chunk: Chunk, claim: Claim, digest?: string): Promise<number> {
    const { range, length } = chunk;
    if (range) {
      // distribution-spec: a chunk must start where the previous one ended, else 416.
      if (range.start !== session.offset) {
        throw this.outOfOrder(session, `chunk starts at ${range.start}, expected ${session.offset}`);
      }
      if (length !== undefined && length !== range.end - range.start + 1) {
        throw this.outOfOrder(session, 'Content-Range does not match Content-Length');
      }
    }
    const expected = range ? range.end - range.start + 1 : length;
    if (expected !== undefined) {
      await this.options.policy?.admitUpload?.(session.repository, session.offset + expected, digest);
    }
    const state = this.hashes.get(session.id);
    this.hashes.delete(session.id);
    const hash = state?.offset === session.offset ? state.hash : undefined;
    const generation = state?.generation ?? 0;
    let received = 0;
    const onBytes = this.options.onBytes;
    const tap = async function* (source: AsyncIterable<Uint8Array>) {
      for await (const piece of source) {
        if (claim.lost)
          throw new RegistryError('BLOB_UPLOAD_INVALID', { message: 'lost the upload to another request' });
        received += piece.byteLength;
        if (expected !== undefined && received > expected) {
          throw new RegistryError('SIZE_INVALID', {
            message: 'body longer than declared',
            detail: { expected },
          });
        }
        hash?.update(piece);
        onBytes?.(piece.byteLength);
        yield piece;
      }
    };
    await this.store.write(uploadKey(session.id), tap(chunk.body), session.offset);
    if (expected !== undefined && received !== expected) {
      throw new RegistryError('SIZE_INVALID', { detail: { expected, received } });
    }
    const offset = session.offset + received;
    if (claim.lost || !(await this.meta.uploads.advance(session.id, claim.writer, session.offset, offset))) {
      throw this.outOfOrder(session, 'the upload moved on concurrently');
    }
    if (hash) this.hashes.set(session.id, { offset, hash, generation });
    session.offset = offset;
    return offset;
  }

  /** Hex digest of the session's first `size` bytes, from the running hash when possible. */
  private async digestOf(id: string, size: number, digest: Digest): Promise<string> {
    const state = this.hashes.get(id);
    if (digest.algorithm === 'sha256' && state?.offset === size) return state.hash.digest('hex');
    const hash = createDigester(digest.algorithm);
    if (size > 0) {
      for await (const piece of await this.store.read(uploadKey(id), { start: 0, end: size - 1 })) {
        hash.update(piece as Uint8Array);
      }
    }
    return hash.digest('hex');
  }
}
