import type { WebhookEvent, WebhookEventType, WebhookFormat } from './webhook-event.js';

/** A rendered delivery: the exact bytes sent, and their media type. */
export interface RenderedPayload {
  body: string;
  contentType: string;
}

/** CloudEvents `type` per event (reverse-DNS, as the spec suggests). */
const CLOUD_EVENT_TYPES: Record<WebhookEventType, string> = {
  push: 'io.berth.artifact.pushed',
  pull: 'io.berth.artifact.pulled',
  delete: 'io.berth.artifact.deleted',
  scan: 'io.berth.scan.completed',
  quota: 'io.berth.quota.exceeded',
  gc: 'io.berth.gc.completed',
  replication: 'io.berth.replication.completed',
  anomaly: 'io.berth.security.anomaly',
};

/** Harbor's event type names (goharbor.io "Configure Webhook Notifications"); gc and anomaly have no Harbor equivalent. */
function harborType(event: WebhookEvent): string {
  switch (event.type) {
    case 'push':
      return 'PUSH_ARTIFACT';
    case 'pull':
      return 'PULL_ARTIFACT';
    case 'delete':
      return 'DELETE_ARTIFACT';
    case 'scan':
      return event.details?.status === 'failed' ? 'SCANNING_FAILED' : 'SCANNING_COMPLETED';
    case 'quota':
      return 'QUOTA_EXCEED';
    case 'gc':
      return 'GC_COMPLETED';
    case 'replication':
      return 'REPLICATION';
    case 'anomaly':
      return 'SECURITY_ANOMALY';
  }
}

/** `team/app:v1`, `team/app@sha256:…`, `team/app`, or for registry-wide events `registry`. */
export function subjectOf(event: WebhookEvent): string {
  // An anomaly is about an account or a client address.
  if (event.type === 'anomaly' && typeof event.details?.subject === 'string') return event.details.subject;
  if (event.type === 'replication') return `replication/policies/${String(event.details?.policyId)}`;
  if (event.repository === undefined) return event.project ?? 'registry';
  if (event.tag !== undefined) return `${event.repository}:${event.tag}`;
  if (event.digest !== undefined) return `${event.repository}@${event.digest}`;
  return event.repository;
}

/**
 * The event in an endpoint's format. `registryHost` (host[:port] clients pull from) makes Harbor's
 * resource_url; the CloudEvents `source` is the project's path, or `/registry` for registry-wide events.
 */
export function renderPayload(
  event: WebhookEvent,
  format: WebhookFormat,
  registryHost: string,
): RenderedPayload {
  switch (format) {
    case 'cloudevents':
      return { body: JSON.stringify(cloudEvent(event)), contentType: 'application/cloudevents+json' };
    case 'harbor':
      return { body: JSON.stringify(harborPayload(event, registryHost)), contentType: 'application/json' };
    case 'slack':
      return { body: JSON.stringify({ text: slackText(event) }), contentType: 'application/json' };
  }
}

/** CloudEvents 1.0, JSON event format, structured content mode (the whole event is the body). */
function cloudEvent(event: WebhookEvent) {
  return {
    specversion: '1.0',
    id: event.id,
    source: event.project === null ? '/registry' : `/projects/${event.project}`,
    type: CLOUD_EVENT_TYPES[event.type],
    subject: subjectOf(event),
    time: new Date(event.time).toISOString(),
    datacontenttype: 'application/json',
    data: {
      ...(event.project !== null && { project: event.project }),
      ...(event.repository !== undefined && { repository: event.repository }),
      ...(event.digest !== undefined && { digest: event.digest }),
      ...(event.tag !== undefined && { tag: event.tag }),
      operator: event.operator,
      ...event.details,
    },
  };
}

/** Harbor's "Default" webhook payload: type, occur_at (seconds), operator, event_data. */
function harborPayload(event: WebhookEvent, registryHost: string) {
  const eventData: Record<string, unknown> = {};
  if (event.repository !== undefined) {
    const slash = event.repository.indexOf('/');
    const resource: Record<string, unknown> = {
      ...(event.digest !== undefined && { digest: event.digest }),
      ...(event.tag !== undefined && { tag: event.tag }),
      resource_url: `${registryHost}/${subjectOf(event)}`,
    };
    if (event.type === 'scan') resource.scan_overview = event.details;
    eventData.resources = [resource];
    eventData.repository = {
      name: slash < 0 ? event.repository : event.repository.slice(slash + 1),
      namespace: event.project,
      repo_full_name: event.repository,
    };
  }
  if (event.type !== 'scan' && event.details !== undefined) eventData.custom_attributes = event.details;
  return {
    type: harborType(event),
    occur_at: Math.floor(event.time / 1000),
    operator: event.operator,
    event_data: eventData,
  };
}

const SLACK_VERBS: Record<WebhookEventType, string> = {
  push: 'pushed',
  pull: 'pulled',
  delete: 'deleted',
  scan: 'scanned',
  quota: 'was refused over quota:',
  gc: 'finished garbage collection',
  replication: 'finished replication',
  anomaly: 'anomaly:',
};

/** One line for a chat channel (Slack's incoming webhooks, and the many tools that take `{"text": …}`). */
function slackText(event: WebhookEvent): string {
  if (event.type === 'anomaly') {
    return `Berth: security anomaly (${String(event.details?.kind)}): ${String(event.details?.summary)}`;
  }
  const what = event.type === 'gc' ? '' : ` \`${subjectOf(event)}\``;
  const digest = event.digest !== undefined && event.tag !== undefined ? ` (${event.digest})` : '';
  const extra =
    event.type === 'scan' || event.type === 'quota' || event.type === 'gc' || event.type === 'replication'
      ? ` ${JSON.stringify(event.details ?? {})}`
      : '';
  return `Berth: ${event.operator} ${SLACK_VERBS[event.type]}${what}${digest}${extra}`;
}
