// Sessions on a real Berth: every refresh token is recorded (its jti) when handed out, listed through
// /api/v1/users/{username}/sessions, and refused once revoked; "sign out everywhere" also voids the user's
// access tokens. Each refusal holds on the very next request after the revocation answered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenService } from '../../src/auth/index.js';
import { databaseKeyStore } from '../../src/metadata/index.js';
import type { TestBerth } from '../helpers/server.js';
import {
  audit,
  basic,
  bearer,
  databaseOf,
  decodeJwt,
  expectBearerChallenge,
  expectEvent,
  PASSWORD,
  postToken,
  SERVICE,
  send,
  startAuthBerth,
} from './support.js';

describe('sessions: refresh tokens and sign out everywhere', () => {
  let berth: TestBerth;

  beforeAll(async () => {
    berth = await startAuthBerth();
    for (const username of ['carol', 'dave']) {
      await berth.berth.accounts.createUser({ username, password: PASSWORD });
    }
  });

  afterAll(async () => {
    await berth?.close();
  });

  /** docker login: the OAuth2 password grant asking for offline access. */
  async function signIn(username: string, clientId = 'docker') {
    const answer = await postToken(berth.url, {
      grant_type: 'password',
      username,
      password: PASSWORD,
      service: SERVICE,
      client_id: clientId,
      access_type: 'offline',
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    return { refresh: answer.body.refresh_token as string, access: answer.token as string };
  }

  const refresh = (token: string, offline = false) =>
    postToken(berth.url, {
      grant_type: 'refresh_token',
      refresh_token: token,
      service: SERVICE,
      ...(offline && { access_type: 'offline' }),
    });
  const api = (username: string, method: string, path: string) =>
    send(berth.url, method, `/api/v1${path}`, { authorization: basic(username, PASSWORD) });
  const base = (token: string) => send(berth.url, 'GET', '/v2/', { authorization: bearer(token) });

  it('records each refresh token as a session: listed with its client, used, revoked one by one', async () => {
    const laptop = await signIn('carol', 'docker');
    const ci = await signIn('carol', 'ci-runner');
    const listed = await api('carol', 'GET', '/users/carol/sessions');
    expect(listed.status).toBe(200);
    const { items } = (await listed.json()) as {
      items: { id: string; clientId: string; lastUsedAt: unknown }[];
    };
    const laptopId = decodeJwt(laptop.refresh).payload.jti as string;
    const ciId = decodeJwt(ci.refresh).payload.jti as string;
    expect(items.map((item) => item.id).sort()).toEqual([laptopId, ciId].sort());
    expect(items.find((item) => item.id === laptopId)).toMatchObject({
      clientId: 'docker',
      lastUsedAt: null,
    });

    expect((await refresh(laptop.refresh)).status).toBe(200);
    // Asking for offline access again on a refresh keeps the same session (no new one per refresh).
    const again = await refresh(laptop.refresh, true);
    expect(again.body.refresh_token).toBe(laptop.refresh);
    const afterUse = (await (await api('carol', 'GET', '/users/carol/sessions')).json()) as {
      items: { id: string; lastUsedAt: number | null }[];
    };
    expect(afterUse.items).toHaveLength(2);
    expect(afterUse.items.find((item) => item.id === laptopId)?.lastUsedAt).toEqual(expect.any(Number));

    expect((await api('carol', 'DELETE', `/users/carol/sessions/${laptopId}`)).status).toBe(204);
    // The next request after the revocation answered: refused.
    const refused = await refresh(laptop.refresh);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({
      errors: [{ code: 'UNAUTHORIZED', message: expect.stringMatching(/revoked/) }],
    });
    expect((await refresh(ci.refresh)).status).toBe(200);
    expectEvent(await audit(berth, { actor: 'carol', action: 'session.revoke' }), {
      resource: 'user:carol',
      result: 'success',
      detail: JSON.stringify({ id: laptopId }),
    });
  });

  it('sign out everywhere: every refresh token and every access token issued so far is refused at once', async () => {
    const first = await signIn('dave');
    const second = await signIn('dave', 'another-client');
    const renewed = await refresh(first.refresh);
    expect((await base(renewed.token as string)).status).toBe(200);
    expect((await base(second.access)).status).toBe(200);

    const out = await api('dave', 'DELETE', '/users/dave/sessions');
    expect(out.status).toBe(200);
    expect(await out.json()).toMatchObject({ revoked: 2, generation: 1 });

    for (const token of [first.refresh, second.refresh]) expect((await refresh(token)).status).toBe(401);
    for (const token of [first.access, second.access, renewed.token as string]) {
      expectBearerChallenge(await base(token), berth.url, { error: 'invalid_token' });
    }
    // Signing in again works at once, and its tokens carry the new generation.
    const fresh = await signIn('dave');
    expect(decodeJwt(fresh.access).payload.gen).toBe(1);
    expect((await base(fresh.access)).status).toBe(200);
    expect((await refresh(fresh.refresh)).status).toBe(200);
    // Other users are untouched.
    const carol = await signIn('carol');
    expect((await base(carol.access)).status).toBe(200);
    expectEvent(await audit(berth, { actor: 'dave', action: 'session.revokeAll' }), { result: 'success' });
  });

  it('a password change, and disabling the user, sign the user out everywhere', async () => {
    for (const username of ['erin', 'frank']) {
      await berth.berth.accounts.createUser({ username, password: PASSWORD });
    }
    const erin = await signIn('erin');
    const frank = await signIn('frank');
    expect((await base(erin.access)).status).toBe(200);
    expect((await base(frank.access)).status).toBe(200);

    await berth.berth.accounts.setPassword('erin', `${PASSWORD}-new`);
    await berth.berth.accounts.updateUser('frank', { disabled: true });

    for (const { refresh: token } of [erin, frank]) expect((await refresh(token)).status).toBe(401);
    for (const { access } of [erin, frank]) {
      expectBearerChallenge(await base(access), berth.url, { error: 'invalid_token' });
    }
  });

  it('refuses a refresh token that was never recorded (issued before sessions were, or forged with the key)', async () => {
    const unrecorded = await new TokenService({
      issuer: SERVICE,
      keyStore: databaseKeyStore(databaseOf(berth)),
    }).issueRefresh('carol', { audience: SERVICE });
    const answer = await refresh(unrecorded);
    expect(answer.status).toBe(401);
  });
});
