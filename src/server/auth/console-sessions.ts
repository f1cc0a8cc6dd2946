import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Accounts } from '../../accounts/index.js';
import { type Identity, parseSecretToken } from '../../auth/index.js';
import type { AuditSink } from '../../events/index.js';
import { RegistryError } from '../../registry/index.js';

/** The cookie that carries a console session: `<subject, base64url>.<secret>`. */
export const SESSION_COOKIE = 'berth_session';
/** The header a console request sends its session's CSRF token in (state-changing calls). */
export const CSRF_HEADER = 'x-berth-csrf';
/** The client id console sessions are listed under among a user's sessions. */
export const CONSOLE_CLIENT_ID = 'berth-console';
/** A console session lasts a working day; logging in again opens a new one. */
export const CONSOLE_SESSION_SECONDS = 12 * 3600;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const COOKIE_VALUE = /^([A-Za-z0-9_-]{1,400})\.([A-Za-z0-9_-]{43})$/;

const digest = (label: string, secret: string) =>
  createHash('sha256').update(label).update(secret).digest('base64url');

function cookieOf(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** What a console session tells the page about itself. */
export interface ConsoleSession {
  identity: Identity;
  /** Sent back in the x-berth-csrf header of every state-changing call. */
  csrfToken: string;
  expiresAt: number;
}

export interface ConsoleSessionOptions {
  accounts: Accounts;
  /** The throttled, audited password check of logins (Credentials.login). */
  login(request: FastifyRequest, username: string, password: string): Promise<Identity>;
  audit: AuditSink;
  sourceIp(request: FastifyRequest): string;
  /** Whether Berth serves TLS itself: the cookie is then Secure. */
  secure: boolean;
  now?: () => number;
}

/**
 * Browser sessions of the web console. A login with a password opens a session row (the rows refresh tokens
 * use, so a console session is listed, revoked and ended by "sign out everywhere" like any other) and sets an
 * HttpOnly, SameSite=Lax cookie holding a random secret; the row's id is the secret's hash, so the session list
 * (which shows ids) never reveals a usable cookie. Every request reads the row: a logout or revocation holds on
 * every node at once.
 *
 * CSRF: SameSite=Lax already keeps the cookie off cross-site POSTs in current browsers; on top of that every
 * state-changing call authenticated by the cookie must carry the session's CSRF token (a hash of its secret,
 * handed to the page by the login answer and GET /api/v1/session, kept in memory only) in x-berth-csrf, and an
 * Origin header, when sent, must name this host.
 */
export class ConsoleSessions {
  readonly #now: () => number;

  constructor(private readonly options: ConsoleSessionOptions) {
    this.#now = options.now ?? Date.now;
  }

  /** Whether the request carries a console session cookie (it then authenticates with nothing else). */
  carriesCookie(request: FastifyRequest): boolean {
    return cookieOf(request, SESSION_COOKIE) !== undefined;
  }

  /** Checks a password, opens a session and sets its cookie. Passwords only: no robot, no access token. */
  async open(
    request: FastifyRequest,
    reply: FastifyReply,
    username: string,
    password: string,
  ): Promise<ConsoleSession> {
    if (username.startsWith('robot$')) throw denied('robot accounts cannot log in to the console');
    if (parseSecretToken(password) !== null) {
      throw denied('log in to the console with your password, not an access token');
    }
    const identity = await this.options.login(request, username, password);
    if (identity.kind !== 'user') throw denied('only users can log in to the console');
    return this.start(request, reply, identity);
  }

  /**
   * Opens a session for a user already signed in some other way (single sign-on: api/oidc-routes.ts) and sets
   * its cookie.
   */
  async start(
    request: FastifyRequest,
    reply: FastifyReply,
    identity: Identity & { kind: 'user' },
  ): Promise<ConsoleSession> {
    const secret = randomBytes(32).toString('base64url');
    const expiresAt = this.#now() + CONSOLE_SESSION_SECONDS * 1000;
    const agent = request.headers['user-agent'];
    await this.options.accounts.openSession({
      id: digest('session\0', secret),
      subject: identity.username,
      expiresAt,
      clientId: CONSOLE_CLIENT_ID,
      ...(typeof agent === 'string' && { userAgent: agent }),
      sourceIp: this.options.sourceIp(request),
    });
    const subject = Buffer.from(identity.username).toString('base64url');
    reply.header('set-cookie', this.#cookie(`${subject}.${secret}`, `Max-Age=${CONSOLE_SESSION_SECONDS}`));
    return { identity, csrfToken: digest('csrf\0', secret), expiresAt };
  }

  /**
   * The identity of the request's session cookie: 401 when it is unknown, expired or revoked, or its user is
   * gone or disabled; 403 for a state-changing call without the CSRF token or from another origin.
   */
  async identify(request: FastifyRequest): Promise<ConsoleSession> {
    const found = this.#read(request);
    if (!found) throw unauthorized('the console session cookie is malformed: log in again');
    const { subject, secret } = found;
    const id = digest('session\0', secret);
    if (!(await this.options.accounts.useSession(id, subject))) {
      throw unauthorized('the console session ended (logged out, revoked or expired): log in again');
    }
    const identity = await this.options.accounts.identityOf(subject);
    if (!identity) throw unauthorized('the account of this console session is gone or disabled');
    const csrfToken = digest('csrf\0', secret);
    if (!SAFE_METHODS.has(request.method)) checkRequestOrigin(request, csrfToken);
    return { identity, csrfToken, expiresAt: 0 };
  }

  /** Ends the request's session (its row is deleted) and clears the cookie; audited as a session revocation. */
  async close(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    reply.header('set-cookie', this.#cookie('', 'Max-Age=0'));
    const found = this.#read(request);
    if (!found) return;
    const agent = request.headers['user-agent'];
    try {
      await this.options.accounts.revokeSession(found.subject, digest('session\0', found.secret));
    } catch {
      return; // already gone: logging out twice is no error
    }
    this.options.audit.record({
      actor: found.subject,
      actorKind: 'user',
      sourceIp: this.options.sourceIp(request),
      userAgent: typeof agent === 'string' ? agent : undefined,
      action: 'session.revoke',
      resource: `user:${found.subject}`,
      result: 'success',
      detail: 'console logout',
    });
  }

  #read(request: FastifyRequest): { subject: string; secret: string } | undefined {
    const match = COOKIE_VALUE.exec(cookieOf(request, SESSION_COOKIE) ?? '');
    if (!match) return undefined;
    return { subject: Buffer.from(match[1] as string, 'base64url').toString(), secret: match[2] as string };
  }

  #cookie(value: string, age: string): string {
    return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; ${age}${this.options.secure ? '; Secure' : ''}`;
  }
}

/** The CSRF token must match, and a browser's Origin (sent on every cross-origin or non-GET fetch) be ours. */
function checkRequestOrigin(request: FastifyRequest, csrfToken: string): void {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== 'null') {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      throw denied(`the Origin header '${origin}' is not a URL`);
    }
    if (host !== request.headers.host) {
      throw denied(`a console request from another origin (${origin}) is refused`);
    }
  }
  const sent = request.headers[CSRF_HEADER];
  if (typeof sent !== 'string' || !sameText(sent, csrfToken)) {
    throw denied(`a state-changing console request needs its session's CSRF token in ${CSRF_HEADER}`);
  }
}

function denied(message: string): RegistryError {
  return new RegistryError('DENIED', { message });
}

/** No challenge: a Basic challenge would make the browser prompt for a password over the console. */
function unauthorized(message: string): RegistryError {
  return new RegistryError('UNAUTHORIZED', { message });
}
