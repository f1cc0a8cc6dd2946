/** Why an OIDC login was refused; the API maps each to a status (see api/oidc-routes.ts). */
export type OidcLoginErrorCode =
  /** No login in progress in this browser, or its attempt was already used. */
  | 'LOGIN_UNKNOWN'
  /** The attempt is older than auth.oidc.loginTimeoutSeconds. */
  | 'LOGIN_EXPIRED'
  /** The answer's state is not the one this browser's attempt sent. */
  | 'STATE_MISMATCH'
  /** The provider answered with an error (the user declined, the code was already used, …). */
  | 'PROVIDER_REFUSED'
  /** The provider's answer does not verify: ID token signature, issuer, audience, nonce, expiry. */
  | 'RESPONSE_INVALID'
  /** The claims do not name a user Berth can have (no or a malformed username claim). */
  | 'CLAIMS_INVALID'
  /** The provider could not be reached, or its discovery document is unusable. */
  | 'PROVIDER_UNAVAILABLE';

export class OidcLoginError extends Error {
  override name = 'OidcLoginError';
  constructor(
    readonly code: OidcLoginErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
