// Single sign-on against a real OpenID Provider (oidc-provider on a loopback port, PKCE required), driven with
// plain HTTP by a client that keeps cookies and follows redirects itself, as a browser would: first-login
// provisioning with groups, group membership and the CLI secret with skopeo and the token endpoint, the admin
// group, a later login refreshing groups, and the refusals (wrong state, tampered nonce, expired and used
// attempts, disabled users, revoked CLI secrets).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, run } from '../fixtures/image.js';
import { startOpenIdProvider, type TestProvider } from '../helpers/openid-provider.js';
import type { TestBerth } from '../helpers/server.js';
import { databaseOf, decodeJwt, getToken, PASSWORD, Seeder, startAuthBerth, tinyImage } from './support.js';

const CALLBACK = '/api/v1/auth/oidc/callback';
const HAS_SKOPEO = requireTool('skopeo');

/** A cookie jar per host:port that honours Path and Max-Age=0, and redirects followed one at a time. */
class Browser {
  readonly #jars = new Map<string, Map<string, { value: string; path: string }>>();

  cookie(url: string, name: string): string | undefined {
    return this.#jars.get(new URL(url).host)?.get(name)?.value;
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.request('GET', url, headers);
  }

  async request(method: string, url: string, headers: Record<string, string> = {}): Promise<Response> {
    const target = new URL(url);
    const cookies = [...(this.#jars.get(target.host) ?? new Map()).entries()]
      .filter(([, cookie]) => target.pathname.startsWith(cookie.path))
      .map(([name, cookie]) => `${name}=${cookie.value}`);
    const response = await fetch(target, {
      method,
      redirect: 'manual',
      headers: { ...(cookies.length > 0 && { cookie: cookies.join('; ') }), ...headers },
    });
    for (const line of response.headers.getSetCookie()) this.#store(target, line);
    return response;
  }

  /** Follows redirects from `url` until one points at a URL `stop` accepts (returned, not requested). */
  async followUntil(url: string, stop: (url: string) => boolean): Promise<string> {
    let current = url;
    for (let hops = 0; hops < 20; hops++) {
      if (stop(current)) return current;
      const response = await this.get(current);
      const location = response.headers.get('location');
      const body = await response.text();
      if (response.status < 300 || response.status >= 400 || !location) {
        throw new Error(`expected a redirect from ${current}, got ${response.status}: ${body}`);
      }
      current = new URL(location, current).href;
    }
    throw new Error('too many redirects');
  }

  #store(url: URL, line: string): void {
    const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
    const at = pair.indexOf('=');
    const name = pair.slice(0, at);
    const value = pair.slice(at + 1);
    let path = '/';
    let expired = false;
    for (const attribute of attributes) {
      const [key = '', val = ''] = attribute.split('=');
      if (key.toLowerCase() === 'path') path = val;
      if (key.toLowerCase() === 'max-age' && Number(val) <= 0) expired = true;
      if (key.toLowerCase() === 'expires' && Date.parse(val) <= Date.now()) expired = true;
    }
    const jar = this.#jars.get(url.host) ?? new Map();
    this.#jars.set(url.host, jar);
    if (expired) jar.delete(name);
    else jar.set(name, { value, path });
  }
}

interface ApiError {
  errors: { code: string; message: string; detail?: { reason?: string } }[];
}

describe('single sign-on (OIDC) against a real OpenID Provider', () => {
  let op: TestProvider;
  let berth: TestBerth;
  let admin: Seeder;
  let image: { digest: string };

  beforeAll(async () => {
    op = await startOpenIdProvider();
    berth = await startAuthBerth({
      'auth.oidc.issuer': op.issuer,
      'auth.oidc.clientId': op.clientId,
      'auth.oidc.clientSecret': op.clientSecret,
      'auth.oidc.adminGroup': 'Berth-Admins',
      'auth.oidc.allowInsecureHttp': true,
    });
    op.configure(`${berth.url}${CALLBACK}`);
    op.accounts.set('sub-alice', { username: 'Alice', email: 'alice@example.com', groups: ['developers'] });
    op.accounts.set('sub-ops', { username: 'ops', groups: ['berth-admins'] });
    op.accounts.set('sub-bob', { username: 'bob', groups: ['developers'] });
    op.accounts.set('sub-mallory', { username: 'mallory', groups: ['developers'] });
    const accounts = berth.berth.accounts;
    await accounts.createUser({ username: 'root', password: PASSWORD, systemAdmin: true });
    await accounts.createProject({ name: 'team', public: false });
    await accounts.setMember('team', { kind: 'group', name: 'developers', role: 'developer' });
    admin = new Seeder(berth.url, 'root', PASSWORD);
    image = await admin.pushImage('team/app', tinyImage(), '1.0');
  }, 60_000);

  afterAll(async () => {
    await berth?.close();
    await op?.close();
  });

  /** Begins a login at Berth: the provider's authorization URL it redirects to. */
  async function begin(browser: Browser, next?: string): Promise<string> {
    const query = next === undefined ? '' : `?next=${encodeURIComponent(next)}`;
    const response = await browser.get(`${berth.url}/api/v1/auth/oidc/login${query}`);
    await response.text();
    expect(response.status).toBe(302);
    const location = response.headers.get('location') as string;
    expect(location.startsWith(`${op.issuer}/`)).toBe(true);
    return location;
  }

  /** Signs in at the provider from an authorization URL: the callback URL it sends the browser back to. */
  function atProvider(browser: Browser, authorizationUrl: string, subject: string): Promise<string> {
    op.signInAs(subject);
    return browser.followUntil(authorizationUrl, (url) => url.startsWith(`${berth.url}${CALLBACK}`));
  }

  async function login(subject: string, next?: string): Promise<{ browser: Browser; response: Response }> {
    const browser = new Browser();
    const callback = await atProvider(browser, await begin(browser, next), subject);
    return { browser, response: await browser.get(callback) };
  }

  async function refusal(response: Response, status: number): Promise<ApiError['errors'][0]> {
    const text = await response.text();
    expect(response.status, text).toBe(status);
    return (JSON.parse(text) as ApiError).errors[0] as ApiError['errors'][0];
  }

  /** The console session of a browser: who it signs in, and its CSRF token. */
  async function session(browser: Browser) {
    const response = await browser.get(`${berth.url}/api/v1/session`);
    expect(response.status).toBe(200);
    return (
      (await response.json()) as {
        session: { username: string; systemAdmin: boolean; csrfToken: string } | null;
      }
    ).session;
  }

  async function me(browser: Browser) {
    const response = await browser.get(`${berth.url}/api/v1/me`);
    const text = await response.text();
    expect(response.status, text).toBe(200);
    return JSON.parse(text) as { username: string; systemAdmin: boolean; groups: string[]; source: string };
  }

  /** A console call that changes something: the session's CSRF token and our Origin, as the console sends them. */
  async function consoleCall(browser: Browser, method: string, path: string): Promise<Response> {
    const { csrfToken } = (await session(browser)) as { csrfToken: string };
    return browser.request(method, `${berth.url}${path}`, { 'x-berth-csrf': csrfToken, origin: berth.url });
  }

  async function newCliSecret(browser: Browser, username: string): Promise<string> {
    const response = await consoleCall(browser, 'POST', `/api/v1/users/${username}/cli-secret`);
    const text = await response.text();
    expect(response.status, text).toBe(201);
    return (JSON.parse(text) as { secret: string }).secret;
  }

  /** What the token endpoint grants on team/app for Basic credentials (throws on a refusal). */
  async function pullGrant(username: string, password: string): Promise<string[]> {
    const answer = await getToken(berth.url, {
      credentials: { username: username, password: password },
      scopes: ['repository:team/app:pull'],
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const access = (decodeJwt(answer.body.token as string).payload.access ?? []) as { actions: string[] }[];
    return access.flatMap((entry) => entry.actions);
  }

  let aliceBrowser: Browser;
  let aliceSecret: string;

  it('first login provisions the user with the groups the provider gave, opens a console session, goes to next', async () => {
    expect(await berth.berth.accounts.getUser('alice').catch(() => undefined)).toBeUndefined();
    const { browser, response } = await login('sub-alice', '/projects/team');
    await response.text();
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/projects/team');
    const cookies = response.headers.getSetCookie();
    const sessionCookie = cookies.find((line) => line.startsWith('berth_session='));
    expect(sessionCookie).toMatch(/HttpOnly/);
    expect(sessionCookie).toMatch(/SameSite=Lax/);
    // The attempt's state cookie is cleared once used.
    expect(browser.cookie(berth.url, 'berth_oidc_state')).toBeUndefined();
    const user = await berth.berth.accounts.getUser('alice');
    expect(user).toMatchObject({
      source: 'oidc',
      email: 'alice@example.com',
      systemAdmin: false,
      disabled: false,
    });
    expect(await me(browser)).toMatchObject({ username: 'alice', groups: ['developers'], source: 'oidc' });
    aliceBrowser = browser;
  });

  it('a next that leaves the site is replaced by /', async () => {
    for (const next of ['https://evil.example/x', '//evil.example/x', '/\\evil.example']) {
      const { response } = await login('sub-alice', next);
      await response.text();
      expect(response.status).toBe(302);
      expect(response.headers.get('location')).toBe('/');
    }
  });

  it('a member through an OIDC group pulls with the CLI secret (skopeo, token endpoint); the secret has no use for other names', async () => {
    aliceSecret = await newCliSecret(aliceBrowser, 'alice');
    expect(aliceSecret).toMatch(/^berth_[0-9a-f]{16}_/);
    expect(await pullGrant('alice', aliceSecret)).toEqual(['pull']);
    // The secret is alice's: with another name it is wrong credentials.
    const other = await getToken(berth.url, {
      credentials: { username: 'bob', password: aliceSecret },
      scopes: ['repository:team/app:pull'],
    });
    expect(other.status).toBe(401);
    const info = await consoleCall(aliceBrowser, 'GET', '/api/v1/users/alice/cli-secret');
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ createdAt: expect.any(Number) });
    if (!HAS_SKOPEO) {
      console.warn('skopeo is not installed (apt-get install skopeo): the skopeo pull is not tried');
      return;
    }
    const { stdout } = await run('skopeo', [
      'inspect',
      '--tls-verify=false',
      '--creds',
      `alice:${aliceSecret}`,
      `docker://${berth.host}/team/app:1.0`,
    ]);
    expect((JSON.parse(stdout) as { Digest: string }).Digest).toBe(image.digest);
  }, 60_000);

  it('members of the admin group are system administrators (the group matched case-insensitively)', async () => {
    const { browser, response } = await login('sub-ops');
    await response.text();
    expect(response.status).toBe(302);
    expect(await me(browser)).toMatchObject({ username: 'ops', systemAdmin: true, groups: ['berth-admins'] });
    const users = await browser.get(`${berth.url}/api/v1/users`);
    expect(users.status).toBe(200);
  });

  it('a later login refreshes groups and the admin flag from the provider', async () => {
    op.accounts.set('sub-alice', { username: 'Alice', email: 'alice@example.com', groups: ['qa'] });
    op.accounts.set('sub-ops', { username: 'ops', groups: [] });
    const alice = await login('sub-alice');
    await alice.response.text();
    expect(await me(alice.browser)).toMatchObject({ username: 'alice', groups: ['qa'] });
    // No longer a developer through the group: the CLI secret now gets nothing on the private project.
    expect(await pullGrant('alice', aliceSecret)).toEqual([]);
    const ops = await login('sub-ops');
    await ops.response.text();
    expect(await me(ops.browser)).toMatchObject({ username: 'ops', systemAdmin: false });
    op.accounts.set('sub-alice', { username: 'Alice', email: 'alice@example.com', groups: ['developers'] });
    const again = await login('sub-alice');
    await again.response.text();
    expect(await pullGrant('alice', aliceSecret)).toEqual(['pull']);
  });

  it('an answer whose state is not the one this browser began with is refused, and nobody is signed in', async () => {
    const browser = new Browser();
    const callback = new URL(await atProvider(browser, await begin(browser), 'sub-bob'));
    callback.searchParams.set('state', 'not-the-state-this-browser-holds');
    const response = await browser.get(callback.href);
    const error = await refusal(response, 400);
    expect(error.detail?.reason).toBe('STATE_MISMATCH');
    expect(response.headers.getSetCookie().some((line) => line.startsWith('berth_session='))).toBe(false);
    expect(await berth.berth.accounts.getUser('bob').catch(() => undefined)).toBeUndefined();
    // Nor does an answer come back to a browser that began no login (login CSRF).
    const stranger = new Browser();
    const unbound = await stranger.get(callback.href);
    expect((await refusal(unbound, 400)).detail?.reason).toBe('LOGIN_UNKNOWN');
    // A person's browser is sent to the console's page, which says why in words (never raw JSON).
    const navigated = await new Browser().get(callback.href, { accept: 'text/html,application/xhtml+xml' });
    await navigated.text();
    expect(navigated.status).toBe(302);
    expect(navigated.headers.get('location')).toBe('/sign-in/refused?reason=LOGIN_UNKNOWN');
    const page = await fetch(`${berth.url}/sign-in/refused?reason=LOGIN_UNKNOWN`, {
      headers: { accept: 'text/html' },
    });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    await page.text();
  });

  it('an ID token whose nonce is not the one Berth sent is refused (an authorization request tampered with)', async () => {
    const browser = new Browser();
    const authorization = new URL(await begin(browser));
    authorization.searchParams.set('nonce', 'a-nonce-of-the-attackers-choosing');
    const callback = await atProvider(browser, authorization.href, 'sub-bob');
    const error = await refusal(await browser.get(callback), 400);
    expect(error.detail?.reason).toBe('RESPONSE_INVALID');
    expect(error.message).toMatch(/nonce/);
    expect(await berth.berth.accounts.getUser('bob').catch(() => undefined)).toBeUndefined();
  });

  it('an expired login attempt is refused', async () => {
    const browser = new Browser();
    const authorization = new URL(await begin(browser));
    const state = authorization.searchParams.get('state') as string;
    // As if loginTimeoutSeconds had passed while the user was at the provider.
    const expired = await databaseOf(berth)
      .updateTable('oidc_logins')
      .set({ expires_at: Date.now() - 1000 })
      .where('state', '=', state)
      .executeTakeFirst();
    expect(Number(expired.numUpdatedRows)).toBe(1);
    const callback = await atProvider(browser, authorization.href, 'sub-bob');
    expect((await refusal(await browser.get(callback), 400)).detail?.reason).toBe('LOGIN_EXPIRED');
  });

  it('a login attempt is used once: replaying the callback with its state cookie is refused', async () => {
    const browser = new Browser();
    const authorization = new URL(await begin(browser));
    const state = browser.cookie(berth.url, 'berth_oidc_state') as string;
    expect(state).toBe(authorization.searchParams.get('state'));
    const callback = await atProvider(browser, authorization.href, 'sub-bob');
    const first = await browser.get(callback);
    await first.text();
    expect(first.status).toBe(302);
    const replay = await fetch(callback, {
      redirect: 'manual',
      headers: { cookie: `berth_oidc_state=${state}` },
    });
    const error = await refusal(replay, 400);
    expect(error.detail?.reason).toBe('LOGIN_UNKNOWN');
    expect(error.message).toMatch(/already used/);
  });

  it('a disabled user is refused at login, and their CLI secret stops working', async () => {
    const { browser, response } = await login('sub-mallory');
    await response.text();
    const secret = await newCliSecret(browser, 'mallory');
    expect(await pullGrant('mallory', secret)).toEqual(['pull']);
    const disable = await admin.request('PATCH', '/api/v1/users/mallory', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ disabled: true }),
    });
    expect(disable.status, await disable.text()).toBe(200);
    const again = await login('sub-mallory');
    const error = await refusal(again.response, 403);
    expect(error.message).toMatch(/disabled/);
    const token = await getToken(berth.url, {
      credentials: { username: 'mallory', password: secret },
      scopes: ['repository:team/app:pull'],
    });
    expect(token.status).toBe(401);
    // The console session opened before is over too.
    expect(await session(browser)).toBeNull();
    if (HAS_SKOPEO) {
      const refused = await run('skopeo', [
        'inspect',
        '--tls-verify=false',
        '--creds',
        `mallory:${secret}`,
        `docker://${berth.host}/team/app:1.0`,
      ]).then(
        () => 'pulled',
        (error: Error) => error.message,
      );
      expect(refused).not.toBe('pulled');
    }
  }, 60_000);

  it('a revoked CLI secret is refused; a new one replaces the old', async () => {
    const replacement = await newCliSecret(aliceBrowser, 'alice');
    expect(replacement).not.toBe(aliceSecret);
    const old = await getToken(berth.url, {
      credentials: { username: 'alice', password: aliceSecret },
      scopes: ['repository:team/app:pull'],
    });
    expect(old.status).toBe(401);
    expect(await pullGrant('alice', replacement)).toEqual(['pull']);
    const revoke = await consoleCall(aliceBrowser, 'DELETE', '/api/v1/users/alice/cli-secret');
    expect(revoke.status).toBe(204);
    const revoked = await getToken(berth.url, {
      credentials: { username: 'alice', password: replacement },
      scopes: ['repository:team/app:pull'],
    });
    expect(revoked.status).toBe(401);
    expect((await consoleCall(aliceBrowser, 'GET', '/api/v1/users/alice/cli-secret')).status).toBe(404);
    // Local users have passwords and access tokens: no CLI secret.
    const local = await admin.request('POST', '/api/v1/users/root/cli-secret');
    expect(local.status).toBe(400);
  });
});
