import {
  DelegateBackoff,
  ExponentialBackoff,
  handleWhen,
  type IBackoff,
  type IRetryBackoffContext,
  type RetryPolicy,
  retry,
} from 'cockatiel';
import { isTransient, RemoteRegistryError } from './errors.js';

export interface RetryOptions {
  /** Attempts after the first one. Default 5. */
  retries?: number;
  /** The first backoff, before jitter. Default 200 ms. */
  initialDelayMs?: number;
  /** The longest backoff. Default 30 s. */
  maxDelayMs?: number;
  /** The longest Retry-After honoured; a longer one is waited for this long. Default 120 s. */
  maxRetryAfterMs?: number;
}

/**
 * Exponential backoff with decorrelated jitter on transient failures (429, 502/503/504, network, timeouts);
 * a Retry-After the registry sent is a lower bound on the wait.
 */
export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  const exponential = new ExponentialBackoff({
    initialDelay: options.initialDelayMs ?? 200,
    maxDelay: options.maxDelayMs ?? 30_000,
  });
  const maxRetryAfter = options.maxRetryAfterMs ?? 120_000;
  const backoff = new DelegateBackoff<IRetryBackoffContext<unknown>, IBackoff<unknown> | undefined>(
    (context, previous) => {
      const next = previous ? previous.next(undefined) : exponential.next();
      const error = 'error' in context.result ? context.result.error : undefined;
      const asked = error instanceof RemoteRegistryError ? error.retryAfterMs : undefined;
      const delay =
        asked === undefined ? next.duration : Math.max(next.duration, Math.min(asked, maxRetryAfter));
      return { delay, state: next };
    },
  );
  return retry(handleWhen(isTransient), { maxAttempts: options.retries ?? 5, backoff });
}

/** `Retry-After: <seconds>` or `Retry-After: <HTTP-date>` (RFC 9110 §10.2.3) in milliseconds from now. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
