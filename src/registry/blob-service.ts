import type { Readable } from 'node:stream';
import { BlobBeingCollected, type MetadataStore } from '../metadata/index.js';
import type { BlobStore } from '../storage/index.js';
import type { Digest } from './digest.js';
import { RegistryError } from './errors.js';
import type { RegistryPolicy } from './policy.js';
import { blobKey } from './storage-keys.js';

/**
 * How long garbage collection's claim on a blob it is deleting lasts (lifecycle/gc renews it while deleting).
 * Deleting one object takes milliseconds; the claim only matters when the collector dies mid-way.
 */
export const COLLECTOR_CLAIM_MS = 60_000;

/**
 * Where a stored object may be fetched without us (a presigned S3 URL, a signed CDN URL), for 307 redirects of
 * blob GETs.
 */
export type BlobRedirect = (key: string) => Promise<string> | string;

/** Decides whether a repository's content may be mounted by the caller; the auth layer narrows it. */
export type MountPolicy = (sourceRepository: string) => boolean | Promise<boolean>;

/** Content-addressed blobs: stored once, visible in a repository only through a link. */
export class BlobService {
  constructor(
    private readonly store: BlobStore,
    private readonly meta: MetadataStore,
    /** When set, blob GETs are redirected to the URL it gives. */
    private readonly redirect?: BlobRedirect,
    /** Its admitLink refuses links over a project's quota. */
    private readonly policy: Pick<RegistryPolicy, 'admitLink'> = {},
    /** How long a garbage collector's claim on a blob lasts (a push waits at most this long for it). */
    private readonly collectorClaimMs = COLLECTOR_CLAIM_MS,
  ) {}

  /** Where the client may fetch the blob's bytes directly, or undefined to serve them here. */
  async redirectUrl(digest: Digest): Promise<string | undefined> {
    return this.redirect?.(blobKey(digest));
  }

  /** Size of the blob as the repository sees it; BLOB_UNKNOWN when it is not linked there. */
  async stat(repository: string, digest: Digest): Promise<number> {
    const size = await this.meta.linkedBlobSize(repository, digest.value);
    if (size === undefined) throw new RegistryError('BLOB_UNKNOWN', { detail: { digest: digest.value } });
    return size;
  }

  async open(digest: Digest, range?: { start: number; end: number }): Promise<Readable> {
    try {
      return await this.store.read(blobKey(digest), range);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        // Metadata says yes but the bytes are gone: report unknown rather than fail the request.
        throw new RegistryError('BLOB_UNKNOWN', { detail: { digest: digest.value } });
      }
      throw error;
    }
  }

  /**
   * Moves verified upload bytes (the first `size` of the temp object) to the blob's content address and links
   * the blob into the repository.
   * The link is written only after the bytes are durable in place: a crash in between leaves an unlinked
   * blob that nobody can see, which garbage collection removes.
   */
  async commit(
    repository: string,
    tempKey: string,
    digest: Digest,
    size: number,
    uploadId?: string,
  ): Promise<void> {
    const key = blobKey(digest);
    if (!(await this.claim(digest, size))) await this.store.delete(tempKey);
    else {
      try {
        await this.store.commit(tempKey, key, size);
      } catch (error) {
        // No temp object: a caller that put the bytes in place itself (import-distribution's server-side
        // copies, before the blob has a row) only wants them linked, if they are there.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || (await this.store.stat(key))?.size !== size)
          throw error;
      }
    }
    await this.link(repository, digest, size, uploadId);
  }

  /**
   * Stores a blob whose bytes arrive now (a monolithic upload) straight under its content address, then links
   * it. `verify(size)` runs once the last byte is in and before any byte shows under the address: it checks the
   * digest computed on the way (only then is it trusted) and may refuse by throwing. Then the blob is claimed
   * as commit does, and its bytes appear in one step (or are dropped when found in place already). A crash at
   * any point leaves nothing under the address but the complete, verified bytes; leftovers (`temp`, an
   * unfinished multipart upload) are collected with expired uploads.
   */
  async put(
    repository: string,
    digest: Digest,
    source: AsyncIterable<Uint8Array>,
    options: { temp: string; size?: number | undefined; verify(size: number): Promise<void> },
  ): Promise<number> {
    const size = await this.store.put(blobKey(digest), source, {
      temp: options.temp,
      size: options.size,
      seal: async (size) => {
        await options.verify(size);
        return this.claim(digest, size);
      },
    });
    await this.link(repository, digest, size);
    return size;
  }

  /**
   * Marks the blob as relied upon by a push (waiting out a collector deleting it right now): from here until
   * the link exists, garbage collection leaves its bytes alone, including bytes found already in place.
   * Answers whether the bytes must be stored: not when they are in place with this size. They are looked for
   * only when the blob had a row before: without one they cannot be there, as a collector deletes the bytes
   * before the row and a push stores them after its claim (bytes left by a crash or an operator without a row
   * are only overwritten with the same content).
   */
  private async claim(digest: Digest, size: number): Promise<boolean> {
    const known = await this.meta.blobSize(digest.value);
    try {
      await this.meta.claimBlob(digest.value, size, this.collectorClaimMs + 1000);
    } catch (error) {
      throw error instanceof BlobBeingCollected ? busyCollecting(digest) : error;
    }
    if (known === undefined) return true;
    return (await this.store.stat(blobKey(digest)))?.size !== size;
  }

  private async link(repository: string, digest: Digest, size: number, uploadId?: string): Promise<void> {
    try {
      await this.meta.linkBlob(repository, digest.value, size, uploadId, this.policy.admitLink);
    } catch (error) {
      // Only when this request stalled for longer than the whole grace window: push again.
      throw error instanceof BlobBeingCollected ? busyCollecting(digest) : error;
    }
  }

  /**
   * Links an existing blob into `repository` from `from`, or from any repository the policy allows when
   * `from` is absent (distribution-spec v1.1 "Mounting a blob from another repository"). False when not possible.
   */
  async mount(
    repository: string,
    digest: Digest,
    from: string | undefined,
    policy: MountPolicy,
  ): Promise<boolean> {
    const candidates = from === undefined ? await this.meta.repositoriesWithBlob(digest.value) : [from];
    for (const source of candidates) {
      const size = await this.meta.linkedBlobSize(source, digest.value);
      if (size === undefined || !(await policy(source))) continue;
      // The bytes must still be there: never link a blob that a crash or an operator removed.
      if (!(await this.store.stat(blobKey(digest)))) return false;
      try {
        await this.meta.linkBlob(repository, digest.value, size, undefined, this.policy.admitLink);
      } catch (error) {
        // Garbage collection is deleting it (no repository links it any more): the client uploads instead.
        if (error instanceof BlobBeingCollected) return false;
        throw error;
      }
      return true;
    }
    return false;
  }

  async delete(repository: string, digest: Digest): Promise<void> {
    if (!(await this.meta.unlinkBlob(repository, digest.value))) {
      throw new RegistryError('BLOB_UNKNOWN', { detail: { digest: digest.value } });
    }
  }
}

function busyCollecting(digest: Digest): RegistryError {
  return new RegistryError('UNAVAILABLE', {
    message: `blob ${digest.value} is being garbage collected; push it again`,
    headers: { 'retry-after': '1' },
  });
}
