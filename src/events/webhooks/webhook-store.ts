import type { Generated, Kysely, Selectable } from 'kysely';
import type { Database } from '../../metadata/index.js';

/** The tables of migration 0010 this store uses, beside the projects table. */
interface WebhookTables {
  projects: { id: Generated<number>; name: string };
  webhook_endpoints: {
    id: Generated<number>;
    project_id: number | null;
    name: string;
    url: string;
    event_types: string;
    format: string;
    secret: string | null;
    enabled: number;
    consecutive_failures: Generated<number>;
    disabled_reason: string | null;
    created_by: string | null;
    created_at: number;
    updated_at: number;
  };
  webhook_deliveries: {
    id: Generated<number>;
    endpoint_id: number;
    event_id: string;
    event_type: string;
    body: string;
    content_type: string;
    status: string;
    attempts: Generated<number>;
    next_attempt_at: number;
    claimed_by: string | null;
    lease_until: number | null;
    response_code: number | null;
    latency_ms: number | null;
    error: string | null;
    created_at: number;
    finished_at: number | null;
  };
}

type EndpointRow = Selectable<WebhookTables['webhook_endpoints']> & { project: string | null };

/** An endpoint as stored; `secret` is the stored form (possibly encrypted) and never leaves the server. */
export interface WebhookEndpointRecord {
  id: number;
  project: string | null;
  name: string;
  url: string;
  eventTypes: string[];
  format: string;
  secret: string | null;
  enabled: boolean;
  consecutiveFailures: number;
  disabledReason: string | null;
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
}

export type DeliveryStatus = 'pending' | 'sending' | 'delivered' | 'failed';

export interface WebhookDeliveryRecord {
  id: number;
  endpointId: number;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number;
  responseCode: number | null;
  latencyMs: number | null;
  error: string | null;
  createdAt: number;
  finishedAt: number | null;
}

export interface NewDelivery {
  endpointId: number;
  eventId: string;
  eventType: string;
  body: string;
  contentType: string;
}

/** A delivery claimed for one attempt, with what the attempt needs. */
export interface ClaimedDelivery {
  id: number;
  endpointId: number;
  attempts: number;
  body: string;
  contentType: string;
  eventId: string;
  eventType: string;
  url: string;
  secret: string | null;
}

export interface AttemptOutcome {
  responseCode: number | null;
  latencyMs: number;
  error: string | null;
}

export interface EndpointChanges {
  name?: string;
  url?: string;
  eventTypes?: string[];
  format?: string;
  /** The stored form; null removes the secret. */
  secret?: string | null;
  enabled?: boolean;
}

/**
 * Webhook endpoints, and their deliveries, which are also the delivery queue: a delivery is `pending` until a
 * node claims it (`sending`, with a lease, the conditional update making the claim exclusive across nodes),
 * then `delivered`, `pending` again with a later next attempt, or `failed` once its attempts are spent. A claim
 * whose lease ran out (its node died mid-attempt) is claimed again.
 */
export class WebhookStore {
  private readonly db: Kysely<WebhookTables>;

  constructor(db: Kysely<Database>) {
    this.db = db as unknown as Kysely<WebhookTables>;
  }

