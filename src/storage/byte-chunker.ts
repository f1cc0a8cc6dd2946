import { Buffer } from 'node:buffer';

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
