import { useState } from 'preact/hooks';
import { call, type Schemas } from '../api/client';
import { Pager, useCursors } from '../components/pager';
import { ErrorText, Page } from '../components/ui';
import { when } from '../format';
import { useSession } from '../session';
import { useLoad } from '../use-load';
import { SessionsSection } from './account';
import { PasswordForm } from './password';

type User = Schemas['User'];

const SOURCES: Record<User['source'], string> = { local: 'local', ldap: 'LDAP', oidc: 'single sign-on' };

function CreateUser({ onCreated }: { onCreated(username: string): void }) {
  const [error, setError] = useState<unknown>(undefined);
  return (
    <form
      class="inline"
      aria-label="New user"
      onSubmit={async (event) => {
        event.preventDefault();
        const target = event.currentTarget;
        const form = new FormData(target);
        const email = String(form.get('email') ?? '').trim();
        try {
          const user = await call('post', '/api/v1/users', {
            body: {
              username: String(form.get('username')),
              password: String(form.get('password')),
              ...(email && { email }),
              systemAdmin: form.get('admin') === 'on',
            },
          });
          target.reset();
          setError(undefined);
          onCreated(user.username);
        } catch (failure) {
          setError(failure);
        }
      }}
    >
      <label>
        Username <input name="username" required autocomplete="off" pattern="[a-z0-9][a-z0-9._\-]{1,63}" />
      </label>
      <label>
        Password <input name="password" type="password" required minLength={8} autocomplete="new-password" />
      </label>
      <label>
        E-mail <input name="email" type="email" autocomplete="off" />
      </label>
      <label>
        <input type="checkbox" name="admin" /> system administrator
      </label>
      <button type="submit">Create user</button>
      <ErrorText error={error} />
    </form>
  );
}

/** One user's actions; none that would lock the administrator out (the server refuses those anyway). */
function UserActions({
  user,
  self,
  onChanged,
  onSessions,
}: {
  user: User;
  self: boolean;
  onChanged(): void;
  onSessions(): void;
}) {
  const [error, setError] = useState<unknown>(undefined);
  const [confirming, setConfirming] = useState(false);
  const [settingPassword, setSettingPassword] = useState(false);
  const [busy, setBusy] = useState(false);
  const act = async (work: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await work();
      setError(undefined);
      onChanged();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const patch = (body: Schemas['UpdateUser']) =>
    act(() => call('patch', '/api/v1/users/{username}', { path: { username: user.username }, body }));
  if (self) return <span class="muted">you</span>;
  return (
    <div class="row-actions">
      <button
        type="button"
        disabled={busy}
        aria-label={`${user.disabled ? 'Enable' : 'Disable'} ${user.username}`}
        onClick={() => patch({ disabled: !user.disabled })}
      >
        {user.disabled ? 'Enable' : 'Disable'}
      </button>
      <button
        type="button"
        disabled={busy}
        aria-label={`${user.systemAdmin ? 'Revoke administration from' : 'Make administrator:'} ${user.username}`}
        onClick={() => patch({ systemAdmin: !user.systemAdmin })}
      >
        {user.systemAdmin ? 'Revoke admin' : 'Make admin'}
      </button>
      <button
        type="button"
        class="secondary"
        aria-label={`Sessions of ${user.username}`}
        onClick={onSessions}
      >
        Sessions
      </button>
      {user.source === 'local' && (
        <button
          type="button"
          class="secondary"
          aria-expanded={settingPassword}
          aria-label={`Set the password of ${user.username}`}
          onClick={() => setSettingPassword(!settingPassword)}
        >
          Set password
        </button>
      )}
      {confirming ? (
        <fieldset class="inline">
          <legend class="visually-hidden">Confirm deleting {user.username}</legend>
          <button
            type="button"
            class="danger"
            disabled={busy}
            // biome-ignore lint/a11y/noAutofocus: the confirmation replaces the button that had the focus.
            autoFocus
            onClick={() =>
              act(() => call('delete', '/api/v1/users/{username}', { path: { username: user.username } }))
            }
          >
            Delete {user.username} for good
          </button>{' '}
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </fieldset>
      ) : (
        <button
          type="button"
          class="danger"
          aria-label={`Delete ${user.username}`}
          onClick={() => setConfirming(true)}
        >
          Delete
        </button>
      )}
      {settingPassword && <PasswordForm username={user.username} own={false} />}
      <ErrorText error={error} />
    </div>
  );
}

export function UsersPage() {
  const { session } = useSession();
  const [search, setSearch] = useState('');
  const [created, setCreated] = useState<string | undefined>(undefined);
  const q = search.trim();
  const { stack, cursor, setStack } = useCursors([q]);
  const [sessionsOf, setSessionsOf] = useState<string | undefined>(undefined);
  const { data, error, reload } = useLoad(
    () =>
      call('get', '/api/v1/users', { query: { limit: '50', ...(cursor && { cursor }), ...(q && { q }) } }),
    [cursor, q],
  );
  return (
    <Page title="Users">
      <CreateUser
        onCreated={(username) => {
          setCreated(username);
          reload();
        }}
      />
      {created && (
        <p role="status" class="muted">
          Created {created}.
        </p>
      )}
      <label class="search">
        Search <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
      </label>
      <ErrorText error={error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Username</th>
            <th scope="col">E-mail</th>
            <th scope="col">Signs in with</th>
            <th scope="col">Role</th>
            <th scope="col">Status</th>
            <th scope="col">Created</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((user) => (
            <tr key={user.username} data-testid="user-row">
              <th scope="row">{user.username}</th>
              <td>{user.email ?? ''}</td>
              <td>{SOURCES[user.source]}</td>
              <td>{user.systemAdmin ? 'system administrator' : 'user'}</td>
              <td class={user.disabled ? 'error' : ''}>{user.disabled ? 'disabled' : 'enabled'}</td>
              <td>{when(user.createdAt)}</td>
              <td>
                <UserActions
                  user={user}
                  self={user.username === session.username}
                  onChanged={reload}
                  onSessions={() => setSessionsOf(user.username)}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.items.length === 0 && <p class="muted">No users match.</p>}
      <Pager stack={stack} next={data?.next} onChange={setStack} label="User pages" />
      {sessionsOf && <SessionsSection key={sessionsOf} username={sessionsOf} own={false} />}
    </Page>
  );
}
