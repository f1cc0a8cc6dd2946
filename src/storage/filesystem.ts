import {
  close as closeCallback,
  constants,
  fstat as fstatCallback,
  open as openCallback,
  read as readCallback,
} from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { ServerResponse } from 'node:http';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { unlinkAll } from '../threads/disk-threads.js';
import type { BlobStore, PutOptions } from './blob-store.js';
import { noSpaceAsFull } from './storage-errors.js';

const KEY_PATTERN = /^[a-zA-Z0-9._-]+(?:\/[a-zA-Z0-9._-]+)*\/?$/;

/** A BlobStore on a local directory. */
export class FilesystemBlobStore implements BlobStore {
  readonly root: string;
  private readonly knownDirs = new Set<string>();

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Maps a key to a path, refusing anything that could leave the root (defence in depth: keys are built, not received). */
  private path(key: string): string {
    if (!KEY_PATTERN.test(key) || key.split('/').some((part) => part === '.' || part === '..')) {
      throw new Error(`invalid storage key: ${JSON.stringify(key)}`);
    }
    const full = resolve(this.root, key);
    if (full !== this.root && !full.startsWith(this.root + sep))
      throw new Error(`storage key escapes root: ${key}`);
    return full;
  }

  async stat(key: string): Promise<{ size: number; modified: Date } | null> {
    try {
      const info = await stat(this.path(key));
      return info.isFile() ? { size: info.size, modified: info.mtime } : null;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async read(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const path = this.path(key);
    // Open first so a missing file fails here, not later mid-response.
    const fd = await openFd(path, 'r');
    if (range) return new FileRangeStream(fd, range.start, range.end);
    try {
      // The size, so that a small blob gets buffers of its size rather than whole chunks.
      return new FileRangeStream(fd, 0, (await fstatFd(fd)).size - 1);
    } catch (error) {
      closeCallback(fd, () => {});
      throw error;
    }
  }

  async write(
    key: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    offset: number,
  ): Promise<number> {
    try {
      return await this.writeAt(this.path(key), source, offset);
    } catch (error) {
      throw noSpaceAsFull(error);
    }
  }

  private async writeAt(
    path: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    offset: number,
  ): Promise<number> {
    await this.ensureDir(dirname(path));
    const handle = await open(path, constants.O_RDWR | constants.O_CREAT);
    try {
      await handle.truncate(offset);
    } catch (error) {
      await handle.close();
      throw error;
    }
    // The stream owns the handle from here and closes it when done or destroyed.
    // 1 MiB lets the stream gather socket chunks into fewer, larger writes (256 KiB was ~20% slower on 256 MiB).
    const out = handle.createWriteStream({ start: offset, highWaterMark: 1024 * 1024 });
    // Straight into the file: a stream source is piped chunk by chunk. (An async generator in between would
    // read it with read(), which concatenates whatever is buffered: a copy of most bytes.)
    // pipeline takes sync and async iterables alike; the union only trips its overloads.
    await pipeline(source as AsyncIterable<Uint8Array>, out);
    return out.bytesWritten;
  }

  /** Written to `temp`, then (once sealed) made durable and renamed into place, as write and commit do. */
  async put(
    key: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    { temp, seal }: PutOptions,
  ): Promise<number> {
    const staged = this.path(temp);
    const target = this.path(key);
    try {
      const written = await this.writeAt(staged, source, 0);
      if (await seal(written)) await this.move(staged, target);
      else await unlink(staged);
      return written;
    } catch (error) {
      await unlink(staged).catch(() => undefined);
      throw noSpaceAsFull(error);
    }
  }

  async commit(from: string, to: string, size?: number): Promise<void> {
    try {
      await this.move(this.path(from), this.path(to), size);
    } catch (error) {
      throw noSpaceAsFull(error);
    }
  }

  private async move(source: string, target: string, size?: number): Promise<void> {
    const handle = await open(source, size === undefined ? 'r' : 'r+');
    try {
      if (size !== undefined) {
        const stored = (await handle.stat()).size;
        if (!Number.isSafeInteger(size) || size < 0 || size > stored)
          throw new RangeError(`cannot commit ${size} bytes of ${source}: it holds ${stored}`);
        if (stored > size) await handle.truncate(size);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await this.ensureDir(dirname(target));
    await rename(source, target);
    // Make the rename itself durable.
    const dir = await open(dirname(target), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** mkdir -p, remembered: directories are never removed by Berth, and a syscall per write adds up. */
  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    if (this.knownDirs.size < 100_000) this.knownDirs.add(dir);
  }

  /** On the disk threads, not libuv's that requests share (threads/disk-threads.ts). */
  async deleteAll(keys: string[]): Promise<{ key: string; error: Error }[]> {
    const keyOf = new Map(keys.map((key) => [this.path(key), key]));
    const failed = await unlinkAll([...keyOf.keys()]);
    return failed.map(({ path, error }) => ({ key: keyOf.get(path) ?? path, error }));
  }

  async delete(key: string): Promise<void> {
    // unlink, not rm: rm stats first, and garbage collection deletes objects by the hundred thousand.
    try {
      await unlink(this.path(key));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /**
   * Keys below a prefix two directory levels deep (blobs/<algorithm>/ → <xx>/<hex>), without stat calls:
   * `modified` is left out, and the caller stats only the few keys it cares about.
   */
  async *walk(prefix: string): AsyncIterable<{ key: string; modified?: Date }> {
    const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
    for (const first of await this.names(base)) {
      for (const second of await this.names(`${base}${first}/`)) {
        for (const name of await this.names(`${base}${first}/${second}/`)) {
          yield { key: `${base}${first}/${second}/${name}` };
        }
      }
    }
  }

  private async names(prefix: string): Promise<string[]> {
    try {
      return await readdir(this.path(prefix.replace(/\/$/, '')));
    } catch (error) {
      if (isNotFound(error) || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
      throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<{ key: string; modified: Date }> {
    const dir = this.path(prefix);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    for (const name of names) {
      const key = join(prefix, name).split(sep).join('/');
      const info = await this.stat(key);
      if (info) yield { key, modified: info.modified };
    }
  }

  async ping(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await stat(this.root);
  }
}

/** A numeric descriptor: callback reads on it cost less than a FileHandle's. */
const openFd = promisify(openCallback) as (path: string, flags: string) => Promise<number>;
const fstatFd = promisify(fstatCallback) as (fd: number) => Promise<{ size: number }>;

/** Bytes per read: each response buffer of FileRangeStream, and its largest chunk as an ordinary stream. */
const CHUNK_BYTES = 1024 * 1024;

function readAt(fd: number, buffer: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    readCallback(fd, buffer, 0, length, position, (error, bytes) => (error ? reject(error) : resolve(bytes))),
  );
}

/**
 * Bytes `start` to `end` (inclusive) of an open descriptor, which the stream owns and closes; like
 * fs.createReadStream, it ends early if the file ends first.
 *
 * Consumed as an ordinary stream, every chunk is a fresh buffer, since the consumer may keep it. Piped into an
 * http.ServerResponse, which is what Fastify's reply.send does with a stream body, it instead reads into two
 * buffers in turn and refills one only once the response's write callback has reported that the socket took
 * the bytes last written from it. So a 256 MiB blob GET allocates 2 MiB, not 256 MiB of fresh buffers that the
 * kernel must fault in and zero: that cut the server's CPU per pulled byte by a third or more on the benchmark
 * machine (see BENCHMARKS.md). Backpressure and memory stay bounded: at most two chunks per response are in
 * flight, and a read waits for the socket.
 */
class FileRangeStream extends Readable {
  private position: number;
  /** The read running in the thread pool, if any: the descriptor is closed only after it. */
  private reading: Promise<unknown> = Promise.resolve();
  /** Settles when the stream is destroyed (e.g. by Fastify when the client goes away mid-response). */
  private readonly gone: Promise<false>;
  private markGone: () => void = () => {};

  constructor(
    private readonly fd: number,
    start: number,
    private readonly end: number,
  ) {
    super({ highWaterMark: CHUNK_BYTES });
    this.position = start;
    this.gone = new Promise((resolve) => {
      this.markGone = () => resolve(false);
    });
  }

  /** Reads the next bytes into `buffer`; 0 at the end of the range or of the file. */
  private async readInto(buffer: Buffer): Promise<number> {
    const length = Math.min(buffer.length, this.end - this.position + 1);
    if (length <= 0) return 0;
    const read = readAt(this.fd, buffer, length, this.position);
    this.reading = read.catch(() => {});
    const bytes = await read;
    this.position += bytes;
    return bytes;
  }

  /** The size of a read buffer: a whole chunk, or what is left of the range when that is less. */
  private bufferSize(): number {
    return Math.max(0, Math.min(CHUNK_BYTES, this.end - this.position + 1));
  }

  override _read(): void {
    const size = this.bufferSize();
    if (size === 0) {
      this.push(null);
      return;
    }
    const buffer = Buffer.allocUnsafeSlow(size);
    this.readInto(buffer).then(
      (bytes) => {
        if (!this.destroyed) this.push(bytes === 0 ? null : buffer.subarray(0, bytes));
      },
      (error: Error) => this.destroy(error),
    );
  }

  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    // Only a response that nothing has read from yet: its write callback means the socket has the bytes, so
    // the buffer is free again (a Transform's callback, say, comes while it still holds the chunk).
    if (
      !(destination instanceof ServerResponse) ||
      this.readableFlowing !== null ||
      this.readableDidRead ||
      this.destroyed
    ) {
      return super.pipe(destination, options);
    }
    void this.pump(destination, options?.end !== false);
    return destination;
  }

  private async pump(response: ServerResponse, endResponse: boolean): Promise<void> {
    const size = this.bufferSize();
    const buffers: Buffer[] = [];
    const written: Promise<boolean>[] = [];
    try {
      for (let i = 0; size > 0; i ^= 1) {
        // Wait until the socket has the bytes last written from this buffer; false: the response failed.
        if (written[i] !== undefined && !(await written[i])) return;
        if (this.destroyed) return;
        buffers[i] ??= Buffer.allocUnsafeSlow(size);
        const buffer = buffers[i] as Buffer;
        const bytes = await this.readInto(buffer);
        if (this.destroyed) return;
        if (bytes === 0) break;
        written[i] = this.write(response, bytes === buffer.length ? buffer : buffer.subarray(0, bytes));
      }
    } catch (error) {
      // A read failed: the same as an fs stream's error (Fastify logs it and destroys the response).
      this.destroy(error as Error);
      return;
    }
    // End this stream first, so that Fastify sees a body that ended rather than one closed early.
    const ended = new Promise<boolean>((resolve) => {
      this.once('end', () => resolve(true));
      this.once('close', () => resolve(false));
    });
    this.push(null);
    this.resume();
    if ((await ended) && endResponse) response.end();
  }

  /**
   * Writes `chunk`; true once the socket has taken it, false if the write failed. A write to a socket that is
   * already gone never calls back, so the stream's destruction, which Fastify does when the response closes,
   * settles it too.
   */
  private write(response: ServerResponse, chunk: Buffer): Promise<boolean> {
    const done = new Promise<boolean>((resolve) => {
      response.write(chunk, (error) => resolve(!error));
    });
    return Promise.race([done, this.gone]);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.markGone();
    // A read may still be running in the thread pool: close the descriptor after it, never under it.
    void this.reading.then(() => closeCallback(this.fd, (closeError) => callback(error ?? closeError)));
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
