import { useState } from 'preact/hooks';
import { call } from '../api/client';
import { ErrorText } from '../components/ui';
import type { Session } from '../session';

/** Where single sign-on begins, coming back to the page asked for. */
function singleSignOnHref(): string {
  const next = `${location.pathname}${location.search}`;
  return next === '/'
    ? '/api/v1/auth/oidc/login'
    : `/api/v1/auth/oidc/login?next=${encodeURIComponent(next)}`;
}

export function LoginPage({
  onLogin,
  singleSignOn = false,
}: {
  onLogin(session: Session): void;
  singleSignOn?: boolean;
}) {
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" class="login">
      <h1>Berth</h1>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          const form = new FormData(event.currentTarget);
          setBusy(true);
          setError(undefined);
          try {
            onLogin(
              await call('post', '/api/v1/session', {
                body: { username: String(form.get('username')), password: String(form.get('password')) },
              }),
            );
          } catch (failure) {
            setError(failure);
          } finally {
            setBusy(false);
          }
        }}
      >
        <label>
          Username
          <input name="username" autocomplete="username" required />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <button type="submit" disabled={busy}>
          Log in
        </button>
        <ErrorText error={error} />
      </form>
      {singleSignOn && (
        <p class="sso">
          <a class="button" href={singleSignOnHref()}>
            Sign in with single sign-on
          </a>
        </p>
      )}
    </main>
  );
}
