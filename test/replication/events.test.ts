// Event-triggered pull policies: a remote tells the branch of its pushes and deletes, and the branch replicates
// them within seconds, without a manual run or a schedule. Real peers on loopback: a central Berth (token auth)
// whose webhook (CloudEvents, HMAC-signed with the policy's event secret) points at the branch Berth's
// endpoint, and CNCF Distribution 2.8.2 whose `notifications.endpoints` send its envelope with a bearer secret.
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/replication/index.js';
import { PASSWORD, Seeder } from '../auth/support.js';
import { startBerth, type TestBerth } from '../helpers/server.js';
import { type Distribution, requireDistribution, startDistribution } from './distribution.js';
import { type PushedImage, pushImage } from './support.js';

const TIMEOUT = 120_000;
const distribution = requireDistribution('event-triggered pull policy tests');
const ADMIN = { username: 'root', password: PASSWORD };
const SECRET_KEY = `k1:${randomBytes(32).toString('base64')}`;
const CENTRAL_SECRET = `central-events-${randomBytes(12).toString('hex')}`;
const DIST_SECRET = `dist-events-${randomBytes(12).toString('hex')}`;

/** Polls until `probe` answers something other than undefined (the machine is busy: a generous bound). */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 1200; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`not within 60 s: ${what}`);
}

