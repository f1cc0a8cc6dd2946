// The management API plugin in a bare Fastify app, set up as the server sets up its own: no body parsers of its
// own (bodies stream to /v2), the real error handler, a real AccountService on a real SQLite file, Basic
// authentication through accounts.authenticate, and an in-memory audit sink with a query over its array.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { AccountService } from '../../../src/accounts/index.js';
import { type ApiOptions, apiRoutes } from '../../../src/api/index.js';
import { basicAuthorization, type Identity, parseAuthorization } from '../../../src/auth/index.js';
import { Catalog } from '../../../src/catalog/index.js';
import { LocalBus } from '../../../src/cluster/index.js';
import { AnomalyStore } from '../../../src/events/anomalies/index.js';
import type { AuditEvent, AuditInput, AuditQuery } from '../../../src/events/types.js';
import { Webhooks } from '../../../src/events/webhooks/index.js';
import { GarbageCollector, JobRunner, Lifecycle, Retention } from '../../../src/lifecycle/index.js';
import { BlobQuarantine, Scrubber } from '../../../src/lifecycle/scrub/index.js';
import { CollectionStore, JobRunStore, MetadataStore, openDatabase } from '../../../src/metadata/index.js';
import { Registry, RegistryError } from '../../../src/registry/index.js';
import { ManifestService } from '../../../src/registry/manifest-service.js';
import { Replication } from '../../../src/replication/index.js';
import { builtinEngines } from '../../../src/scanning/engines-default.js';
import { Scanning } from '../../../src/scanning/scanning.js';
import { VulnerabilityDatabase } from '../../../src/scanning/vulndb/index.js';
import { ConsoleSessions } from '../../../src/server/auth/console-sessions.js';
import { errorHandler } from '../../../src/server/error-handler.js';
import { isSignatureArtifact, verifyArtifact } from '../../../src/signatures/index.js';
import { Signatures } from '../../../src/signatures/signatures.js';
import { FilesystemBlobStore } from '../../../src/storage/index.js';

/** The five kinds of caller every endpoint is tried with. */
export const CALLERS = ['anonymous', 'user', 'projectAdmin', 'robot', 'systemAdmin'] as const;
export type Caller = (typeof CALLERS)[number];

export const PASSWORD = 'correct horse battery';
export const ADMIN_PASSWORD = 'admin password 1';

/** The audit sink the server would hand in, over an array. */
export class MemoryAudit {
  readonly events: AuditEvent[] = [];
  record(event: AuditInput): void {
    this.events.push({
      id: this.events.length + 1,
      time: Date.now(),
      actor: event.actor,
      actorKind: event.actorKind,
      sourceIp: event.sourceIp ?? null,
      userAgent: event.userAgent ?? null,
      action: event.action,
      resource: event.resource,
      result: event.result,
      detail: event.detail ?? null,
    });
  }
  async query(q: AuditQuery): Promise<AuditEvent[]> {
    return this.events
      .filter(
        (e) =>
          (q.actor === undefined || e.actor === q.actor) &&
          (q.action === undefined || e.action === q.action) &&
          (q.resourcePrefix === undefined || e.resource.startsWith(q.resourcePrefix)) &&
          (q.from === undefined || e.time >= q.from) &&
          (q.to === undefined || e.time < q.to) &&
          (q.before === undefined || e.id < q.before),
      )
      .sort((a, b) => b.id - a.id)
      .slice(0, q.limit);
  }
  last(): AuditEvent | undefined {
    return this.events[this.events.length - 1];
  }
}

export interface Harness {
  app: FastifyInstance;
  accounts: AccountService;
  audit: MemoryAudit;
  /** Immutability rules and quotas, on the same database. */
  lifecycle: Lifecycle;
  /** Retention policies and runs (over an empty registry), on the same database. */
  retention: Retention;
  runner: JobRunner;
  /** The registry core (empty until a test pushes), and the signature trust and policy over it. */
  registry: Registry;
  signatures: Signatures;
  /** Vulnerability scanning over the same registry (its worker is not started). */
  scanning: Scanning;
  /** Webhook endpoints (the deliverer is not started), and the integrity scrub over the same store. */
  webhooks: Webhooks;
  scrub: Scrubber;
  /** Remote registries and replication policies (credentials sealed with a test key). */
  replication: Replication;
  /** Every route Fastify registered, as `METHOD path` with `{param}` placeholders (HEAD excluded). */
  routes: string[];
  /** The robot `ci`'s secret (pull and push on `team`). */
  robotSecret: string;
  /** Authorization header for a caller; undefined for anonymous. */
  auth(caller: Caller): string | undefined;
  request(
    caller: Caller | { authorization: string },
    method: string,
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/**
 * Fixtures: `admin` (system administrator), `alice` (ordinary user, member of nothing), `padmin` (project
 * administrator of `team`), `bob` (another ordinary user), robot `ci` (pull and push on `team`); projects
 * `library` (public), `team` and `other` (private).
 */
export async function startHarness(options: Partial<Pick<ApiOptions, 'usersCanCreateProjects'>> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'berth-api-'));
  const { db } = await openDatabase(`sqlite:${join(dir, 'berth.db')}`);
  const accounts = new AccountService(db, { scrypt: { N: 2 ** 10, r: 8, p: 1 } });
  await accounts.bootstrap(ADMIN_PASSWORD);
  for (const username of ['alice', 'padmin', 'bob'])
    await accounts.createUser({ username, password: PASSWORD });
  await accounts.createProject({ name: 'team' });
  await accounts.createProject({ name: 'other' });
  await accounts.setMember('team', { kind: 'user', name: 'padmin', role: 'projectAdmin' });
  const { secret: robotSecret } = await accounts.createRobot({
    name: 'ci',
    permissions: [{ project: 'team', actions: ['pull', 'push'] }],
    createdBy: 'admin',
  });

