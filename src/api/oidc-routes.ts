import type { FastifyReply, FastifyRequest } from 'fastify';
import { AccountError } from '../accounts/types.js';
import type { Identity } from '../auth/index.js';
import { OidcLoginError, type OidcLoginErrorCode } from '../auth/oidc/index.js';
import { RegistryError } from '../registry/index.js';
import { loginOf, OWNERS, requireOwner } from './access.js';
import { toApiError } from './api-errors.js';
import { CliSecretInfo, NewCliSecret, OidcCallbackQuery, OidcLoginQuery } from './oidc-schemas.js';
import { type ApiRoute, type Call, preamble, route } from './route.js';
import { UsernameParams } from './schemas.js';

/**
 * Single sign-on as the server provides it (server/auth/oidc-sign-on.ts): the protocol, the user's
 * provisioning and the console session, behind the two browser endpoints below.
 */
export interface OidcSignOn {
  /** Whether cookies are Secure (Berth serves TLS). */
  secureCookies: boolean;
  /** How long a login attempt (and its cookie) lives. */
  loginTimeoutSeconds: number;
  /** Starts a login: where to send the browser, and the state to bind to it. */
  begin(request: FastifyRequest, next: string | undefined): Promise<{ location: string; state: string }>;
  /**
   * Completes a login from the provider's answer and the state bound to the browser: the user signed in
   * (provisioned or refreshed) and where to go next. Throws OidcLoginError or AccountError.
   */
  complete(
    request: FastifyRequest,
    query: URLSearchParams,
    boundState: string | undefined,
  ): Promise<{ identity: Identity & { kind: 'user' }; next: string }>;
  /** Opens the user's console session: its row, and its cookie on `reply`. */
  startSession(
    request: FastifyRequest,
    reply: FastifyReply,
    identity: Identity & { kind: 'user' },
  ): Promise<void>;
}

/** Binds a login attempt to the browser that began it; sent back only to the callback. */
export const OIDC_STATE_COOKIE = 'berth_oidc_state';
const CALLBACK_PATH = '/api/v1/auth/oidc';

const LOGIN_STATUS: Record<OidcLoginErrorCode, { code: 'INVALID_REQUEST' | 'UNAUTHORIZED' | 'UNAVAILABLE' }> =
  {
    LOGIN_UNKNOWN: { code: 'INVALID_REQUEST' },
    LOGIN_EXPIRED: { code: 'INVALID_REQUEST' },
    STATE_MISMATCH: { code: 'INVALID_REQUEST' },
    RESPONSE_INVALID: { code: 'INVALID_REQUEST' },
    CLAIMS_INVALID: { code: 'INVALID_REQUEST' },
    PROVIDER_REFUSED: { code: 'UNAUTHORIZED' },
    PROVIDER_UNAVAILABLE: { code: 'UNAVAILABLE' },
  };

function signOnOf(call: Call<unknown, unknown, unknown>): OidcSignOn {
  const signOn = call.options.oidc;
  if (!signOn) {
    throw new RegistryError('NOT_FOUND', { message: 'single sign-on (auth.oidc) is not configured' });
  }
  return signOn;
}

function stateCookie(signOn: OidcSignOn, value: string, maxAge: number): string {
  return (
    `${OIDC_STATE_COOKIE}=${value}; Path=${CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age=${maxAge}` +
    (signOn.secureCookies ? '; Secure' : '')
  );
}

