import * as client from 'openid-client';
import { type OidcProfile, profileFromClaims } from './claims.js';
import { OidcLoginError } from './errors.js';
import { sameOriginPath } from './next-path.js';

export interface OidcSettings {
  issuer: string;
  clientId: string;
  /** Empty: a public client, authenticated by PKCE alone. */
  clientSecret: string;
  /** Space-separated, including openid. */
  scopes: string;
  usernameClaim: string;
  groupsClaim: string;
  loginTimeoutSeconds: number;
  /** An http:// issuer is accepted (tests, labs). */
  allowInsecureHttp: boolean;
}

/** A login begun: what the callback needs to check the provider's answer. */
export interface LoginAttempt {
  state: string;
  nonce: string;
  codeVerifier: string;
  next: string;
  createdAt: number;
  expiresAt: number;
}

/** Where attempts wait for the browser to come back (the database: any node may take the callback). */
export interface LoginAttempts {
  insertLogin(attempt: LoginAttempt): Promise<void>;
  /** Removes and returns the attempt: a second take of the same state finds nothing. */
  takeLogin(state: string): Promise<LoginAttempt | undefined>;
  deleteExpiredLogins(now: number): Promise<void>;
}

/** Expired attempts are deleted at most this often per process (when a login begins). */
const PRUNE_INTERVAL_MS = 60_000;
/** Discovery and every request to the provider give up after this long. */
const PROVIDER_TIMEOUT_SECONDS = 10;

/**
 * The relying party of OpenID Connect's Authorization Code flow with PKCE (S256), state and nonce, through
 * openid-client. The provider's metadata comes from discovery at the first login (and again after a failure).
 *
 * State, nonce and PKCE verifier stay on the server (LoginAttempts, keyed by state): the browser holds only the
 * state, in an HttpOnly cookie that binds the attempt to the browser that began it. The callback takes the
 * attempt out (used once), refuses it when expired or when the answer's state differs from the cookie's, then
 * lets openid-client exchange the code and verify the ID token (signature from the provider's JWKS, issuer,
 * audience, expiry, nonce).
 */
export class OidcRelyingParty {
  #configuration: Promise<client.Configuration> | undefined;
  #prunedAt = 0;

