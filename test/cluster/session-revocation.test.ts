// Revocation reaches every node: two nodes on one PostgreSQL database (and two workers on one SQLite file). A session revoked through node A is
// refused by node B on the very next request (the refresh reads the database); after "sign out everywhere"
// through A, B refuses the user's access tokens as soon as A's NOTIFY arrives (milliseconds; polled here with
// a generous deadline, never slept on).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../fault/support.js';
import { type Cluster, sharedFilesystemBackend, startCluster } from '../helpers/cluster.js';
import { postgresAvailable } from '../helpers/postgres.js';
import { describeReply, type Reply, send } from '../helpers/raw-http.js';
import { sendServed, startWorkers, type Workers } from '../helpers/worker-processes.js';

const ADMIN_PASSWORD = 'session revocation admin password';

const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

function json(reply: Reply): Record<string, unknown> {
  return JSON.parse(reply.body.toString('utf8')) as Record<string, unknown>;
}

describe.skipIf(!postgresAvailable)('session revocation across two nodes on one PostgreSQL database', () => {
  let cluster: Cluster;
  let a: string;
  let b: string;

  beforeAll(async () => {
    cluster = await startCluster(sharedFilesystemBackend, {
      nodes: 2,
      env: { BERTH_AUTH_ENABLED: 'true', BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    [a, b] = cluster.nodes.map((node) => node.url) as [string, string];
  }, 60_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  const form = (fields: Record<string, string>) => Buffer.from(new URLSearchParams(fields).toString());
  const token = (node: string, fields: Record<string, string>) =>
    send(node, 'POST', '/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({ service: 'berth', ...fields }),
    });
  const signIn = async (node: string) => {
    const reply = await token(node, {
      grant_type: 'password',
      username: 'admin',
      password: ADMIN_PASSWORD,
      access_type: 'offline',
      client_id: 'cluster-test',
    });
    expect(reply.status, describeReply(reply)).toBe(200);
    const body = json(reply);
    return { refresh: body.refresh_token as string, access: body.token as string };
  };
  const refresh = (node: string, refreshToken: string) =>
    token(node, { grant_type: 'refresh_token', refresh_token: refreshToken });
  const api = (node: string, method: string, path: string) =>
    send(node, method, `/api/v1${path}`, { headers: { authorization: basic('admin', ADMIN_PASSWORD) } });
  const base = (node: string, access: string) =>
    send(node, 'GET', '/v2/', { headers: { authorization: `Bearer ${access}` } });

  it('a session revoked through node A is refused by node B on the next request', async () => {
    const session = await signIn(a);
    const other = await signIn(b);
    // Both nodes know both sessions.
    for (const node of [a, b]) {
      for (const s of [session, other]) expect((await refresh(node, s.refresh)).status).toBe(200);
    }
    const listed = json(await api(b, 'GET', '/users/admin/sessions')) as { items: { id: string }[] };
    expect(listed.items).toHaveLength(2);
    const id = JSON.parse(Buffer.from(session.refresh.split('.')[1] as string, 'base64url').toString()).jti;

    const revoked = await api(a, 'DELETE', `/users/admin/sessions/${id}`);
    expect(revoked.status, describeReply(revoked)).toBe(204);
    const refused = await refresh(b, session.refresh);
    expect(refused.status, describeReply(refused)).toBe(401);
    expect((await refresh(a, session.refresh)).status).toBe(401);
    expect((await refresh(b, other.refresh)).status).toBe(200);
  });

  it('sign out everywhere through node A: node B refuses the refresh tokens at once, the access tokens within moments', async () => {
    const first = await signIn(a);
    const second = await signIn(b);
    // Node B has verified (and cached) both access tokens, and knows the user's generation.
    for (const s of [first, second]) expect((await base(b, s.access)).status).toBe(200);

    const out = await api(a, 'DELETE', '/users/admin/sessions');
    expect(out.status, describeReply(out)).toBe(200);
    for (const s of [first, second]) {
      expect((await refresh(b, s.refresh)).status).toBe(401);
      // Node A raised the generation itself: refused on the next request.
      expect((await base(a, s.access)).status).toBe(401);
    }
    // Node B hears of it over LISTEN/NOTIFY: milliseconds, polled with a generous deadline.
    await waitFor(
      "node B refusing the signed-out user's access tokens",
      async () =>
        (await base(b, first.access)).status === 401 && (await base(b, second.access)).status === 401,
      10_000,
    );
    const reply = await base(b, second.access);
    expect(reply.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    // A new sign-in through B works on both nodes.
    const again = await signIn(b);
    for (const node of [a, b]) {
      expect((await base(node, again.access)).status).toBe(200);
      expect((await refresh(node, again.refresh)).status).toBe(200);
    }
  });
  it('a personal access token revoked and a robot disabled through node A stop working at node B within moments, though B remembered the Basic logins', async () => {
    const created = await send(a, 'POST', '/api/v1/users/admin/tokens', {
      headers: { authorization: basic('admin', ADMIN_PASSWORD), 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ name: 'revoked across nodes' })),
    });
    expect(created.status, describeReply(created)).toBe(201);
    const pat = json(created) as { token: { id: string }; secret: string };
    const robot = await send(a, 'POST', '/api/v1/robots', {
      headers: { authorization: basic('admin', ADMIN_PASSWORD), 'content-type': 'application/json' },
      body: Buffer.from(
        JSON.stringify({
          name: 'revoked-across-nodes',
          permissions: [{ project: 'library', actions: ['pull'] }],
        }),
      ),
    });
    expect(robot.status, describeReply(robot)).toBe(201);
    const bot = json(robot) as { login: string; secret: string };
    const withPat = () => send(b, 'GET', '/v2/', { headers: { authorization: basic('admin', pat.secret) } });
    const withRobot = () =>
      send(b, 'GET', '/v2/', { headers: { authorization: basic(bot.login, bot.secret) } });
    // Node B checked both once and remembers them (for up to 30 s without this change's invalidation).
    expect((await withPat()).status).toBe(200);
    expect((await withRobot()).status).toBe(200);

    const revoked = await api(a, 'DELETE', `/users/admin/tokens/${pat.token.id}`);
    expect(revoked.status, describeReply(revoked)).toBe(204);
    const disabled = await send(a, 'PATCH', `/api/v1/robots/${encodeURIComponent(bot.login)}`, {
      headers: { authorization: basic('admin', ADMIN_PASSWORD), 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ disabled: true })),
    });
    expect(disabled.status, describeReply(disabled)).toBe(200);
    // Node B hears of both over LISTEN/NOTIFY (milliseconds); polled with a deadline well under the 30 s
    // for which it would otherwise have kept accepting them.
    await waitFor(
      'node B refusing the revoked token and the disabled robot',
      async () => (await withPat()).status === 401 && (await withRobot()).status === 401,
      10_000,
    );
    // The user's own password still works on B.
    expect((await api(b, 'GET', '/users/admin')).status).toBe(200);
  });
});

