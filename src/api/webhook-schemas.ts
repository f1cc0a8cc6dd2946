import { z } from 'zod';
import { WEBHOOK_EVENT_TYPES, WEBHOOK_FORMATS } from '../events/webhooks/index.js';
import { named, newestFirstPage, PageQuery, ProjectName } from './schemas.js';

/** Webhook endpoints and their deliveries: bodies, answers and parameters (see schemas.ts for how they are used). */

const EventTypes = z
  .array(z.enum(WEBHOOK_EVENT_TYPES))
  .min(1, 'name at least one event type')
  .transform((types) => [...new Set(types)])
  .describe(`events to send: ${WEBHOOK_EVENT_TYPES.join(', ')}`);

const Url = z
  .string()
  .max(2048)
  .refine((text) => {
    try {
      const url = new URL(text);
      return (
        (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === ''
      );
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL without credentials in it')
  .describe('where deliveries are POSTed');

const Secret = z
  .string()
  .min(16, 'a secret has at least 16 characters')
  .max(256)
  .describe('signs each body: X-Berth-Signature: sha256=<hex HMAC-SHA256 of the body>; never shown again');

const Name = z.string().min(1).max(100);

export const WebhookEndpoint = named(
  'WebhookEndpoint',
  'A webhook endpoint. `status`: enabled; disabled (by a person); failing (disabled by Berth after repeated ' +
    'failed deliveries, `disabledReason` says when and why; enable it again to resume).',
  z.object({
    id: z.number().int(),
    project: z.string().nullable().describe('null: system-wide (every project)'),
    name: z.string(),
    url: z.string(),
    eventTypes: z.array(z.string()),
    format: z.enum(WEBHOOK_FORMATS),
    hasSecret: z.boolean(),
    enabled: z.boolean(),
    status: z.enum(['enabled', 'disabled', 'failing']),
    disabledReason: z.string().nullable(),
    consecutiveFailures: z.number().int(),
    createdBy: z.string().nullable(),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  }),
);

export const WebhookEndpointList = named(
  'WebhookEndpointList',
  'Endpoints, oldest first.',
  z.object({ items: z.array(WebhookEndpoint) }),
);

export const CreateWebhookBody = named(
  'CreateWebhook',
  'A new endpoint.',
  z.strictObject({
    name: Name,
    url: Url,
    eventTypes: EventTypes,
    format: z
      .enum(WEBHOOK_FORMATS)
      .default('cloudevents')
      .describe(
        'cloudevents (CloudEvents 1.0 JSON, structured), harbor (Harbor webhook JSON), slack ({"text"})',
      ),
    secret: Secret.optional(),
    enabled: z.boolean().default(true),
  }),
);

export const UpdateWebhookBody = named(
  'UpdateWebhook',
  'What to change; enabling a failing endpoint resets its failure count and resumes its pending deliveries.',
  z.strictObject({
    name: Name.optional(),
    url: Url.optional(),
    eventTypes: EventTypes.optional(),
    format: z.enum(WEBHOOK_FORMATS).optional(),
    secret: Secret.nullable().optional().describe('a new secret; null removes it'),
    enabled: z.boolean().optional(),
  }),
);

export const WebhookDelivery = named(
  'WebhookDelivery',
  'One delivery of one event to the endpoint: pending (waiting for its next attempt), sending, delivered, ' +
    'or failed (its attempts ran out). The response code, latency and error are of the latest attempt.',
  z.object({
    id: z.number().int(),
    eventId: z.string(),
    eventType: z.string(),
    status: z.enum(['pending', 'sending', 'delivered', 'failed']),
    attempts: z.number().int(),
    nextAttemptAt: z.number().int().nullable(),
    responseCode: z.number().int().nullable(),
    latencyMs: z.number().int().nullable(),
    error: z.string().nullable(),
    createdAt: z.number().int(),
    finishedAt: z.number().int().nullable(),
  }),
);

export const WebhookDeliveryList = newestFirstPage('WebhookDeliveryList', 'deliveries', WebhookDelivery);

const Id = z
  .string()
  .regex(/^[0-9]{1,15}$/, 'must be a number')
  .transform(Number);

export const SystemWebhookParams = z.object({ id: Id });
export const ProjectWebhookParams = z.object({ name: ProjectName, id: Id });
export const SystemDeliveryParams = z.object({ id: Id, delivery: Id });
export const ProjectDeliveryParams = z.object({ name: ProjectName, id: Id, delivery: Id });
export const DeliveriesQuery = PageQuery.extend({
  cursor: Id.optional().describe('the `next` of the previous page'),
});
