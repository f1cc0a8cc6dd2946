import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RegistryError } from '../registry/index.js';

/** Seconds a client refused by a node shutting down is asked to wait (another node, or this one restarted). */
export const SHUTDOWN_RETRY_AFTER_SECONDS = 5;

/** The probes answer for themselves while shutting down (/readyz says "shutting down" with its own 503). */
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

/** Whether a request is one of the probes (health, readiness, metrics). */
export function isProbe(request: FastifyRequest): boolean {
  return PROBES.has(request.url.split('?', 1)[0] ?? '');
}

/**
 * Once a graceful shutdown has begun, a request that still reaches the server (pipelined behind a response in
 * flight, or on a connection accepted just before the listener closed) gets 503 UNAVAILABLE in the registry's
 * error format — `/v2` and `/api/v1` alike render `{"errors":[…]}` — with `Retry-After`; the server's onSend hook
 * adds `Connection: close`. This replaces Fastify's `return503OnClosing`, whose body is its own
 * (`{"statusCode":503,…}`), which clients of the OCI error format cannot read.
 */
export function refuseWhileClosing(app: FastifyInstance, isAccepting: () => boolean): void {
  app.addHook('onRequest', async (request) => {
    if (isAccepting() || isProbe(request)) return;
    throw new RegistryError('UNAVAILABLE', {
      message: 'the registry is shutting down; retry in a moment',
      headers: { 'retry-after': String(SHUTDOWN_RETRY_AFTER_SECONDS) },
    });
  });
}