  const audit = new MemoryAudit();
  const lifecycle = new Lifecycle(db);
  const runner = new JobRunner(new JobRunStore(db));
  const manifests = new ManifestService(new MetadataStore(db), {
    maxManifestBytes: 4 * 1024 * 1024,
    cacheBytes: 0,
    bus: new LocalBus(),
    policy: lifecycle.policy,
  });
  const retention = new Retention({ db, manifests, runner });
  const store = new FilesystemBlobStore(join(dir, 'data'));
  const registry = new Registry(store, new MetadataStore(db), {
    maxManifestBytes: 4 * 1024 * 1024,
    manifestCacheBytes: 0,
    uploadTtlMs: 86_400_000,
    bus: new LocalBus(),
  });
  const signatures = new Signatures({
    db,
    meta: registry.meta,
    store,
    bus: new LocalBus(),
    audit,
    verify: verifyArtifact,
    isSignatureArtifact,
    manifest: (repository, reference) => registry.manifests.get(repository, reference, undefined),
  });
  const gc = new GarbageCollector(store, new CollectionStore(db), registry, runner, { graceMs: 3_600_000 });
  const vulnerabilities = new VulnerabilityDatabase(db);
  const scanning = new Scanning({
    db,
    registry,
    bus: new LocalBus(),
    runner,
    engines: builtinEngines(vulnerabilities),
    database: vulnerabilities,
    audit,
  });
  // Console logins check the password as the server's Credentials.login does (without its throttle and audit).
  const consoleSessions = new ConsoleSessions({
    accounts,
    async login(_request, username, password) {
      const identity = await accounts.authenticate(username, password);
      if (!identity) throw new RegistryError('UNAUTHORIZED', { message: 'wrong username or password' });
      return identity;
    },
    audit,
    sourceIp: (request) => request.ip,
    secure: false,
  });
  const webhooks = new Webhooks({ db, registryHost: () => 'registry.test' });
  const scrub = new Scrubber(store, db, runner, new BlobQuarantine(db));
  const replication = new Replication({
    db,
    registry,
    runner,
    secretKey: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  });
  const app = Fastify();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));
  app.setErrorHandler(errorHandler);
  const routes: string[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      routes.push(`${method} ${route.url.replace(/:(\w+)/g, '{$1}')}`);
    }
  });
  await app.register(apiRoutes, {
    accounts,
    audit,
    anomalies: new AnomalyStore(db),
    lifecycle,
    retention,
    gc,
    scrub,
    webhooks,
    replication,
    signatures,
    scanning,
    catalog: new Catalog(db, registry),
    consoleSessions,
    health: {
      checks: { metadata: () => new MetadataStore(db).ping() },
      isAccepting: () => true,
      metadata: 'sqlite',
      storage: 'filesystem',
      startedAt: Date.now(),
    },
    ...options,
    sourceIp: (request) => request.ip,
    checkPassword: (_request, username, password) => accounts.authenticate(username, password),
    async authenticate(request): Promise<Identity> {
      if (!request.headers.authorization && consoleSessions.carriesCookie(request)) {
        return (await consoleSessions.identify(request)).identity;
      }
      const credentials = parseAuthorization(request.headers.authorization);
      if (!credentials) return { kind: 'anonymous' };
      if (credentials.scheme !== 'basic')
        throw new RegistryError('UNAUTHORIZED', { message: 'no bearer here' });
      const identity = await accounts.authenticate(credentials.username, credentials.password);
      if (!identity) throw new RegistryError('UNAUTHORIZED', { message: 'invalid username or password' });
      return identity;
    },
  });
  await app.ready();

  const logins: Record<Caller, string | undefined> = {
    anonymous: undefined,
    user: basicAuthorization('alice', PASSWORD),
    projectAdmin: basicAuthorization('padmin', PASSWORD),
    robot: basicAuthorization('robot$ci', robotSecret),
    systemAdmin: basicAuthorization('admin', ADMIN_PASSWORD),
  };
  const harness: Harness = {
    app,
    accounts,
    audit,
    lifecycle,
    retention,
    runner,
    registry,
    signatures,
    scanning,
    webhooks,
    scrub,
    replication,
    routes,
    robotSecret,
    auth: (caller) => logins[caller],
    request(caller, method, url, body, headers = {}) {
      const authorization = typeof caller === 'string' ? logins[caller] : caller.authorization;
      return app.inject({
        method: method as 'GET',
        url,
        headers: {
          'user-agent': 'api-test',
          ...(authorization && { authorization }),
          ...(body !== undefined && { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body !== undefined && { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
    },
    async close() {
      await app.close();
      await runner.close();
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return harness;
}
