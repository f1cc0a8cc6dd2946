import { readFileSync } from 'node:fs';
import type { Config } from '../../config/index.js';
import { clientErrorHandler } from './client-error.js';

/**
 * The Node server's own limits and TLS settings, as Fastify options.
 *
 * - `headersTimeout`: a request's whole head must arrive within it (slowloris on headers); Node answers 408
 *   and closes. Node checks it every `connectionsCheckingInterval` (30 s by default), kept well below it here.
 * - `requestTimeout: 0`: no cap on a request's total time, since a layer upload may rightly take an hour.
 * - `connectionTimeout` (the socket's idle timeout): what cuts slow or stalled bodies instead — a connection
 *   on which no byte moves either way for that long is destroyed, however long it has been going.
 */
export function serverOptions(config: Config) {
  const { http } = config;
  const headersTimeout = http.headersTimeoutSeconds * 1000;
  const server = {
    headersTimeout,
    connectionsCheckingInterval: Math.min(5000, Math.max(250, headersTimeout / 4)),
  };
  const tls = http.tlsCert
    ? {
        https: {
          ...server,
          cert: readFileSync(http.tlsCert),
          key: readFileSync(http.tlsKey),
          minVersion: http.tlsMinVersion,
          ciphers: http.tlsCiphers,
          // The server's cipher order, not the client's: the list above is ordered strongest first.
          honorCipherOrder: true,
        },
      }
    : { http: server };
  return {
    ...tls,
    requestTimeout: 0,
    connectionTimeout: http.idleTimeoutSeconds * 1000,
    clientErrorHandler,
  };
}
