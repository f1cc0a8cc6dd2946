import { Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** A byte budget per second shared by every stream of one copy: each chunk waits for its slot in time. */
export class ByteRate {
  private nextFree = 0;

  constructor(private readonly bytesPerSecond: number) {
    if (!(bytesPerSecond > 0))
      throw new Error(`bandwidth limit must be a positive number of bytes per second`);
  }

  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const now = Date.now();
    const start = Math.max(now, this.nextFree);
    this.nextFree = start + (bytes * 1000) / this.bytesPerSecond;
    if (start > now) await sleep(start - now, undefined, { signal });
  }
}

/** Passes bytes through no faster than the shared rate allows; backpressure does the rest. */
export class Throttle extends Transform {
  constructor(
    private readonly rate: ByteRate,
    private readonly signal?: AbortSignal,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.rate.take(chunk.length, this.signal).then(
      () => callback(null, chunk),
      (error: unknown) => callback(error as Error),
    );
  }
}
