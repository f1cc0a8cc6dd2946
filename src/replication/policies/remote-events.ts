import { RegistryError } from '../../registry/index.js';

/** A push or delete at a remote registry, as its webhook or notification told us. */
export interface RemoteEvent {
  action: 'push' | 'delete';
  repository: string;
  tag?: string;
  digest?: string;
}

/** What a body held: the events this receiver acts on, and how many others it left alone (pulls, blobs…). */
export interface ParsedEvents {
  events: RemoteEvent[];
  ignored: number;
}

/** More than a notification carries; Distribution sends at most a few dozen per envelope. */
const MAX_EVENTS = 1000;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
/** Berth's CloudEvents types (events/webhooks/payload-formats.ts). */
const CLOUD_EVENT_ACTIONS: Record<string, RemoteEvent['action']> = {
  'io.berth.artifact.pushed': 'push',
  'io.berth.artifact.deleted': 'delete',
};
/** Harbor's webhook event types (goharbor.io "Configure Webhook Notifications"). */
const HARBOR_ACTIONS: Record<string, RemoteEvent['action']> = {
  PUSH_ARTIFACT: 'push',
  DELETE_ARTIFACT: 'delete',
};

/**
 * The pushes and deletes in a webhook body, in any of the three formats a remote sends: Berth's CloudEvents
 * (structured mode, one event or a batch array), Harbor's default payload, and Distribution's notification
 * envelope (`{"events":[{"action":"push","target":{…}}]}`, configuration docs "notifications"). Other events
 * (pulls, scans, Distribution's blob pushes and mounts) are counted as ignored. A body in none of these shapes,
 * or with a malformed name, tag or digest, is INVALID_REQUEST.
 */
export function parseRemoteEvents(body: unknown): ParsedEvents {
  const parsed: ParsedEvents = { events: [], ignored: 0 };
  if (Array.isArray(body)) {
    if (body.length > MAX_EVENTS) throw invalid(`more than ${MAX_EVENTS} events`);
    for (const event of body) cloudEvent(event, parsed);
    return parsed;
  }
  if (!isObject(body)) throw invalid('the body is not a JSON object');
  if (typeof body.specversion === 'string') {
    cloudEvent(body, parsed);
  } else if (typeof body.type === 'string' && isObject(body.event_data)) {
    harborEvent(body, parsed);
  } else if (Array.isArray(body.events)) {
    if (body.events.length > MAX_EVENTS) throw invalid(`more than ${MAX_EVENTS} events`);
    for (const event of body.events) distributionEvent(event, parsed);
  } else {
    throw invalid(
      'not a Berth CloudEvent, a Harbor webhook payload or a Distribution notification envelope ({"events":[…]})',
    );
  }
  return parsed;
}

function cloudEvent(event: unknown, parsed: ParsedEvents): void {
  if (!isObject(event) || typeof event.type !== 'string') throw invalid('a CloudEvent without a type');
  const action = CLOUD_EVENT_ACTIONS[event.type];
  if (!action) {
    parsed.ignored++;
    return;
  }
  const data = isObject(event.data) ? event.data : {};
  add(parsed, action, data.repository, data.tag, data.digest);
}

function harborEvent(body: Record<string, unknown>, parsed: ParsedEvents): void {
  const action = HARBOR_ACTIONS[body.type as string];
  const data = body.event_data as Record<string, unknown>;
  if (!action) {
    parsed.ignored++;
    return;
  }
  const repository = isObject(data.repository) ? data.repository.repo_full_name : undefined;
  const resources = Array.isArray(data.resources) ? data.resources : [];
  if (resources.length > MAX_EVENTS) throw invalid(`more than ${MAX_EVENTS} resources`);
  if (resources.length === 0) throw invalid('a Harbor event without resources');
  for (const resource of resources) {
    if (!isObject(resource)) throw invalid('a Harbor resource is not an object');
    add(parsed, action, repository, resource.tag, resource.digest);
  }
}

function distributionEvent(event: unknown, parsed: ParsedEvents): void {
  if (!isObject(event) || !isObject(event.target)) throw invalid('a notification event without a target');
  const { action, target } = event;
  // Blob pushes carry a layer's media type (or application/octet-stream); only manifests are artifacts.
  const mediaType = typeof target.mediaType === 'string' ? target.mediaType : '';
  const isManifest = /manifest|index/.test(mediaType);
  if (action === 'push' && isManifest) {
    add(parsed, 'push', target.repository, target.tag, target.digest);
  } else if (action === 'delete' && (isManifest || mediaType === '')) {
    // A manifest deleted by digest (Distribution 2.8 sends no media type then) or a tag deleted.
    add(parsed, 'delete', target.repository, target.tag, target.digest);
  } else {
    parsed.ignored++;
  }
}

function add(
  parsed: ParsedEvents,
  action: RemoteEvent['action'],
  repository: unknown,
  tag: unknown,
  digest: unknown,
): void {
  if (typeof repository !== 'string' || repository.length > 255 || !NAME.test(repository)) {
    throw invalid(`an event names no valid repository: ${JSON.stringify(repository)?.slice(0, 300)}`);
  }
  const event: RemoteEvent = { action, repository };
  if (tag !== undefined && tag !== null && tag !== '') {
    if (typeof tag !== 'string' || !TAG.test(tag)) throw invalid(`an event names an invalid tag`);
    event.tag = tag;
  }
  if (digest !== undefined && digest !== null && digest !== '') {
    if (typeof digest !== 'string' || digest.length > 200 || !DIGEST.test(digest)) {
      throw invalid('an event names an invalid digest');
    }
    event.digest = digest;
  }
  if (event.tag === undefined && event.digest === undefined) {
    throw invalid(`an event on ${repository} names neither a tag nor a digest`);
  }
  parsed.events.push(event);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function invalid(message: string): RegistryError {
  return new RegistryError('INVALID_REQUEST', { message: `replication events: ${message}` });
}
