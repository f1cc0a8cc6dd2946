import { useState } from 'preact/hooks';
import { call } from '../api/client';
import { ErrorText } from '../components/ui';

/**
 * Sets a local user's password: one's own with the current one, anyone's as a system administrator. The server
 * signs the user out everywhere (their sessions and tokens end; this console session too, for one's own).
 */
export function PasswordForm({ username, own, onDone }: { username: string; own: boolean; onDone?(): void }) {
  const [failure, setFailure] = useState<unknown>(undefined);
  const [done, setDone] = useState(false);
  return (
    <form
      class="inline"
      aria-label={own ? 'Change your password' : `New password for ${username}`}
      onSubmit={async (event) => {
        event.preventDefault();
        const target = event.currentTarget;
        const form = new FormData(target);
        const password = String(form.get('password'));
        if (password !== String(form.get('again'))) {
          setFailure(new Error('The two new passwords differ'));
          return;
        }
        try {
          await call('put', '/api/v1/users/{username}/password', {
            path: { username },
            body: { password, ...(own && { currentPassword: String(form.get('current')) }) },
          });
          target.reset();
          setFailure(undefined);
          setDone(true);
          onDone?.();
        } catch (caught) {
          setDone(false);
          setFailure(caught);
        }
      }}
    >
      {own && (
        <label>
          Current password <input name="current" type="password" required autocomplete="current-password" />
        </label>
      )}
      <label>
        New password{' '}
        <input name="password" type="password" required minLength={8} autocomplete="new-password" />
      </label>
      <label>
        Again <input name="again" type="password" required minLength={8} autocomplete="new-password" />
      </label>
      <button type="submit">Set password</button>
      {done && (
        <span role="status" class="ok">
          Password set; {own ? 'you were' : `${username} was`} signed out everywhere.
        </span>
      )}
      <ErrorText error={failure} />
    </form>
  );
}
