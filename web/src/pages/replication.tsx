import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { call, type Schemas } from '../api/client';
import { ErrorText, Page } from '../components/ui';
import { parseBytes, when } from '../format';
import { useAct } from '../use-act';
import { useLoad } from '../use-load';
import { RegistriesPanel } from './registries';

type Policy = Schemas['ReplicationPolicy'];
type PolicyBody = Schemas['CreateReplicationPolicy'];

/** The address a remote POSTs its push and delete events to, for an event-triggered pull policy. */
export function eventsUrl(origin: string, id: number): string {
  return `${origin}/api/v1/replication/policies/${id}/events`;
}

/** What starts a policy, in words. */
export function triggerText(
  policy: Pick<Policy, 'trigger' | 'schedule' | 'nextRunAt' | 'direction'>,
): string {
  if (policy.trigger === 'schedule') {
    return `schedule ${policy.schedule ?? ''}${policy.nextRunAt ? `, next ${when(policy.nextRunAt)}` : ''}`;
  }
  if (policy.trigger === 'event') {
    return policy.direction === 'push' ? 'each push and delete here' : 'events the remote sends';
  }
  return 'by hand';
}

/**
 * The body of a policy form. Fields left empty mean the API's defaults; a bandwidth is `10MB` or bytes (per
 * second); no event secret is null (an edit then keeps the stored one).
 */
export function policyBody(form: FormData): PolicyBody {
  const text = (key: string) => String(form.get(key) ?? '').trim();
  const from = text('rewriteFrom');
  const rate = text('bytesPerSecond');
  const bytesPerSecond = rate === '' ? null : parseBytes(rate);
  if (bytesPerSecond === undefined)
    throw new Error(`Bandwidth: a size per second such as 10MB, not "${rate}"`);
  const trigger = text('trigger') as PolicyBody['trigger'];
  const secret = text('eventSecret');
  return {
    name: text('name'),
    description: text('description'),
    registry: text('registry'),
    direction: text('direction') as PolicyBody['direction'],
    repositories: text('repositories'),
    tags: text('tags') || '**',
    artifactType: text('artifactType'),
    rewrite: from === '' ? null : { from, to: text('rewriteTo') },
    trigger,
    schedule: trigger === 'schedule' ? text('schedule') : null,
    replicateDeletes: form.get('replicateDeletes') === 'on',
    referrers: form.get('referrers') === 'on',
    bytesPerSecond,
    enabled: form.get('enabled') === 'on',
    eventSecret: secret === '' ? null : secret,
  };
}

