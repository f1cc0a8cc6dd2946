import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Accounts } from '../../accounts/index.js';
import {
  type Access,
  AuthError,
  type Identity,
  type LoginThrottle,
  parseAuthorization,
  parseSecretToken,
  type TokenService,
} from '../../auth/index.js';
import { BoundedLru } from '../../cache/bounded-lru.js';
import type { InvalidationBus } from '../../cluster/index.js';
import type { Need } from '../../distribution/index.js';
import type { AuditSink } from '../../events/index.js';
import { RegistryError } from '../../registry/index.js';
import type { SessionGenerations } from './session-generations.js';

/** Who a request comes from, once its credentials were checked. */
export type Resolved =
  | { via: 'none'; identity: Identity & { kind: 'anonymous' }; subject: '' }
  | { via: 'basic'; identity: Identity; subject: string }
  /** A registry token carries its grants; the identity is looked up only when they do not suffice. */
  | { via: 'bearer'; subject: string; access: Access[] };

export function subjectOf(identity: Identity): string {
  if (identity.kind === 'user') return identity.username;
  // AccountService names robot identities as they log in (robot$<name>); accept a bare name as well.
  if (identity.kind === 'robot')
    return identity.name.startsWith('robot$') ? identity.name : `robot$${identity.name}`;
  return '';
}

export function actorKind(subject: string): 'user' | 'robot' | 'anonymous' {
  return subject === '' ? 'anonymous' : subject.startsWith('robot$') ? 'robot' : 'user';
}

export interface CredentialOptions {
  accounts: Accounts;
  tokens: TokenService;
  throttle: LoginThrottle;
  /** Users' session generations: a token of an older one was voided by "sign out everywhere". */
  generations: SessionGenerations;
  /** Tells of credentials revoked on other processes, so that remembered Basic logins of them are forgotten. */
  bus: InvalidationBus;
  audit: AuditSink;
  /** The token audience. */
  service: string;
  sourceIp(request: FastifyRequest): string;
  /** Builds the 401 for a request whose credentials are missing, wrong or expired. */
  unauthorized(
    request: FastifyRequest,
    message: string,
    scheme: 'basic' | 'bearer',
    error?: 'invalid_token',
    need?: Need,
  ): RegistryError;
}

/** Parses an Authorization header; 'malformed' for one that claims a known scheme but is broken. */
export function readAuthorization(header: string): ReturnType<typeof parseAuthorization> | 'malformed' {
  try {
    return parseAuthorization(header);
  } catch (error) {
    if (error instanceof AuthError) return 'malformed';
    throw error;
  }
}

/**
 * Checks the credentials a request carries: a registry token (verified once, then remembered until it
 * expires, so a pull does not pay for a signature check per request), or Basic credentials (checked once
 * and remembered for 30 s: scrypt on every request would cost ~100 ms each), or none. A remembered login is
 * forgotten on every process as soon as its subject's credentials change (a sign-out everywhere, a disabled
 * or deleted user, a revoked access token, a robot's new secret…), so a revocation is not 30 s late.
 * Login failures are throttled per account and per address, and audited.
 */
export class Credentials {
  private readonly tokens = new BoundedLru<
    string,
    { subject: string; access: Access[]; expiresAt: number; generation: number }
  >({ max: 10_000 });
  private readonly basics = new BoundedLru<string, { identity: Identity; subject: string }>({
    max: 1000,
    ttl: 30_000,
  });

  constructor(private readonly options: CredentialOptions) {
    options.bus.subscribe((event) => {
      if (event.kind === 'sessions-revoked' || event.kind === 'credentials-changed')
        this.forget(event.subject);
      else if (event.kind === 'all') this.basics.clear();
    });
  }

  /** Forgets this process's remembered Basic logins of `subject` (a user's name, or `robot$<name>`). */
  forget(subject: string): void {
    // Collected first: deleting from an LRU cache while walking it could skip entries.
    const keys = [...this.basics.entries()].filter(([, entry]) => entry.subject === subject).map(([k]) => k);
    for (const key of keys) this.basics.delete(key);
  }

