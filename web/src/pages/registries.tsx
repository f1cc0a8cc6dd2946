import { useState } from 'preact/hooks';
import { call, type Schemas } from '../api/client';
import { ErrorText } from '../components/ui';
import { useAct } from '../use-act';
import { useLoad } from '../use-load';

type Registry = Schemas['RemoteRegistry'];
type Check = Schemas['RegistryConnectionCheck'];

/** What a connection test found, in words. */
export function connectionText(check: Check): string {
  return check.ok
    ? `answers and lets the stored credentials in (${check.latencyMs} ms)`
    : `failed: ${check.error ?? 'no answer'} (${check.latencyMs} ms)`;
}

/** The credentials fields of a form: an empty password keeps the stored one when editing. */
export function credentials(
  form: FormData,
  editing: boolean,
): { username: string | null; password?: string | null } {
  const username = String(form.get('username') ?? '').trim();
  const password = String(form.get('password') ?? '');
  if (username === '') return { username: null, password: null };
  if (editing && password === '') return { username };
  return { username, password: password === '' ? null : password };
}

function RegistryForm({ registry, onDone }: { registry?: Registry; onDone(): void }) {
  const [failure, setFailure] = useState<unknown>(undefined);
  const editing = registry !== undefined;
  return (
    <form
      class="inline panel"
      aria-label={editing ? `Edit registry ${registry.name}` : 'New registry'}
      onSubmit={async (event) => {
        event.preventDefault();
        const target = event.currentTarget;
        const form = new FormData(target);
        const fields = {
          url: String(form.get('url')),
          description: String(form.get('description') ?? ''),
          ...credentials(form, editing),
        };
        try {
          if (editing) {
            await call('patch', '/api/v1/registries/{name}', { path: { name: registry.name }, body: fields });
          } else {
            await call('post', '/api/v1/registries', {
              body: { name: String(form.get('name')), ...fields, password: fields.password ?? null },
            });
            target.reset();
          }
          setFailure(undefined);
          onDone();
        } catch (caught) {
          setFailure(caught);
        }
      }}
    >
      {!editing && (
        <label>
          Name <input name="name" required maxLength={100} />
        </label>
      )}
      <label>
        URL{' '}
        <input
          name="url"
          type="url"
          required
          size={32}
          defaultValue={registry?.url}
          placeholder="https://registry.example.com"
        />
      </label>
      <label>
        User <input name="username" autocomplete="off" defaultValue={registry?.username ?? ''} />
      </label>
      <label>
        Password{' '}
        <input
          name="password"
          type="password"
          autocomplete="off"
          placeholder={editing && registry.hasPassword ? 'unchanged' : 'none'}
        />
      </label>
      <label>
        Description <input name="description" defaultValue={registry?.description ?? ''} />
      </label>
      <button type="submit">{editing ? 'Save' : 'Add registry'}</button>
      {editing && (
        <button type="button" class="secondary" onClick={onDone}>
          Cancel
        </button>
      )}
      <ErrorText error={failure} />
    </form>
  );
}

/** Remote registries replication policies copy to or from (system administrators). */
export function RegistriesPanel({ onChange }: { onChange(): void }) {
  const { data, error, reload } = useLoad(() => call('get', '/api/v1/registries'), []);
  const changed = () => {
    reload();
    onChange();
  };
  const { failure, act } = useAct(changed);
  const [checks, setChecks] = useState<Record<string, Check | 'testing'>>({});
  const [editing, setEditing] = useState<string | undefined>(undefined);
  const test = async (name: string) => {
    setChecks((all) => ({ ...all, [name]: 'testing' }));
    await act(async () => {
      const check = await call('post', '/api/v1/registries/{name}/test', { path: { name } });
      setChecks((all) => ({ ...all, [name]: check }));
    });
  };
  return (
    <section aria-labelledby="registries">
      <h2 id="registries">Registries</h2>
      <p class="muted">
        Other registries (Berth, Harbor, Distribution, Docker Hub, …). Passwords are stored encrypted and
        never shown again.
      </p>
      <RegistryForm onDone={changed} />
      <ErrorText error={error ?? failure} />
      <table aria-label="Registries">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">URL</th>
            <th scope="col">Credentials</th>
            <th scope="col">Connection</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((registry) => {
            const check = checks[registry.name];
            return (
              <tr key={registry.id} data-testid="registry">
                <td>
                  {registry.name}
                  {registry.description && <div class="muted small">{registry.description}</div>}
                </td>
                <td>
                  <code>{registry.url}</code>
                </td>
                <td>
                  {registry.username === null
                    ? 'anonymous'
                    : `${registry.username}${registry.hasPassword ? ' (password stored)' : ''}`}
                </td>
                <td data-testid="connection" role="status">
                  {check === undefined ? (
                    <span class="muted">not tested</span>
                  ) : check === 'testing' ? (
                    'testing…'
                  ) : (
                    <span class={check.ok ? 'ok' : 'error'}>{connectionText(check)}</span>
                  )}
                </td>
                <td class="actions">
                  <button
                    type="button"
                    aria-label={`Test ${registry.name}`}
                    onClick={() => test(registry.name)}
                  >
                    Test
                  </button>{' '}
                  <button
                    type="button"
                    class="secondary"
                    aria-label={`Edit ${registry.name}`}
                    onClick={() => setEditing(registry.name)}
                  >
                    Edit
                  </button>{' '}
                  <button
                    type="button"
                    class="danger"
                    aria-label={`Remove registry ${registry.name}`}
                    onClick={() => {
                      if (confirm(`Remove registry ${registry.name}?`)) {
                        void act(() =>
                          call('delete', '/api/v1/registries/{name}', { path: { name: registry.name } }),
                        );
                      }
                    }}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {data && data.items.length === 0 && <p class="muted">No registries yet.</p>}
      {editing !== undefined && data?.items.some((r) => r.name === editing) && (
        <RegistryForm
          key={editing}
          registry={data.items.find((r) => r.name === editing) as Registry}
          onDone={() => {
            setEditing(undefined);
            changed();
          }}
        />
      )}
    </section>
  );
}
