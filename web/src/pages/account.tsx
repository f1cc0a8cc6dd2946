import { useState } from 'preact/hooks';
import { call, type Schemas } from '../api/client';
import { CopyButton, ErrorText, Page } from '../components/ui';
import { when } from '../format';
import { useSession } from '../session';
import { useLoad } from '../use-load';
import { PasswordForm } from './password';

type Action = Schemas['RobotPermission']['actions'][number];
const OFFERED: Action[] = ['pull', 'push', 'delete'];
const DAY = 86_400_000;
const EXPIRIES = [
  { value: '', label: 'never' },
  { value: '7', label: 'in 7 days' },
  { value: '30', label: 'in 30 days' },
  { value: '90', label: 'in 90 days' },
  { value: '365', label: 'in a year' },
];

/** A secret shown this once, with a copy button and how to use it. */
function ShownOnce({
  label,
  secret,
  username,
  onDone,
}: {
  label: string;
  secret: string;
  username: string;
  onDone(): void;
}) {
  return (
    <div class="secret" role="status">
      <p>
        <strong>{label}</strong>: copy it now, it is shown only once. Use it as the password of{' '}
        <code>{username}</code> (docker login, podman login, skopeo --creds).
      </p>
      <code data-testid="shown-secret">{secret}</code> <CopyButton text={secret} label="Copy secret" />{' '}
      <button type="button" onClick={onDone}>
        Done
      </button>
    </div>
  );
}

