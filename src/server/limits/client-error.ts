import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';

/**
 * What a request that never became a request gets (Node's 'clientError': a head that does not parse, a head too
 * large, one not sent within http.headersTimeoutSeconds): the OCI error format like every other refusal, and
 * `Connection: close`, since the connection cannot carry another request. Fastify's default sent a body of its
 * own format without that header, so a keep-alive client reused the dead connection and saw "socket hang up".
 */
export function clientErrorHandler(
  this: { log: FastifyBaseLogger },
  error: NodeJS.ErrnoException,
  socket: Socket,
) {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'UNSUPPORTED', 'the request head was not sent in time']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'UNSUPPORTED', 'the request head is too large']
        : [400, 'UNSUPPORTED', `the request is not valid HTTP/1.1 (${error.code ?? 'parse error'})`];
  this.log.debug({ err: error }, 'client error');
  const body = JSON.stringify({ errors: [{ code, message }] });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
