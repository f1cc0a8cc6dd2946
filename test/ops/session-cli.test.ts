// `berth user session list|revoke` against a real running Berth with auth on: a user's own sessions, anyone's
// for a system administrator, the refresh tokens refused once revoked, and the exit codes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const ADMIN_PASSWORD = 'session cli admin password';
const PASSWORD = 'erin password 1';

describe('berth user session', () => {
  let server: TestBerth;
  const as = (user: string, password: string) => ({
    BERTH_SERVER: server.url,
    BERTH_USER: user,
    BERTH_PASSWORD: password,
  });

  beforeAll(async () => {
    server = await startBerth({ config: { 'auth.enabled': true } });
    await server.berth.accounts.setPassword('admin', ADMIN_PASSWORD);
    await server.berth.accounts.createUser({ username: 'erin', password: PASSWORD });
  });
  afterAll(() => server.close());

  async function signIn(): Promise<{ refresh: string; id: string }> {
    const res = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'docker/27.0' },
      body: new URLSearchParams({
        grant_type: 'password',
        username: 'erin',
        password: PASSWORD,
        service: 'berth',
        client_id: 'docker',
        access_type: 'offline',
      }).toString(),
    });
    expect(res.status).toBe(200);
    const refresh = ((await res.json()) as { refresh_token: string }).refresh_token;
    const id = JSON.parse(Buffer.from(refresh.split('.')[1] as string, 'base64url').toString()).jti as string;
    return { refresh, id };
  }

  const refreshes = async (token: string) =>
    (
      await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, service: 'berth' }),
      })
    ).status;

  it('lists a user’s sessions, revokes one, then all; usage errors exit 2', async () => {
    const first = await signIn();
    const second = await signIn();
    const table = await runCli(['user', 'session', 'list', 'erin'], { env: as('erin', PASSWORD) });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+ISSUED\s+LAST USED\s+EXPIRES\s+CLIENT\s+SOURCE$/);
    expect(table.stdout).toContain(first.id);
    expect(table.stdout).toMatch(new RegExp(`^${second.id}\\s+\\S+\\s+never\\s+\\S+\\s+docker\\s`, 'm'));

    const one = await runCli(['user', 'session', 'revoke', 'erin', first.id], { env: as('erin', PASSWORD) });
    expect(one).toMatchObject({ code: 0, stdout: `revoked session ${first.id} of erin\n` });
    expect(await refreshes(first.refresh)).toBe(401);
    expect(await refreshes(second.refresh)).toBe(200);

    const json = await runCli(['user', 'session', 'list', 'erin', '--json'], {
      env: as('admin', ADMIN_PASSWORD),
    });
    expect(JSON.parse(json.stdout).map((s: { id: string }) => s.id)).toEqual([second.id]);

    const all = await runCli(['user', 'session', 'revoke', 'erin', '--all'], {
      env: as('admin', ADMIN_PASSWORD),
    });
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/signed erin out everywhere: 1 session\(s\) revoked/);
    expect(await refreshes(second.refresh)).toBe(401);

    const both = await runCli(['user', 'session', 'revoke', 'erin', second.id, '--all'], {
      env: as('admin', ADMIN_PASSWORD),
    });
    expect(both.code).toBe(2);
    const refused = await runCli(['user', 'session', 'list', 'admin'], { env: as('erin', PASSWORD) });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/needs system administrator rights/);
  });
});
