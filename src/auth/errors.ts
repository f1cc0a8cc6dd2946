/**
 * Auth error codes, declared once with the HTTP status a handler should answer with. The auth core throws
 * AuthError; the server maps it to its response (an OCI `{"errors":[…]}` body on /v2, a token-endpoint body on
 * /token). Wrong credentials are never an error: they are a `null`/`false` result.
 */
export const AUTH_ERROR_CODES = {
  /** A `scope` parameter that does not follow the Docker token scope grammar. */
  SCOPE_INVALID: { status: 400, message: 'invalid scope' },
  /** An Authorization header that cannot be parsed (bad base64, no ':' in Basic credentials, …). */
  CREDENTIALS_MALFORMED: { status: 400, message: 'malformed credentials' },
  /** A project IP allowlist entry that is neither an address nor a CIDR block. */
  ALLOWLIST_INVALID: { status: 400, message: 'invalid IP allowlist entry' },
  /** A bearer or refresh token that fails signature, time, issuer, audience or claim-shape checks. */
  TOKEN_INVALID: { status: 401, message: 'invalid token' },
  /** A stored signing key that cannot be used. */
  KEY_INVALID: { status: 500, message: 'token signing key is invalid' },
  /** The LDAP server cannot be reached or timed out. */
  LDAP_UNAVAILABLE: { status: 503, message: 'LDAP server unavailable' },
  /** The LDAP server answered, but Berth's LDAP settings do not work (service bind refused, ambiguous user). */
  LDAP_MISCONFIGURED: { status: 500, message: 'LDAP configuration error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type AuthErrorCode = keyof typeof AUTH_ERROR_CODES;

export class AuthError extends Error {
  readonly code: AuthErrorCode;
  readonly status: number;
  readonly detail: unknown;

  constructor(code: AuthErrorCode, options: { message?: string; detail?: unknown; cause?: unknown } = {}) {
    super(options.message ?? AUTH_ERROR_CODES[code].message, { cause: options.cause });
    this.name = 'AuthError';
    this.code = code;
    this.status = AUTH_ERROR_CODES[code].status;
    this.detail = options.detail;
  }
}
