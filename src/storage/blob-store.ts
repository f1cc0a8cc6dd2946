import type { Readable } from 'node:stream';

export interface PutOptions {
  /** A key the store may stage the bytes under before they appear (a filesystem writes there, then renames). */
  temp: string;
  /** The source's length, when known: an object store then writes big sources straight to `key` too. */
  size?: number | undefined;
  /** Called with the size once every byte is in, before any shows: true to store them, false to drop them. */
  seal(size: number): Promise<boolean>;
}

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
  /**
   * Stores `source` as the object `key` in one step, replacing it, and only once `seal` agrees: `seal(size)`
   * runs after the source has ended and before anything of it shows under `key`, and resolves true to go ahead
   * or false to drop the bytes. When it throws, or the source or the store fails, `key` stays as it was and the
   * bytes go. The store may stage them under `temp` meanwhile (a crash may leave them there, or, on S3, as an
   * unfinished multipart upload that purgeAbandoned frees). Returns the bytes the source gave.
   */
  put(
    key: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: PutOptions,
  ): Promise<number>;
  /**
   * Makes the object durable, then atomically renames it; an existing target is replaced. With `size`, only
   * its first `size` bytes are (anything an interrupted write left past them is dropped); fewer is an error.
   */
  commit(from: string, to: string, size?: number): Promise<void>;
  /** Removes the object; absent is fine. */
  delete(key: string): Promise<void>;
  /**
   * Removes the objects (absent ones are fine) in bulk, where the store has a cheaper way than a delete each
   * (garbage collection's sweep); resolves to the keys it could not remove, with why.
   */
  deleteAll?(keys: string[]): Promise<{ key: string; error: Error }[]>;
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
