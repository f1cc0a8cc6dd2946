import { LRUCache } from 'lru-cache';

type Options<K extends {}, V extends {}> = Omit<
  LRUCache.OptionsBase<K, V, unknown>,
  'max' | 'maxSize' | 'sizeCalculation'
> & {
  /** The most entries it holds; the least recently used goes first. */
  max: number;
};

/**
 * An LRU cache of at most `max` entries whose memory grows with what it holds. lru-cache given `max` allocates
 * its index arrays whole when constructed (~28 bytes an entry, 2.8 MB for 100,000, filled so the pages are
 * touched): Berth's dozen caches of 10,000–100,000 entries were ~40 of an idle server's 72 MiB of heap, and as
 * V8 lets the heap grow to a multiple of what survives a collection, every allocation-heavy job's peak RSS
 * (garbage collection at 1M blobs: ~400 MiB) followed. Each entry counted as size 1 against `maxSize` evicts
 * exactly as `max` would, from arrays that grow.
 */
export class BoundedLru<K extends {}, V extends {}> extends LRUCache<K, V> {
  constructor({ max, ...options }: Options<K, V>) {
    if (!Number.isSafeInteger(max) || max < 1)
      throw new RangeError(`an LRU cache needs a max of 1 or more, not ${max}`);
    super({ ...options, maxSize: max, sizeCalculation: () => 1 });
  }
}
