import { randomUUID } from 'node:crypto';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { AccountService } from '../accounts/index.js';
import { apiRoutes } from '../api/index.js';
import { IpAllowlist } from '../auth/index.js';
import { Catalog } from '../catalog/index.js';
import type { Config } from '../config/index.js';
import { distributionRoutes } from '../distribution/index.js';
import { type Anomaly, AnomalyDetector } from '../events/anomalies/index.js';
import { ANOMALY_ACTION, AuditStream } from '../events/audit-stream/index.js';
import type { AuditLog } from '../events/index.js';
import {
  DestinationPolicy,
  reportQuotaRefusals,
  Webhooks,
  webhookKeyring,
} from '../events/webhooks/index.js';
import {
  filesystemSize,
  GarbageCollector,
  JobRunner,
  Lifecycle,
  Retention,
  Scheduler,
} from '../lifecycle/index.js';
import { BlobQuarantine, Scrubber } from '../lifecycle/scrub/index.js';
import { CollectionStore, isPostgresUrl, JobRunStore, type ManifestRow } from '../metadata/index.js';
import { AuditMetrics, healthRoutes, Metrics } from '../observability/index.js';
import { type BlobRedirect, Registry, RegistryError } from '../registry/index.js';
import { Replication } from '../replication/index.js';
import { MirrorNames, ProxyCache } from '../replication/proxy/index.js';
import { adapterScanner } from '../scanning/adapter-scan.js';
import { builtinEngines } from '../scanning/engines-default.js';
import { Scanning } from '../scanning/scanning.js';
import { VulnerabilityDatabase } from '../scanning/vulndb/index.js';
import { isSignatureArtifact, verifyArtifact } from '../signatures/index.js';
import { Signatures } from '../signatures/signatures.js';
import { type BlobStore, cdnUrl } from '../storage/index.js';
import { discardAbandonedBodies } from './abandoned-body.js';
import { setupAuth } from './auth/index.js';
import { openBackends } from './backends.js';
import { ConnectionDrain } from './connection-drain.js';
import { setupConsole } from './console/index.js';
import { errorHandler } from './error-handler.js';
import { sendJsonMediaTypeAsSet } from './json-media-type.js';
import { serverOptions, setupLimits } from './limits/index.js';
import { RequestActivity } from './request-activity.js';
import { refuseWhileClosing } from './shutdown-gate.js';

