/**
 * The contract between the login throttle (auth/rate-limit.ts) and the places that count failures (its own
 * memory, or the metadata database: metadata/login-failure-log.ts), with the verdict arithmetic both share.
 */

/** One limit an attempt counts against: at most `maxFailures` failures of `key` within `windowSeconds`. */
export interface FailureLimit {
  key: string;
  maxFailures: number;
  windowSeconds: number;
}

export type Reservation =
  | { outcome: 'reserved' }
  | { outcome: 'refused'; retryAfterSeconds: number }
  /** Only attempts still being checked stand in the way: ask again once they are settled. */
  | { outcome: 'busy' };

/**
 * Where login failures are counted: this process's memory (MemoryFailureLog), or the metadata database, which
 * every worker and node shares (metadata/login-failure-log.ts). An attempt is counted before its credentials
 * are checked and taken back when they were right, so that no number of concurrent attempts gets more than
 * `maxFailures` guesses in.
 */
export interface FailureLog {
  /**
   * Atomically with every other reservation of the same keys: when every key holds fewer than its
   * `maxFailures` failures and pending attempts within its window, counts `attempt` under each key as pending
   * and answers 'reserved'. Otherwise counts nothing: 'refused' when failures alone fill a key (with the wait
   * until the first of them leaves the window; the longest over the keys), else 'busy'. A pending attempt older
   * than PENDING_TIMEOUT_MS (its process died while checking it) counts as a failure.
   */
  reserve(limits: readonly FailureLimit[], attempt: string, now: number): Promise<Reservation>;
  /** reserve()'s verdict without counting anything (for credentials nobody can guess; see LoginThrottle). */
  peek(limits: readonly FailureLimit[], now: number): Promise<Reservation>;
  /** Counts a failure of `attempt` under each key outright (no reservation came before). */
  record(limits: readonly FailureLimit[], attempt: string, now: number): Promise<void>;
  /** The attempt's credentials were wrong: its pending counts become failures. */
  confirm(keys: readonly string[], attempt: string): Promise<void>;
  /** Takes the attempt's counts back from `keys`, and forgets every failure of `clear`. */
  release(keys: readonly string[], attempt: string, clear?: readonly string[]): Promise<void>;
}

/** A pending attempt this old is a failure whose process died before it could say so. */
export const PENDING_TIMEOUT_MS = 30_000;

/** One attempt counted under a key: a failure, or still pending (its credentials are being checked). */
export interface FailureEntry {
  at: number;
  attempt: string;
  pending: boolean;
}

/**
 * The verdict of reserve() for one key, given its entries within the window, oldest first. Shared by every
 * FailureLog so that they agree to the second.
 */
export function judge(entries: readonly FailureEntry[], limit: FailureLimit, now: number): Reservation {
  if (entries.length < limit.maxFailures) return { outcome: 'reserved' };
  const failures = entries.filter((entry) => !entry.pending || entry.at <= now - PENDING_TIMEOUT_MS);
  if (failures.length < limit.maxFailures) return { outcome: 'busy' };
  const oldest = (failures[failures.length - limit.maxFailures] as FailureEntry).at;
  return {
    outcome: 'refused',
    retryAfterSeconds: Math.max(1, Math.ceil((oldest + limit.windowSeconds * 1000 - now) / 1000)),
  };
}

/** reserve()'s answer over several keys: refused if any key refuses (the longest wait), else busy if any is. */
export function combine(verdicts: readonly Reservation[]): Reservation {
  const waits = verdicts.flatMap((v) => (v.outcome === 'refused' ? [v.retryAfterSeconds] : []));
  if (waits.length > 0) return { outcome: 'refused', retryAfterSeconds: Math.max(...waits) };
  if (verdicts.some((v) => v.outcome === 'busy')) return { outcome: 'busy' };
  return { outcome: 'reserved' };
}
