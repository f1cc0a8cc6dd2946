import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { addressKey } from '../../auth/index.js';
import { tooManyRequests } from './too-many-requests.js';

/**
 * Open connections per client address. A connection past the cap is still accepted (so that its client gets an
 * answer rather than a reset), but each request on it is refused with 429 and the connection closed; the
 * header and idle timeouts reap the ones that never send a request. Loopback and trusted proxies are not
 * exempt unless `exempt` says so: behind a proxy every connection comes from the proxy.
 */
export class ConnectionLimit {
  readonly #open = new Map<string, number>();
  readonly #over = new WeakSet<Socket>();

  constructor(
    server: HttpServer | HttpsServer,
    private readonly max: number,
    exempt: (address: string) => boolean,
  ) {
    // Over TLS, the sockets requests arrive on are those of 'secureConnection' (see ConnectionDrain).
    const event = server instanceof TlsServer ? 'secureConnection' : 'connection';
    server.on(event, (socket: Socket) => {
      const address = socket.remoteAddress ?? '';
      if (exempt(address)) return;
      const key = addressKey(address);
      const open = (this.#open.get(key) ?? 0) + 1;
      this.#open.set(key, open);
      if (open > this.max) this.#over.add(socket);
      socket.once('close', () => {
        const left = (this.#open.get(key) ?? 1) - 1;
        if (left <= 0) this.#open.delete(key);
        else this.#open.set(key, left);
      });
    });
  }

  /** An onRequest hook: refuses requests on connections past the cap. */
  admit = async (request: FastifyRequest): Promise<void> => {
    if (!this.#over.has(request.raw.socket)) return;
    throw tooManyRequests(`more than ${this.max} open connections from this address`, 1, true);
  };

  /** Open connections counted for `address` (for tests and metrics). */
  openFrom(address: string): number {
    return this.#open.get(addressKey(address)) ?? 0;
  }
}
