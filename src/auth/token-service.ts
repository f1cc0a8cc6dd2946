import { randomBytes } from 'node:crypto';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';
import { AuthError } from './errors.js';
import type { KeyStore } from './key-store.js';
import { type Access, parseAccessClaim } from './scope.js';

/**
 * Docker registry bearer tokens (distribution docs/spec/auth/jwt.md) and refresh tokens, signed with one
 * ES256 key. The registry verifies its own tokens, so any algorithm would do; ES256 is what Distribution's
 * spec shows, gives short tokens, and is cheap to sign.
 */
const ALGORITHM = 'ES256';
const ACCESS_TYP = 'JWT';
// A refresh token differs from an access token in its header `typ` and in a `token_use` claim; verify()
// demands the access forms and verifyRefresh() the refresh forms, so neither can stand in for the other.
const REFRESH_TYP = 'berth-refresh+jwt';
const REFRESH_USE = 'refresh';
/** The token spec: "a token should never be returned with less than 60 seconds to live". */
export const MIN_EXPIRES_IN_SECONDS = 60;

export interface TokenServiceOptions {
  /** `iss` of every token, checked on verification (e.g. "berth" or the token realm's host). */
  issuer: string;
  keyStore: KeyStore;
  /** Default 300 s. */
  expiresInSeconds?: number;
  /** Default 30 days. */
  refreshExpiresInSeconds?: number;
  /** Allowed clock difference when checking exp/nbf, default 30 s (several nodes, one key). */
  clockSkewSeconds?: number;
  now?: () => Date;
}

export interface IssueRequest {
  /** `sub`: the username or robot name; "" for an anonymous client, as the spec says. */
  subject: string;
  /** `aud`: the `service` the token is for. */
  audience: string;
  /** What the token grants: already intersected with what the subject holds (see grantAccess). */
  access: readonly Access[];
  expiresInSeconds?: number;
  /**
   * The subject's session generation now (claim `gen`, left out at 0): "sign out everywhere" raises it, and
   * verifiers refuse tokens of an older one.
   */
  generation?: number;
}

/** The token endpoint's response body fields (docs/spec/auth/token.md "Token Response Fields"). */
export interface IssuedToken {
  token: string;
  access_token: string;
  expires_in: number;
  /** RFC 3339 UTC. */
  issued_at: string;
}

export interface VerifiedToken {
  subject: string;
  audience: string;
  access: Access[];
  jwtId: string;
  issuedAt: Date;
  expiresAt: Date;
  /** The session generation it was issued under (0 when it carries none). */
  generation: number;
}

export type VerifiedRefreshToken = Omit<VerifiedToken, 'access' | 'generation'>;

interface SigningKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
  kid: string;
}

function tokenInvalid(reason: string, cause?: unknown): AuthError {
  return new AuthError('TOKEN_INVALID', { message: `invalid token: ${reason}`, cause });
}

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

export class TokenService {
  readonly #options: Required<Omit<TokenServiceOptions, 'keyStore'>>;
  readonly #keyStore: KeyStore;
  #key: Promise<SigningKey> | undefined;

