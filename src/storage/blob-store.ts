import type { Readable } from 'node:stream';

/**
 * Bytes under keys, nothing registry-specific (after Distribution's storage driver). Keys are relative
 * slash-separated paths built by the registry core from validated digests and upload ids only.
 */
export interface BlobStore {
  /** Size of the object, or null when absent. */
  stat(key: string): Promise<{ size: number; modified: Date } | null>;
  /** Streams the object, or the inclusive byte range of it. */
  read(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /**
   * Writes `source` into the object starting at `offset`, discarding anything stored past `offset` first
   * (bytes of an interrupted earlier write). Creates the object when absent. Returns the bytes written.
   */
  write(
    key: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    offset: number,
  ): Promise<number>;
  /** Makes the object durable, then atomically renames it; an existing target is replaced. */
  commit(from: string, to: string): Promise<void>;
  /** Removes the object; absent is fine. */
  delete(key: string): Promise<void>;
  /** Keys directly below a prefix ("uploads/"), with their modification time. */
  list(prefix: string): AsyncIterable<{ key: string; modified: Date }>;
  /**
   * Every object below a prefix, at any depth (garbage collection's walk of blobs/): an object store's flat
   * listing, or a disk's directories read without a stat per file. `modified` when it comes for free.
   */
  walk?(prefix: string): AsyncIterable<{ key: string; modified?: Date }>;
  /** A cheap check that the store answers, for /readyz. */
  ping(): Promise<void>;
  /** A URL that serves the object without us for a while (object stores only), for 307 redirects. */
  presignGet?(key: string, expiresInSeconds: number): Promise<string>;
  /** Frees space held by writes abandoned before `cutoff` that `list` cannot see (S3 multipart uploads). */
  purgeAbandoned?(cutoff: Date): Promise<number>;
  /** Releases connections. */
  close?(): Promise<void>;
}
