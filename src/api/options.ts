import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Accounts } from '../accounts/types.js';
import type { Identity } from '../auth/index.js';
import type { Catalog } from '../catalog/index.js';
import type { AnomalyStore } from '../events/anomalies/index.js';
import type { AuditEvent, AuditQuery, AuditSink } from '../events/types.js';
import type { Webhooks } from '../events/webhooks/index.js';
import type { GcAdmin, LifecycleAdmin, RetentionAdmin } from '../lifecycle/index.js';
import type { Scrubber } from '../lifecycle/scrub/index.js';
import type { Replication } from '../replication/policies/index.js';
import type { ProxyCache } from '../replication/proxy/index.js';
import type { Scanning } from '../scanning/scanning.js';
import type { SignatureAdmin } from '../signatures/signatures.js';
import type { OidcSignOn } from './oidc-routes.js';
import type { SystemHealthSource } from './system-routes.js';

export type ScanningAdmin = Pick<
  Scanning,
  | 'viewSettings'
  | 'changeSettings'
  | 'report'
  | 'harborReport'
  | 'requestScan'
  | 'sbom'
  | 'openBlob'
  | 'databaseInfo'
  | 'isStale'
  | 'importDatabase'
  | 'startRescan'
  | 'rescans'
  | 'rescan'
>;

/** The web console's cookie sessions (server/auth/console-sessions.ts). */
export interface ConsoleSessionAdmin {
  carriesCookie(request: FastifyRequest): boolean;
  open(
    request: FastifyRequest,
    reply: FastifyReply,
    username: string,
    password: string,
  ): Promise<{ identity: Identity; csrfToken: string }>;
  identify(request: FastifyRequest): Promise<{ identity: Identity; csrfToken: string }>;
  close(request: FastifyRequest, reply: FastifyReply): Promise<void>;
}

export type WebhooksAdmin = Pick<
  Webhooks,
  'create' | 'list' | 'get' | 'update' | 'remove' | 'deliveries' | 'redeliver'
>;
export type ScrubAdmin = Pick<Scrubber, 'start' | 'runs' | 'run' | 'quarantine'>;
export type ReplicationAdmin = Pick<
  Replication,
  | 'registries'
  | 'registry'
  | 'createRegistry'
  | 'updateRegistry'
  | 'removeRegistry'
  | 'testRegistry'
  | 'policies'
  | 'policy'
  | 'createPolicy'
  | 'updatePolicy'
  | 'removePolicy'
  | 'nextRunAt'
  | 'run'
  | 'retry'
  | 'executions'
  | 'execution'
  | 'tasks'
  | 'receiveEvents'
>;

/** Proxy projects' upstreams (replication/proxy): read, checked, set. */
export type ProxyAdmin = Pick<ProxyCache, 'view' | 'check' | 'configure'>;

/** What the management API needs, handed in by the server (no module-level singletons). */
export interface ApiOptions {
  accounts: Accounts;
  audit: AuditSink & { query(q: AuditQuery): Promise<AuditEvent[]> };
  /** The audit anomaly detector's findings. */
  anomalies: Pick<AnomalyStore, 'list'>;
  /**
   * Who is calling (Basic user/password, robot secret or personal access token, or a Bearer token). Anonymous
   * when no credentials; throws RegistryError UNAUTHORIZED (bad credentials) or TOOMANYREQUESTS.
   */
  authenticate(request: FastifyRequest): Promise<Identity>;
  /**
   * Checks a username and password outside a login (the current password a password change asks for), counted
   * by the same login throttle: the identity, or null when wrong; throws RegistryError TOOMANYREQUESTS.
   */
  checkPassword(request: FastifyRequest, username: string, password: string): Promise<Identity | null>;
  /** The client address (after trusted-proxy handling). */
  sourceIp(request: FastifyRequest): string;
  /** Immutability rules, quotas and storage usage. */
  lifecycle: LifecycleAdmin;
  /** Retention policies, their runs and their history. */
  retention: RetentionAdmin;
  /** Garbage collection: start runs, read their history. */
  gc: GcAdmin;
  /** Integrity scrub: start runs, read their history and findings, the quarantine. */
  scrub: ScrubAdmin;
  /** Webhook endpoints (per project and system-wide), their delivery logs, redelivery. */
  webhooks: WebhooksAdmin;
  /** Remote registries, replication policies and their executions. */
  replication: ReplicationAdmin;
  /** Trusted keys, notation trust stores, the signature policy, and artifacts' signature status. */
  signatures: SignatureAdmin;
  /** Vulnerability scanning: settings and policies, reports, SBOMs, the database, rescans. */
  scanning: ScanningAdmin;
  /** Pull-through cache projects' upstreams; absent: no project can be made one. */
  proxies?: ProxyAdmin | null;
  /** Repositories and artifacts to browse. */
  catalog: Pick<Catalog, 'repositories' | 'artifacts' | 'detail'>;
  /** The web console's login, session and logout. */
  consoleSessions: ConsoleSessionAdmin;
  /** Whether any logged-in user (not only system administrators) may create projects. Default false. */
  usersCanCreateProjects?: boolean;
  /** Single sign-on through an OpenID Provider (auth.oidc); null: not configured. Default null. */
  oidc?: OidcSignOn | null;
  /** The node's health probes and drivers, for GET /system/health; null: not reported. Default null. */
  health?: SystemHealthSource | null;
}
