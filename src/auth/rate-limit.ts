import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LRUCache } from 'lru-cache';
import { BoundedLru } from '../cache/bounded-lru.js';
import {
  combine,
  type FailureEntry as Entry,
  type FailureLimit,
  type FailureLog,
  judge,
  PENDING_TIMEOUT_MS,
  type Reservation,
} from '../domain/index.js';

export { combine, type FailureLimit, type FailureLog, judge, PENDING_TIMEOUT_MS, type Reservation };

export function checkLimit(limit: Omit<FailureLimit, 'key'>): void {
  if (!(Number.isInteger(limit.maxFailures) && limit.maxFailures >= 1)) {
    throw new RangeError('maxFailures must be a positive integer');
  }
  if (!(limit.windowSeconds > 0)) throw new RangeError('windowSeconds must be positive');
}

/**
 * A sliding-window log of failures per key in this process's memory: for one process alone, and for tests.
 * Each key keeps at most its limit of entries and at most `maxKeys` keys are kept (LRU), so memory is bounded
 * whatever an attacker sends.
 */
export class MemoryFailureLog implements FailureLog {
  readonly #entries: LRUCache<string, Entry[]>;

  constructor(options: { maxKeys?: number } = {}) {
    this.#entries = new BoundedLru({ max: options.maxKeys ?? 10_000 });
  }

