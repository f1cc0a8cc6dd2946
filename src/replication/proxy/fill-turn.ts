import { setTimeout as sleep } from 'node:timers/promises';
import type { FillLease, FillLocks } from '../../cluster/index.js';

/**
 * Whose turn it is to fetch a blob: `stored` (another process fetched it meanwhile: serve it from storage), or
 * `fetch` — holding the lock (`lease`), or without it after waiting `waitMs` in vain or when the locks cannot
 * be asked (`reason`).
 */
export type FillTurn =
  | { kind: 'stored' }
  | { kind: 'fetch'; lease: FillLease | undefined; reason?: 'timeout' | 'unavailable'; error?: unknown };

export interface FillTurnOptions {
  locks: FillLocks;
  key: string;
  /** Whether the blob is in storage now (and, for the caller's repository, linked or linkable). */
  stored: () => Promise<boolean>;
  /** How long to wait for another process's fetch before fetching anyway. */
  waitMs: number;
  /** Told once, when another process turns out to be fetching. */
  onWait?: () => void;
}

/** First and longest pause between two looks at the lock while another process fetches. */
const FIRST_POLL_MS = 25;
const LONGEST_POLL_MS = 500;

/**
 * Takes the lock of `key` to fetch, or waits while another process holds it (fetching), polling the lock with
 * backoff and holding nothing meanwhile. The holder lets go once the blob is committed, or when its fetch
 * failed, or with its process; whoever takes the lock next looks in storage first, so a waiter serves what the
 * holder stored and fetches itself only when the holder did not. Coordination only ever saves fetches: when
 * the locks cannot be asked, or the wait is over, the caller fetches anyway rather than fail.
 */
export async function takeFillTurn(options: FillTurnOptions): Promise<FillTurn> {
  const deadline = Date.now() + options.waitMs;
  let pause = FIRST_POLL_MS;
  let waiting = false;
  for (;;) {
    let lease: FillLease | undefined;
    try {
      lease = await options.locks.tryAcquire(options.key);
    } catch (error) {
      return { kind: 'fetch', lease: undefined, reason: 'unavailable', error };
    }
    if (lease) {
      // The holder before us may have stored it (or a process that gave up waiting did).
      try {
        if (await options.stored()) {
          lease.release();
          return { kind: 'stored' };
        }
      } catch (error) {
        lease.release();
        throw error;
      }
      return { kind: 'fetch', lease };
    }
    if (!waiting) {
      waiting = true;
      options.onWait?.();
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      return (await options.stored())
        ? { kind: 'stored' }
        : { kind: 'fetch', lease: undefined, reason: 'timeout' };
    }
    // Jittered, so that the waiters of several processes do not all look at once.
    await sleep(Math.min(left, pause * (0.75 + Math.random() / 2)));
    pause = Math.min(pause * 2, LONGEST_POLL_MS);
  }
}

/** The lock a blob's fetch from an upstream is done under (one per upstream and digest, across repositories). */
export function fillLockKey(upstreamUrl: string, digest: string): string {
  return `berth:proxy-fill:${upstreamUrl}@${digest}`;
}