function cookieOf(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** The console page a browser is sent to when a sign-on is refused: it says why in words (web/src/pages). */
export const SIGN_IN_REFUSED_PAGE = '/sign-in/refused';

const ACCOUNT_REASONS: Record<AccountError['code'], string> = {
  FORBIDDEN: 'ACCOUNT_DISABLED',
  CONFLICT: 'NAME_TAKEN',
  INVALID: 'NAME_INVALID',
  NOT_FOUND: 'FAILED',
};

/**
 * Where a browser goes after a refused sign-on: the console's page, with a reason code only (never the message
 * itself, so that a crafted link cannot make Berth's page say what someone else wants) and, when the provider
 * refused, its OAuth error code (RFC 6749 §4.1.2.1: a short ASCII word).
 */
export function refusedLocation(error: unknown, query: URLSearchParams): string {
  const reason =
    error instanceof OidcLoginError
      ? error.code
      : error instanceof AccountError
        ? ACCOUNT_REASONS[error.code]
        : 'FAILED';
  const target = new URLSearchParams({ reason });
  const providerError = query.get('error');
  if (reason === 'PROVIDER_REFUSED' && providerError && /^[a-z_]{1,64}$/.test(providerError)) {
    target.set('error', providerError);
  }
  return `${SIGN_IN_REFUSED_PAGE}?${target}`;
}

/** A browser navigating (the provider redirected it here) rather than a program asking for JSON. */
function isNavigation(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('text/html');
}

function loginRefused(error: unknown): unknown {
  if (!(error instanceof OidcLoginError)) return toApiError(error);
  return new RegistryError(LOGIN_STATUS[error.code].code, {
    message: error.message,
    detail: { reason: error.code },
  });
}

function cliSecrets(call: Call<unknown, unknown, unknown>) {
  const { accounts } = call.options;
  const { createCliSecret, cliSecretInfo, revokeCliSecret } = accounts;
  if (!createCliSecret || !cliSecretInfo || !revokeCliSecret) {
    throw new RegistryError('UNSUPPORTED', { message: 'this account store keeps no CLI secrets' });
  }
  return {
    create: createCliSecret.bind(accounts),
    info: cliSecretInfo.bind(accounts),
    revoke: revokeCliSecret.bind(accounts),
  };
}

const tag = 'single sign-on';
const FOR_OWNERS = preamble({ tag, gate: 'authenticated', access: OWNERS });
const ROBOTS_CANNOT = 'have a CLI secret';

export const oidcRoutes: ApiRoute[] = [
  route({
    method: 'GET',
    path: '/auth/oidc/login',
    operationId: 'beginOidcLogin',
    summary:
      'Begin a single sign-on: redirects the browser to the OpenID Provider (Authorization Code flow with PKCE)',
    task: 'beginning a single sign-on',
    tag,
    gate: 'none',
    access: 'anyone (a browser)',
    query: OidcLoginQuery,
    success: {
      status: 302,
      description: "A redirect to the provider's authorization endpoint; sets the login attempt's cookie",
      contentType: 'text/plain',
    },
    errors: [404, 503],
    async handler(call) {
      const signOn = signOnOf(call);
      try {
        const { location, state } = await signOn.begin(call.request, call.query.next);
        call.reply.header('location', location);
        call.reply.header('set-cookie', stateCookie(signOn, state, signOn.loginTimeoutSeconds));
        call.reply.header('cache-control', 'no-store');
        return 'Redirecting to the identity provider';
      } catch (error) {
        throw loginRefused(error);
      }
    },
  }),
  route({
    method: 'GET',
    path: '/auth/oidc/callback',
    operationId: 'completeOidcLogin',
    summary:
      "Complete a single sign-on: the provider's redirect back; opens a console session and redirects to `next`",
    task: 'completing a single sign-on',
    tag,
    gate: 'none',
    access: 'the browser that began the login (its state cookie)',
    query: OidcCallbackQuery,
    success: {
      status: 302,
      description:
        'Signed in: a redirect to the page asked for; sets the console session cookie. A refusal answers a ' +
        `browser (Accept: text/html) with a redirect to the console page ${SIGN_IN_REFUSED_PAGE}?reason=<code>, ` +
        'others with the error',
      contentType: 'text/plain',
    },
    errors: [401, 403, 404, 409, 503],
    async handler(call) {
      const signOn = signOnOf(call);
      const { request, reply, options } = call;
      // Used or not, the attempt is over: the browser forgets its state.
      reply.header('set-cookie', stateCookie(signOn, '', 0));
      reply.header('cache-control', 'no-store');
      const query = new URLSearchParams(
        request.url.slice(request.url.indexOf('?') + 1 || request.url.length),
      );
      const agent = request.headers['user-agent'];
      const audit = (actor: string, result: 'success' | 'failure', detail: string) =>
        options.audit.record({
          actor,
          actorKind: actor === 'anonymous' ? 'anonymous' : 'user',
          sourceIp: options.sourceIp(request),
          userAgent: typeof agent === 'string' ? agent : undefined,
          action: 'login',
          resource: `user:${actor}`,
          result,
          detail,
        });
      let signedIn: Awaited<ReturnType<OidcSignOn['complete']>>;
      try {
        signedIn = await signOn.complete(request, query, cookieOf(request, OIDC_STATE_COOKIE));
      } catch (error) {
        const refused = loginRefused(error);
        audit('anonymous', 'failure', `single sign-on: ${(refused as Error).message}`);
        if (!isNavigation(request)) throw refused;
        // A person in a browser: the console's page says why, in words, with a way to try again.
        reply.header('location', refusedLocation(error, query));
        return 'Sign-on refused';
      }
      await signOn.startSession(request, reply, signedIn.identity);
      audit(loginOf(signedIn.identity), 'success', 'single sign-on');
      reply.header('location', signedIn.next);
      return 'Signed in';
    },
  }),
  route({
    method: 'GET',
    path: '/users/{username}/cli-secret',
    operationId: 'getCliSecret',
    summary: 'Whether an OIDC user has a CLI secret, and when it was made and last used (never the secret)',
    task: 'reading a CLI secret',
    ...FOR_OWNERS,
    params: UsernameParams,
    success: { status: 200, description: 'The CLI secret, without the secret', schema: CliSecretInfo },
    errors: [404],
    async handler(call) {
      requireOwner(call.identity, call.params.username, 'reading a CLI secret', ROBOTS_CANNOT);
      const info = await cliSecrets(call).info(call.params.username);
      if (!info)
        throw new RegistryError('NOT_FOUND', { message: `user ${call.params.username} has no CLI secret` });
      return info;
    },
  }),
  route({
    method: 'POST',
    path: '/users/{username}/cli-secret',
    operationId: 'createCliSecret',
    summary:
      'Make a CLI secret for an OIDC user (the password for docker login, skopeo and the token endpoint), shown ' +
      'once; it replaces the previous one',
    task: 'making a CLI secret',
    ...FOR_OWNERS,
    params: UsernameParams,
    success: { status: 201, description: 'The secret, shown this once', schema: NewCliSecret },
    errors: [404],
    audit: { action: 'cliSecret.create', resource: (params) => `user:${params.username ?? '?'}` },
    async handler(call) {
      requireOwner(call.identity, call.params.username, 'making a CLI secret', ROBOTS_CANNOT);
      return cliSecrets(call).create(call.params.username);
    },
  }),
  route({
    method: 'DELETE',
    path: '/users/{username}/cli-secret',
    operationId: 'revokeCliSecret',
    summary: "Revoke an OIDC user's CLI secret: refused from now on, on every node",
    task: 'revoking a CLI secret',
    ...FOR_OWNERS,
    params: UsernameParams,
    success: { status: 204, description: 'Revoked' },
    errors: [404],
    audit: { action: 'cliSecret.revoke', resource: (params) => `user:${params.username ?? '?'}` },
    async handler(call) {
      requireOwner(call.identity, call.params.username, 'revoking a CLI secret', ROBOTS_CANNOT);
      await cliSecrets(call).revoke(call.params.username);
    },
  }),
];