  constructor(options: TokenServiceOptions) {
    if (!options.issuer) throw new RangeError('issuer is required');
    this.#keyStore = options.keyStore;
    this.#options = {
      issuer: options.issuer,
      expiresInSeconds: options.expiresInSeconds ?? 300,
      refreshExpiresInSeconds: options.refreshExpiresInSeconds ?? 30 * 24 * 3600,
      clockSkewSeconds: options.clockSkewSeconds ?? 30,
      now: options.now ?? (() => new Date()),
    };
    if (this.#options.expiresInSeconds < MIN_EXPIRES_IN_SECONDS) {
      throw new RangeError(`expiresInSeconds must be at least ${MIN_EXPIRES_IN_SECONDS}`);
    }
  }

  /** Loads the signing key, generating and storing one on first use. Concurrent callers share one attempt. */
  #signingKey(): Promise<SigningKey> {
    this.#key ??= this.#loadOrCreate().catch((error: unknown) => {
      this.#key = undefined; // let the next call retry (e.g. a transient file-system error)
      throw error;
    });
    return this.#key;
  }

  async #loadOrCreate(): Promise<SigningKey> {
    let jwk = await this.#keyStore.load();
    if (!jwk) {
      const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
      jwk = await this.#keyStore.save(await exportJWK(privateKey));
    }
    return importSigningKey(jwk);
  }

  /** How long a refresh token lives unless issueRefresh is told otherwise. */
  get refreshExpiresInSeconds(): number {
    return this.#options.refreshExpiresInSeconds;
  }

  /** `kid` of the signing key: its RFC 7638 JWK thumbprint. */
  async keyId(): Promise<string> {
    return (await this.#signingKey()).kid;
  }

  /** The public key as a JWK Set, for anyone else who must verify Berth's tokens. */
  async jwks(): Promise<{ keys: JWK[] }> {
    return { keys: [(await this.#signingKey()).publicJwk] };
  }

  async issue(request: IssueRequest): Promise<IssuedToken> {
    const expiresIn = request.expiresInSeconds ?? this.#options.expiresInSeconds;
    if (!(Number.isInteger(expiresIn) && expiresIn >= MIN_EXPIRES_IN_SECONDS)) {
      throw new RangeError(`expiresInSeconds must be an integer of at least ${MIN_EXPIRES_IN_SECONDS}`);
    }
    const access = checkedAccess(request.access);
    const issuedAt = seconds(this.#options.now());
    const generation = request.generation ?? 0;
    if (!(Number.isSafeInteger(generation) && generation >= 0)) {
      throw new RangeError('generation must be a non-negative integer');
    }
    const token = await this.#sign(
      { sub: request.subject, aud: request.audience, access, ...(generation > 0 && { gen: generation }) },
      ACCESS_TYP,
      issuedAt,
      expiresIn,
    );
    const issued = new Date(issuedAt * 1000).toISOString().replace('.000Z', 'Z');
    return { token, access_token: token, expires_in: expiresIn, issued_at: issued };
  }

  /** Verifies a bearer token for `audience`. Throws TOKEN_INVALID saying why. */
  async verify(token: string, options: { audience: string }): Promise<VerifiedToken> {
    const payload = await this.#verify(token, ACCESS_TYP, options.audience);
    if ('token_use' in payload) throw tokenInvalid('not an access token');
    if (!('access' in payload)) throw tokenInvalid('missing access claim');
    const generation = 'gen' in payload ? payload.gen : 0;
    if (!(typeof generation === 'number' && Number.isSafeInteger(generation) && generation >= 0)) {
      throw tokenInvalid('gen must be a non-negative integer');
    }
    return { ...this.#common(payload), access: parseAccessClaim(payload.access), generation };
  }

  /** A long-lived token that can only obtain access tokens for `subject` and `audience` (scope.md "Refresh Tokens"). */
  async issueRefresh(
    subject: string,
    options: {
      audience: string;
      expiresInSeconds?: number;
      /** The `jti`, for a caller that records the token to revoke it later; random by default. */
      jwtId?: string;
    },
  ): Promise<string> {
    const expiresIn = options.expiresInSeconds ?? this.#options.refreshExpiresInSeconds;
    if (!(Number.isInteger(expiresIn) && expiresIn >= MIN_EXPIRES_IN_SECONDS)) {
      throw new RangeError(`expiresInSeconds must be an integer of at least ${MIN_EXPIRES_IN_SECONDS}`);
    }
    if (subject === '') throw new RangeError('a refresh token needs a subject');
    const issuedAt = seconds(this.#options.now());
    return this.#sign(
      {
        sub: subject,
        aud: options.audience,
        token_use: REFRESH_USE,
        ...(options.jwtId && { jti: options.jwtId }),
      },
      REFRESH_TYP,
      issuedAt,
      expiresIn,
    );
  }

  /**
   * Verifies a refresh token presented for `audience`. The caller must still check the subject exists and is
   * enabled, and may refuse tokens issued before the subject's last password change (issuedAt).
   */
  async verifyRefresh(token: string, options: { audience: string }): Promise<VerifiedRefreshToken> {
    const payload = await this.#verify(token, REFRESH_TYP, options.audience);
    if (payload.token_use !== REFRESH_USE) throw tokenInvalid('not a refresh token');
    if ('access' in payload) throw tokenInvalid('a refresh token carries no access');
    const common = this.#common(payload);
    if (common.subject === '') throw tokenInvalid('refresh token without subject');
    return common;
  }

  async #sign(claims: JWTPayload, typ: string, issuedAt: number, expiresIn: number): Promise<string> {
    const key = await this.#signingKey();
    return new SignJWT({ jti: randomBytes(16).toString('base64url'), ...claims })
      .setProtectedHeader({ alg: ALGORITHM, typ, kid: key.kid })
      .setIssuer(this.#options.issuer)
      .setIssuedAt(issuedAt)
      .setNotBefore(issuedAt)
      .setExpirationTime(issuedAt + expiresIn)
      .sign(key.privateKey);
  }

  async #verify(token: string, typ: string, audience: string): Promise<JWTPayload> {
    const key = await this.#signingKey();
    try {
      const { payload } = await jwtVerify(
        token,
        (header) => {
          if (header.kid !== key.kid) throw tokenInvalid('unknown key id');
          return key.publicKey;
        },
        {
          algorithms: [ALGORITHM],
          typ,
          issuer: this.#options.issuer,
          audience,
          clockTolerance: this.#options.clockSkewSeconds,
          currentDate: this.#options.now(),
          requiredClaims: ['sub', 'exp', 'nbf', 'iat', 'jti'],
        },
      );
      // The spec gives a token one audience; a list (even one naming us) is not something Berth issued.
      if (typeof payload.aud !== 'string') throw tokenInvalid('audience must be a single string');
      if (typeof payload.jti !== 'string') throw tokenInvalid('jti must be a string');
      return payload;
    } catch (error) {
      if (error instanceof AuthError) throw error;
      throw tokenInvalid(error instanceof Error ? error.message : 'unverifiable', error);
    }
  }

  #common(payload: JWTPayload): VerifiedRefreshToken {
    return {
      subject: payload.sub as string,
      audience: payload.aud as string,
      jwtId: payload.jti as string,
      issuedAt: new Date((payload.iat as number) * 1000),
      expiresAt: new Date((payload.exp as number) * 1000),
    };
  }
}

/** Validates a grant with the rules verify() applies, so a bad one fails at issue time, not on every request. */
function checkedAccess(access: readonly Access[]): Access[] {
  try {
    return parseAccessClaim(access.map(({ type, name, actions }) => ({ type, name, actions })));
  } catch (error) {
    throw new RangeError(`cannot issue a token for this access: ${(error as Error).message}`);
  }
}

async function importSigningKey(jwk: JWK): Promise<SigningKey> {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string' || !jwk.x || !jwk.y) {
    throw new AuthError('KEY_INVALID', { message: 'token signing key must be a private EC P-256 JWK' });
  }
  const publicJwk: JWK = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
  try {
    const privateKey = (await importJWK(jwk, ALGORITHM)) as CryptoKey;
    const publicKey = (await importJWK(publicJwk, ALGORITHM)) as CryptoKey;
    const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
    // A hand-edited file could pair `d` with another key's x/y: tokens would then never verify. Catch it now.
    const probe = randomBytes(32);
    const algorithm = { name: 'ECDSA', hash: 'SHA-256' };
    const signature = await crypto.subtle.sign(algorithm, privateKey, probe);
    if (!(await crypto.subtle.verify(algorithm, publicKey, signature, probe)))
      throw new Error('x/y do not match d');
    return { privateKey, publicKey, publicJwk: { ...publicJwk, kid, alg: ALGORITHM, use: 'sig' }, kid };
  } catch (cause) {
    throw new AuthError('KEY_INVALID', { message: 'token signing key cannot be imported', cause });
  }
}
