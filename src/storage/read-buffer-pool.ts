// The memory of S3 streamed reads: every read's socket lands its bytes in slabs granted by one budget shared
// by the store, so memory stays flat however many pulls run at once, and slabs are reused rather than dropped.
//
// Reuse is what makes the lean read path cheap: reading into fresh buffers cost this process ~1.1 s of CPU per
// GiB read from the local Swift, reading into reused ones ~0.3 s (bench/s3-read-probe.ts), the difference being
// the allocation, page faults and garbage collection of 1 GiB of new memory. A slab may only be reused once
// nothing refers to its bytes any more, which the reader knows only when it wrote them to a destination that
// says when it is done with them (s3-object-reader.ts); otherwise the slab goes to the garbage collector.
import { Buffer } from 'node:buffer';
import { type BudgetHolder, ByteBudget } from './byte-budget.js';

const MiB = 1024 * 1024;

/** Bytes of one slab: one socket read lands in at most this much. */
export const SLAB_BYTES = 256 * 1024;
/** What the slabs of all of a store's concurrent reads may hold together, unless configured. */
export const DEFAULT_READ_BUFFER_BYTES = 64 * MiB;
/** Spare slabs are dropped once no slab has been taken for this long (an idle registry gives memory back). */
const SPARES_IDLE_MS = 30_000;

/** A slab lent to one read: its bytes, and its release once the read is done with it. */
export interface Slab {
  readonly bytes: Buffer;
  /**
   * Gives the slab's memory back to the budget; with `reusable`, the bytes too (nothing may refer to them any
   * more). Only the first call counts.
   */
  release(reusable: boolean): void;
}

/** The slabs of one read: asked for one at a time, in order. */
export interface SlabHolder {
  /** Slabs held (granted and not yet released). */
  readonly held: number;
  /**
   * Resolves with a slab once the budget grants it (see ByteBudget: after earlier requests, or once the budget
   * has been stuck for a while when this read holds nothing). Ask while all held slabs are full and on their
   * way out, or while one is still being filled: never wait on this while holding slabs that wait on it.
   */
  next(): Promise<Slab>;
  /** Gives back everything held (slabs are not reused) and withdraws a pending request; no requests after. */
  end(): void;
}

/**
 * Slabs for all of a store's streamed reads, `limit` bytes together at most. A read beyond it waits (first
 * come, first served), which pauses its socket; the store behind it then stops sending.
 */
export class ReadBufferPool {
  readonly budget: ByteBudget;
  private readonly spares: Buffer[] = [];
  private readonly maxSpares: number;
  private idleTimer: NodeJS.Timeout | undefined;
  private allocatedSlabs = 0;

  constructor(
    limit = DEFAULT_READ_BUFFER_BYTES,
    readonly slabBytes = SLAB_BYTES,
    stallMs?: number,
  ) {
    if (!Number.isSafeInteger(limit) || limit < slabBytes) {
      throw new RangeError(`a read buffer pool needs at least ${slabBytes} bytes, not ${limit}`);
    }
    this.budget = new ByteBudget(limit, stallMs);
    this.maxSpares = Math.floor(limit / slabBytes);
  }

  /** Slab bytes granted now, over all reads. */
  get inUse(): number {
    return this.budget.inUse;
  }

  /** The most slab bytes granted at once so far. */
  get peak(): number {
    return this.budget.peak;
  }

  /** Slabs allocated so far (the rest of the grants reused spares). */
  get allocated(): number {
    return this.allocatedSlabs;
  }

  /** A new read's share, holding nothing. End it when the read is over, however it ends. */
  holder(): SlabHolder {
    const budget: BudgetHolder = this.budget.holder();
    let held = 0;
    return {
      get held() {
        return held;
      },
      next: async () => {
        await budget.acquire(this.slabBytes);
        held++;
        const bytes = this.take();
        let released = false;
        return {
          bytes,
          release: (reusable) => {
            if (released) return;
            released = true;
            if (held > 0) held--;
            budget.release(this.slabBytes);
            if (reusable && this.spares.length < this.maxSpares) this.spares.push(bytes);
          },
        };
      },
      end: () => {
        held = 0;
        budget.end();
      },
    };
  }

  private take(): Buffer {
    this.keepSpares();
    const spare = this.spares.pop();
    if (spare) return spare;
    this.allocatedSlabs++;
    // Outside Node's small-buffer pool: a slab must own its memory to be reused.
    return Buffer.allocUnsafeSlow(this.slabBytes);
  }

  /** Spares stay while reads come; a pool left alone for SPARES_IDLE_MS lets them go. */
  private keepSpares(): void {
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        this.spares.length = 0;
      }, SPARES_IDLE_MS).unref();
    }
  }
}
