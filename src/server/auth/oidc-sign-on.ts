import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { AccountService } from '../../accounts/index.js';
import type { OidcSignOn } from '../../api/oidc-routes.js';
import { OidcRelyingParty } from '../../auth/oidc/index.js';
import type { Config } from '../../config/index.js';
import { type Database, OidcRows } from '../../metadata/index.js';

const CALLBACK = '/api/v1/auth/oidc/callback';

export interface OidcSignOnOptions {
  config: Config;
  db: Kysely<Database>;
  accounts: AccountService;
  /** Berth's URL as the request reached it (scheme and Host, trusted proxies believed), without a path. */
  requestOrigin(request: FastifyRequest): string;
  /** Opens the console session of a user who signed in (the web console's cookie sessions). */
  startSession: OidcSignOn['startSession'];
}

/**
 * Single sign-on as /api/v1 offers it, when auth.oidc.issuer is set (undefined otherwise): the relying party
 * (auth/oidc/) with its login attempts in the database, the user provisioned by accounts/, and the session the
 * console uses. The callback URL is auth.oidc.redirectBaseUrl's, or the request's own origin.
 */
export function oidcSignOn(options: OidcSignOnOptions): OidcSignOn | undefined {
  const oidc = options.config.auth.oidc;
  if (oidc.issuer === '') return undefined;
  const party = new OidcRelyingParty(oidc, new OidcRows(options.db));
  const callback = (request: FastifyRequest) => {
    // The origin holds the client's Host header: trailing slashes trimmed by index, since `/\/+$/` retried
    // from every slash of a run of them (quadratic in a 16 KiB header).
    const base = oidc.redirectBaseUrl || options.requestOrigin(request);
    let end = base.length;
    while (end > 0 && base[end - 1] === '/') end--;
    return `${base.slice(0, end)}${CALLBACK}`;
  };
  return {
    secureCookies: options.config.http.tlsCert !== '',
    loginTimeoutSeconds: oidc.loginTimeoutSeconds,
    async begin(request, next) {
      const { url, state } = await party.begin(callback(request), next);
      return { location: url, state };
    },
    async complete(request, query, boundState) {
      const { profile, next } = await party.complete(callback(request), query, boundState);
      const { identity } = await options.accounts.signInWithOidc(profile, oidc.adminGroup);
      if (identity.kind !== 'user') throw new Error('unreachable: an OIDC sign-in names a user');
      return { identity, next };
    },
    startSession: options.startSession,
  };
}