  /** `need`, when known, goes into the challenge of a 401, so the client can ask for the right token. */
  async resolve(request: FastifyRequest, need?: Need): Promise<Resolved> {
    const header = request.headers.authorization;
    if (!header) return { via: 'none', identity: { kind: 'anonymous' }, subject: '' };
    const parsed = readAuthorization(header);
    if (parsed === 'malformed') {
      throw this.options.unauthorized(request, 'malformed Authorization header', 'bearer', undefined, need);
    }
    if (parsed?.scheme === 'bearer') return this.bearer(request, parsed.token, need);
    if (parsed?.scheme === 'basic') {
      const identity = await this.login(request, parsed.username, parsed.password, header);
      return { via: 'basic', identity, subject: subjectOf(identity) };
    }
    throw this.options.unauthorized(request, 'unsupported Authorization header', 'bearer', undefined, need);
  }

  private async bearer(request: FastifyRequest, token: string, need?: Need): Promise<Resolved> {
    let verified = this.tokens.get(token);
    if (!verified || verified.expiresAt <= Date.now()) {
      try {
        const checked = await this.options.tokens.verify(token, { audience: this.options.service });
        verified = {
          subject: checked.subject,
          access: checked.access,
          expiresAt: checked.expiresAt.getTime(),
          generation: checked.generation,
        };
        this.tokens.set(token, verified);
      } catch (error) {
        if (error instanceof AuthError && error.code === 'TOKEN_INVALID') {
          throw this.options.unauthorized(request, error.message, 'bearer', 'invalid_token', need);
        }
        throw error;
      }
    }
    // A map lookup per request; the database only when the user was not seen lately.
    if (verified.generation < (await this.options.generations.current(verified.subject))) {
      throw this.options.unauthorized(
        request,
        'invalid token: its user signed out everywhere since it was issued',
        'bearer',
        'invalid_token',
        need,
      );
    }
    return { via: 'bearer', subject: verified.subject, access: verified.access };
  }

  /**
   * Username and password (or robot secret, or personal access token) → identity; 401 when wrong, 429 when
   * this account or address failed too often lately.
   */
  async login(
    request: FastifyRequest,
    username: string,
    password: string,
    cacheKey?: string,
  ): Promise<Identity> {
    const key = cacheKey && createHash('sha256').update(cacheKey).digest('base64url');
    const remembered = key ? this.basics.get(key) : undefined;
    if (remembered) return remembered.identity;
    const identity = await this.check(request, username, password);
    const audit = {
      actor: username,
      actorKind: username.startsWith('robot$') ? ('robot' as const) : ('user' as const),
      sourceIp: this.options.sourceIp(request),
      userAgent: request.headers['user-agent'],
      action: 'login',
      resource: `user:${username}`,
    };
    if (!identity) {
      this.options.audit.record({ ...audit, result: 'failure', detail: 'wrong credentials' });
      throw this.options.unauthorized(request, 'wrong username or password', 'basic');
    }
    this.options.audit.record({ ...audit, result: 'success' });
    // While the change feed is down a revocation elsewhere could go unheard: remember nothing new then.
    if (key && !this.options.bus.deaf) this.basics.set(key, { identity, subject: subjectOf(identity) });
    return identity;
  }

  /**
   * The throttled credential check behind login(), also for checks that are not logins (the current password
   * a password change asks for): the identity, or null when wrong; 429 when this account or address failed too
   * often lately, 503 when the identity provider does not answer. Failures count toward the same limits.
   */
  async check(request: FastifyRequest, username: string, password: string): Promise<Identity | null> {
    const gate = await this.options.throttle.begin(
      { username, ip: this.options.sourceIp(request) },
      // A robot secret or access token (256 random bits) cannot be guessed: no slot needs holding for it.
      { guessable: parseSecretToken(password) === null },
    );
    if (!gate.allowed) {
      throw new RegistryError('TOOMANYREQUESTS', {
        message: `too many failed logins; try again in ${gate.retryAfterSeconds} s`,
        headers: { 'retry-after': String(gate.retryAfterSeconds) },
      });
    }
    let identity: Identity | null;
    try {
      identity = await this.options.accounts.authenticate(username, password);
    } catch (error) {
      await gate.ticket.abandoned();
      request.log.error({ err: error }, 'authentication backend failed');
      throw new RegistryError('UNAVAILABLE', { message: 'the identity provider is not available' });
    }
    // A robot secret's or access token's success does not clear the account's failures (see begin()).
    if (!identity) await gate.ticket.failed();
    else await gate.ticket.succeeded();
    return identity;
  }
}
