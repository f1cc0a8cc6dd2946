// The memory of S3 streamed writes: each write's part buffers, granted by one budget shared by the store.
import { Buffer } from 'node:buffer';
import { type BudgetHolder, ByteBudget } from './byte-budget.js';
import type { ByteChunker } from './byte-chunker.js';
import { MiB, S3_LIMITS } from './s3-segments.js';

/**
 * Parts of a streamed write: the smallest S3 allows, as memory is what many concurrent writes run out of.
 * On Swift a lone 256 MiB write is as fast as with 8 MiB parts (given PARALLEL 4), writes of 16 MiB some 15%
 * slower. With Swift's limit of 1,000 parts, a streamed object holds at most 5,000 MiB (see putStream).
 */
export const PART_SIZE = S3_LIMITS.minPart;
/** What the part buffers of all of a store's streamed writes may hold together, unless configured. */
export const DEFAULT_PART_MEMORY = 64 * MiB;
/**
 * Writes or last parts of at most this much (a twentieth of a part: 256 KiB) that have arrived whole bypass
 * the budget: they are in memory by then, and small blobs should not queue behind big ones.
 */
const SMALL_FRACTION = 20;

/** A buffer holding one part of a streamed write. */
export interface Part {
  body: Buffer;
  /** Gives the part's memory back once its upload has ended; `sent` says whether it succeeded. */
  done(sent: boolean): void;
}

/** The part buffers of one streamed write. */
export interface PartWriter {
  /**
   * The write's next part: at most `size` bytes from its source, fewer only at the end. Resolves once the
   * budget grants the memory, which is asked for before the part is read (but for the small read ahead).
   */
  next(size: number): Promise<Part>;
  /** Gives back whatever the write still holds, whatever became of its parts. */
  end(): void;
}

/**
 * The part buffers of all of a store's streamed writes: granted by one budget (see byte-budget.ts), so
 * memory stays flat however many uploads run, and reused rather than dropped, as the garbage collector frees
 * big buffers late (measured with fresh buffers: a peak of twice the live ones under 32 concurrent uploads).
 * Outside the budget, each write reads ahead at most a twentieth of a part (and one chunk) from its source.
 */
export class PartMemory {
  readonly budget: ByteBudget;
  /** Full-size buffers to reuse, up to the budget's worth; dropped when no write is running. */
  private readonly spares: Buffer[] = [];
  private readonly maxSpares: number;
  private writers = 0;

  constructor(
    limit: number,
    readonly partSize = PART_SIZE,
    stallMs?: number,
  ) {
    this.budget = new ByteBudget(limit, stallMs);
    this.maxSpares = Math.max(1, Math.floor(limit / partSize));
  }

  /** Part buffers for a write from `chunks`. */
  writer(chunks: ByteChunker): PartWriter {
    const holder = this.budget.holder();
    let ended = false;
    this.writers++;
    return {
      next: (size) => this.next(holder, chunks, size),
      end: () => {
        if (ended) return;
        ended = true;
        holder.end();
        if (--this.writers === 0) this.spares.length = 0;
      },
    };
  }

  /** Spare buffers kept for reuse. */
  get spareCount(): number {
    return this.spares.length;
  }

  private async next(holder: BudgetHolder, chunks: ByteChunker, size: number): Promise<Part> {
    const small = Math.ceil(this.partSize / SMALL_FRACTION);
    if ((await chunks.readAhead(small)) < small) {
      // The rest of the source is here, and small.
      return { body: await chunks.take(size), done: () => undefined };
    }
    await holder.acquire(size);
    if (size !== this.partSize) {
      // A last part cut short by the object's size limit: a buffer of its own size.
      const body = await chunks.take(size);
      holder.release(size - body.length);
      return { body, done: () => holder.release(body.length) };
    }
    const buffer = this.spares.pop() ?? Buffer.allocUnsafeSlow(size);
    let filled: number;
    try {
      filled = await chunks.fill(buffer);
    } catch (error) {
      this.recycle(buffer);
      throw error;
    }
    return {
      body: buffer.subarray(0, filled),
      done: (sent) => {
        holder.release(size);
        // A failed request might still be writing from the buffer as its socket closes: let it go.
        if (sent) this.recycle(buffer);
      },
    };
  }

  private recycle(buffer: Buffer): void {
    if (this.writers > 0 && this.spares.length < this.maxSpares) this.spares.push(buffer);
  }
}
