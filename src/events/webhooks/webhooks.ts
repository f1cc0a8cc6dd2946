import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { projectOf } from '../../auth/index.js';
import type { Database, JobRunRow } from '../../metadata/index.js';
import { RegistryError } from '../../registry/index.js';
import {
  decryptSecret,
  encryptSecret,
  SecretKeyError,
  type SecretKeyring,
  secretKeyring,
} from '../../replication/index.js';
import type { ScannedEvent } from '../../scanning/scanning.js';
import type { Anomaly } from '../anomalies/index.js';
import type { AuditInput } from '../types.js';
import { type DelivererOptions, WebhookDeliverer } from './deliverer.js';
import { DestinationRefused } from './destination-policy.js';
import { renderPayload } from './payload-formats.js';
import type { WebhookEvent, WebhookEventType, WebhookFormat } from './webhook-event.js';
import { type WebhookDeliveryRecord, type WebhookEndpointRecord, WebhookStore } from './webhook-store.js';

export interface WebhooksOptions extends Omit<DelivererOptions, 'secret'> {
  db: Kysely<Database>;
  /** Encrypts endpoint secrets at rest when set; without it they are stored as given (and never shown). */
  keyring?: SecretKeyring | undefined;
  /** host[:port] clients pull from, for Harbor's resource_url. */
  registryHost(): string;
  /** The digest a tag names now, for push and pull events by tag. */
  resolveTag?(repository: string, tag: string): Promise<string | undefined>;
  /** How long the list of enabled endpoints is reused before it is read again; default 2 s. */
  endpointCacheMs?: number;
}

/** Which endpoints an admin call is about: one project's, or (null) the system-wide ones. */
export interface WebhookScope {
  project: string | null;
}

export interface NewWebhookEndpoint {
  name: string;
  url: string;
  eventTypes: WebhookEventType[];
  format: WebhookFormat;
  secret?: string | undefined;
  enabled: boolean;
}

export type WebhookEndpointChanges = Partial<Omit<NewWebhookEndpoint, 'secret'>> & {
  /** A new secret; null removes it. */
  secret?: string | null | undefined;
};

/** An endpoint as the API shows it: the secret only as whether there is one. */
export interface WebhookEndpointView {
  id: number;
  project: string | null;
  name: string;
  url: string;
  eventTypes: string[];
  format: string;
  hasSecret: boolean;
  enabled: boolean;
  /** `enabled`, `disabled` (by a person), or `failing` (disabled by Berth after repeated failures). */
  status: 'enabled' | 'disabled' | 'failing';
  disabledReason: string | null;
  consecutiveFailures: number;
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
}

/** What an event carries before it gets its id and time. */
export type EmittedEvent = Omit<WebhookEvent, 'id' | 'time'> & { time?: number };

const SECRET_CONTEXT = 'webhook';
/** One quota event per project per this long per node: a refused client retries, and retries again. */
const QUOTA_EVENT_INTERVAL_MS = 60_000;

/**
 * events/webhooks: endpoints per project and system-wide, and the delivery of events to them. An event only
 * queues rows (one multi-row insert, after the request that caused it has been answered); the deliverer on
 * every node sends them (WebhookDeliverer). Events come from the audit log (push, pull, delete), the scanner
 * (scan completed), the quota hooks (quota exceeded) and the job runner (garbage collection finished).
 */
export class Webhooks {
  readonly store: WebhookStore;
  readonly deliverer: WebhookDeliverer;
  private endpointCache: { at: number; endpoints: Promise<WebhookEndpointRecord[]> } | undefined;
  private readonly pending = new Set<Promise<void>>();
  private readonly quotaEvents = new Map<string, number>();

  constructor(private readonly options: WebhooksOptions) {
    this.store = new WebhookStore(options.db);
    this.deliverer = new WebhookDeliverer(this.store, {
      ...options,
      secret: (stored) => this.plainSecret(stored),
    });
  }

  start(): void {
    this.deliverer.start();
  }

  /** Waits for queued events to be stored, then stops delivering (what is pending stays for the next start). */
  async close(): Promise<void> {
    await this.flush();
    await this.deliverer.close();
  }

  /** Resolves once every event emitted so far is queued in the database. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Queues the event for every enabled endpoint that wants it; never throws, never makes the caller wait. */
  emit(event: EmittedEvent): void {
    const full: WebhookEvent = { ...event, id: randomUUID(), time: event.time ?? Date.now() };
    const task = this.enqueue(full).catch((error) => this.options.onError?.(error));
    this.pending.add(task);
    void task.finally(() => this.pending.delete(task));
  }

