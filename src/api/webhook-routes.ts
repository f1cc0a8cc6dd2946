import type { z } from 'zod';
import type { WebhookDeliveryRecord, WebhookScope } from '../events/webhooks/index.js';
import { loginOf, requireProjectAction, SYSTEM_ADMINS } from './access.js';
import { historyPage } from './job-runs.js';
import { type ApiRoute, type Call, preamble, route } from './route.js';
import { ProjectParams } from './schemas.js';
import {
  CreateWebhookBody,
  DeliveriesQuery,
  ProjectDeliveryParams,
  ProjectWebhookParams,
  SystemDeliveryParams,
  SystemWebhookParams,
  UpdateWebhookBody,
  WebhookDelivery,
  WebhookDeliveryList,
  WebhookEndpoint,
  WebhookEndpointList,
} from './webhook-schemas.js';

type AnyCall = Call<unknown, unknown, unknown>;

const tag = 'webhooks';
const PROJECT_ADMINS = 'project administrators of the project and system administrators';

/** The two places endpoints live: a project's (project administrators) and the system's (system administrators). */
interface Place {
  /** Path prefix: `/projects/{name}` or ''. */
  prefix: string;
  /** Operation id infix: `Project` or `System`. */
  kind: 'Project' | 'System';
  gate: 'authenticated' | 'systemAdmin';
  access: string;
  /** The scope of the call, after checking the caller may manage its webhooks. */
  scope(call: AnyCall, task: string): Promise<WebhookScope>;
  params?: z.ZodType<unknown, Record<string, string>>;
  endpointParams: z.ZodType<unknown, Record<string, string>>;
  deliveryParams: z.ZodType<unknown, Record<string, string>>;
}

const PROJECT: Place = {
  prefix: '/projects/{name}',
  kind: 'Project',
  gate: 'authenticated',
  access: PROJECT_ADMINS,
  async scope(call, task) {
    const { name } = call.params as { name: string };
    await requireProjectAction(call, name, 'project:settings', task);
    return { project: name };
  },
  params: ProjectParams,
  endpointParams: ProjectWebhookParams,
  deliveryParams: ProjectDeliveryParams,
};

const SYSTEM: Place = {
  prefix: '',
  kind: 'System',
  gate: 'systemAdmin',
  access: SYSTEM_ADMINS,
  async scope() {
    return { project: null };
  },
  endpointParams: SystemWebhookParams,
  deliveryParams: SystemDeliveryParams,
};

function deliveryView(record: WebhookDeliveryRecord): z.input<typeof WebhookDelivery> {
  return {
    id: record.id,
    eventId: record.eventId,
    eventType: record.eventType,
    status: record.status,
    attempts: record.attempts,
    nextAttemptAt: record.status === 'pending' ? record.nextAttemptAt : null,
    responseCode: record.responseCode,
    latencyMs: record.latencyMs,
    error: record.error,
    createdAt: record.createdAt,
    finishedAt: record.finishedAt,
  };
}

const auditResource = (params: Record<string, string>) =>
  params.name === undefined ? `webhook:${params.id ?? '?'}` : `${params.name}/webhook:${params.id ?? '?'}`;

