import type { FastifyReply, FastifyRequest } from 'fastify';

/** HSTS for a year when Berth serves TLS itself; behind a TLS proxy, the proxy sends it (docs/security.md). */
const HSTS = 'max-age=31536000';

/** Paths whose answers carry credentials or account data: never stored by a browser or a shared cache. */
function carriesCredentials(url: string): boolean {
  return url === '/token' || url.startsWith('/token?') || url === '/api/v1' || url.startsWith('/api/v1/');
}

/**
 * An onSend hook adding the browser-facing hardening headers to every answer. Berth serves content others
 * pushed (a blob may well be an HTML page), so nothing it sends may be sniffed into a document type, framed,
 * or run scripts: `default-src 'none'` and `nosniff` hold for blobs and JSON alike.
 */
export function securityHeaders(tls: boolean) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'; sandbox");
    if (tls) reply.header('strict-transport-security', HSTS);
    if (carriesCredentials(request.url)) reply.header('cache-control', 'no-store');
  };
}