export interface Berth {
  app: FastifyInstance;
  registry: Registry;
  metrics: Metrics;
  /** Users, projects, robots and tokens (for tests and embedding; operators use /api/v1 or the CLI). */
  accounts: AccountService;
  audit: AuditLog;
  /** Tag immutability rules, quotas and storage usage (for tests and embedding, as `accounts`). */
  lifecycle: Lifecycle;
  /** Online garbage collection: runs, history, schedule. */
  gc: GarbageCollector;
  /** Retention policies and runs; the scheduler calls runDue. */
  retention: Retention;
  /** Per-project trust and the pull-time signature policy. */
  signatures: Signatures;
  /** Vulnerability scanning: scan on push, reports, SBOMs, the database, pull-time policies. */
  scanning: Scanning;
  /** Webhook endpoints and the delivery of events to them. */
  webhooks: Webhooks;
  /** The integrity scrub: runs, history, schedule, quarantine. */
  scrub: Scrubber;
  /** Remote registries, replication policies and their executions. */
  replication: Replication;
  /** Audit events as JSON lines to a file and/or syslog (audit.stream); `reopen` on SIGHUP. */
  auditStream: AuditStream;
  /** The audit anomaly detector and its findings (audit.anomalies). */
  anomalies: AnomalyDetector;
  /** Starts listening; resolves to the bound address (e.g. http://127.0.0.1:5000). */
  listen(): Promise<string>;
  /** Graceful stop: refuses new requests, lets in-flight ones finish (up to the configured timeout). */
  close(): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** How often total storage is compared with the capacity (storage.warnPercent). */
const CAPACITY_CHECK_MS = 60_000;
/** How often every node asks scheduled jobs (gc.schedule, retention schedules) whether a run is due. */
const SCHEDULE_CHECK_MS = 30_000;

/** storage.capacityBytes when set; else the filesystem's size for the filesystem driver; else unknown. */
function storageCapacity(config: Config): () => Promise<number | undefined> {
  const { capacityBytes, driver, root } = config.storage;
  if (capacityBytes > 0) return async () => capacityBytes;
  if (driver !== 'filesystem') return async () => undefined;
  return () => filesystemSize(root);
}

/**
 * Where blob GETs are redirected: the CDN in front of the storage (storage.cdn), else presigned S3 URLs
 * (storage.s3.redirect), else nowhere (Berth serves the bytes).
 */
function blobRedirectOf(storage: Config['storage'], store: BlobStore): BlobRedirect | undefined {
  const { cdn, s3 } = storage;
  if (cdn.baseUrl !== '') return (key) => cdnUrl(cdn, key);
  const presign = store.presignGet?.bind(store);
  if (s3.redirect && presign) return (key) => presign(key, s3.redirectExpirySeconds);
  return undefined;
}

/** The address this server listens on, as a URL (for peers on this machine, such as a scanner adapter). */
function listeningUrl(app: FastifyInstance, config: Config): string {
  const address = app.server.address();
  const scheme = config.http.tlsCert ? 'https' : 'http';
  if (address === null || typeof address === 'string') return `${scheme}://127.0.0.1:${config.http.port}`;
  const host = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

/** What a server can be given besides its Config (tests, embedding). */
export interface BerthOptions {
  /** The time audit events are stamped with and the anomaly detector judges by; default Date.now. */
  clock?: () => number;
}

/** The audit resource of a finding: the account or address it is about, or the project a robot swept. */
function anomalyResource(anomaly: Anomaly): string {
  if (anomaly.project !== null) return anomaly.project;
  if (anomaly.kind === 'failed-logins-address') return `address:${anomaly.subject}`;
  return anomaly.subject.startsWith('robot$')
    ? `robot:${anomaly.subject.slice('robot$'.length)}`
    : `user:${anomaly.subject}`;
}

/** Builds a whole Berth server from a Config: storage, metadata, registry core, HTTP. */
export async function createBerth(config: Config, options: BerthOptions = {}): Promise<Berth> {
  // The change feed may report trouble at any time; until the app's logger exists, stderr will do.
  let logFeedError = (error: Error): void => {
    process.stderr.write(`berth: change feed: ${error.message}\n`);
  };
  const backends = await openBackends(config, (error) => logFeedError(error));
  const { store, meta } = backends;
  // The gauge reads the registry only when scraped, so the metrics can exist first.
  const metrics = new Metrics(() => registry.uploads.inFlight);
  const bytesIn = (bytes: number) => metrics.bytesIn.inc(bytes);
  // Logs through the app's logger once it exists (a capacity check runs only after that).
  let log: FastifyInstance['log'] | undefined;
  const lifecycle = new Lifecycle(meta.db, {
    bus: backends.bus,
    warnPercent: config.storage.warnPercent,
    capacityBytes: storageCapacity(config),
    log: {
      warn: (fields, message) => log?.warn(fields, message),
      info: (fields, message) => log?.info(fields, message),
    },
  });
  metrics.watchStorage(lifecycle);
  metrics.watchCapacity(async () => {
    const { capacityBytes, driver, root } = config.storage;
    if (capacityBytes > 0) return { bytes: capacityBytes, source: 'configured' };
    return driver === 'filesystem' ? { bytes: await filesystemSize(root), source: 'filesystem' } : undefined;
  });
  // Webhooks: events only queue rows; the deliverer on every node sends them (events/webhooks).
  const webhooks: Webhooks = new Webhooks({
    db: meta.db,
    keyring: webhookKeyring(config.webhooks.secretKey),
    registryHost: () => config.webhooks.registryHost || new URL(listeningUrl(app, config)).host,
    resolveTag: async (repository, tag) => (await meta.manifestByTag(repository, tag))?.digest,
    timeoutMs: config.webhooks.timeoutSeconds * 1000,
    maxAttempts: config.webhooks.maxAttempts,
    maxFailures: config.webhooks.maxFailures,
    retryBaseMs: config.webhooks.retrySeconds * 1000,
    pollMs: config.webhooks.pollSeconds * 1000,
    destinations: new DestinationPolicy({
      denyPrivateAddresses: config.webhooks.denyPrivateAddresses,
      allowedHosts: config.webhooks.allowedHosts,
      deniedHosts: config.webhooks.deniedHosts,
    }),
    onDisabled: (endpoint) =>
      log?.warn({ webhook: endpoint }, 'webhook endpoint disabled after repeated failures'),
    onRefused: (endpoint, reason) => log?.warn({ webhook: endpoint, reason }, 'webhook delivery refused'),
    onError: (error) => log?.error({ err: error }, 'webhooks'),
  });
  // Corrupt blobs the integrity scrub quarantined: refused before any bytes are sent.
  const quarantine = new BlobQuarantine(meta.db);
  // Garbage collection and retention runs: in the background, one per kind and scope across every node.
  const runner = new JobRunner(new JobRunStore(meta.db), {
    onError: (run, error) =>
      log?.error({ err: error, run: run.id, kind: run.kind, scope: run.scope }, 'job failed'),
    onFinished: (run, outcome) => {
      metrics.jobFinished(run.kind, outcome.status);
      webhooks.jobFinished(run, outcome);
    },
  });
  // The pull-time signature policy (signatures.required), plugged in beside lifecycle's hooks. Its audit
  // events go to the auth setup's log, which exists before anything can be pulled.
  let audit: AuditLog | undefined;
  const signatures: Signatures = new Signatures({
    db: meta.db,
    meta,
    store,
    bus: backends.bus,
    audit: { record: (event) => audit?.record(event) },
    verify: verifyArtifact,
    isSignatureArtifact,
    manifest: (repository: string, reference: string): Promise<ManifestRow> =>
      registry.manifests.get(repository, reference, undefined),
    onDecision: (decision, project) => metrics.pullPolicy(decision.outcome, decision.policy, project),
  });
  const registry: Registry = new Registry(store, meta, {
    maxManifestBytes: config.manifests.maxBytes,
    manifestCacheBytes: config.manifests.cacheBytes,
    uploadTtlMs: config.uploads.ttlSeconds * 1000,
    uploadLeaseMs: config.uploads.leaseSeconds * 1000,
    blobRedirect: blobRedirectOf(config.storage, store),
    bus: backends.bus,
    // On PostgreSQL a tag lookup is a network round trip: cache tags, other nodes' moves arrive by NOTIFY.
    cacheSharedTags: isPostgresUrl(config.metadata.url),
    onBytesIn: bytesIn,
    policy: {
      ...lifecycle.policy,
      ...signatures.hooks,
      ...reportQuotaRefusals(lifecycle.policy, webhooks),
      async admitBlobRead(repository, digest, reader) {
        await quarantine.admitBlobRead(repository, digest);
        await signatures.hooks.admitBlobRead?.(repository, digest, reader);
      },
      // Both pull policies judge a manifest read: the signature policy first, then scanning's.
      async admitManifestRead(repository, manifest, reader) {
        await signatures.hooks.admitManifestRead?.(repository, manifest, reader);
        await scanning.hooks.admitManifestRead?.(repository, manifest, reader);
      },
    },
  });
  registry.manifests.onChange((event) => signatures.apply(event));
  // Scanning: the push path only enqueues (onPut); the worker scans in the background on every node.
  const vulnerabilities = new VulnerabilityDatabase(meta.db);
  const scannerAuthorization: (repository: string, seconds: number) => Promise<string | undefined> =
    async () => undefined;
  const scanning: Scanning = new Scanning({
    db: meta.db,
    registry,
    bus: backends.bus,
    runner,
    engines: builtinEngines(vulnerabilities),
    database: vulnerabilities,
    audit: { record: (event) => audit?.record(event) },
    adapterScan: adapterScanner({
      registryUrl: () => config.scanning.registryUrl || listeningUrl(app, config),
      authorization: (repository, seconds) => scannerAuthorization(repository, seconds),
    }),
    concurrency: config.scanning.concurrency,
    pollMs: config.scanning.pollSeconds * 1000,
    staleAfterMs: config.scanning.staleAfterDays * 86_400_000,
    onDecision: (outcome, policy, project) => metrics.pullPolicy(outcome, policy, project),
    onError: (error, what) => log?.error({ err: error }, `scanning: ${what}`),
    onScanned: (scan) => webhooks.scanCompleted(scan),
  });
  registry.manifests.onChange((event) => scanning.apply(event));
  registry.manifests.onPut((event) => scanning.onPut(event));
  const retention = new Retention({ db: meta.db, manifests: registry.manifests, runner });
  const activity = new RequestActivity();
  const gc = new GarbageCollector(store, new CollectionStore(meta.db), registry, runner, {
    graceMs: config.gc.graceSeconds * 1000,
    schedule: config.gc.schedule,
    untagged: config.gc.untagged,
    serving: () => activity.busy,
  });
  const scrub = new Scrubber(store, meta.db, runner, quarantine, {
    schedule: config.scrub.schedule,
    rateBytesPerSecond: config.scrub.rateBytesPerSecond,
    quarantine: config.scrub.quarantine,
  });
  // Replication: pushes here (onPut) and deletes (onChange) start event policies' executions.
  // replication.previousSecretKeys also open the proxy upstreams' sealed passwords.
  const previousSecretKeys = config.replication.previousSecretKeys
    .split(',')
    .map((key) => key.trim())
    .filter(Boolean);
  const replication = new Replication({
    db: meta.db,
    registry,
    runner,
    secretKey: config.replication.secretKey,
    previousSecretKeys,
    remote: { chunkSize: config.replication.uploadChunkBytes || undefined },
    onError: (error, what) => log?.error({ err: error }, what),
  });
  registry.manifests.onPut((event) => replication.onPut(event));
  registry.manifests.onChange((event) => replication.onChange(event));

  const app = Fastify({
    // TLS, and the header and idle timeouts (slow clients); no cap on a request's total time (long uploads).
    ...serverOptions(config),
    logger: { level: config.log.level },
    // One log line per request, written by the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Requests that reach a server shutting down are refused by refuseWhileClosing (below), in the error format.
    return503OnClosing: false,
    // A URL the router cannot decode, a path parameter over maxParamLength: the OCI error format too.
    frameworkErrors: errorHandler,
  }) as unknown as FastifyInstance;

  // Closes each connection once its last response is flushed, not merely ended (graceful close, below).
  const drain = new ConnectionDrain(app.server);
  // A request refused mid-body must not leave its keep-alive connection deaf to the next one.
  discardAbandonedBodies(app.server);
  logFeedError = (error) => app.log.error({ err: error }, 'change feed');
  log = app.log;

  // Bodies are streamed by the handlers themselves: no parsing, no buffering, no body limit here.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));
  app.setErrorHandler(errorHandler);
  // Deep links into the web console (a browser asking for a page) get its index.html; the rest an OCI error.
  let serveDeepLink: (request: FastifyRequest, reply: FastifyReply) => boolean = () => false;
  app.setNotFoundHandler((request, reply) => {
    if (serveDeepLink(request, reply)) return;
    return errorHandler(
      new RegistryError('UNSUPPORTED', { status: 404, message: `no such endpoint: ${request.url}` }),
      request,
      reply,
    );
  });
  let accepting = true;
  refuseWhileClosing(app, () => accepting);
  activity.track(app);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // While shutting down, let no keep-alive connection outlive its last in-flight response.
    if (!accepting) reply.header('connection', 'close');
  });
  // The spec fixes the media types of manifests, referrers, listings and errors: no `; charset=utf-8` added.
  app.addHook('onSend', sendJsonMediaTypeAsSet);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.berthRoute ?? request.routeOptions.url ?? 'unknown';
    const seconds = reply.elapsedTime / 1000;
    const bytes = Number(reply.getHeader('content-length') ?? 0);
    metrics.observe(route, request.method, reply.statusCode, seconds, bytes);
    request.log.info(
      {
        method: request.method,
        url: request.url,
        route,
        status: reply.statusCode,
        bytes,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  await app.register(healthRoutes, {
    metrics,
    isAccepting: () => accepting,
    checks: { metadata: () => meta.ping(), storage: () => store.ping() },
  });
  // Connection and request-rate limits, hardening headers (docs/security.md); sourceIp is auth's, once it exists.
  const trusted = IpAllowlist.parse(
    config.auth.trustedProxies
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean),
  );
  let sourceIp = (request: FastifyRequest) => request.socket.remoteAddress ?? '';
  const limits = setupLimits(app, config, {
    sourceIp: (request) => sourceIp(request),
    trustedProxy: (address) => trusted.allows(address),
  });
  // Pull-through cache projects: /v2 asks it about proxy projects' content, the API sets their upstreams.
  const proxy = new ProxyCache({
    registry,
    secretKey: config.replication.secretKey,
    previousSecretKeys,
    tagTtlMs: config.proxy.tagTtlSeconds * 1000,
    upstreamTimeoutMs: config.proxy.upstreamTimeoutSeconds * 1000,
    fillLocks: backends.fills,
    fillWaitMs: config.proxy.fillWaitSeconds * 1000,
    log: app.log,
  });
  // Plain names daemons send to a mirror (registry-mirrors, containerd's ns=), mapped alike by /v2 and /token.
  const mirrorNames = new MirrorNames({
    db: meta.db,
    mirrorProject: config.proxy.mirrorProject,
    proxyProjects: () => proxy.proxyProjects(),
    repositoryExists: async (name) => (await meta.repositoryId(name)) !== undefined,
  });
  registry.manifests.onPut((event) => mirrorNames.pushed(event.repository));
  const mirror = (name: string, ns: string | undefined) => mirrorNames.resolve(name, ns);
  const auth = await setupAuth(app, config, meta, backends.bus, limits.admitToken, mirror);
  sourceIp = auth.sourceIp;
  audit = auth.audit;
  if (options.clock) auth.audit.clock = options.clock;
  auth.audit.onRecord((event) => webhooks.fromAudit(event));
  // Every audit event also to a file and/or syslog (audit.stream), from bounded queues: never in a request's way.
  const stream = config.audit.stream;
  const auditStream: AuditStream = new AuditStream({
    file: stream.file
      ? { path: stream.file, maxBytes: stream.fileMaxBytes, maxFiles: stream.fileMaxFiles }
      : undefined,
    syslog: stream.syslog
      ? { address: stream.syslog, protocol: stream.syslogProtocol, facility: stream.syslogFacility }
      : undefined,
    bufferEvents: stream.bufferEvents,
    onWritten: (sink, count) => auditMetrics.written(sink, count),
    onDropped: (sink, count) => auditMetrics.droppedEvents(sink, count),
    onWriteFailed: (sink) => auditMetrics.failedWrite(sink),
    onError: (sink, error) => app.log.error({ err: error, sink }, 'audit stream: write failed, retrying'),
  });
  const auditMetrics = new AuditMetrics(metrics.registry, () => auditStream.queued());
  if (auditStream.active) auth.audit.onRecord((event) => auditStream.write(event));
  // The anomaly detector reads the shared audit log; each finding is audited, sent to webhooks and counted.
  const anomalies = new AnomalyDetector({
    db: meta.db,
    settings: config.audit.anomalies,
    jobs: backends.jobs,
    ...(options.clock && { clock: options.clock }),
    onFinding(anomaly) {
      auditMetrics.anomaly(anomaly.kind);
      app.log.warn(
        { anomaly: { id: anomaly.id, kind: anomaly.kind, subject: anomaly.subject } },
        anomaly.summary,
      );
      auth.audit.record({
        actor: 'berth',
        actorKind: 'system',
        action: ANOMALY_ACTION,
        resource: anomalyResource(anomaly),
        result: 'failure',
        detail: JSON.stringify({
          id: anomaly.id,
          kind: anomaly.kind,
          subject: anomaly.subject,
          summary: anomaly.summary,
        }),
      });
      webhooks.anomalyFound(anomaly);
    },
    onError: (error) => app.log.error({ err: error }, 'audit anomaly detection failed'),
  });
  if (auth.bootstrap?.generated) {
    // Shown once: the password is stored hashed only. BERTH_ADMIN_PASSWORD sets it instead.
    app.log.warn(
      { username: auth.bootstrap.username, password: auth.bootstrap.password },
      'created the first administrator with a generated password; change it (berth user passwd)',
    );
  }
  await app.register(distributionRoutes, {
    registry,
    pullThrough: proxy,
    mirror,
    deletesEnabled: config.deletes.enabled,
    onBytesIn: bytesIn,
    onAnswered: auth.onAnswered,
    ...(auth.guard && { guard: limits.uploads.guard(auth.guard) }),
  });
  ({ serveDeepLink } = await setupConsole(app));
  await app.register(apiRoutes, {
    accounts: auth.accounts,
    audit: auth.audit,
    anomalies: anomalies.store,
    authenticate: limits.authenticate(auth.authenticate),
    checkPassword: auth.checkPassword,
    sourceIp: auth.sourceIp,
    lifecycle,
    retention,
    gc,
    scrub,
    webhooks,
    replication,
    signatures,
    scanning,
    catalog: new Catalog(meta.db, registry),
    proxies: proxy,
    consoleSessions: auth.consoleSessions,
    usersCanCreateProjects: config.auth.usersCanCreateProjects,
    oidc: auth.oidc ?? null,
    health: {
      checks: { metadata: () => meta.ping(), storage: () => store.ping() },
      isAccepting: () => accepting,
      metadata: /^postgres(ql)?:/.test(config.metadata.url) ? 'postgres' : 'sqlite',
      storage: config.storage.driver === 's3' ? 's3' : 'filesystem',
      startedAt: Date.now() - Math.round(process.uptime() * 1000),
    },
  });

  const purge = setInterval(() => {
    backends.jobs
      .run('upload-purge', async () => {
        await registry.uploads.purgeStale();
      })
      .catch((error) => app.log.error({ err: error }, 'upload purge failed'));
    backends.jobs
      .run('audit-retention', async () => {
        const cutoff = Date.now() - config.audit.retentionDays * 86_400_000;
        await auth.audit.purgeOlderThan(cutoff);
        // Findings are about audit events: they go with them.
        await anomalies.store.deleteBefore(cutoff);
      })
      .catch((error) => app.log.error({ err: error }, 'audit retention failed'));
  }, config.uploads.purgeIntervalSeconds * 1000);
  purge.unref();
  const checkCapacity = () =>
    lifecycle
      .checkCapacity()
      .catch((error) => app.log.error({ err: error }, 'storage capacity check failed'));
  const capacity = setInterval(checkCapacity, CAPACITY_CHECK_MS);
  capacity.unref();
  void checkCapacity();
  scanning.start();
  webhooks.start();
  anomalies.start();
  const scheduler = new Scheduler([gc, retention, scrub, replication], SCHEDULE_CHECK_MS, (error) =>
    app.log.error({ err: error }, 'scheduled job failed to start'),
  );
  app.addHook('onClose', async () => {
    clearInterval(purge);
    clearInterval(capacity);
    scheduler.close();
    replication.close();
    await scanning.close();
    await runner.close();
    await anomalies.close();
    // After the job runner and the detector: a run ending as it stops still queues its event.
    await webhooks.close();
    await registry.close();
    await auth.audit.close();
    await auditStream.close();
    await backends.close();
  });

  return {
    app,
    registry,
    metrics,
    accounts: auth.accounts,
    audit: auth.audit,
    lifecycle,
    retention,
    gc,
    signatures,
    scanning,
    webhooks,
    scrub,
    replication,
    auditStream,
    anomalies,
    listen: () => app.listen({ host: config.http.host, port: config.http.port }),
    async close() {
      accepting = false;
      const force = setTimeout(
        () => app.server.closeAllConnections(),
        config.http.shutdownTimeoutSeconds * 1000,
      );
      force.unref();
      // server.close() drops only the keep-alive sockets idle at that moment; a response in flight leaves its
      // socket open after it ends, so each is closed as soon as its response has been sent in full.
      drain.startDraining();
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
    },
  };
}
