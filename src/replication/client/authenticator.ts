import type { RetryPolicy } from 'cockatiel';
import { parseChallenge } from './challenge.js';
import { RemoteRegistryError } from './errors.js';
import { remoteError } from './remote-error-body.js';
import { exchange, type Timeouts } from './transport.js';

export interface Credentials {
  username: string;
  password: string;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Docker token spec: a token without expires_in lasts 60 s. */
const DEFAULT_TOKEN_SECONDS = 60;
/** Tokens are dropped this long (at most a fifth of their life) before they expire. */
const EXPIRY_MARGIN_MS = 30_000;

/**
 * The client's side of registry auth: anonymous until challenged, then Basic (htpasswd-style registries) or
 * Docker token auth (Bearer realm/service/scope: a token fetched from the realm, with Basic credentials when
 * given, cached per scope set until shortly before it expires). Learned once per registry, then sent up front.
 */
export class Authenticator {
  private scheme: 'none' | 'basic' | 'bearer' = 'none';
  private realm: URL | undefined;
  private service: string | undefined;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    private readonly credentials: Credentials | undefined,
    private readonly timeouts: Timeouts,
    private readonly policy: RetryPolicy,
    private readonly userAgent: string,
  ) {}

  /** The Authorization value for a request needing `scopes`, as far as the registry has told us. */
  async authorization(scopes: string[], signal?: AbortSignal): Promise<string | undefined> {
    if (this.scheme === 'basic') return this.basic();
    if (this.scheme === 'bearer') return `Bearer ${await this.token(scopes, signal)}`;
    return undefined;
  }

  /**
   * Learns from a 401's WWW-Authenticate. True when another try may pass (the caller tries once more at
   * most); false when there is nothing to offer (no credentials for Basic, an unknown scheme).
   */
  challenged(header: string | null, scopes: string[], sent: string | undefined): boolean {
    const challenge = parseChallenge(header);
    if (challenge?.scheme === 'basic') {
      if (!this.credentials) return false;
      this.scheme = 'basic';
      return sent !== this.basic();
    }
    if (challenge?.scheme !== 'bearer' || !challenge.params.realm) return false;
    this.scheme = 'bearer';
    this.realm = new URL(challenge.params.realm);
    this.service = challenge.params.service;
    // A token refused (expired early, or the registry's key rotated): fetch a new one, once per request.
    if (sent?.startsWith('Bearer ')) this.tokens.delete(this.key(scopes));
    return true;
  }

  private basic(): string {
    const { username, password } = this.credentials as Credentials;
    return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
  }

  private key(scopes: string[]): string {
    return [...scopes].sort().join(' ');
  }

  private async token(scopes: string[], signal?: AbortSignal): Promise<string> {
    const key = this.key(scopes);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.token;
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.policy
        .execute(() => this.fetchToken(scopes, key), signal)
        .finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    return pending;
  }

  private async fetchToken(scopes: string[], key: string): Promise<string> {
    const url = new URL(this.realm as URL);
    if (this.service) url.searchParams.set('service', this.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.userAgent };
    if (this.credentials) headers.authorization = this.basic();
    const answer = await exchange({ method: 'GET', url, headers, timeouts: this.timeouts });
    if (answer.status !== 200) throw await remoteError('GET', answer);
    const body = JSON.parse((await answer.read(1 << 20)).toString('utf8')) as {
      token?: string;
      access_token?: string;
      expires_in?: number;
    };
    const token = body.token ?? body.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new RemoteRegistryError('GET', url.origin + url.pathname, 200, [
        { code: 'UNAUTHORIZED', message: 'token endpoint answered without a token' },
      ]);
    }
    const lifeMs =
      (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_SECONDS) *
      1000;
    this.tokens.set(key, { token, expiresAt: Date.now() + lifeMs - Math.min(EXPIRY_MARGIN_MS, lifeMs / 5) });
    return token;
  }
}
