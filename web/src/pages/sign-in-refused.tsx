/** Why a single sign-on was refused, in words, by the reason code the server redirected with. */
const REASONS: Record<string, string> = {
  LOGIN_UNKNOWN:
    'This browser has no sign-on in progress, or its sign-on was already used. Start again from the login page.',
  LOGIN_EXPIRED: 'The sign-on took too long and expired. Start again.',
  STATE_MISMATCH:
    "The identity provider's answer does not belong to the sign-on this browser began. Start again; if it happens again, someone may be trying to sign you in to their account.",
  PROVIDER_REFUSED: 'The identity provider refused the sign-on.',
  RESPONSE_INVALID:
    "The identity provider's answer could not be verified (signature, issuer, audience, nonce or expiry). Ask your administrator to check the single sign-on settings.",
  CLAIMS_INVALID:
    'The identity provider did not name you in a way Berth can use as a username. Ask your administrator to check the single sign-on settings.',
  PROVIDER_UNAVAILABLE: 'The identity provider could not be reached. Try again in a moment.',
  ACCOUNT_DISABLED: 'Your Berth account is disabled. Ask an administrator to enable it.',
  NAME_TAKEN:
    'Your username at the identity provider belongs to another Berth account. An administrator must rename or remove that account first.',
  NAME_INVALID:
    'Your username at the identity provider is not a valid Berth username (2–64 of a-z 0-9 . _ -). Ask your administrator to choose another claim.',
};

/** OAuth error codes a provider answers with (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6). */
const PROVIDER_ERRORS: Record<string, string> = {
  access_denied: 'you, or a policy of the provider, declined it',
  login_required: 'you need to sign in at the provider first',
  consent_required: 'Berth needs your consent there',
  interaction_required: 'the provider needs you to do something there first',
  server_error: 'the provider had an error',
  temporarily_unavailable: 'the provider is busy; try again later',
};

export function SignInRefusedPage({ search }: { search: string }) {
  const query = new URLSearchParams(search);
  const reason = query.get('reason') ?? '';
  // Only codes are shown from the address, never free text: a crafted link must not make this page say things.
  const known = Object.hasOwn(REASONS, reason);
  const code = query.get('error') ?? '';
  const providerError = /^[a-z_]{1,64}$/.test(code) ? code : undefined;
  const words = REASONS[reason] ?? 'The sign-on failed. Start again from the login page.';
  return (
    <main id="main" class="login">
      <h1>Sign-on refused</h1>
      <p role="alert" data-testid="refusal">
        {words}
        {reason === 'PROVIDER_REFUSED' && providerError && (
          <> It said: {PROVIDER_ERRORS[providerError] ?? providerError}.</>
        )}
      </p>
      <p class="muted">Reason: {known ? reason : 'unknown'}</p>
      <p>
        <a href="/api/v1/auth/oidc/login">Try single sign-on again</a>
      </p>
      <p>
        <a href="/">Back to the login page</a>
      </p>
    </main>
  );
}