  /** An audited /v2 action: pushes (manifest PUTs), pulls (manifest GETs) and deletes become events. */
  fromAudit(event: AuditInput): void {
    if (event.result !== 'success') return;
    if (event.action !== 'push' && event.action !== 'pull' && event.action !== 'delete') return;
    const at = event.resource.indexOf('@');
    const colon = event.resource.lastIndexOf(':');
    let repository = event.resource;
    let digest: string | undefined;
    let tag: string | undefined;
    if (at >= 0) {
      repository = event.resource.slice(0, at);
      digest = event.resource.slice(at + 1);
    } else if (colon >= 0) {
      repository = event.resource.slice(0, colon);
      tag = event.resource.slice(colon + 1);
    }
    this.emit({
      type: event.action,
      project: projectOf(repository),
      repository,
      ...(digest !== undefined && { digest }),
      ...(tag !== undefined && { tag }),
      operator: event.actor,
    });
  }

  /** A refused push over a project's quota (at most one event per project a minute from this node). */
  quotaExceeded(project: string, repository: string | undefined, details: Record<string, unknown>): void {
    const now = Date.now();
    if (now - (this.quotaEvents.get(project) ?? 0) < QUOTA_EVENT_INTERVAL_MS) return;
    this.quotaEvents.set(project, now);
    this.emit({
      type: 'quota',
      project,
      ...(repository !== undefined && { repository }),
      operator: 'berth',
      details,
    });
  }

  /** A scan whose report was recorded (Scanning's onScanned). */
  scanCompleted(scan: ScannedEvent): void {
    this.emit({
      type: 'scan',
      project: projectOf(scan.repository),
      repository: scan.repository,
      digest: scan.digest,
      operator: 'berth',
      details: { status: scan.status, scanner: scan.scanner, summary: scan.summary, error: scan.error },
    });
  }

  /**
   * A finding of the audit anomaly detector: to system-wide endpoints that take `anomaly`, and for a robot's
   * project sweep also to that project's.
   */
  anomalyFound(anomaly: Anomaly): void {
    this.emit({
      type: 'anomaly',
      project: anomaly.project,
      operator: 'berth',
      time: anomaly.time,
      details: {
        id: anomaly.id,
        kind: anomaly.kind,
        subject: anomaly.subject,
        summary: anomaly.summary,
        windowStart: new Date(anomaly.windowStart).toISOString(),
        count: anomaly.count,
        ...anomaly.details,
      },
    });
  }

  /** A job run ended (JobRunner's onFinished): garbage collection and replication executions become events. */
  jobFinished(run: JobRunRow, outcome: { status: 'succeeded' | 'failed'; summary: unknown }): void {
    if (run.kind === 'replication') {
      this.emit({
        type: 'replication',
        project: null,
        operator: run.requestedBy ?? 'berth',
        details: {
          policyId: Number(run.scope),
          executionId: run.id,
          status: outcome.status,
          trigger: run.trigger,
          summary: outcome.summary,
        },
      });
      return;
    }
    if (run.kind !== 'gc') return;
    this.emit({
      type: 'gc',
      project: null,
      operator: run.requestedBy ?? 'berth',
      details: {
        runId: run.id,
        status: outcome.status,
        trigger: run.trigger,
        dryRun: run.dryRun,
        summary: outcome.summary,
      },
    });
  }

  // --- management (api/webhook-routes.ts, berth webhook …) ---

  async create(
    scope: WebhookScope,
    input: NewWebhookEndpoint,
    createdBy: string,
  ): Promise<WebhookEndpointView> {
    const projectId = await this.scopeId(scope);
    await this.checkDestination(input.url);
    const record = await this.store.createEndpoint(
      projectId,
      { ...input, secret: input.secret ? this.sealSecret(input.secret) : null },
      createdBy,
    );
    this.endpointCache = undefined;
    return view(record);
  }

  async list(scope: WebhookScope): Promise<WebhookEndpointView[]> {
    return (await this.store.listEndpoints(await this.scopeId(scope))).map(view);
  }

  async get(scope: WebhookScope, id: number): Promise<WebhookEndpointView> {
    return view(await this.find(scope, id));
  }

  async update(
    scope: WebhookScope,
    id: number,
    changes: WebhookEndpointChanges,
  ): Promise<WebhookEndpointView> {
    await this.find(scope, id);
    if (changes.url !== undefined) await this.checkDestination(changes.url);
    const { secret, ...rest } = changes;
    await this.store.updateEndpoint(id, {
      ...rest,
      ...(secret !== undefined && { secret: secret === null ? null : this.sealSecret(secret) }),
    });
    this.endpointCache = undefined;
    // Re-enabled: what waited while it was disabled is due now.
    if (changes.enabled) this.deliverer.nudge();
    return this.get(scope, id);
  }

  async remove(scope: WebhookScope, id: number): Promise<WebhookEndpointView> {
    const record = await this.find(scope, id);
    await this.store.deleteEndpoint(id);
    this.endpointCache = undefined;
    return view(record);
  }

