// The audit anomaly detector against a real Berth (SQLite, and PostgreSQL under the postgres project), fed with
// generated traffic: weeks of history recorded through the server's audit log with an injected clock, then
// real HTTP pulls and logins. Usual pulls stay quiet; a 3 a.m. burst of 10× fires once; failed logins fire per
// address and per account; a robot pulling a whole project for the first time fires, its habits do not. Each
// finding is listed by the API, audited, counted in /metrics and delivered to a webhook receiver.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Anomaly } from '../../src/events/anomalies/index.js';
import { OciClient, type RequestOptions } from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const ADMIN_PASSWORD = 'admin-password-anomalies';
const PASSWORD = 'a user password 1';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const REPOSITORIES = ['team/r1', 'team/r2', 'team/r3', 'team/r4'];

const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

/** An OCI client that sends the same Basic credentials with every request. */
class LoggedInClient extends OciClient {
  constructor(
    baseUrl: string,
    private readonly authorization: string,
  ) {
    super(baseUrl);
  }

  override request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    return super.request(method, path, {
      ...opts,
      headers: { authorization: this.authorization, ...opts.headers },
    });
  }
}

/** The first Wednesday 10:30 UTC after the real now: the audit retention purge runs on real time. */
function nextWednesdayMorning(): number {
  const start = new Date();
  start.setUTCHours(10, 30, 0, 0);
  let day = start.getTime() + DAY;
  while (new Date(day).getUTCDay() !== 3) day += DAY;
  return day;
}

