import { useState } from 'preact/hooks';
import { call, type Schemas } from '../api/client';
import { ErrorText } from '../components/ui';
import { when } from '../format';
import { useAct } from '../use-act';
import { useLoad } from '../use-load';

type Endpoint = Schemas['WebhookEndpoint'];
type EventType = Schemas['CreateWebhook']['eventTypes'][number];
type Format = Schemas['CreateWebhook']['format'];

const EVENTS: EventType[] = ['push', 'pull', 'delete', 'scan', 'quota', 'gc', 'replication', 'anomaly'];
/** Registry-wide events: only system-wide endpoints receive them. */
const SYSTEM_EVENTS: EventType[] = ['gc', 'replication'];
const FORMATS: { value: Format; label: string }[] = [
  { value: 'cloudevents', label: 'CloudEvents 1.0' },
  { value: 'harbor', label: 'Harbor' },
  { value: 'slack', label: 'Slack' },
];

/**
 * The endpoints of one place: a project's (`project` set; project administrators) or the system's (system
 * administrators). The two are the same API under two prefixes; this picks the one.
 */
function webhooksOf(project: string | undefined) {
  return {
    list: () =>
      project === undefined
        ? call('get', '/api/v1/webhooks')
        : call('get', '/api/v1/projects/{name}/webhooks', { path: { name: project } }),
    create: (body: Schemas['CreateWebhook']) =>
      project === undefined
        ? call('post', '/api/v1/webhooks', { body })
        : call('post', '/api/v1/projects/{name}/webhooks', { path: { name: project }, body }),
    update: (id: number, body: Schemas['UpdateWebhook']) =>
      project === undefined
        ? call('patch', '/api/v1/webhooks/{id}', { path: { id: String(id) }, body })
        : call('patch', '/api/v1/projects/{name}/webhooks/{id}', {
            path: { name: project, id: String(id) },
            body,
          }),
    remove: (id: number) =>
      project === undefined
        ? call('delete', '/api/v1/webhooks/{id}', { path: { id: String(id) } })
        : call('delete', '/api/v1/projects/{name}/webhooks/{id}', {
            path: { name: project, id: String(id) },
          }),
    deliveries: (id: number) =>
      project === undefined
        ? call('get', '/api/v1/webhooks/{id}/deliveries', {
            path: { id: String(id) },
            query: { limit: '20' },
          })
        : call('get', '/api/v1/projects/{name}/webhooks/{id}/deliveries', {
            path: { name: project, id: String(id) },
            query: { limit: '20' },
          }),
    redeliver: (id: number, delivery: number) =>
      project === undefined
        ? call('post', '/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver', {
            path: { id: String(id), delivery: String(delivery) },
          })
        : call('post', '/api/v1/projects/{name}/webhooks/{id}/deliveries/{delivery}/redeliver', {
            path: { name: project, id: String(id), delivery: String(delivery) },
          }),
  };
}

type Api = ReturnType<typeof webhooksOf>;

/** What an endpoint's status means, in words. */
export function webhookStatus(endpoint: Pick<Endpoint, 'status' | 'disabledReason' | 'consecutiveFailures'>) {
  if (endpoint.status === 'failing') return `turned off by Berth: ${endpoint.disabledReason ?? 'failing'}`;
  if (endpoint.status === 'disabled') return 'turned off';
  return endpoint.consecutiveFailures > 0 ? `on (${endpoint.consecutiveFailures} failures in a row)` : 'on';
}

