import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Paces the collector's statements so that requests keep most of the server. On SQLite every statement runs
 * on the event loop's thread: back to back, batches of a few hundred deletes (~50 ms each at 1M blobs) kept
 * pushes waiting 1–3 s during a run, as each of a push's dozen callbacks waited for a batch. So each batch is
 * sized to take about `targetMs` (grown or shrunk from how long the last one took), and is followed by a rest
 * of `rest` times as long: with 1, the collector has at most half of the thread, in slices short enough that
 * a request waits for one at most a few milliseconds. (The collector's choices per database: PACE there.)
 */
export class Pacer {
  private size: number;

  constructor(
    private readonly options: {
      start: number;
      max: number;
      targetMs: number;
      /**
       * The rest after a batch, as a share of the time it took (1: the collector has half of the time); a
       * function is asked after every batch.
       */
      rest: number | (() => number);
      /** The clock, in milliseconds, and how to wait (tests). */
      now?: () => number;
      sleep?: (ms: number) => Promise<unknown>;
    },
  ) {
    this.size = options.start;
  }

  /** Runs `work` over `items` in paced batches, in order. */
  async each<T>(items: readonly T[], work: (batch: T[]) => Promise<void>): Promise<void> {
    for (let i = 0; i < items.length; ) {
      const batch = items.slice(i, i + this.size);
      i += batch.length;
      await this.timed(batch.length, () => work(batch));
    }
  }

  /** The next batch's size. */
  get batchSize(): number {
    return this.size;
  }

  /** Runs one unit of work of `count` items (a batch sized by batchSize, or not), then rests. */
  async timed<R>(count: number, work: () => Promise<R>): Promise<R> {
    const now = this.options.now ?? (() => performance.now());
    const start = now();
    const result = await work();
    const took = now() - start;
    if (count > 0) {
      // Towards targetMs per batch, at most doubling at a time (one fast batch proves little).
      const fit = Math.round((count * this.options.targetMs) / Math.max(took, 0.1));
      this.size = Math.max(1, Math.min(this.options.max, fit, this.size * 2));
    }
    const rest = typeof this.options.rest === 'number' ? this.options.rest : this.options.rest();
    // At least one turn of the event loop, so requests' callbacks run in between.
    await (this.options.sleep ?? sleep)(Math.max(1, Math.round(took * rest)));
    return result;
  }
}
