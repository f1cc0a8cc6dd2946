import type { FastifyInstance, FastifyRequest } from 'fastify';
import { addressKey, type Identity } from '../../auth/index.js';
import type { Config } from '../../config/index.js';
import { subjectOf } from '../auth/credentials.js';
import { ConnectionLimit } from './connection-limit.js';
import { RequestRate } from './request-rate.js';
import { securityHeaders } from './security-headers.js';
import { tooManyRequests } from './too-many-requests.js';
import { UploadSlots } from './upload-slots.js';

export { RequestRate } from './request-rate.js';
export { serverOptions } from './server-options.js';

export interface AbuseLimits {
  /** Wraps the /v2 guard with the per-account cap on concurrent blob uploads. */
  uploads: UploadSlots;
  /** Wraps the API's authenticate with the per-user request rate. */
  authenticate(
    inner: (request: FastifyRequest) => Promise<Identity>,
  ): (request: FastifyRequest) => Promise<Identity>;
  /** For the token endpoint, once it knows who asks: refuses past the per-user token rate. */
  admitToken(request: FastifyRequest, subject: string): void;
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * The limits against abuse (docs/security.md): connections per address, request rates per address and per
 * account on /api/v1 and /token, concurrent uploads per account, and the hardening headers. `sourceIp` is the
 * client address after trusted-proxy handling; `trustedProxy` exempts proxies from the connection cap.
 */
export function setupLimits(
  app: FastifyInstance,
  config: Config,
  options: { sourceIp(request: FastifyRequest): string; trustedProxy(address: string): boolean },
): AbuseLimits {
  const limits = config.limits;
  if (limits.connectionsPerAddress > 0) {
    const connections = new ConnectionLimit(app.server, limits.connectionsPerAddress, options.trustedProxy);
    app.addHook('onRequest', connections.admit);
  }
  const rate = new RequestRate(limits.windowSeconds);
  const take = (key: string, limit: number, what: string) => {
    const verdict = rate.take(key, limit);
    if (!verdict.allowed) {
      throw tooManyRequests(
        `more than ${limit} ${what} requests per ${limits.windowSeconds} s`,
        verdict.retryAfterSeconds,
      );
    }
  };
  app.addHook('onRequest', async (request) => {
    const path = pathOf(request.url);
    const api = path === '/api/v1' || path.startsWith('/api/v1/');
    if (!api && path !== '/token') return;
    const address = addressKey(options.sourceIp(request));
    if (api) take(`api address ${address}`, limits.apiRequestsPerAddress, '/api/v1');
    else take(`token address ${address}`, limits.tokenRequestsPerAddress, '/token');
  });
  app.addHook('onSend', securityHeaders(config.http.tlsCert !== ''));
  return {
    uploads: new UploadSlots(limits.uploadsPerUser),
    authenticate: (inner) => async (request) => {
      const identity = await inner(request);
      const subject = subjectOf(identity);
      if (subject !== '') take(`api account ${subject}`, limits.apiRequestsPerUser, '/api/v1');
      return identity;
    },
    admitToken(_request, subject) {
      if (subject !== '') take(`token account ${subject}`, limits.tokenRequestsPerUser, '/token');
    },
  };
}