function Deliveries({ api, endpoint }: { api: Api; endpoint: Endpoint }) {
  const { data, error, reload } = useLoad(() => api.deliveries(endpoint.id), [endpoint.id]);
  const { failure, act } = useAct(reload);
  return (
    <div class="deliveries">
      <h3>
        Deliveries to {endpoint.name}{' '}
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </h3>
      <ErrorText error={error ?? failure} />
      <table aria-label={`Deliveries to ${endpoint.name}`}>
        <thead>
          <tr>
            <th scope="col">Delivery</th>
            <th scope="col">Event</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Answer</th>
            <th scope="col">Created</th>
            <th scope="col">Error</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((delivery) => (
            <tr key={delivery.id} data-testid="delivery">
              <td class="num">{delivery.id}</td>
              <td>{delivery.eventType}</td>
              <td>{delivery.status}</td>
              <td class="num">{delivery.attempts}</td>
              <td>
                {delivery.responseCode ?? '—'}
                {delivery.latencyMs !== null && <span class="muted"> in {delivery.latencyMs} ms</span>}
              </td>
              <td>{when(delivery.createdAt)}</td>
              <td>{delivery.error ?? ''}</td>
              <td>
                {(delivery.status === 'delivered' || delivery.status === 'failed') && (
                  <button
                    type="button"
                    aria-label={`Redeliver ${delivery.id}`}
                    onClick={() => act(() => api.redeliver(endpoint.id, delivery.id))}
                  >
                    Redeliver
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.items.length === 0 && <p class="muted">Nothing sent yet.</p>}
    </div>
  );
}

function NewWebhook({ api, system, onAdded }: { api: Api; system: boolean; onAdded(): void }) {
  const [failure, setFailure] = useState<unknown>(undefined);
  return (
    <form
      class="panel"
      aria-label="New webhook"
      onSubmit={async (event) => {
        event.preventDefault();
        const target = event.currentTarget;
        const form = new FormData(target);
        const secret = String(form.get('secret') ?? '');
        try {
          await api.create({
            name: String(form.get('name')),
            url: String(form.get('url')),
            eventTypes: EVENTS.filter((type) => form.get(`event-${type}`) === 'on'),
            format: String(form.get('format')) as Format,
            enabled: true,
            ...(secret !== '' && { secret }),
          });
          target.reset();
          setFailure(undefined);
          onAdded();
        } catch (caught) {
          setFailure(caught);
        }
      }}
    >
      <div class="inline">
        <label>
          Name <input name="name" required maxLength={100} defaultValue="webhook" />
        </label>
        <label>
          URL <input name="url" type="url" required size={40} placeholder="https://hooks.example.com/berth" />
        </label>
        <label>
          Format
          <select name="format">
            {FORMATS.map((format) => (
              <option key={format.value} value={format.value}>
                {format.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Secret{' '}
          <input
            name="secret"
            type="password"
            minLength={16}
            autocomplete="off"
            placeholder="optional, 16+ characters"
          />
        </label>
      </div>
      <fieldset class="inline">
        <legend>Events</legend>
        {EVENTS.filter((type) => system || !SYSTEM_EVENTS.includes(type)).map((type) => (
          <label key={type}>
            <input type="checkbox" name={`event-${type}`} defaultChecked={type === 'push'} /> {type}
          </label>
        ))}
      </fieldset>
      <div>
        <button type="submit">Add webhook</button>
      </div>
      <ErrorText error={failure} />
    </form>
  );
}

/**
 * Webhook endpoints with their delivery logs: a project's (`project`) or the system-wide ones. The caller shows
 * it only to whom the server lets manage them (project administrators; system administrators).
 */
export function WebhooksPanel({ project }: { project?: string }) {
  const api = webhooksOf(project);
  const { data, error, reload } = useLoad(() => api.list(), [project]);
  const { failure, act } = useAct(reload);
  const [open, setOpen] = useState<number | undefined>(undefined);
  const system = project === undefined;
  return (
    <section aria-labelledby="webhooks">
      <h2 id="webhooks">{system ? 'System-wide webhooks' : 'Webhooks'}</h2>
      <p class="muted">
        {system
          ? 'Events of every project, garbage collection, replication executions and audit anomalies are POSTed here.'
          : "The project's pushes, pulls, deletes, scans and quota warnings are POSTed here."}{' '}
        A secret signs each body (X-Berth-Signature: sha256=HMAC). Private and loopback addresses are refused
        unless the server's webhooks.allowedHosts lets them through.
      </p>
      <NewWebhook api={api} system={system} onAdded={reload} />
      <ErrorText error={error ?? failure} />
      <table aria-label="Webhook endpoints">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">URL</th>
            <th scope="col">Events</th>
            <th scope="col">Format</th>
            <th scope="col">Signed</th>
            <th scope="col">Status</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((endpoint) => (
            <tr key={endpoint.id} data-testid="webhook">
              <td>{endpoint.name}</td>
              <td>
                <code>{endpoint.url}</code>
              </td>
              <td>{endpoint.eventTypes.join(', ')}</td>
              <td>{endpoint.format}</td>
              <td>{endpoint.hasSecret ? 'yes' : 'no'}</td>
              <td data-testid="webhook-status">{webhookStatus(endpoint)}</td>
              <td class="actions">
                <button
                  type="button"
                  aria-expanded={open === endpoint.id}
                  onClick={() => setOpen(open === endpoint.id ? undefined : endpoint.id)}
                >
                  Deliveries
                </button>{' '}
                <button
                  type="button"
                  onClick={() => act(() => api.update(endpoint.id, { enabled: !endpoint.enabled }))}
                >
                  {endpoint.enabled ? 'Turn off' : 'Turn on'}
                </button>{' '}
                <button
                  type="button"
                  class="danger"
                  aria-label={`Remove webhook ${endpoint.name}`}
                  onClick={() => {
                    if (confirm(`Remove webhook ${endpoint.name} and its delivery log?`)) {
                      void act(() => api.remove(endpoint.id));
                    }
                  }}
                >
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.items.length === 0 && <p class="muted">No webhooks.</p>}
      {open !== undefined && data?.items.some((e) => e.id === open) && (
        <Deliveries api={api} endpoint={data.items.find((e) => e.id === open) as Endpoint} />
      )}
    </section>
  );
}