function TokensSection({ username }: { username: string }) {
  const { data, error, reload } = useLoad(
    () => call('get', '/api/v1/users/{username}/tokens', { path: { username }, query: { limit: '1000' } }),
    [username],
  );
  const [created, setCreated] = useState<Schemas['CreatedAccessToken'] | undefined>(undefined);
  const [failure, setFailure] = useState<unknown>(undefined);
  const revoke = async (id: string) => {
    try {
      await call('delete', '/api/v1/users/{username}/tokens/{id}', { path: { username, id } });
      setFailure(undefined);
      reload();
    } catch (caught) {
      setFailure(caught);
    }
  };
  return (
    <section aria-labelledby="tokens">
      <h2 id="tokens">Personal access tokens</h2>
      <p class="muted">
        A token is a password for tools and CI: it does what you may do, or only what you narrow it to, until
        it expires or you revoke it. It cannot log in to this console.
      </p>
      <form
        class="inline"
        aria-label="New token"
        onSubmit={async (event) => {
          event.preventDefault();
          const target = event.currentTarget;
          const form = new FormData(target);
          const days = String(form.get('expires') ?? '');
          const project = String(form.get('project') ?? '').trim();
          const actions = OFFERED.filter((action) => form.get(action) === 'on');
          try {
            setCreated(
              await call('post', '/api/v1/users/{username}/tokens', {
                path: { username },
                body: {
                  name: String(form.get('name')),
                  ...(days && { expiresAt: Date.now() + Number(days) * DAY }),
                  ...(project && {
                    permissions: [{ project, actions: actions.length > 0 ? actions : ['pull'] }],
                  }),
                },
              }),
            );
            target.reset();
            setFailure(undefined);
            reload();
          } catch (caught) {
            setFailure(caught);
          }
        }}
      >
        <label>
          Token name <input name="name" required maxLength={100} />
        </label>
        <label>
          Expires{' '}
          <select name="expires">
            {EXPIRIES.map((option) => (
              <option key={option.value} value={option.value}>
                {option.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Only project <input name="project" placeholder="all you may" />
        </label>
        <fieldset class="inline">
          <legend class="visually-hidden">Actions in that project</legend>
          {OFFERED.map((action) => (
            <label key={action}>
              <input type="checkbox" name={action} defaultChecked={action === 'pull'} /> {action}
            </label>
          ))}
        </fieldset>
        <button type="submit">Create token</button>
      </form>
      <ErrorText error={error ?? failure} />
      {created && (
        <ShownOnce
          label={`Token ${created.token.name}`}
          secret={created.secret}
          username={username}
          onDone={() => setCreated(undefined)}
        />
      )}
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">May do</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">Expires</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((token) => (
            <tr key={token.id} data-testid="token-row">
              <th scope="row">{token.name}</th>
              <td>
                {token.permissions === null
                  ? 'all you may'
                  : token.permissions.map((p) => `${p.project}: ${p.actions.join(', ')}`).join('; ')}
              </td>
              <td>{when(token.createdAt)}</td>
              <td>{when(token.lastUsedAt)}</td>
              <td>{token.expiresAt === null ? 'never' : when(token.expiresAt)}</td>
              <td>
                <button
                  type="button"
                  class="danger"
                  aria-label={`Revoke token ${token.name}`}
                  onClick={() => revoke(token.id)}
                >
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.items.length === 0 && <p class="muted">No tokens.</p>}
    </section>
  );
}

function CliSecretSection({
  username,
  info,
  onChanged,
}: {
  username: string;
  info: Schemas['CliSecretInfo'] | null;
  onChanged(): void;
}) {
  const [secret, setSecret] = useState<string | undefined>(undefined);
  const [failure, setFailure] = useState<unknown>(undefined);
  const act = async (work: () => Promise<void>) => {
    try {
      await work();
      setFailure(undefined);
      onChanged();
    } catch (caught) {
      setFailure(caught);
    }
  };
  return (
    <section aria-labelledby="cli-secret">
      <h2 id="cli-secret">CLI secret</h2>
      <p class="muted">
        You sign in through single sign-on, which command-line tools cannot do: they log in as{' '}
        <code>{username}</code> with this secret instead. A new one replaces the old.
      </p>
      <p data-testid="cli-secret-state">
        {info
          ? `Made ${when(info.createdAt)}, last used ${when(info.lastUsedAt)}.`
          : 'You have no CLI secret.'}
      </p>
      <div class="row-actions">
        <button
          type="button"
          onClick={() =>
            act(async () =>
              setSecret(
                (await call('post', '/api/v1/users/{username}/cli-secret', { path: { username } })).secret,
              ),
            )
          }
        >
          {info ? 'Replace the CLI secret' : 'Make a CLI secret'}
        </button>
        {info && (
          <button
            type="button"
            class="danger"
            onClick={() =>
              act(async () => {
                await call('delete', '/api/v1/users/{username}/cli-secret', { path: { username } });
                setSecret(undefined);
              })
            }
          >
            Revoke the CLI secret
          </button>
        )}
      </div>
      <ErrorText error={failure} />
      {secret && (
        <ShownOnce
          label="CLI secret"
          secret={secret}
          username={username}
          onDone={() => setSecret(undefined)}
        />
      )}
    </section>
  );
}

/** A user's sessions: one's own (`own`: signing out everywhere ends this console session too), or anyone's for a system administrator. */
export function SessionsSection({ username, own = true }: { username: string; own?: boolean }) {
  const { logout } = useSession();
  const { data, error, reload } = useLoad(
    () => call('get', '/api/v1/users/{username}/sessions', { path: { username }, query: { limit: '100' } }),
    [username],
  );
  const [failure, setFailure] = useState<unknown>(undefined);
  const [confirming, setConfirming] = useState(false);
  return (
    <section aria-labelledby={`sessions-${username}`}>
      <h2 id={`sessions-${username}`}>{own ? 'Sessions' : `Sessions of ${username}`}</h2>
      <p class="muted">
        Where {own ? 'you are' : `${username} is`} signed in for the long run:{' '}
        {own ? 'this console, ' : 'the console, '}
        docker login and other clients that refresh their tokens.
      </p>
      <ErrorText error={error ?? failure} />
      <table>
        <thead>
          <tr>
            <th scope="col">Client</th>
            <th scope="col">From</th>
            <th scope="col">Signed in</th>
            <th scope="col">Last used</th>
            <th scope="col">Expires</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((session) => (
            <tr key={session.id}>
              <th scope="row">
                {session.clientId === 'berth-console'
                  ? 'web console'
                  : (session.clientId ?? 'registry client')}
                {session.userAgent && <div class="muted small">{session.userAgent}</div>}
              </th>
              <td>{session.sourceIp ?? ''}</td>
              <td>{when(session.issuedAt)}</td>
              <td>{when(session.lastUsedAt)}</td>
              <td>{when(session.expiresAt)}</td>
              <td>
                <button
                  type="button"
                  class="danger"
                  aria-label={`Revoke the session signed in ${when(session.issuedAt)}`}
                  onClick={async () => {
                    try {
                      await call('delete', '/api/v1/users/{username}/sessions/{id}', {
                        path: { username, id: session.id },
                      });
                      setFailure(undefined);
                      reload();
                    } catch (caught) {
                      setFailure(caught);
                    }
                  }}
                >
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {confirming ? (
        <fieldset class="inline">
          <legend>
            This ends every session{own ? ', this one too,' : ` of ${username}`} and voids every token a
            client got from them.
          </legend>
          <button
            type="button"
            class="danger"
            // biome-ignore lint/a11y/noAutofocus: the confirmation replaces the button that had the focus.
            autoFocus
            onClick={async () => {
              try {
                await call('delete', '/api/v1/users/{username}/sessions', { path: { username } });
                if (own) await logout();
                else {
                  setConfirming(false);
                  setFailure(undefined);
                  reload();
                }
              } catch (caught) {
                setFailure(caught);
              }
            }}
          >
            Sign out everywhere now
          </button>
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </fieldset>
      ) : (
        <button type="button" class="danger" onClick={() => setConfirming(true)}>
          Sign out everywhere
        </button>
      )}
    </section>
  );
}

/** The signed-in user's own credentials: personal access tokens, sessions, and (single sign-on) the CLI secret. */
export function AccountPage() {
  const { session } = useSession();
  const { username } = session;
  const { data: me, error, reload } = useLoad(() => call('get', '/api/v1/me'), []);
  const user = me?.kind === 'user' ? me : undefined;
  return (
    <Page title="Your account">
      <ErrorText error={error} />
      {user && (
        <p>
          Signed in as <strong>{username}</strong>
          {user.systemAdmin && ', system administrator'}
          {user.source === 'oidc' && ' through single sign-on'}
          {user.source === 'ldap' && ' through LDAP'}.
        </p>
      )}
      {user?.source === 'oidc' && (
        <CliSecretSection username={username} info={user.cliSecret} onChanged={reload} />
      )}
      {user?.source === 'local' && (
        <section aria-labelledby="password">
          <h2 id="password">Password</h2>
          <PasswordForm username={username} own />
        </section>
      )}
      <TokensSection username={username} />
      <SessionsSection username={username} />
    </Page>
  );
}