  #recent(key: string, windowSeconds: number, now: number): Entry[] {
    const entries = this.#entries.get(key) ?? [];
    return entries.filter((entry) => entry.at > now - windowSeconds * 1000);
  }

  async reserve(limits: readonly FailureLimit[], attempt: string, now: number): Promise<Reservation> {
    const verdict = combine(
      limits.map((limit) => judge(this.#recent(limit.key, limit.windowSeconds, now), limit, now)),
    );
    if (verdict.outcome !== 'reserved') return verdict;
    for (const limit of limits) {
      const entries = this.#recent(limit.key, limit.windowSeconds, now);
      this.#entries.set(limit.key, [...entries, { at: now, attempt, pending: true }]);
    }
    return verdict;
  }

  async peek(limits: readonly FailureLimit[], now: number): Promise<Reservation> {
    return combine(
      limits.map((limit) => judge(this.#recent(limit.key, limit.windowSeconds, now), limit, now)),
    );
  }

  async record(limits: readonly FailureLimit[], attempt: string, now: number): Promise<void> {
    for (const limit of limits) {
      const entries = this.#recent(limit.key, limit.windowSeconds, now);
      // Bounded like reserve(): only the newest maxFailures entries can ever matter.
      const kept = [...entries, { at: now, attempt, pending: false }].slice(-limit.maxFailures);
      this.#entries.set(limit.key, kept);
    }
  }

  async confirm(keys: readonly string[], attempt: string): Promise<void> {
    for (const key of keys) {
      for (const entry of this.#entries.get(key) ?? []) if (entry.attempt === attempt) entry.pending = false;
    }
  }

  async release(keys: readonly string[], attempt: string, clear: readonly string[] = []): Promise<void> {
    for (const key of keys) {
      const entries = this.#entries.get(key);
      if (entries)
        this.#entries.set(
          key,
          entries.filter((entry) => entry.attempt !== attempt),
        );
    }
    for (const key of clear) this.#entries.delete(key);
  }
}

/** Expands an IPv6 address into eight 16-bit groups. */
function ipv6Groups(address: string): number[] {
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = (v4[1] as string).split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The key an address is counted under: IPv4 as is (IPv4-mapped IPv6 unwrapped), IPv6 by its /64, since one
 * client usually holds a whole /64 and could otherwise rotate through addresses to dodge the limit.
 */
export function addressKey(ip: string): string {
  const zone = ip.indexOf('%'); // a zone index (fe80::1%eth0); not `/%.*$/`, quadratic on a run of `%`
  const address = zone === -1 ? ip : ip.slice(0, zone);
  const version = isIP(address);
  if (version === 4) return address;
  if (version !== 6) return address;
  const groups = ipv6Groups(address.toLowerCase());
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

export interface LoginThrottleOptions {
  account?: Omit<FailureLimit, 'key'>;
  address?: Omit<FailureLimit, 'key'>;
  /** Where failures are counted; this process's memory by default. */
  log?: FailureLog;
  /** Milliseconds clock, for tests. */
  now?: () => number;
  /** How long an attempt waits for other attempts' verdicts before it is refused (default 5 s). */
  busyWaitMs?: number;
}

export interface LoginAttempt {
  username: string;
  ip: string;
}

/** What a caller reports once an allowed attempt's credentials were checked. */
export interface LoginTicket {
  /** Wrong credentials: the attempt stays counted. */
  failed(): Promise<void>;
  /** Right credentials: not counted, and the account's earlier failures are forgotten. */
  succeeded(): Promise<void>;
  /** No verdict (the identity provider failed): not counted. */
  abandoned(): Promise<void>;
}

export type LoginGate =
  | { allowed: true; ticket: LoginTicket }
  | { allowed: false; retryAfterSeconds: number };

/**
 * Login failure limits per account (guessing one user's password from many places) and per client address
 * (one place trying many users). A success clears the account's count but not the address's: otherwise an
 * attacker holding any valid account could reset the address limit between guesses.
 *
 * An attempt holds a slot from before its credentials are checked until the verdict, so concurrent attempts
 * cannot overshoot a limit; attempts that find the slots held only by pending ones wait for those verdicts
 * (a burst of right logins goes through; a burst of wrong ones stops at the limit).
 */
export class LoginThrottle {
  readonly #account: Omit<FailureLimit, 'key'>;
  readonly #address: Omit<FailureLimit, 'key'>;
  readonly #log: FailureLog;
  readonly #now: () => number;
  readonly #busyWaitMs: number;

  constructor(options: LoginThrottleOptions = {}) {
    this.#account = { maxFailures: 10, windowSeconds: 900, ...options.account };
    // Higher: many users may share one NAT address.
    this.#address = { maxFailures: 50, windowSeconds: 900, ...options.address };
    checkLimit(this.#account);
    checkLimit(this.#address);
    this.#log = options.log ?? new MemoryFailureLog();
    this.#now = options.now ?? Date.now;
    this.#busyWaitMs = options.busyWaitMs ?? 5000;
  }

  static accountKey(username: string): string {
    return username.normalize('NFC').toLowerCase();
  }

  /**
   * Refused when either limit is reached (the longer wait wins); else a ticket to report the verdict on.
   * `guessable: false` is for credentials nobody can guess (robot secrets and access tokens, 256 random bits):
   * they need no slot held while checked, so the check only reads (one query instead of two writes on the
   * busiest login path, CI robots fetching tokens); a wrong one still counts, and a right one does not clear
   * the account's failures (it proves nothing about the account's password).
   */
  async begin(attempt: LoginAttempt, options: { guessable?: boolean } = {}): Promise<LoginGate> {
    const account = `account:${LoginThrottle.accountKey(attempt.username)}`;
    const address = `address:${addressKey(attempt.ip)}`;
    const limits = [
      { key: account, ...this.#account },
      { key: address, ...this.#address },
    ];
    const id = randomUUID();
    if (options.guessable === false) {
      const verdict = await this.#log.peek(limits, this.#now());
      if (verdict.outcome === 'refused')
        return { allowed: false, retryAfterSeconds: verdict.retryAfterSeconds };
      const settled = async () => {};
      return {
        allowed: true,
        ticket: {
          failed: () => this.#log.record(limits, id, this.#now()),
          succeeded: settled,
          abandoned: settled,
        },
      };
    }
    const deadline = Date.now() + this.#busyWaitMs;
    let delay = 10;
    for (;;) {
      const verdict = await this.#log.reserve(limits, id, this.#now());
      if (verdict.outcome === 'refused')
        return { allowed: false, retryAfterSeconds: verdict.retryAfterSeconds };
      if (verdict.outcome === 'reserved') break;
      if (Date.now() >= deadline) return { allowed: false, retryAfterSeconds: 1 };
      await sleep(delay);
      delay = Math.min(delay * 2, 200);
    }
    const keys = [account, address];
    return {
      allowed: true,
      ticket: {
        failed: () => this.#log.confirm(keys, id),
        succeeded: () => this.#log.release(keys, id, [account]),
        abandoned: () => this.#log.release(keys, id),
      },
    };
  }
}