  async deliveries(
    scope: WebhookScope,
    id: number,
    page: { limit: number; before?: number | undefined },
  ): Promise<WebhookDeliveryRecord[]> {
    await this.find(scope, id);
    return this.store.deliveries(id, page);
  }

  /** Sends a delivery's body again, as a new delivery due now. */
  async redeliver(scope: WebhookScope, id: number, deliveryId: number): Promise<WebhookDeliveryRecord> {
    await this.find(scope, id);
    const delivery = await this.store.redeliver(id, deliveryId);
    if (!delivery) {
      throw new RegistryError('NOT_FOUND', { message: `webhook ${id} has no delivery ${deliveryId}` });
    }
    this.deliverer.nudge();
    return delivery;
  }

  private async enqueue(event: WebhookEvent): Promise<void> {
    const endpoints = (await this.enabledEndpoints()).filter(
      (endpoint) =>
        endpoint.eventTypes.includes(event.type) &&
        (endpoint.project === null || endpoint.project === event.project),
    );
    if (endpoints.length === 0) return;
    if (
      event.tag !== undefined &&
      event.digest === undefined &&
      event.repository !== undefined &&
      event.type !== 'delete' &&
      this.options.resolveTag
    ) {
      const digest = await this.options.resolveTag(event.repository, event.tag);
      if (digest !== undefined) event.digest = digest;
    }
    const host = this.options.registryHost();
    await this.store.enqueue(
      endpoints.map((endpoint) => ({
        endpointId: endpoint.id,
        eventId: event.id,
        eventType: event.type,
        ...renderPayload(event, endpoint.format as WebhookFormat, host),
      })),
    );
    this.deliverer.nudge();
  }

  private enabledEndpoints(): Promise<WebhookEndpointRecord[]> {
    const now = Date.now();
    if (!this.endpointCache || now - this.endpointCache.at > (this.options.endpointCacheMs ?? 2000)) {
      const endpoints = this.store.enabledEndpoints();
      this.endpointCache = { at: now, endpoints };
      endpoints.catch(() => {
        if (this.endpointCache?.endpoints === endpoints) this.endpointCache = undefined;
      });
    }
    return this.endpointCache.endpoints;
  }

  private async scopeId(scope: WebhookScope): Promise<number | null> {
    if (scope.project === null) return null;
    const id = await this.store.projectId(scope.project);
    if (id === undefined)
      throw new RegistryError('NOT_FOUND', { message: `project '${scope.project}' not found` });
    return id;
  }

  private async find(scope: WebhookScope, id: number): Promise<WebhookEndpointRecord> {
    await this.scopeId(scope);
    const record = await this.store.endpoint(id);
    if (!record || record.project !== scope.project) {
      const where = scope.project === null ? 'system-wide' : `in project '${scope.project}'`;
      throw new RegistryError('NOT_FOUND', { message: `no webhook ${id} ${where}` });
    }
    return record;
  }

  /** An endpoint URL the destination policy refuses is a 400 naming why (webhooks.denyPrivateAddresses …). */
  private async checkDestination(url: string): Promise<void> {
    try {
      await this.options.destinations?.check(url);
    } catch (error) {
      if (error instanceof DestinationRefused)
        throw new RegistryError('INVALID_REQUEST', { message: error.message });
      throw error;
    }
  }

  private sealSecret(secret: string): string {
    return this.options.keyring ? encryptSecret(this.options.keyring, secret, SECRET_CONTEXT) : secret;
  }

  private plainSecret(stored: string): string {
    if (!stored.startsWith('berth-secret:')) return stored;
    if (!this.options.keyring) {
      throw new Error('the endpoint secret is encrypted and webhooks.secretKey is not set: cannot sign');
    }
    return decryptSecret(this.options.keyring, stored, SECRET_CONTEXT);
  }
}

/** The keyring of webhooks.secretKey (`<id>:<base64 of 32 bytes>`); undefined when it is empty. */
export function webhookKeyring(value: string): SecretKeyring | undefined {
  if (value.trim() === '') return undefined;
  try {
    return secretKeyring(value.trim());
  } catch (error) {
    if (error instanceof SecretKeyError) {
      throw new SecretKeyError(error.message.replace('replication.secretKey', 'webhooks.secretKey'));
    }
    throw error;
  }
}

function view(record: WebhookEndpointRecord): WebhookEndpointView {
  return {
    id: record.id,
    project: record.project,
    name: record.name,
    url: record.url,
    eventTypes: record.eventTypes,
    format: record.format,
    hasSecret: record.secret !== null,
    enabled: record.enabled,
    status: record.enabled ? 'enabled' : record.disabledReason ? 'failing' : 'disabled',
    disabledReason: record.disabledReason,
    consecutiveFailures: record.consecutiveFailures,
    createdBy: record.createdBy,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}
