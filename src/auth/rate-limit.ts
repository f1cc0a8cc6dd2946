import { isIP } from 'node:net';
import { LRUCache } from 'lru-cache';

export type RateLimitResult = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface FailureLimitOptions {
  /** Failures tolerated within the window; the next attempt is refused. */
  maxFailures: number;
  windowSeconds: number;
  /** Keys remembered at most; the least recently used are forgotten first. */
  maxKeys?: number;
  /** Milliseconds clock, for tests. */
  now?: () => number;
}

/**
 * A sliding-window log of failures per key, in memory. Each key keeps at most `maxFailures` timestamps and
 * at most `maxKeys` keys are kept (LRU), so memory is bounded whatever an attacker sends. Per process: with
 * several workers or nodes each keeps its own count, which only loosens the limit by that factor.
 */
export class FailureLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #failures: LRUCache<string, number[]>;

  constructor(options: FailureLimitOptions) {
    if (!(Number.isInteger(options.maxFailures) && options.maxFailures >= 1)) {
      throw new RangeError('maxFailures must be a positive integer');
    }
    if (!(options.windowSeconds > 0)) throw new RangeError('windowSeconds must be positive');
    this.#max = options.maxFailures;
    this.#windowMs = options.windowSeconds * 1000;
    this.#now = options.now ?? Date.now;
    this.#failures = new LRUCache({ max: options.maxKeys ?? 10_000 });
  }

  /** Failures still inside the window, oldest first; drops the expired ones. */
  #recent(key: string, now: number): number[] {
    const times = this.#failures.get(key);
    if (!times) return [];
    const recent = times.filter((time) => time > now - this.#windowMs);
    if (recent.length === 0) this.#failures.delete(key);
    else if (recent.length !== times.length) this.#failures.set(key, recent);
    return recent;
  }

  check(key: string): RateLimitResult {
    const now = this.#now();
    const recent = this.#recent(key, now);
    if (recent.length < this.#max) return { allowed: true };
    const oldest = recent[recent.length - this.#max] as number;
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((oldest + this.#windowMs - now) / 1000)),
    };
  }

  recordFailure(key: string): void {
    const now = this.#now();
    const recent = [...this.#recent(key, now), now].slice(-this.#max);
    this.#failures.set(key, recent);
  }

  recordSuccess(key: string): void {
    this.#failures.delete(key);
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
  const address = ip.replace(/%.*$/, '');
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
  account?: Omit<FailureLimitOptions, 'now'>;
  address?: Omit<FailureLimitOptions, 'now'>;
  now?: () => number;
}

/**
 * Login failure limits per account (guessing one user's password from many places) and per client address
 * (one place trying many users). A success clears the account's count but not the address's: otherwise an
 * attacker holding any valid account could reset the address limit between guesses.
 */
export class LoginThrottle {
  readonly #account: FailureLimiter;
  readonly #address: FailureLimiter;

  constructor(options: LoginThrottleOptions = {}) {
    this.#account = new FailureLimiter({
      maxFailures: 10,
      windowSeconds: 900,
      ...options.account,
      now: options.now,
    });
    // Higher: many users may share one NAT address.
    this.#address = new FailureLimiter({
      maxFailures: 50,
      windowSeconds: 900,
      ...options.address,
      now: options.now,
    });
  }

  static accountKey(username: string): string {
    return username.normalize('NFC').toLowerCase();
  }

  /** Refused when either limit is reached; the longer wait wins. */
  check(attempt: { username: string; ip: string }): RateLimitResult {
    const results = [
      this.#account.check(LoginThrottle.accountKey(attempt.username)),
      this.#address.check(addressKey(attempt.ip)),
    ];
    const waits = results.flatMap((result) => (result.allowed ? [] : [result.retryAfterSeconds]));
    return waits.length === 0 ? { allowed: true } : { allowed: false, retryAfterSeconds: Math.max(...waits) };
  }

  recordFailure(attempt: { username: string; ip: string }): void {
    this.#account.recordFailure(LoginThrottle.accountKey(attempt.username));
    this.#address.recordFailure(addressKey(attempt.ip));
  }

  recordSuccess(attempt: { username: string; ip: string }): void {
    this.#account.recordSuccess(LoginThrottle.accountKey(attempt.username));
  }
}
