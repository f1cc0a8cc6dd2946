import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../registry/index.js';

const ABORT_CODES = new Set(['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED', 'EPIPE']);

/** Turns whatever a handler threw into an OCI error body (distribution-spec "Error Codes"). */
export function toRegistryError(error: FastifyError | Error, request: FastifyRequest): RegistryError {
  if (error instanceof RegistryError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (request.raw.aborted || (code !== undefined && ABORT_CODES.has(code))) {
    return new RegistryError('BLOB_UPLOAD_INVALID', {
      message: 'the client closed the connection mid-request',
    });
  }
  const status = (error as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return new RegistryError(status === 413 ? 'SIZE_INVALID' : 'UNSUPPORTED', {
      status,
      message: error.message,
    });
  }
  return new RegistryError('UNKNOWN', { message: 'internal error; see the server log for this request id' });
}

export function errorHandler(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
): unknown {
  const registryError = toRegistryError(error, request);
  if (registryError.status >= 500) request.log.error({ err: error }, 'request failed');
  else if (registryError.code === 'BLOB_UPLOAD_INVALID' && request.raw.aborted) {
    request.log.info({ reason: error.message }, 'client disconnected');
  }
  if (reply.raw.headersSent || reply.raw.destroyed) return;
  return reply
    .code(registryError.status)
    .headers(registryError.headers)
    .type('application/json')
    .send(registryError.toBody());
}
