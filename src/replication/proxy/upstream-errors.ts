import { RegistryError } from '../../registry/index.js';
import {
  ContentMismatchError,
  RegistryNetworkError,
  RegistryTimeoutError,
  RemoteRegistryError,
} from '../client/index.js';

/** Whether the upstream could not be asked at all or answered with a failure (not a plain "not found"). */
export function isUpstreamFailure(error: unknown): boolean {
  return (
    (error instanceof RemoteRegistryError && error.status !== 404) ||
    error instanceof RegistryNetworkError ||
    error instanceof RegistryTimeoutError ||
    error instanceof ContentMismatchError
  );
}

/** A short reason for the stale header and the log: `unreachable`, `answered 429 TOOMANYREQUESTS`. */
export function upstreamReason(error: unknown): string {
  if (error instanceof RemoteRegistryError) {
    // A HEAD's answer has no body, hence no OCI code: the status says it.
    return `answered ${error.status}${error.code.startsWith('HTTP_') ? '' : ` ${error.code}`}`;
  }
  if (error instanceof RegistryTimeoutError) return 'timed out';
  if (error instanceof ContentMismatchError) return 'served content that does not match its digest';
  return 'unreachable';
}

/**
 * The client's error for content the cache lacks and the upstream did not give: 503 UNAVAILABLE naming the
 * upstream and its answer (with its Retry-After), or, when the upstream does not know or will not show the
 * repository (404, or the 401/403 Docker Hub gives for names it lacks), the `unknown` error naming it.
 */
export function upstreamError(upstream: string, error: unknown, unknown: () => RegistryError): RegistryError {
  if (error instanceof RegistryError) return error;
  const said = error instanceof Error ? error.message : String(error);
  if (error instanceof RemoteRegistryError && [401, 403, 404].includes(error.status)) {
    const base = unknown();
    return new RegistryError(base.code, {
      message: `${base.message}: upstream ${upstream} answered ${error.status} ${error.code}`,
      detail: base.detail,
    });
  }
  if (!isUpstreamFailure(error)) throw error;
  const headers: Record<string, string> = {};
  if (error instanceof RemoteRegistryError && error.retryAfterMs !== undefined) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
  }
  return new RegistryError('UNAVAILABLE', {
    message: `pull-through cache: upstream ${upstream} ${upstreamReason(error)} (${said})`,
    detail: { upstream, reason: upstreamReason(error) },
    headers,
  });
}
