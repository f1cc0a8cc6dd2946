// The current password a password change asks for is a password guess like a login: it counts toward the same
// per-account limit, and once the limit is reached both the change and logins answer 429 with Retry-After.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBerth } from '../helpers/server.js';
import { basic, getToken, PASSWORD, send, startAuthBerth } from './support.js';

const MAX = 3;

describe('password change: the current-password check is throttled', () => {
  let berth: TestBerth;
  let tokenSecret: string;

  beforeAll(async () => {
    berth = await startAuthBerth({ 'auth.maxLoginFailures': MAX, 'auth.loginWindowSeconds': 60 });
    await berth.berth.accounts.createUser({ username: 'dana', password: PASSWORD });
    // Whoever holds one of dana's tokens (a stolen laptop, a leaked CI variable) may call the API as dana.
    ({ secret: tokenSecret } = await berth.berth.accounts.createAccessToken({
      username: 'dana',
      name: 'ci',
    }));
  });

  afterAll(async () => {
    await berth?.close();
  });

  const change = (currentPassword: string) =>
    send(berth.url, 'PUT', '/api/v1/users/dana/password', {
      authorization: basic('dana', tokenSecret),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ currentPassword, password: 'a brand new password' }),
    });

  it(`after ${MAX} wrong current passwords: 429 with Retry-After, for the change and for logins`, async () => {
    for (let i = 0; i < MAX; i++) {
      const res = await change(`guess number ${i}`);
      expect(res.status, await res.text()).toBe(403);
    }
    for (const res of [await change('another guess'), await change(PASSWORD)]) {
      expect(res.status).toBe(429);
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`).toBe(true);
      expect(await res.json()).toMatchObject({ errors: [{ code: 'TOOMANYREQUESTS' }] });
    }
    // The same limit as logins: the right password does not sign in either, for now.
    expect(
      (await getToken(berth.url, { credentials: { username: 'dana', password: PASSWORD } })).status,
    ).toBe(429);
    // The password did not change.
    expect(await berth.berth.accounts.authenticate('dana', PASSWORD)).toMatchObject({ username: 'dana' });
  });
});
