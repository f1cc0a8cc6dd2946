// Issue 3 with LDAP: a Berth whose users sign in against a real slapd (test/helpers/slapd.ts: alice in `devs`
// and `admins`, bob in `ops`), where the LDAP group `devs` is a developer of a private project.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBerth } from '../helpers/server.js';
import { BASE_DN, findSlapd, LDAP_USERS, type Slapd, startSlapd } from '../helpers/slapd.js';
import {
  audit,
  basic,
  bearer,
  decodeJwt,
  expectBasicChallenge,
  expectEvent,
  expectOciError,
  getToken,
  type Login,
  MT,
  PASSWORD,
  Seeder,
  send,
  sha256,
  startAuthBerth,
  tinyImage,
} from './support.js';

const hasSlapd = findSlapd() !== null;
if (!hasSlapd) {
  console.warn(
    '\n!!! SKIPPING auth LDAP tests: slapd is not installed (apt-get install -y slapd ldap-utils) !!!\n',
  );
}

const alice: Login = { username: 'alice', password: LDAP_USERS.alice.password };
const bob: Login = { username: 'bob', password: LDAP_USERS.bob.password };
const PUSH = 'repository:priv/app:pull,push';

describe.skipIf(!hasSlapd)('LDAP sign-in on /v2 and /token', () => {
  let slapd: Slapd;
  let berth: TestBerth;
  let seeder: Seeder;

  beforeAll(async () => {
    slapd = await startSlapd();
    berth = await startAuthBerth({
      'auth.ldap.url': slapd.url,
      'auth.ldap.bindDN': slapd.bindDN,
      'auth.ldap.bindPassword': slapd.bindPassword,
      'auth.ldap.userBase': `ou=people,${BASE_DN}`,
      'auth.ldap.groupBase': slapd.groupBase,
    });
    const accounts = berth.berth.accounts;
    // A local administrator to seed content (local users never fall back to the directory).
    await accounts.createUser({ username: 'root', password: PASSWORD, systemAdmin: true });
    await accounts.createProject({ name: 'priv', public: false });
    await accounts.setMember('priv', { kind: 'group', name: 'devs', role: 'developer' });
    seeder = new Seeder(berth.url, 'root', PASSWORD);
    await seeder.pushImage('priv/app', tinyImage(), 'v1');
  });

  afterAll(async () => {
    await berth?.close();
    await slapd?.stop();
  });

  /** Pushes a tiny image (blobs and manifest) with this Authorization; returns the manifest PUT response. */
  async function push(authorization: string, tag: string): Promise<Response> {
    const image = tinyImage();
    for (const blob of [image.config, image.layer]) {
      const res = await send(berth.url, 'POST', `/v2/priv/app/blobs/uploads/?digest=${sha256(blob)}`, {
        authorization,
        headers: { 'content-type': 'application/octet-stream' },
        body: blob,
      });
      if (res.status !== 201) return res;
      await res.arrayBuffer();
    }
    return send(berth.url, 'PUT', `/v2/priv/app/manifests/${tag}`, {
      authorization,
      headers: { 'content-type': MT.manifest },
      body: image.manifest,
    });
  }

  const pull = (authorization: string) =>
    send(berth.url, 'GET', '/v2/priv/app/manifests/v1', { authorization, headers: { accept: MT.manifest } });

  it('alice (in devs) gets a push token and pushes; her account is the directory’s', async () => {
    const answer = await getToken(berth.url, { credentials: alice, scopes: [PUSH] });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const token = answer.token as string;
    expect(decodeJwt(token).payload).toMatchObject({
      sub: 'alice',
      access: [{ type: 'repository', name: 'priv/app', actions: ['pull', 'push'] }],
    });
    const res = await push(bearer(token), 'alice');
    expect(res.status, await res.text()).toBe(201);
    expect((await pull(bearer(token))).status).toBe(200);
    expect(await berth.berth.accounts.getUser('alice')).toMatchObject({
      source: 'ldap',
      email: LDAP_USERS.alice.email,
      systemAdmin: false,
    });

    expectEvent(await audit(berth, { actor: 'alice', action: 'login' }), {
      resource: 'user:alice',
      result: 'success',
      sourceIp: '127.0.0.1',
    });
    expectEvent(await audit(berth, { actor: 'alice', action: 'token' }), { detail: PUSH });
    expectEvent(await audit(berth, { actor: 'alice', action: 'push' }), {
      resource: 'priv/app:alice',
      result: 'success',
    });
  });

  it('bob (in ops only) is granted nothing and refused 403, with the token and with Basic', async () => {
    const answer = await getToken(berth.url, { credentials: bob, scopes: [PUSH] });
    expect(answer.status).toBe(200);
    expect(decodeJwt(answer.token as string).payload.access).toEqual([]);
    for (const authorization of [bearer(answer.token as string), basic(bob.username, bob.password)]) {
      const refused = await push(authorization, 'bob');
      expect((await expectOciError(refused, 403, 'DENIED')).message).toBe('bob may not push priv/app');
      await expectOciError(await pull(authorization), 403, 'DENIED');
    }
    expect(await seeder.statusOf('HEAD', '/v2/priv/app/manifests/bob', { accept: MT.manifest })).toBe(404);

    const refusals = await audit(berth, { actor: 'bob', action: 'push' });
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.every((event) => event.result === 'failure' && event.detail === 'HTTP 403')).toBe(true);
    expectEvent(await audit(berth, { actor: 'bob', action: 'pull' }), {
      resource: 'priv/app:v1',
      result: 'failure',
    });
    expectEvent(await audit(berth, { actor: 'bob', action: 'login' }), { result: 'success' });
  });

  it('alice pushes with Basic straight to /v2 as well', async () => {
    const res = await push(basic(alice.username, alice.password), 'alice-basic');
    expect(res.status, await res.text()).toBe(201);
  });

  it('a wrong directory password, or a name the directory does not know → 401 with a Basic challenge', async () => {
    expectBasicChallenge(
      await getToken(berth.url, { credentials: { ...alice, password: 'not-alices' }, scopes: [PUSH] }),
    );
    const v2 = await send(berth.url, 'GET', '/v2/', { authorization: basic('alice', 'still not hers') });
    expectBasicChallenge(v2);
    expectBasicChallenge(
      await getToken(berth.url, { credentials: { username: 'carol', password: 'whatever-1' } }),
    );
    const failures = (await audit(berth, { actor: 'alice', action: 'login' })).filter(
      (e) => e.result === 'failure',
    );
    expect(failures).toHaveLength(2);
    expectEvent(failures, { detail: 'wrong credentials', resource: 'user:alice' });
  });

  it('roles follow group membership: ops made guest lets bob pull; devs removed stops alice pushing', async () => {
    await berth.berth.accounts.setMember('priv', { kind: 'group', name: 'ops', role: 'guest' });
    const bobs = await getToken(berth.url, { credentials: bob, scopes: [PUSH] });
    expect(decodeJwt(bobs.token as string).payload.access).toEqual([
      { type: 'repository', name: 'priv/app', actions: ['pull'] },
    ]);
    expect((await pull(bearer(bobs.token as string))).status).toBe(200);

    await berth.berth.accounts.removeMember('priv', 'group', 'devs');
    const alices = await getToken(berth.url, { credentials: alice, scopes: [PUSH] });
    expect(decodeJwt(alices.token as string).payload.access).toEqual([]);
    await expectOciError(await push(bearer(alices.token as string), 'alice-after'), 403, 'DENIED');
  });

  it('with the directory down, a login is 503 UNAVAILABLE, not a wrong password', async () => {
    await slapd.stop();
    const answer = await getToken(berth.url, { credentials: alice, scopes: [PUSH] });
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ errors: [{ code: 'UNAVAILABLE' }] });
    // Local users still sign in.
    expect(
      (await getToken(berth.url, { credentials: { username: 'root', password: PASSWORD } })).status,
    ).toBe(200);
  });
});