describe('sign out everywhere across berth serve --workers 2 on SQLite', () => {
  let workers: Workers;

  beforeAll(async () => {
    workers = await startWorkers('berth-sessions-workers-', {
      BERTH_AUTH_ENABLED: 'true',
      BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
    });
  }, 60_000);

  afterAll(async () => {
    await workers?.stop();
  });

  /** GET /v2/ with the token, saying which worker served it. */
  const base = (access: string) =>
    sendServed(workers.berth.url, () => workers.berth.logs(), 'GET', '/v2/', {
      headers: { authorization: `Bearer ${access}` },
    });

  it("every worker refuses the user's access tokens once the other worker signed them out", async () => {
    const login = await send(workers.berth.url, 'POST', '/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(
        new URLSearchParams({
          grant_type: 'password',
          username: 'admin',
          password: ADMIN_PASSWORD,
          service: 'berth',
          access_type: 'offline',
        }).toString(),
      ),
    });
    expect(login.status, describeReply(login)).toBe(200);
    const access = json(login).token as string;
    const accepted = [];
    for (let i = 0; i < 4; i++) accepted.push(await base(access));
    expect(accepted.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // Both workers verified it (and know the user's generation).
    expect(new Set(accepted.map((r) => r.pid))).toEqual(new Set(workers.pids));

    const out = await send(workers.berth.url, 'DELETE', '/api/v1/users/admin/sessions', {
      headers: { authorization: basic('admin', ADMIN_PASSWORD) },
    });
    expect(out.status, describeReply(out)).toBe(200);
    // The other worker hears of it through the primary's IPC relay: polled with a generous deadline.
    await waitFor(
      'both workers refusing the token',
      async () => {
        const replies = [await base(access), await base(access)];
        return replies.every((r) => r.status === 401) && new Set(replies.map((r) => r.pid)).size === 2;
      },
      10_000,
    );
  });
});