/** A webhook receiver that keeps every body it is sent. */
async function receiver(): Promise<{ server: Server; url: string; bodies: string[] }> {
  const bodies: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString());
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('audit anomaly detector', () => {
  const WEDNESDAY = nextWednesdayMorning();
  let now = WEDNESDAY;
  let berth: TestBerth;
  let admin: LoggedInClient;
  let secrets: Record<string, string>;
  let hook: Awaited<ReturnType<typeof receiver>>;
  const found: Anomaly[] = [];

  /** Runs the detector now (as its timer would), keeping what it found. */
  async function detect(): Promise<Anomaly[]> {
    await berth.berth.audit.flush();
    const anomalies = await berth.berth.anomalies.detect();
    found.push(...anomalies);
    return anomalies;
  }

  /** Real pulls over HTTP (manifest GETs), spread evenly from the clock's time over `minutes`. */
  async function pulls(login: string, password: string, count: number, minutes: number, repos = ['team/r1']) {
    const client = new LoggedInClient(berth.url, basic(login, password));
    const start = now;
    for (let i = 0; i < count; i++) {
      now = start + Math.floor((i * minutes * MINUTE) / count);
      const repository = repos[i % repos.length] as string;
      const res = await client.get(`/v2/${repository}/manifests/v1`, {
        accept: 'application/vnd.oci.image.manifest.v1+json',
      });
      await res.arrayBuffer();
      expect(res.status, `${login} pulls ${repository}`).toBe(200);
    }
    now = start + minutes * MINUTE;
  }

  /** A failed login at /token, from `address` (X-Forwarded-For through the trusted loopback proxy). */
  async function failedLogin(username: string, address: string): Promise<void> {
    const res = await fetch(`${berth.url}/token?service=berth&scope=repository:team/r1:pull`, {
      headers: { authorization: basic(username, 'wrong password'), 'x-forwarded-for': address },
    });
    await res.arrayBuffer();
    expect(res.status).toBe(401);
  }

  /** Pulls recorded through the server's audit log at past times (weeks of history in milliseconds). */
  function recordPull(actor: string, actorKind: 'user' | 'robot', at: number, resource = 'team/r1:v1') {
    now = at;
    berth.berth.audit.record({
      actor,
      actorKind,
      sourceIp: '192.0.2.10',
      userAgent: 'history',
      action: 'pull',
      resource,
      result: 'success',
    });
  }

  beforeAll(async () => {
    process.env.BERTH_ADMIN_PASSWORD = ADMIN_PASSWORD;
    hook = await receiver();
    try {
      berth = await startBerth({
        clock: () => now,
        config: {
          'auth.enabled': true,
          'auth.trustedProxies': '127.0.0.1',
          'webhooks.allowedHosts': '127.0.0.1',
          'webhooks.pollSeconds': 0.1,
          // The test runs the detector itself, at the moments it chooses.
          'audit.anomalies.intervalSeconds': 3600,
          'audit.anomalies.massPull.minPulls': 20,
        },
      });
    } finally {
      delete process.env.BERTH_ADMIN_PASSWORD;
    }
    admin = new LoggedInClient(berth.url, basic('admin', ADMIN_PASSWORD));
    const accounts = berth.berth.accounts;
    await accounts.createProject({ name: 'team' });
    for (const repository of REPOSITORIES) await admin.pushRandomImage(repository, 'v1');
    await Promise.all(
      ['dana', 'erin'].map((username) => accounts.createUser({ username, password: PASSWORD })),
    );
    for (const username of ['dana', 'erin']) {
      await accounts.setMember('team', { kind: 'user', name: username, role: 'guest' });
    }
    secrets = {};
    for (const name of ['ci', 'mirror', 'backup']) {
      const robot = await accounts.createRobot({
        name,
        permissions: [{ project: 'team', actions: ['pull'] }],
        createdBy: 'admin',
      });
      secrets[`robot$${name}`] = robot.secret;
    }
    const created = await admin.request('POST', '/api/v1/webhooks', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'security', url: hook.url, eventTypes: ['anomaly'] }),
    });
    expect(created.status, await created.text()).toBe(201);

    // Four weeks of history before the Wednesday: dana pulls 20 times an hour, 9:00–17:00 on weekdays; robot
    // ci pulls team/r1 every weekday at 8:00; robot backup pulled the whole project on the previous Sunday.
    for (let week = 4; week >= 1; week--) {
      const monday = WEDNESDAY - 2 * DAY - week * WEEK - 10.5 * HOUR;
      for (let day = 0; day < 5; day++) {
        for (let hour = 9; hour < 17; hour++) {
          for (let i = 0; i < 20; i++)
            recordPull('dana', 'user', monday + day * DAY + hour * HOUR + i * 3 * MINUTE);
        }
        recordPull('robot$ci', 'robot', monday + day * DAY + 8 * HOUR);
      }
    }
    for (const [i, repository] of REPOSITORIES.entries()) {
      recordPull('robot$backup', 'robot', WEDNESDAY - 3 * DAY + i * MINUTE, `${repository}:v1`);
    }
    await berth.berth.audit.flush();
  });

  afterAll(async () => {
    await berth?.close();
    await new Promise((resolve) => hook?.server.close(resolve));
  });

  it("leaves an account's usual pulls alone, even above the minimum", async () => {
    now = WEDNESDAY - 30 * MINUTE;
    await pulls('dana', PASSWORD, 25, 30);
    expect(await detect()).toEqual([]);
  });

  it('flags a 3 a.m. burst of ten times the usual volume once, and not a new account with no history', async () => {
    now = WEDNESDAY + 16.5 * HOUR; // Thursday 03:00
    await pulls('dana', PASSWORD, 100, 10, REPOSITORIES);
    const first = await detect();
    await pulls('dana', PASSWORD, 100, 10, REPOSITORIES);
    await pulls('erin', PASSWORD, 60, 10, REPOSITORIES);
    const later = [await detect()];
    for (const step of [20, 50, 30]) {
      now += step * MINUTE;
      later.push(await detect());
    }
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ kind: 'mass-pull', subject: 'dana', project: null });
    expect(first[0]?.count).toBeGreaterThanOrEqual(60);
    expect(first[0]?.details.rule).toBe('off-hours');
    // 20 an hour in the history (and the 25 of the test before): 20.03.
    expect(first[0]?.details.hourlyMean).toBeCloseTo(20, 0);
    // Not again for the rest of the burst, and nothing for erin, who has no history to compare with.
    expect(later.flat()).toEqual([]);
  });

  it('flags 20 failed logins from one address over several accounts, and 10 of one account', async () => {
    now = WEDNESDAY + 18.5 * HOUR; // Thursday 05:00
    // Four at a time (each failure costs a password hash).
    for (let i = 0; i < 20; i += 4) {
      await Promise.all([0, 1, 2, 3].map((k) => failedLogin(`spray${k}`, '203.0.113.7')));
      now += 40_000;
    }
    const byAddress = await detect();
    expect(byAddress.map((a) => [a.kind, a.subject, a.count])).toEqual([
      ['failed-logins-address', '203.0.113.7', 20],
    ]);
    expect([...((byAddress[0]?.details.accounts as string[]) ?? [])].sort()).toEqual([
      'spray0',
      'spray1',
      'spray2',
      'spray3',
    ]);
    for (let i = 0; i < 10; i += 2) {
      await Promise.all([failedLogin('dana', '198.51.100.9'), failedLogin('dana', '198.51.100.9')]);
      now += 20_000;
    }
    const byAccount = await detect();
    expect(byAccount.map((a) => [a.kind, a.subject, a.count])).toEqual([
      ['failed-logins-account', 'dana', 10],
    ]);
    expect(byAccount[0]?.details.addresses).toEqual(['198.51.100.9']);
  });

  it('flags a robot pulling every repository of a project for the first time, once', async () => {
    now = WEDNESDAY + 20.5 * HOUR; // Thursday 07:00
    await pulls('robot$mirror', secrets['robot$mirror'] as string, 8, 4, REPOSITORIES);
    await pulls('robot$ci', secrets['robot$ci'] as string, 2, 1, ['team/r1', 'team/r2']);
    await pulls('robot$backup', secrets['robot$backup'] as string, 4, 1, REPOSITORIES);
    const sweeps = await detect();
    expect(sweeps.map((a) => [a.kind, a.subject, a.project, a.count])).toEqual([
      ['robot-project-sweep', 'robot$mirror', 'team', 4],
    ]);
    expect(sweeps[0]?.details).toMatchObject({ percent: 100, projectRepositories: 4, pulledBefore: 0 });
    // The next day it does it again: no longer news.
    now += DAY;
    await pulls('robot$mirror', secrets['robot$mirror'] as string, 4, 2, REPOSITORIES);
    expect(await detect()).toEqual([]);
  });

  it('lists each finding in the API, the audit log and /metrics, and sends it to the webhook receiver', async () => {
    expect(found.map((a) => a.kind)).toEqual([
      'mass-pull',
      'failed-logins-address',
      'failed-logins-account',
      'robot-project-sweep',
    ]);
    const listed = await admin.get('/api/v1/audit/anomalies');
    expect(listed.status).toBe(200);
    const { items } = (await listed.json()) as { items: Anomaly[] };
    expect(items.map((a) => a.id)).toEqual(found.map((a) => a.id).reverse());
    const massPulls = (await (await admin.get('/api/v1/audit/anomalies?kind=mass-pull')).json()) as {
      items: Anomaly[];
    };
    expect(massPulls.items.map((a) => a.subject)).toEqual(['dana']);
    const refused = await new LoggedInClient(berth.url, basic('dana', PASSWORD)).get(
      '/api/v1/audit/anomalies',
    );
    expect(refused.status).toBe(403);

    const audited = await berth.berth.audit.query({ action: 'security.anomaly', limit: 100 });
    expect(audited.map((e) => e.resource).sort()).toEqual(
      ['address:203.0.113.7', 'team', 'user:dana', 'user:dana'].sort(),
    );
    expect(audited.every((e) => e.actor === 'berth' && e.actorKind === 'system')).toBe(true);

    const metrics = await (await fetch(`${berth.url}/metrics`)).text();
    for (const kind of [
      'mass-pull',
      'failed-logins-address',
      'failed-logins-account',
      'robot-project-sweep',
    ]) {
      expect(metrics).toContain(`berth_audit_anomalies_total{kind="${kind}"} 1`);
    }

    await until(() => hook.bodies.length >= 4, 'four anomaly webhooks');
    const events = hook.bodies.map(
      (body) =>
        JSON.parse(body) as { type: string; source: string; subject: string; data: Record<string, string> },
    );
    expect(events.map((e) => e.type)).toEqual(Array(4).fill('io.berth.security.anomaly'));
    expect(events.map((e) => e.data.kind).sort()).toEqual(found.map((a) => a.kind).sort());
    const sweep = events.find((e) => e.data.kind === 'robot-project-sweep');
    expect(sweep).toMatchObject({ source: '/projects/team', subject: 'robot$mirror' });
    const burst = events.find((e) => e.data.kind === 'mass-pull');
    expect(burst).toMatchObject({ source: '/registry', subject: 'dana' });
    expect(burst?.data.summary).toMatch(/^dana pulled \d+ times in \d+ min at an hour it never pulled/);
  });
});
