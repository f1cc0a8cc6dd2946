/** One entry of an OCI error body (distribution-spec "Error Codes"). */
export interface RemoteErrorEntry {
  code: string;
  message?: string;
  detail?: unknown;
}

/** A URL as it may appear in errors and logs: no user info, and no query (upload `_state` tokens live there). */
export function printableUrl(url: URL | string): string {
  const copy = new URL(url);
  copy.username = '';
  copy.password = '';
  copy.search = '';
  return copy.toString();
}

/**
 * A remote registry answered with an error status. `code` is the first OCI error code of its body (or
 * `HTTP_<status>` when the body is not an OCI error), `status` the HTTP status, `url` the request's URL
 * without credentials or query.
 */
export class RemoteRegistryError extends Error {
  readonly code: string;
  readonly errors: RemoteErrorEntry[];
  /** How long the registry asked us to wait (Retry-After), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    errors: RemoteErrorEntry[],
    retryAfterMs?: number,
  ) {
    const first = errors[0];
    const said = first ? `${first.code}${first.message ? `: ${first.message}` : ''}` : `HTTP ${status}`;
    super(`${method} ${url} answered ${status} (${said})`);
    this.name = 'RemoteRegistryError';
    this.code = first?.code ?? `HTTP_${status}`;
    this.errors = errors;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The request never got an answer: connection refused or reset, DNS, TLS. */
export class RegistryNetworkError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    cause: unknown,
  ) {
    const reason = (cause as { cause?: { code?: string; message?: string } })?.cause;
    super(
      `${method} ${url} failed: ${reason?.code ?? reason?.message ?? (cause as Error)?.message ?? cause}`,
      {
        cause,
      },
    );
    this.name = 'RegistryNetworkError';
  }
}

/** No response headers, no progress sending a body, or no body bytes, within the allowed time. */
export class RegistryTimeoutError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly phase: 'headers' | 'upload' | 'body',
    readonly timeoutMs: number,
  ) {
    const what = { headers: 'response', upload: 'progress sending the body', body: 'body bytes' }[phase];
    super(`${method} ${url}: no ${what} within ${timeoutMs} ms`);
    this.name = 'RegistryTimeoutError';
  }
}

/** Content whose bytes do not match the digest or size that names them: never stored, never retried. */
export class ContentMismatchError extends Error {
  constructor(
    message: string,
    readonly expected: { digest?: string; size?: number },
    readonly actual: { digest?: string; size?: number },
  ) {
    super(message);
    this.name = 'ContentMismatchError';
  }
}

/** Statuses worth another try: the registry or a proxy in front of it is overloaded or restarting. */
const TRANSIENT_STATUSES = new Set([408, 429, 502, 503, 504]);

/** True for the failures a retry may cure: transient statuses, network errors and timeouts. */
export function isTransient(error: unknown): boolean {
  if (error instanceof RemoteRegistryError) return TRANSIENT_STATUSES.has(error.status);
  return error instanceof RegistryNetworkError || error instanceof RegistryTimeoutError;
}
