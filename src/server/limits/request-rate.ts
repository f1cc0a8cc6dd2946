import type { LRUCache } from 'lru-cache';
import { BoundedLru } from '../../cache/bounded-lru.js';

interface Counter {
  /** Start of the current fixed window (ms). */
  start: number;
  current: number;
  previous: number;
}

export type RateVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Requests per key within a sliding window, in this process's memory (each worker and node counts its own: a
 * client spread over N of them gets up to N× the rate; login failures, which matter more, are counted
 * cluster-wide by auth's LoginThrottle). The sliding window is the usual two-window estimate: the previous
 * window's count weighted by how much of it still overlaps, plus the current one's. At most `maxKeys` keys
 * are kept (least recently used dropped), so memory stays bounded whatever addresses an attacker uses.
 */
export class RequestRate {
  readonly #counters: LRUCache<string, Counter>;
  readonly #windowMs: number;

  constructor(
    windowSeconds: number,
    private readonly now: () => number = Date.now,
    maxKeys = 50_000,
  ) {
    this.#windowMs = windowSeconds * 1000;
    this.#counters = new BoundedLru({ max: maxKeys });
  }

  /** Counts one request of `key` against `limit` per window; a refused request is not counted. */
  take(key: string, limit: number): RateVerdict {
    if (limit <= 0) return { allowed: true };
    const now = this.now();
    const window = this.#windowMs;
    const start = now - (now % window);
    let counter = this.#counters.get(key);
    if (!counter || counter.start <= start - 2 * window) counter = { start, current: 0, previous: 0 };
    else if (counter.start < start) counter = { start, current: 0, previous: counter.current };
    const overlap = 1 - (now - start) / window;
    const estimate = counter.previous * overlap + counter.current;
    if (estimate + 1 > limit) {
      this.#counters.set(key, counter);
      const wait = this.#waitMs(counter, limit, now - start);
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(wait / 1000)) };
    }
    counter.current += 1;
    this.#counters.set(key, counter);
    return { allowed: true };
  }

  /** How long until one more request fits, if none is counted meanwhile; `into` = ms into the current window. */
  #waitMs(counter: Counter, limit: number, into: number): number {
    const window = this.#windowMs;
    const room = limit - 1 - counter.current;
    if (room >= 0 && counter.previous > 0) {
      // Within this window, once the previous window's weighted share has fallen to `room`.
      return Math.max(0, (1 - room / counter.previous) * window - into);
    }
    // In the next window, once this window's weighted share has fallen to limit - 1.
    return window - into + Math.max(0, (1 - (limit - 1) / counter.current) * window);
  }
}