  /** The project's id; undefined when there is no such project. */
  async projectId(project: string): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('projects')
      .select('id')
      .where('name', '=', project)
      .executeTakeFirst();
    return row && Number(row.id);
  }

  private endpoints() {
    return this.db
      .selectFrom('webhook_endpoints')
      .leftJoin('projects', 'projects.id', 'webhook_endpoints.project_id')
      .selectAll('webhook_endpoints')
      .select('projects.name as project');
  }

  async createEndpoint(
    projectId: number | null,
    endpoint: Pick<WebhookEndpointRecord, 'name' | 'url' | 'eventTypes' | 'format' | 'secret' | 'enabled'>,
    createdBy: string | null,
    now = Date.now(),
  ): Promise<WebhookEndpointRecord> {
    const row = await this.db
      .insertInto('webhook_endpoints')
      .values({
        project_id: projectId,
        name: endpoint.name,
        url: endpoint.url,
        event_types: JSON.stringify(endpoint.eventTypes),
        format: endpoint.format,
        secret: endpoint.secret,
        enabled: endpoint.enabled ? 1 : 0,
        created_by: createdBy,
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return (await this.endpoint(Number(row.id))) as WebhookEndpointRecord;
  }

  async endpoint(id: number): Promise<WebhookEndpointRecord | undefined> {
    const row = await this.endpoints().where('webhook_endpoints.id', '=', id).executeTakeFirst();
    return row && toEndpoint(row);
  }

  /** A project's endpoints, or with `null` the system-wide ones. */
  async listEndpoints(projectId: number | null): Promise<WebhookEndpointRecord[]> {
    const query = this.endpoints().orderBy('webhook_endpoints.id');
    const rows =
      projectId === null
        ? await query.where('webhook_endpoints.project_id', 'is', null).execute()
        : await query.where('webhook_endpoints.project_id', '=', projectId).execute();
    return rows.map(toEndpoint);
  }

  /** Every enabled endpoint, for matching events. */
  async enabledEndpoints(): Promise<WebhookEndpointRecord[]> {
    const rows = await this.endpoints().where('webhook_endpoints.enabled', '=', 1).execute();
    return rows.map(toEndpoint);
  }

  async updateEndpoint(id: number, changes: EndpointChanges, now = Date.now()): Promise<void> {
    await this.db
      .updateTable('webhook_endpoints')
      .set({
        ...(changes.name !== undefined && { name: changes.name }),
        ...(changes.url !== undefined && { url: changes.url }),
        ...(changes.eventTypes !== undefined && { event_types: JSON.stringify(changes.eventTypes) }),
        ...(changes.format !== undefined && { format: changes.format }),
        ...(changes.secret !== undefined && { secret: changes.secret }),
        // Enabling by hand starts the failure count afresh and clears why Berth had disabled it.
        ...(changes.enabled !== undefined && {
          enabled: changes.enabled ? 1 : 0,
          ...(changes.enabled && { consecutive_failures: 0 }),
          disabled_reason: null,
        }),
        updated_at: now,
      })
      .where('id', '=', id)
      .execute();
  }

  async deleteEndpoint(id: number): Promise<void> {
    await this.db.deleteFrom('webhook_deliveries').where('endpoint_id', '=', id).execute();
    await this.db.deleteFrom('webhook_endpoints').where('id', '=', id).execute();
  }

  /** Queues deliveries: one multi-row insert, nothing else. */
  async enqueue(deliveries: NewDelivery[], now = Date.now()): Promise<void> {
    if (deliveries.length === 0) return;
    await this.db
      .insertInto('webhook_deliveries')
      .values(
        deliveries.map((d) => ({
          endpoint_id: d.endpointId,
          event_id: d.eventId,
          event_type: d.eventType,
          body: d.body,
          content_type: d.contentType,
          status: 'pending',
          next_attempt_at: now,
          created_at: now,
        })),
      )
      .execute();
  }

  /**
   * Claims up to `limit` deliveries that are due (pending and their time come, or sending with a lapsed lease)
   * to endpoints that are enabled. Each claim is a conditional update: of two nodes racing for a row, one wins.
   */
  async claim(node: string, leaseMs: number, limit: number, now = Date.now()): Promise<ClaimedDelivery[]> {
    const candidates = await this.db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
      .select([
        'd.id',
        'd.endpoint_id',
        'd.attempts',
        'd.status',
        'd.body',
        'd.content_type',
        'd.event_id',
        'd.event_type',
        'e.url',
        'e.secret',
      ])
      .where('e.enabled', '=', 1)
      .where((eb) =>
        eb.or([
          eb.and([eb('d.status', '=', 'pending'), eb('d.next_attempt_at', '<=', now)]),
          eb.and([eb('d.status', '=', 'sending'), eb('d.lease_until', '<', now)]),
        ]),
      )
      .orderBy('d.next_attempt_at')
      .orderBy('d.id')
      .limit(limit)
      .execute();
    const claimed: ClaimedDelivery[] = [];
    for (const candidate of candidates) {
      const attempts = Number(candidate.attempts) + 1;
      const result = await this.db
        .updateTable('webhook_deliveries')
        .set({ status: 'sending', claimed_by: node, lease_until: now + leaseMs, attempts })
        .where('id', '=', candidate.id)
        .where('status', '=', candidate.status)
        .where('attempts', '=', candidate.attempts)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) continue;
      claimed.push({
        id: Number(candidate.id),
        endpointId: Number(candidate.endpoint_id),
        attempts,
        body: candidate.body,
        contentType: candidate.content_type,
        eventId: candidate.event_id,
        eventType: candidate.event_type,
        url: candidate.url,
        secret: candidate.secret,
      });
    }
    return claimed;
  }

  /** Records a 2xx answer; the endpoint's run of failures ends. False when this node's claim was lost. */
  async delivered(delivery: ClaimedDelivery, node: string, outcome: AttemptOutcome, now = Date.now()) {
    const result = await this.db
      .updateTable('webhook_deliveries')
      .set({
        status: 'delivered',
        response_code: outcome.responseCode,
        latency_ms: outcome.latencyMs,
        error: null,
        finished_at: now,
        lease_until: null,
      })
      .where('id', '=', delivery.id)
      .where('claimed_by', '=', node)
      .where('status', '=', 'sending')
      .executeTakeFirst();
    await this.db
      .updateTable('webhook_endpoints')
      .set({ consecutive_failures: 0 })
      .where('id', '=', delivery.endpointId)
      .execute();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Records a failed attempt: pending again at `nextAttemptAt`, or failed for good when that is null. Counts the
   * endpoint's consecutive failures and disables it, saying why, once they reach `maxFailures`.
   */
  async attemptFailed(
    delivery: ClaimedDelivery,
    node: string,
    outcome: AttemptOutcome,
    nextAttemptAt: number | null,
    maxFailures: number,
    now = Date.now(),
  ): Promise<{ disabled: boolean }> {
    await this.db
      .updateTable('webhook_deliveries')
      .set({
        status: nextAttemptAt === null ? 'failed' : 'pending',
        next_attempt_at: nextAttemptAt ?? now,
        response_code: outcome.responseCode,
        latency_ms: outcome.latencyMs,
        error: outcome.error,
        lease_until: null,
        ...(nextAttemptAt === null && { finished_at: now }),
      })
      .where('id', '=', delivery.id)
      .where('claimed_by', '=', node)
      .where('status', '=', 'sending')
      .execute();
    const endpoint = await this.db
      .updateTable('webhook_endpoints')
      .set((eb) => ({ consecutive_failures: eb('consecutive_failures', '+', 1) }))
      .where('id', '=', delivery.endpointId)
      .returning(['consecutive_failures', 'enabled'])
      .executeTakeFirst();
    if (!endpoint || Number(endpoint.enabled) !== 1 || Number(endpoint.consecutive_failures) < maxFailures) {
      return { disabled: false };
    }
    const reason =
      `disabled by Berth at ${new Date(now).toISOString()} after ${endpoint.consecutive_failures} consecutive ` +
      `failed deliveries (last: ${outcome.error ?? `HTTP ${outcome.responseCode}`}); enable it again to resume`;
    await this.db
      .updateTable('webhook_endpoints')
      .set({ enabled: 0, disabled_reason: reason, updated_at: now })
      .where('id', '=', delivery.endpointId)
      .where('enabled', '=', 1)
      .execute();
    return { disabled: true };
  }

  /** An endpoint's deliveries, newest first, with ids below `before`. */
  async deliveries(
    endpointId: number,
    page: { limit: number; before?: number | undefined },
  ): Promise<WebhookDeliveryRecord[]> {
    let query = this.db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', endpointId);
    if (page.before !== undefined) query = query.where('id', '<', page.before);
    const rows = await query.orderBy('id', 'desc').limit(page.limit).execute();
    return rows.map(toDelivery);
  }

  async delivery(endpointId: number, id: number): Promise<WebhookDeliveryRecord | undefined> {
    const row = await this.deliveryRow(endpointId, id);
    return row && toDelivery(row);
  }

  private deliveryRow(endpointId: number, id: number) {
    return this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('endpoint_id', '=', endpointId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** A new delivery of the same body (same event id), due now; the old one stays in the log as it ended. */
  async redeliver(
    endpointId: number,
    id: number,
    now = Date.now(),
  ): Promise<WebhookDeliveryRecord | undefined> {
    const old = await this.deliveryRow(endpointId, id);
    if (!old) return undefined;
    const row = await this.db
      .insertInto('webhook_deliveries')
      .values({
        endpoint_id: endpointId,
        event_id: old.event_id,
        event_type: old.event_type,
        body: old.body,
        content_type: old.content_type,
        status: 'pending',
        next_attempt_at: now,
        created_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toDelivery(row);
  }
}

function toEndpoint(row: EndpointRow): WebhookEndpointRecord {
  return {
    id: Number(row.id),
    project: row.project,
    name: row.name,
    url: row.url,
    eventTypes: JSON.parse(row.event_types) as string[],
    format: row.format,
    secret: row.secret,
    enabled: Number(row.enabled) === 1,
    consecutiveFailures: Number(row.consecutive_failures),
    disabledReason: row.disabled_reason,
    createdBy: row.created_by,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toDelivery(row: Selectable<WebhookTables['webhook_deliveries']>): WebhookDeliveryRecord {
  return {
    id: Number(row.id),
    endpointId: Number(row.endpoint_id),
    eventId: row.event_id,
    eventType: row.event_type,
    status: row.status as DeliveryStatus,
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    responseCode: row.response_code === null ? null : Number(row.response_code),
    latencyMs: row.latency_ms === null ? null : Number(row.latency_ms),
    error: row.error,
    createdAt: Number(row.created_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
  };
}
