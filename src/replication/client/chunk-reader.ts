import type { Readable } from 'node:stream';

/** Cuts one stream into consecutive parts of at most `limit` bytes, each read lazily (chunked uploads). */
export class ChunkReader {
  private readonly source: AsyncIterator<Buffer>;
  private leftover: Buffer | undefined;
  private ended = false;

  constructor(stream: Readable) {
    this.source = stream[Symbol.asyncIterator]();
  }

  async *take(limit: number): AsyncGenerator<Buffer> {
    let remaining = limit;
    while (remaining > 0) {
      let chunk = this.leftover;
      this.leftover = undefined;
      if (!chunk) {
        if (this.ended) return;
        const next = await this.source.next();
        if (next.done) {
          this.ended = true;
          return;
        }
        chunk = next.value;
      }
      if (chunk.length > remaining) {
        this.leftover = chunk.subarray(remaining);
        chunk = chunk.subarray(0, remaining);
      }
      remaining -= chunk.length;
      yield chunk;
    }
  }

  /** Stops reading the source (on a failed upload). */
  async close(): Promise<void> {
    await this.source.return?.();
  }
}
