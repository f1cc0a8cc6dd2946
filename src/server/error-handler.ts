import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DatabaseUnavailableError, isDatabaseFull } from '../metadata/index.js';
import { RegistryError } from '../registry/index.js';
import { StorageFullError, StorageUnavailableError } from '../storage/index.js';

const ABORT_CODES = new Set(['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED', 'EPIPE']);

/** Seconds a client is asked to wait before retrying while storage or the database is unavailable. */
const RETRY_AFTER_SECONDS = 5;

/**
 * A failure of storage or the database rather than of the request: "storage full" (507, DENIED, so clients
 * do not retry in a loop) or "unavailable" (503 with Retry-After). Looks through `cause` chains.
 */
function backendFailure(error: unknown): RegistryError | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof StorageFullError || isDatabaseFull(e)) {
      return new RegistryError('DENIED', {
        status: 507,
        message: 'storage full: the registry has no space left to store this',
      });
    }
    if (e instanceof StorageUnavailableError || e instanceof DatabaseUnavailableError) {
      return new RegistryError('UNAVAILABLE', {
        message: `${e.message}; retry later`,
        headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
      });
    }
  }
  return undefined;
}

/** Turns whatever a handler threw into an OCI error body (distribution-spec "Error Codes"). */
export function toRegistryError(error: FastifyError | Error, request: FastifyRequest): RegistryError {
  if (error instanceof RegistryError) return error;
  const failure = backendFailure(error);
  if (failure) return failure;
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
  if (registryError.code === 'UNKNOWN') request.log.error({ err: error }, 'request failed');
  else if (registryError.status >= 500) request.log.warn({ err: error }, registryError.message);
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
