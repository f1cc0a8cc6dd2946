import type { FastifyRequest } from 'fastify';
import type { Caller, Need } from '../../distribution/index.js';
import { tooManyRequests } from './too-many-requests.js';

type Guard = (request: FastifyRequest, need: Need) => Promise<Caller>;

/** /v2 requests that carry blob bytes: a chunk (PATCH), a closing PUT, a monolithic POST ?digest=. */
function carriesBlobBytes(request: FastifyRequest): boolean {
  const route = request.berthRoute;
  if (route === 'upload') return request.method === 'PATCH' || request.method === 'PUT';
  return route === 'upload-start' && request.method === 'POST' && request.url.includes('digest=');
}

/**
 * A cap on the requests writing blob bytes at once per caller (user or robot): each holds a connection, a
 * temporary object and a lease for as long as its client takes, so one account — a leaked CI secret, a
 * runaway script — cannot tie up the server's upload capacity. Counted per process, like RequestRate.
 */
export class UploadSlots {
  readonly #busy = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Wraps the /v2 guard: once the caller is known, a blob-writing request takes a slot until it is answered. */
  guard(inner: Guard): Guard {
    return async (request, need) => {
      const caller = await inner(request, need);
      if (this.max > 0 && need.kind === 'repository' && need.action === 'push' && carriesBlobBytes(request)) {
        this.#take(caller.subject || `address:${caller.sourceIp ?? request.ip}`, request);
      }
      return caller;
    };
  }

  #take(key: string, request: FastifyRequest): void {
    const busy = this.#busy.get(key) ?? 0;
    if (busy >= this.max) {
      throw tooManyRequests(`more than ${this.max} blob uploads at once for this account`, 1);
    }
    this.#busy.set(key, busy + 1);
    // 'close' comes once the response is sent in full or the connection is gone, whichever is first.
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.#busy.get(key) ?? 1) - 1;
      if (left <= 0) this.#busy.delete(key);
      else this.#busy.set(key, left);
    };
    request.raw.once('close', release);
  }

  /** Slots held by `key` now (for tests). */
  busy(key: string): number {
    return this.#busy.get(key) ?? 0;
  }
}
