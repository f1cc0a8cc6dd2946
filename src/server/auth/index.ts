import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AccountService } from '../../accounts/index.js';
import type { OidcSignOn } from '../../api/oidc-routes.js';
import { type Identity, IpAllowlist, LoginThrottle, TokenService } from '../../auth/index.js';
import { type InvalidationBus, LocalBus } from '../../cluster/index.js';
import type { Config } from '../../config/index.js';
import type { Call, Caller, Need } from '../../distribution/index.js';
import { AuditLog } from '../../events/index.js';
import {
  AuditStore,
  DatabaseFailureLog,
  databaseKeyStore,
  type MetadataStore,
} from '../../metadata/index.js';
import { ConsoleSessions } from './console-sessions.js';
import { Credentials, subjectOf } from './credentials.js';
import { oidcSignOn } from './oidc-sign-on.js';
import { ProjectPolicies } from './project-policies.js';
import { RegistryGuard } from './registry-guard.js';
import { SessionGenerations } from './session-generations.js';
import { tokenRoutes } from './token-endpoint.js';

export interface AuthSetup {
  accounts: AccountService;
  audit: AuditLog;
  /** /v2 access checks; undefined when auth is off. */
  guard?: (request: FastifyRequest, need: Need) => Promise<Caller>;
  /** The web console's cookie sessions. */
  consoleSessions: ConsoleSessions;
  /** For /api/v1: the caller's identity from Basic credentials or a console session cookie (anonymous if none). */
  authenticate(request: FastifyRequest): Promise<Identity>;
  /** A throttled check of a username and password that is not a login (the current password of a change). */
  checkPassword(request: FastifyRequest, username: string, password: string): Promise<Identity | null>;
  sourceIp(request: FastifyRequest): string;
  /** Audits a /v2 request once answered: pulls (manifest GETs), pushes (manifest PUTs), deletes, refusals. */
  onAnswered(call: Call, need: Need, status: number): void;
  /**
   * `Bearer <token>` that lets a plug-in scanner pull one repository for a while (its subject, SCANNER_SUBJECT,
   * is no account: only Berth can mint it); undefined when auth is off (the adapter then sends nothing).
   */
  scannerAuthorization(repository: string, seconds: number): Promise<string | undefined>;
  /** Single sign-on (auth.oidc); undefined when not configured. */
  oidc?: OidcSignOn;
  /** The admin created on first start, with a generated password to show once. */
  bootstrap?: { username: string; password: string; generated: boolean };
}

/** The client address: the socket's, or X-Forwarded-For's last untrusted hop when a trusted proxy sent it. */
function clientAddress(trusted: IpAllowlist | undefined) {
  return (request: FastifyRequest): string => {
    const peer = request.socket.remoteAddress ?? '';
    const forwarded = request.headers['x-forwarded-for'];
    if (!trusted || !forwarded || !trusted.allows(peer)) return peer;
    const hops = String(forwarded)
      .split(',')
      .map((hop) => hop.trim())
      .filter(Boolean);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] as string;
      if (!trusted.allows(hop)) return hop;
    }
    return hops[0] ?? peer;
  };
}

