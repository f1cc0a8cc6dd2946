/**
 * auth/oidc/: single sign-on with an OpenID Provider (Authorization Code flow with PKCE, state and nonce),
 * through openid-client. No HTTP server and no database here: api/oidc-routes.ts answers the browser,
 * accounts/ provisions the user, and the login attempts are stored through LoginAttempts.
 */
export { type OidcProfile, profileFromClaims } from './claims.js';
export { OidcLoginError, type OidcLoginErrorCode } from './errors.js';
export { DEFAULT_NEXT, sameOriginPath } from './next-path.js';
export {
  type LoginAttempt,
  type LoginAttempts,
  OidcRelyingParty,
  type OidcSettings,
} from './relying-party.js';