function PolicyForm({
  policy,
  registries,
  onDone,
}: {
  policy?: Policy;
  registries: string[];
  onDone(): void;
}) {
  const [failure, setFailure] = useState<unknown>(undefined);
  const [trigger, setTrigger] = useState(policy?.trigger ?? 'manual');
  const editing = policy !== undefined;
  return (
    <form
      class="panel"
      aria-label={editing ? `Edit policy ${policy.name}` : 'New replication policy'}
      onSubmit={async (event) => {
        event.preventDefault();
        const target = event.currentTarget;
        try {
          const body = policyBody(new FormData(target));
          if (editing) {
            const { eventSecret, ...rest } = body;
            await call('patch', '/api/v1/replication/policies/{id}', {
              path: { id: String(policy.id) },
              body: eventSecret === null ? rest : body,
            });
          } else {
            await call('post', '/api/v1/replication/policies', { body });
            target.reset();
            setTrigger('manual');
          }
          setFailure(undefined);
          onDone();
        } catch (caught) {
          setFailure(caught);
        }
      }}
    >
      <div class="inline">
        <label>
          Name <input name="name" required maxLength={100} defaultValue={policy?.name} />
        </label>
        <label>
          Direction
          <select name="direction" defaultValue={policy?.direction ?? 'push'}>
            <option value="push">push: from here to the registry</option>
            <option value="pull">pull: from the registry to here</option>
          </select>
        </label>
        <label>
          Registry
          <select name="registry" required defaultValue={policy?.registry}>
            {registries.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Description <input name="description" defaultValue={policy?.description} />
        </label>
      </div>
      <div class="inline">
        <label>
          Repositories{' '}
          <input name="repositories" required placeholder="team/**" defaultValue={policy?.repositories} />
        </label>
        <label>
          Tags <input name="tags" placeholder="** (every tag)" defaultValue={policy?.tags} />
        </label>
        <label>
          Artifact type{' '}
          <select name="artifactType" defaultValue={policy?.artifactType ?? ''}>
            <option value="">any</option>
            <option value="image">container images</option>
          </select>
        </label>
        <label>
          Rename from <input name="rewriteFrom" placeholder="team/" defaultValue={policy?.rewrite?.from} />
        </label>
        <label>
          to <input name="rewriteTo" placeholder="mirror/team/" defaultValue={policy?.rewrite?.to} />
        </label>
      </div>
      <div class="inline">
        <label>
          Trigger
          <select
            name="trigger"
            value={trigger}
            onChange={(e) => setTrigger(e.currentTarget.value as Policy['trigger'])}
          >
            <option value="manual">by hand</option>
            <option value="schedule">on a schedule</option>
            <option value="event">on each push and delete</option>
          </select>
        </label>
        {trigger === 'schedule' && (
          <label>
            Schedule (cron, UTC){' '}
            <input name="schedule" required placeholder="0 3 * * *" defaultValue={policy?.schedule ?? ''} />
          </label>
        )}
        {trigger === 'event' && (
          <>
            <label>
              <input type="checkbox" name="replicateDeletes" defaultChecked={policy?.replicateDeletes} />{' '}
              delete at the target what is deleted at the source
            </label>
            <label>
              Event secret (pull policies){' '}
              <input
                name="eventSecret"
                type="password"
                autocomplete="off"
                placeholder={policy?.hasEventSecret ? 'unchanged' : 'none'}
              />
            </label>
          </>
        )}
        <label>
          Bandwidth per second{' '}
          <input
            name="bytesPerSecond"
            size={8}
            placeholder="no limit"
            defaultValue={
              policy?.bytesPerSecond === null || policy === undefined ? '' : String(policy.bytesPerSecond)
            }
          />
        </label>
        <label>
          <input type="checkbox" name="referrers" defaultChecked={policy?.referrers ?? true} /> copy
          signatures and SBOMs
        </label>
        <label>
          <input type="checkbox" name="enabled" defaultChecked={policy?.enabled ?? true} /> enabled
        </label>
      </div>
      <div class="inline">
        <button type="submit">{editing ? 'Save policy' : 'Add policy'}</button>
        {editing && (
          <button type="button" class="secondary" onClick={onDone}>
            Cancel
          </button>
        )}
      </div>
      <ErrorText error={failure} />
    </form>
  );
}

/** Replication: remote registries and the policies that copy to or from them (system administrators). */
export function ReplicationPage() {
  const { data: registries, reload: reloadRegistries } = useLoad(() => call('get', '/api/v1/registries'), []);
  const { data, error, reload } = useLoad(() => call('get', '/api/v1/replication/policies'), []);
  const [started, setStarted] = useState<Record<number, number>>({});
  const { failure, act } = useAct(reload);
  const [editing, setEditing] = useState<number | undefined>(undefined);
  const names = registries?.items.map((r) => r.name) ?? [];
  const editable = data?.items.find((p) => p.id === editing);
  return (
    <Page title="Replication">
      <RegistriesPanel onChange={reloadRegistries} />
      <section aria-labelledby="policies">
        <h2 id="policies">Policies</h2>
        {names.length === 0 ? (
          <p class="muted">Add a registry first: a policy copies to or from one.</p>
        ) : (
          <PolicyForm registries={names} onDone={reload} />
        )}
        <ErrorText error={error ?? failure} />
        <table aria-label="Replication policies">
          <thead>
            <tr>
              <th scope="col">Policy</th>
              <th scope="col">Copies</th>
              <th scope="col">Trigger</th>
              <th scope="col">State</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {data?.items.map((policy) => (
              <tr key={policy.id} data-testid="policy">
                <td>
                  <Link href={`/admin/replication/${policy.id}`}>{policy.name}</Link>
                  {policy.description && <div class="muted small">{policy.description}</div>}
                </td>
                <td>
                  {policy.direction === 'push' ? 'push to' : 'pull from'} {policy.registry}:{' '}
                  <code>{policy.repositories}</code> tags <code>{policy.tags}</code>
                  {policy.rewrite && (
                    <>
                      {' '}
                      as <code>{policy.rewrite.from}</code> → <code>{policy.rewrite.to}</code>
                    </>
                  )}
                </td>
                <td>
                  {triggerText(policy)}
                  {policy.trigger === 'event' && policy.direction === 'pull' && (
                    <div class="small">
                      The remote POSTs to <code>{eventsUrl(location.origin, policy.id)}</code>
                      {policy.hasEventSecret ? '' : ' (set an event secret first)'}
                    </div>
                  )}
                </td>
                <td>{policy.enabled ? 'enabled' : 'disabled'}</td>
                <td class="actions">
                  <button
                    type="button"
                    aria-label={`Run ${policy.name}`}
                    onClick={() =>
                      act(async () => {
                        const run = await call('post', '/api/v1/replication/policies/{id}/executions', {
                          path: { id: String(policy.id) },
                        });
                        setStarted((all) => ({ ...all, [policy.id]: run.id }));
                      })
                    }
                  >
                    Run now
                  </button>{' '}
                  {started[policy.id] !== undefined && (
                    <Link href={`/admin/replication/${policy.id}?execution=${started[policy.id]}`}>
                      execution {started[policy.id]}
                    </Link>
                  )}{' '}
                  <button
                    type="button"
                    class="secondary"
                    aria-label={`Edit ${policy.name}`}
                    onClick={() => setEditing(policy.id)}
                  >
                    Edit
                  </button>{' '}
                  <button
                    type="button"
                    class="danger"
                    aria-label={`Delete policy ${policy.name}`}
                    onClick={() => {
                      if (confirm(`Delete replication policy ${policy.name} and its history?`)) {
                        void act(() =>
                          call('delete', '/api/v1/replication/policies/{id}', {
                            path: { id: String(policy.id) },
                          }),
                        );
                      }
                    }}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {data && data.items.length === 0 && <p class="muted">No policies yet.</p>}
        {editable && (
          <PolicyForm
            key={editable.id}
            policy={editable}
            registries={names}
            onDone={() => {
              setEditing(undefined);
              reload();
            }}
          />
        )}
      </section>
    </Page>
  );
}