function routesOf(place: Place): ApiRoute[] {
  const base = `${place.prefix}/webhooks`;
  const where = place.kind === 'Project' ? "a project's" : 'system-wide';
  const shared = preamble({ tag, gate: place.gate, access: place.access });
  const endpointParams = place.endpointParams as z.ZodType<{ id: number }, Record<string, string>>;
  const deliveryParams = place.deliveryParams as z.ZodType<
    { id: number; delivery: number },
    Record<string, string>
  >;
  return [
    route({
      method: 'GET',
      path: base,
      operationId: `list${place.kind}Webhooks`,
      summary: `List ${where} webhook endpoints`,
      task: `reading ${where} webhooks`,
      ...shared,
      ...(place.params && { params: place.params }),
      success: { status: 200, description: 'The endpoints', schema: WebhookEndpointList },
      errors: [404],
      async handler(call) {
        const scope = await place.scope(call, `reading ${where} webhooks`);
        return { items: await call.options.webhooks.list(scope) };
      },
    }),
    route({
      method: 'POST',
      path: base,
      operationId: `create${place.kind}Webhook`,
      summary: `Add a ${place.kind === 'Project' ? 'project' : 'system-wide'} webhook endpoint`,
      task: `adding ${where} webhook`,
      ...shared,
      ...(place.params && { params: place.params }),
      body: CreateWebhookBody,
      success: { status: 201, description: 'Added', schema: WebhookEndpoint },
      errors: [404],
      audit: {
        action: 'webhook.create',
        resource: (params) => (params.name === undefined ? 'webhooks' : `${params.name}/webhooks`),
      },
      async handler(call) {
        const scope = await place.scope(call, `adding ${where} webhook`);
        const endpoint = await call.options.webhooks.create(scope, call.body, loginOf(call.identity));
        call.auditDetail = { id: endpoint.id, url: endpoint.url, eventTypes: endpoint.eventTypes };
        return endpoint;
      },
    }),
    route({
      method: 'GET',
      path: `${base}/{id}`,
      operationId: `get${place.kind}Webhook`,
      summary: `One ${where} webhook endpoint, with its status`,
      task: `reading ${where} webhooks`,
      ...shared,
      params: endpointParams,
      success: { status: 200, description: 'The endpoint', schema: WebhookEndpoint },
      errors: [404],
      async handler(call) {
        const scope = await place.scope(call, `reading ${where} webhooks`);
        return call.options.webhooks.get(scope, call.params.id);
      },
    }),
    route({
      method: 'PATCH',
      path: `${base}/{id}`,
      operationId: `update${place.kind}Webhook`,
      summary: `Change ${where} webhook endpoint (enable a failing one again, rotate its secret, …)`,
      task: `changing ${where} webhook`,
      ...shared,
      params: endpointParams,
      body: UpdateWebhookBody,
      success: { status: 200, description: 'Changed', schema: WebhookEndpoint },
      errors: [404],
      audit: { action: 'webhook.update', resource: auditResource },
      async handler(call) {
        const scope = await place.scope(call, `changing ${where} webhook`);
        const { secret, ...rest } = call.body;
        call.auditDetail = {
          ...rest,
          ...(secret !== undefined && { secret: secret === null ? 'removed' : 'set' }),
        };
        return call.options.webhooks.update(scope, call.params.id, call.body);
      },
    }),
    route({
      method: 'DELETE',
      path: `${base}/{id}`,
      operationId: `delete${place.kind}Webhook`,
      summary: `Remove ${where} webhook endpoint and its delivery log`,
      task: `removing ${where} webhook`,
      ...shared,
      params: endpointParams,
      success: { status: 204, description: 'Removed' },
      errors: [404],
      audit: { action: 'webhook.delete', resource: auditResource },
      async handler(call) {
        const scope = await place.scope(call, `removing ${where} webhook`);
        await call.options.webhooks.remove(scope, call.params.id);
      },
    }),
    route({
      method: 'GET',
      path: `${base}/{id}/deliveries`,
      operationId: `list${place.kind}WebhookDeliveries`,
      summary:
        'The delivery log of an endpoint, newest first: status, attempts, response code, latency, error',
      task: `reading ${where} webhook deliveries`,
      ...shared,
      params: endpointParams,
      query: DeliveriesQuery,
      success: { status: 200, description: 'One page of deliveries', schema: WebhookDeliveryList },
      errors: [404],
      async handler(call) {
        const scope = await place.scope(call, `reading ${where} webhook deliveries`);
        return historyPage(
          call,
          (page) => call.options.webhooks.deliveries(scope, call.params.id, page),
          deliveryView,
        );
      },
    }),
    route({
      method: 'POST',
      path: `${base}/{id}/deliveries/{delivery}/redeliver`,
      operationId: `redeliver${place.kind}Webhook`,
      summary: 'Send a delivery again (same body and event id), as a new delivery due now',
      task: `redelivering ${where} webhook`,
      ...shared,
      params: deliveryParams,
      success: { status: 202, description: 'Queued', schema: WebhookDelivery },
      errors: [404],
      audit: { action: 'webhook.redeliver', resource: auditResource },
      async handler(call) {
        const scope = await place.scope(call, `redelivering ${where} webhook`);
        const delivery = await call.options.webhooks.redeliver(scope, call.params.id, call.params.delivery);
        call.auditDetail = { delivery: call.params.delivery, redelivery: delivery.id };
        return deliveryView(delivery);
      },
    }),
  ];
}

export const webhookRoutes: ApiRoute[] = [...routesOf(PROJECT), ...routesOf(SYSTEM)];
