// /api/v1/users/{username}/sessions: a user lists and ends their own sessions (refresh tokens), a system
// administrator anyone's; robots and permission-limited tokens may not; what is revoked is refused at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../../../src/auth/index.js';
import { type Harness, startHarness } from './api-harness.js';

const HOUR = 3_600_000;

describe('/api/v1 sessions', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  const open = (subject: string, id: string, extra: Record<string, string> = {}) =>
    h.accounts.openSession({ id, subject, expiresAt: Date.now() + HOUR, ...extra });

  it('a user lists their own live sessions, newest first, with client, address and times', async () => {
    await open('alice', 'alice-session-first', {
      clientId: 'docker',
      userAgent: 'docker/27',
      sourceIp: '192.0.2.7',
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    await open('alice', 'alice-session-second');
    await h.accounts.openSession({
      id: 'alice-session-expired',
      subject: 'alice',
      expiresAt: Date.now() - 1,
    });
    const res = await h.request('user', 'GET', '/api/v1/users/alice/sessions');
    expect(res.statusCode, res.body).toBe(200);
    const { items } = res.json() as { items: Record<string, unknown>[] };
    expect(items.map((item) => item.id)).toEqual(['alice-session-second', 'alice-session-first']);
    expect(items[1]).toMatchObject({
      subject: 'alice',
      clientId: 'docker',
      userAgent: 'docker/27',
      sourceIp: '192.0.2.7',
      lastUsedAt: null,
      issuedAt: expect.any(Number),
      expiresAt: expect.any(Number),
    });
    expect(await h.accounts.useSession('alice-session-first', 'alice')).toBe(true);
    const used = (await h.request('user', 'GET', '/api/v1/users/alice/sessions')).json() as {
      items: { id: string; lastUsedAt: number | null }[];
    };
    expect(used.items.find((item) => item.id === 'alice-session-first')?.lastUsedAt).toEqual(
      expect.any(Number),
    );
  });

  it('pages with limit and a cursor', async () => {
    for (let i = 0; i < 3; i++) await open('padmin', `padmin-session-${i}-xxxxxxxx`);
    const first = await h.request('projectAdmin', 'GET', '/api/v1/users/padmin/sessions?limit=2');
    expect(first.statusCode).toBe(200);
    const page = first.json() as { items: unknown[]; next?: string };
    expect(page.items).toHaveLength(2);
    expect(page.next).toEqual(expect.any(String));
    const rest = await h.request(
      'projectAdmin',
      'GET',
      `/api/v1/users/padmin/sessions?limit=2&cursor=${page.next}`,
    );
    expect((rest.json() as { items: unknown[] }).items).toHaveLength(1);
  });

  it('a user revokes one of their sessions: that one is refused from then on, the others still work', async () => {
    await open('alice', 'alice-session-revoked');
    await open('alice', 'alice-session-kept');
    const res = await h.request('user', 'DELETE', '/api/v1/users/alice/sessions/alice-session-revoked');
    expect(res.statusCode, res.body).toBe(204);
    expect(h.audit.last()).toMatchObject({
      action: 'session.revoke',
      actor: 'alice',
      resource: 'user:alice',
      result: 'success',
      detail: JSON.stringify({ id: 'alice-session-revoked' }),
    });
    expect(await h.accounts.useSession('alice-session-revoked', 'alice')).toBe(false);
    expect(await h.accounts.useSession('alice-session-kept', 'alice')).toBe(true);
    // Gone: a second revocation is 404, and so is another user's session named under this one.
    expect(
      (await h.request('user', 'DELETE', '/api/v1/users/alice/sessions/alice-session-revoked')).statusCode,
    ).toBe(404);
    await open('bob', 'bob-session-not-alices');
    expect(
      (await h.request('user', 'DELETE', '/api/v1/users/alice/sessions/bob-session-not-alices')).statusCode,
    ).toBe(404);
    expect(await h.accounts.useSession('bob-session-not-alices', 'bob')).toBe(true);
  });

  it('sign out everywhere revokes every session of the user, raises the generation, and is audited', async () => {
    await open('alice', 'alice-everywhere-one');
    await open('alice', 'alice-everywhere-two');
    await open('bob', 'bob-everywhere-untouched');
    const before = await h.accounts.sessionGeneration('alice');
    const res = await h.request('user', 'DELETE', '/api/v1/users/alice/sessions');
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { revoked: number; generation: number };
    expect(body.revoked).toBeGreaterThanOrEqual(2);
    expect(body.generation).toBe(before + 1);
    expect(await h.accounts.sessionGeneration('alice')).toBe(before + 1);
    expect(h.audit.last()).toMatchObject({ action: 'session.revokeAll', actor: 'alice', result: 'success' });
    expect((await h.request('user', 'GET', '/api/v1/users/alice/sessions')).json()).toEqual({ items: [] });
    expect(await h.accounts.useSession('alice-everywhere-one', 'alice')).toBe(false);
    expect(await h.accounts.useSession('bob-everywhere-untouched', 'bob')).toBe(true);
  });

  it('a system administrator manages anyone’s; an unknown user is 404', async () => {
    await open('bob', 'bob-session-for-admin');
    const list = await h.request('systemAdmin', 'GET', '/api/v1/users/bob/sessions');
    expect((list.json() as { items: { id: string }[] }).items.map((s) => s.id)).toContain(
      'bob-session-for-admin',
    );
    expect(
      (await h.request('systemAdmin', 'DELETE', '/api/v1/users/bob/sessions/bob-session-for-admin'))
        .statusCode,
    ).toBe(204);
    expect((await h.request('systemAdmin', 'GET', '/api/v1/users/nobody/sessions')).statusCode).toBe(404);
    expect((await h.request('systemAdmin', 'DELETE', '/api/v1/users/nobody/sessions')).statusCode).toBe(404);
  });

  it('refuses robots, permission-limited tokens, and malformed ids', async () => {
    const robot = await h.request('robot', 'GET', '/api/v1/users/alice/sessions');
    expect(robot.statusCode).toBe(403);
    const { secret } = await h.accounts.createAccessToken({
      username: 'alice',
      name: 'limited',
      permissions: [{ project: 'team', actions: ['pull'] }],
    });
    const limited = await h.request(
      { authorization: basicAuthorization('alice', secret) },
      'DELETE',
      '/api/v1/users/alice/sessions',
    );
    expect(limited.statusCode).toBe(403);
    expect(limited.json().errors[0].message).toMatch(/personal access token with permissions/);
    const malformed = await h.request('user', 'DELETE', '/api/v1/users/alice/sessions/short');
    expect(malformed.statusCode).toBe(400);
  });
});