  constructor(
    private readonly settings: OidcSettings,
    private readonly attempts: LoginAttempts,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts a login: the provider URL to send the browser to, and the state to bind to the browser. */
  async begin(redirectUri: string, next?: string): Promise<{ url: string; state: string }> {
    const configuration = await this.#discover();
    const now = this.now();
    if (now - this.#prunedAt >= PRUNE_INTERVAL_MS) {
      this.#prunedAt = now;
      await this.attempts.deleteExpiredLogins(now);
    }
    const attempt: LoginAttempt = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      codeVerifier: client.randomPKCECodeVerifier(),
      next: sameOriginPath(next),
      createdAt: now,
      expiresAt: now + this.settings.loginTimeoutSeconds * 1000,
    };
    await this.attempts.insertLogin(attempt);
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: redirectUri,
      scope: this.settings.scopes,
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(attempt.codeVerifier),
      code_challenge_method: 'S256',
      state: attempt.state,
      nonce: attempt.nonce,
    });
    return { url: url.href, state: attempt.state };
  }

  /**
   * Completes a login from the provider's answer (the callback's query) and the state the browser's cookie
   * holds: the user's profile and where to go next. Throws OidcLoginError.
   */
  async complete(
    redirectUri: string,
    query: URLSearchParams,
    boundState: string | undefined,
  ): Promise<{ profile: OidcProfile; next: string }> {
    if (!boundState) {
      throw new OidcLoginError('LOGIN_UNKNOWN', 'no login is in progress in this browser: start again');
    }
    const attempt = await this.attempts.takeLogin(boundState);
    if (!attempt) {
      throw new OidcLoginError(
        'LOGIN_UNKNOWN',
        'this login attempt is unknown or was already used: start again',
      );
    }
    if (attempt.expiresAt <= this.now()) {
      throw new OidcLoginError('LOGIN_EXPIRED', 'this login attempt expired: start again');
    }
    if (query.get('state') !== attempt.state) {
      throw new OidcLoginError(
        'STATE_MISMATCH',
        "the provider's answer does not belong to the login this browser began (state mismatch)",
      );
    }
    const error = query.get('error');
    if (error !== null) {
      const description = query.get('error_description');
      throw new OidcLoginError(
        'PROVIDER_REFUSED',
        `the identity provider refused the login: ${error}${description ? ` (${description})` : ''}`,
      );
    }
    const configuration = await this.#discover();
    const callbackUrl = new URL(redirectUri);
    callbackUrl.search = query.toString();
    const claims = await this.#exchange(configuration, callbackUrl, attempt);
    const profile = profileFromClaims(claims, {
      issuer: configuration.serverMetadata().issuer,
      usernameClaim: this.settings.usernameClaim,
      groupsClaim: this.settings.groupsClaim,
    });
    return { profile, next: attempt.next };
  }

  /** The code for tokens, the verified ID token's claims, and the userinfo answer (groups are often only there). */
  async #exchange(
    configuration: client.Configuration,
    callbackUrl: URL,
    attempt: LoginAttempt,
  ): Promise<Record<string, unknown>> {
    try {
      const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
        pkceCodeVerifier: attempt.codeVerifier,
        expectedState: attempt.state,
        expectedNonce: attempt.nonce,
      });
      const idClaims = tokens.claims();
      if (!idClaims) throw new OidcLoginError('RESPONSE_INVALID', 'the provider returned no ID token');
      let userinfo: Record<string, unknown> = {};
      if (configuration.serverMetadata().userinfo_endpoint) {
        userinfo = await client.fetchUserInfo(configuration, tokens.access_token, idClaims.sub);
      }
      return { ...userinfo, ...idClaims };
    } catch (error) {
      throw classify(error);
    }
  }

  #discover(): Promise<client.Configuration> {
    if (!this.#configuration) {
      const { issuer, clientId, clientSecret, allowInsecureHttp } = this.settings;
      const pending = client
        .discovery(
          new URL(issuer),
          clientId,
          clientSecret ? { client_secret: clientSecret } : undefined,
          clientSecret ? client.ClientSecretBasic(clientSecret) : client.None(),
          {
            timeout: PROVIDER_TIMEOUT_SECONDS,
            ...(allowInsecureHttp && { execute: [client.allowInsecureRequests] }),
          },
        )
        .catch((error: unknown) => {
          // Not cached: the next login tries again (the provider may be back).
          this.#configuration = undefined;
          throw new OidcLoginError(
            'PROVIDER_UNAVAILABLE',
            `the identity provider's discovery failed (${issuer}): ${(error as Error).message}`,
            { cause: error },
          );
        });
      this.#configuration = pending;
    }
    return this.#configuration;
  }
}

function classify(error: unknown): OidcLoginError {
  if (error instanceof OidcLoginError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof client.AuthorizationResponseError || error instanceof client.ResponseBodyError) {
    return new OidcLoginError('PROVIDER_REFUSED', `the identity provider refused the login: ${message}`, {
      cause: error,
    });
  }
  // fetch failures (connection refused, timeout) are TypeErrors or AbortErrors, not protocol errors.
  if (error instanceof TypeError || (error instanceof Error && error.name === 'AbortError')) {
    return new OidcLoginError('PROVIDER_UNAVAILABLE', `the identity provider is not reachable: ${message}`, {
      cause: error,
    });
  }
  // openid-client's message is generic; the check that failed (the nonce, the audience…) is its cause's.
  const cause = (error as { cause?: unknown }).cause;
  const detail = cause instanceof Error && cause.message !== message ? `: ${cause.message}` : '';
  return new OidcLoginError(
    'RESPONSE_INVALID',
    `the identity provider's answer is not valid: ${message}${detail}`,
    {
      cause: error,
    },
  );
}