describe.skipIf(!distribution)('event-triggered pull policies (webhooks and notifications)', () => {
  let central: TestBerth;
  let branch: TestBerth;
  let upstream: Distribution;
  let branchAdmin: Seeder;
  let centralAdmin: Seeder;
  let fromCentral: number;
  let fromDist: number;

  const api = async (
    method: string,
    path: string,
    body?: unknown,
    // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field, each checked by an assertion
  ): Promise<{ status: number; json: any }> => {
    const res = await branchAdmin.request(method, `/api/v1${path}`, {
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };
  /** POST to a policy's events endpoint as a remote would. */
  const post = (id: number, body: string, headers: Record<string, string>) =>
    fetch(`${branch.url}/api/v1/replication/policies/${id}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json', ...headers },
      body,
    });
  const sign = (body: string, secret = CENTRAL_SECRET) =>
    `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const cloudEvent = (repository: string, tag: string) =>
    JSON.stringify({
      specversion: '1.0',
      id: randomBytes(8).toString('hex'),
      source: `/projects/${repository.split('/')[0]}`,
      type: 'io.berth.artifact.pushed',
      data: { repository, tag, operator: 'root' },
    });
  const atBranch = (repository: string, tag: string) =>
    branch.berth.registry.meta.manifestByTag(repository, tag);

  beforeAll(async () => {
    [central, branch] = await Promise.all([
      startBerth({ config: { 'auth.enabled': true, 'webhooks.allowedHosts': '127.0.0.1' } }),
      startBerth({ config: { 'auth.enabled': true, 'replication.secretKey': SECRET_KEY } }),
    ]);
    await Promise.all([
      central.berth.accounts.createUser({ ...ADMIN, systemAdmin: true }),
      branch.berth.accounts.createUser({ ...ADMIN, systemAdmin: true }),
    ]);
    await central.berth.accounts.createProject({ name: 'team', public: false });
    centralAdmin = new Seeder(central.url, ADMIN.username, ADMIN.password);
    branchAdmin = new Seeder(branch.url, ADMIN.username, ADMIN.password);

    expect((await api('POST', '/registries', { name: 'central', url: central.url, ...ADMIN })).status).toBe(
      201,
    );
    const policy = await api('POST', '/replication/policies', {
      name: 'from-central',
      registry: 'central',
      direction: 'pull',
      repositories: 'team/**',
      tags: 'v*',
      trigger: 'event',
      replicateDeletes: true,
      eventSecret: CENTRAL_SECRET,
    });
    expect(policy.status, JSON.stringify(policy.json)).toBe(201);
    expect(policy.json.hasEventSecret).toBe(true);
    expect(JSON.stringify(policy.json)).not.toContain(CENTRAL_SECRET);
    fromCentral = policy.json.id;
    // The central Berth's webhook, signed with the same secret (X-Berth-Signature).
    await central.berth.webhooks.create(
      { project: null },
      {
        name: 'branch',
        url: `${branch.url}/api/v1/replication/policies/${fromCentral}/events`,
        eventTypes: ['push', 'delete'],
        format: 'cloudevents',
        secret: CENTRAL_SECRET,
        enabled: true,
      },
      ADMIN.username,
    );

    // Distribution's URL is known once it runs, and it must know the policy's endpoint before: a placeholder.
    expect((await api('POST', '/registries', { name: 'dist', url: 'http://127.0.0.1:9' })).status).toBe(201);
    const distPolicy = await api('POST', '/replication/policies', {
      name: 'from-dist',
      registry: 'dist',
      direction: 'pull',
      repositories: 'lib/**',
      trigger: 'event',
      eventSecret: DIST_SECRET,
    });
    expect(distPolicy.status, JSON.stringify(distPolicy.json)).toBe(201);
    fromDist = distPolicy.json.id;
    upstream = await startDistribution({
      config: [
        'notifications:',
        '  endpoints:',
        '    - name: berth-branch',
        `      url: ${branch.url}/api/v1/replication/policies/${fromDist}/events`,
        '      headers:',
        `        Authorization: [Bearer ${DIST_SECRET}]`,
        '      timeout: 5s',
        '      threshold: 5',
        '      backoff: 1s',
      ],
    });
    expect((await api('PATCH', '/registries/dist', { url: upstream.url })).status).toBe(200);
  }, TIMEOUT);

  afterAll(async () => {
    await Promise.all([central?.close(), branch?.close(), upstream?.close()]);
  });

  it(
    'replicates a push at the central Berth to the branch without a manual run, and a tag deleted there',
    async () => {
      const client = new RegistryClient({ url: central.url, access: 'push', credentials: ADMIN });
      const pushed: PushedImage = await pushImage(client, 'team/app', { tag: 'v1' });
      const started = Date.now();
      const arrived = await eventually(() => atBranch('team/app', 'v1'), 'team/app:v1 at the branch');
      console.info(`central push → branch: ${Date.now() - started} ms`);
      expect(arrived.digest).toBe(pushed.digest);
      expect(arrived.content.equals(pushed.manifest)).toBe(true);
      const executions = await api('GET', `/replication/policies/${fromCentral}/executions`);
      expect(executions.json.items.length).toBeGreaterThan(0);
      expect(executions.json.items.every((e: { trigger: string }) => e.trigger === 'event')).toBe(true);

      // The policy's tag filter (v*) leaves `latest` alone; the delete of v1 (replicateDeletes) follows.
      await pushImage(client, 'team/app', { tag: 'latest' });
      const deleted = await centralAdmin.request('DELETE', '/v2/team/app/manifests/v1');
      expect(deleted.status, await deleted.text()).toBe(202);
      await eventually(
        async () => ((await atBranch('team/app', 'v1')) ? undefined : true),
        'team/app:v1 deleted at the branch',
      );
      expect(await atBranch('team/app', 'latest')).toBeUndefined();
    },
    TIMEOUT,
  );

  it(
    'replicates a push to Distribution 2.8.2, told by its notifications (bearer secret); blob events ignored',
    async () => {
      const pushed = await pushImage(new RegistryClient({ url: upstream.url, access: 'push' }), 'lib/tool', {
        tag: '1.0',
      });
      const started = Date.now();
      const arrived = await eventually(() => atBranch('lib/tool', '1.0'), 'lib/tool:1.0 at the branch');
      console.info(`Distribution push → branch: ${Date.now() - started} ms`);
      expect(arrived.digest).toBe(pushed.digest);
      // Each envelope is audited with what was taken: the manifest push, not the blob pushes before it.
      const audited = await branch.berth.audit.query({
        action: 'replication.events',
        resourcePrefix: `replication:${fromDist}`,
        limit: 100,
      });
      const details = audited.map((event) => JSON.parse(String(event.detail)) as Record<string, number>);
      expect(audited.every((event) => event.result === 'success')).toBe(true);
      expect(details.reduce((sum, d) => sum + (d.accepted ?? 0), 0)).toBe(1);
      expect(details.reduce((sum, d) => sum + (d.ignored ?? 0), 0)).toBeGreaterThanOrEqual(
        pushed.blobs.length,
      );
    },
    TIMEOUT,
  );

  it(
    'refuses events without the proof of the secret, and answers what it took',
    async () => {
      const body = cloudEvent('team/app', 'v9');
      const refusals: [number, Record<string, string>][] = [
        [fromCentral, {}],
        [fromCentral, { 'x-berth-signature': sign(body, 'another-secret-entirely') }],
        [fromCentral, { authorization: 'Bearer another-secret-entirely' }],
        [fromCentral, { authorization: `Bearer ${DIST_SECRET}` }],
        // The right HMAC over another body.
        [fromCentral, { 'x-berth-signature': sign(cloudEvent('team/app', 'v8')) }],
      ];
      for (const [id, headers] of refusals) {
        const res = await post(id, body, headers);
        expect(res.status, JSON.stringify(headers)).toBe(401);
        expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('UNAUTHORIZED');
      }
      expect((await post(987_654, body, { 'x-berth-signature': sign(body) })).status).toBe(404);

      // Signed, but not a format it knows, or not JSON: 400 with the reason.
      for (const bad of ['{"hello":"world"}', 'not json', '{"events":[{"action":"push"}]}']) {
        const res = await post(fromCentral, bad, { 'x-berth-signature': sign(bad) });
        expect(res.status, bad).toBe(400);
        expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe(
          'INVALID_REQUEST',
        );
      }

      // Outside the filters: taken, nothing to do.
      const other = cloudEvent('other/app', 'v1');
      const ignored = await post(fromCentral, other, { 'x-berth-signature': sign(other) });
      expect(ignored.status).toBe(202);
      expect(await ignored.json()).toEqual({ accepted: 0, ignored: 1 });

      // Harbor's payload with the bearer secret (Harbor sends a static Authorization header).
      const harbor = JSON.stringify({
        type: 'PUSH_ARTIFACT',
        occur_at: Math.floor(Date.now() / 1000),
        operator: 'admin',
        event_data: {
          resources: [{ tag: 'v2', digest: `sha256:${'a'.repeat(64)}`, resource_url: 'h/team/app:v2' }],
          repository: { name: 'app', namespace: 'team', repo_full_name: 'team/app', repo_type: 'private' },
        },
      });
      const taken = await fetch(`${branch.url}/api/v1/replication/policies/${fromCentral}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${CENTRAL_SECRET}` },
        body: harbor,
      });
      expect(taken.status).toBe(202);
      expect(await taken.json()).toEqual({ accepted: 1, ignored: 0 });
    },
    TIMEOUT,
  );

  it(
    'takes events only for event-triggered pull policies with a secret',
    async () => {
      const refused = await api('POST', '/replication/policies', {
        name: 'no-secret',
        registry: 'central',
        direction: 'pull',
        repositories: 'team/**',
        trigger: 'event',
      });
      expect(refused.status).toBe(400);
      expect(JSON.stringify(refused.json)).toContain('eventSecret');
      const manual = await api('POST', '/replication/policies', {
        name: 'manual-with-secret',
        registry: 'central',
        direction: 'pull',
        repositories: 'team/**',
        trigger: 'manual',
        eventSecret: CENTRAL_SECRET,
      });
      expect(manual.status).toBe(201);
      const body = cloudEvent('team/app', 'v1');
      expect((await post(manual.json.id, body, { 'x-berth-signature': sign(body) })).status).toBe(409);
      // Removing the secret: events are refused as unproven.
      expect(
        (await api('PATCH', `/replication/policies/${manual.json.id}`, { eventSecret: null })).status,
      ).toBe(200);
      expect((await post(manual.json.id, body, { 'x-berth-signature': sign(body) })).status).toBe(401);
    },
    TIMEOUT,
  );
});
