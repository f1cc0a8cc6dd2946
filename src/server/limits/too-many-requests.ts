import { RegistryError } from '../../registry/index.js';

/** 429 TOOMANYREQUESTS with Retry-After (RFC 6585 §4); `close` also ends the connection after the answer. */
export function tooManyRequests(message: string, retryAfterSeconds: number, close = false): RegistryError {
  return new RegistryError('TOOMANYREQUESTS', {
    message,
    detail: { retryAfterSeconds },
    headers: {
      'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))),
      ...(close && { connection: 'close' }),
    },
  });
}
