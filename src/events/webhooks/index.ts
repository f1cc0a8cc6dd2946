export type { DelivererOptions } from './deliverer.js';
export {
  DestinationPolicy,
  DestinationRefused,
  type DestinationRules,
  hostEntries,
  privateClass,
} from './destination-policy.js';
export { renderPayload, subjectOf } from './payload-formats.js';
export { reportQuotaRefusals } from './registry-events.js';
export { SIGNATURE_HEADER, signBody, verifySignature } from './signature.js';
export {
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_FORMATS,
  type WebhookEvent,
  type WebhookEventType,
  type WebhookFormat,
} from './webhook-event.js';
export type { DeliveryStatus, WebhookDeliveryRecord } from './webhook-store.js';
export {
  type EmittedEvent,
  type NewWebhookEndpoint,
  type WebhookEndpointChanges,
  type WebhookEndpointView,
  type WebhookScope,
  Webhooks,
  type WebhooksOptions,
  webhookKeyring,
} from './webhooks.js';