export async function setupAuth(
  app: FastifyInstance,
  config: Config,
  meta: MetadataStore,
  /** How other processes hear that a user signed out everywhere. */
  bus: InvalidationBus = new LocalBus(),
  /** Called before a token is issued to a known subject; throws to refuse (the per-account token rate). */
  admitToken?: (request: FastifyRequest, subject: string) => void,
  /** Pulled names that fall to a proxy project (proxy.mirrorProject, containerd's ns=), as /v2 maps them. */
  mirror?: (name: string, ns: string | undefined) => Promise<{ name: string } | undefined>,
): Promise<AuthSetup> {
  const auth = config.auth;
  const ldap = auth.ldap.url
    ? {
        url: auth.ldap.url,
        bindDN: auth.ldap.bindDN,
        bindPassword: auth.ldap.bindPassword,
        userBase: auth.ldap.userBase,
        userFilter: auth.ldap.userFilter,
        ...(auth.ldap.groupBase && { groupBase: auth.ldap.groupBase, groupFilter: auth.ldap.groupFilter }),
        startTLS: auth.ldap.startTLS,
      }
    : undefined;
  const generations: SessionGenerations = new SessionGenerations(
    (subject) => accounts.sessionGeneration(subject),
    bus,
    (error) => app.log.error({ err: error }, 'could not tell other processes of a sign-out'),
  );
  const projects: ProjectPolicies = new ProjectPolicies(
    (name) => accounts.projectPolicy(name),
    bus,
    (error) => app.log.error({ err: error }, 'could not tell other processes of a project change'),
  );
  const accounts = new AccountService(meta.db, {
    ...(ldap && { ldap }),
    onSignedOut: (subject, generation) => {
      generations.raised(subject, generation);
      credentials.forget(subject);
    },
    onProjectChanged: (project) => projects.changed(project),
    onCredentialsChanged: (subject) => {
      credentials.forget(subject);
      bus
        .publish({ kind: 'credentials-changed', subject })
        .catch((error) => app.log.error({ err: error }, 'could not tell other processes of a revocation'));
    },
  });
  const audit = new AuditLog(new AuditStore(meta.db), {
    onError: (error) => app.log.error({ err: error }, 'audit log write failed'),
  });
  const trusted = auth.trustedProxies.trim()
    ? IpAllowlist.parse(auth.trustedProxies.split(',').map((entry) => entry.trim()))
    : undefined;
  const sourceIp = clientAddress(trusted);
  /** Berth's URL as the client reached it: scheme (a trusted proxy's X-Forwarded-Proto) and Host. */
  const origin = (request: FastifyRequest) => {
    const proto =
      trusted?.allows(request.socket.remoteAddress ?? '') && request.headers['x-forwarded-proto']
        ? String(request.headers['x-forwarded-proto']).split(',')[0]?.trim()
        : request.protocol;
    return `${proto}://${request.headers.host ?? `${config.http.host}:${config.http.port}`}`;
  };
  const realm = (request: FastifyRequest) => auth.realm || `${origin(request)}/token`;
  const tokens = new TokenService({
    issuer: auth.service,
    keyStore: databaseKeyStore(meta.db),
    expiresInSeconds: auth.tokenTtlSeconds,
  });
  // In the database, so that every worker and every node counts the same failures.
  const throttle = new LoginThrottle({
    log: new DatabaseFailureLog(meta.db),
    account: { maxFailures: auth.maxLoginFailures, windowSeconds: auth.loginWindowSeconds },
    address: { maxFailures: auth.maxLoginFailures * 5, windowSeconds: auth.loginWindowSeconds },
  });
  let guard: RegistryGuard | undefined;
  const credentials = new Credentials({
    accounts,
    tokens,
    throttle,
    generations,
    bus,
    audit,
    service: auth.service,
    sourceIp,
    unauthorized: (request, message, scheme, error, need) =>
      (guard as RegistryGuard).unauthorized(request, message, scheme, error, need),
  });
  guard = new RegistryGuard({
    accounts,
    credentials,
    projectPolicy: (name) => projects.get(name),
    service: auth.service,
    anonymousPull: auth.anonymousPull,
    realm,
    sourceIp,
  });
  tokenRoutes(app, {
    accounts,
    tokens,
    credentials,
    generations,
    audit,
    service: auth.service,
    sourceIp,
    ...(admitToken && { admit: admitToken }),
    ...(mirror && { mirror }),
  });

  const consoleSessions = new ConsoleSessions({
    accounts,
    login: (request, username, password) => credentials.login(request, username, password),
    audit,
    sourceIp,
    secure: config.http.tlsCert !== '',
  });
  const oidc = oidcSignOn({
    config,
    db: meta.db,
    accounts,
    requestOrigin: origin,
    startSession: async (request, reply, identity) => {
      await consoleSessions.start(request, reply, identity);
    },
  });

  const setup: AuthSetup = {
    consoleSessions,
    async scannerAuthorization(repository, seconds) {
      if (!auth.enabled) return undefined;
      const issued = await tokens.issue({
        subject: SCANNER_SUBJECT,
        audience: auth.service,
        access: [{ type: 'repository', name: repository, actions: ['pull'] }],
        expiresInSeconds: seconds,
      });
      return `Bearer ${issued.token}`;
    },
    accounts,
    audit,
    sourceIp,
    checkPassword: (request, username, password) => credentials.check(request, username, password),
    async authenticate(request) {
      // The console's cookie stands for credentials only when the request brings none of its own.
      if (!request.headers.authorization && consoleSessions.carriesCookie(request)) {
        return (await consoleSessions.identify(request)).identity;
      }
      // Registry tokens are for /v2 only: one issued to a personal access token's login names just its user,
      // and would carry the user's full rights here. The API takes Basic credentials (a password, a robot
      // secret or a personal access token), whose limits it sees.
      if (/^bearer\s/i.test(request.headers.authorization ?? '')) {
        throw (guard as RegistryGuard).unauthorized(
          request,
          'the management API takes Basic credentials: a password, a robot secret or a personal access token',
          'basic',
        );
      }
      const who = await credentials.resolve(request);
      if (who.via === 'bearer') throw new Error('unreachable: bearer credentials were refused above');
      return who.identity;
    },
    onAnswered(call, need, status) {
      if (need.kind !== 'repository') return;
      const { request } = call;
      const route = request.berthRoute;
      const audited =
        status === 403 ||
        (status < 400 &&
          ((route === 'manifest' && request.method !== 'HEAD') ||
            (route === 'blob' && request.method === 'DELETE')));
      if (!audited) return;
      const reference = call.params.reference ?? call.params.digest;
      const caller = call.caller ?? request.berthCaller;
      const subject = caller?.subject ?? '';
      audit.record({
        actor: subject || 'anonymous',
        actorKind: caller?.kind ?? 'anonymous',
        sourceIp: sourceIp(request),
        userAgent: request.headers['user-agent'],
        action: need.action,
        resource: reference ? `${need.name}${reference.includes(':') ? '@' : ':'}${reference}` : need.name,
        result: status < 400 ? 'success' : 'failure',
        ...(status >= 400 && { detail: `HTTP ${status}` }),
      });
    },
  };
  if (auth.enabled) setup.guard = guard.guard;
  if (oidc) setup.oidc = oidc;
  const boot = await accounts.bootstrap(process.env.BERTH_ADMIN_PASSWORD || undefined);
  if (boot) setup.bootstrap = boot;
  return setup;
}

export { subjectOf };

/** The token subject of plug-in scanners pulling an image to scan: not a valid username, so no account's. */
export const SCANNER_SUBJECT = 'berth:scanner';
