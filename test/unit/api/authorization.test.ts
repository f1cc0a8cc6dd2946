// Every /api/v1 endpoint × anonymous / ordinary user / project administrator / robot / system administrator,
// with the exact status each gets, and the audit event each mutation leaves (refusals included).
import { createHash, createHmac, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDigest } from '../../../src/registry/index.js';
import { pushConfigOnlyImage } from '../../helpers/registry-core.js';
import { ADMIN_PASSWORD, CALLERS, type Caller, type Harness, PASSWORD, startHarness } from './api-harness.js';

interface Case {
  /** `METHOD /api/v1/path/{param}` as registered. */
  route: string;
  label?: string;
  /** Makes what the request needs (fresh per caller, so callers do not disturb each other). */
  prepare(
    h: Harness,
    caller: Caller,
  ): Promise<{ url: string; body?: unknown; headers?: Record<string, string> }>;
  expect: Record<Caller, number>;
  /** The audit action a mutation records. */
  audit?: string;
  /**
   * Called by another registry proving a secret, not by an account: the caller's credentials are not looked at
   * (audited as anonymous), and a refusal carries no challenge.
   */
  remote?: boolean;
}

const LOGIN: Record<Caller, string> = {
  anonymous: 'anonymous',
  user: 'alice',
  projectAdmin: 'padmin',
  robot: 'robot$ci',
  systemAdmin: 'admin',
};

/** The caller rows the matrix repeats: who is refused (401 anonymous, 403 the others) and who gets `status`. */
const systemAdmins = (status: number): Record<Caller, number> => ({
  anonymous: 401,
  user: 403,
  projectAdmin: 403,
  robot: 403,
  systemAdmin: status,
});
const projectAdmins = (status: number): Record<Caller, number> => ({
  anonymous: 401,
  user: 403,
  projectAdmin: status,
  robot: 403,
  systemAdmin: status,
});
/** The project's members with a role or a robot permission on it (alice is not one). */
const projectMembers = (status: number): Record<Caller, number> => ({
  anonymous: 401,
  user: 403,
  projectAdmin: status,
  robot: status,
  systemAdmin: status,
});
const signedIn = (status: number): Record<Caller, number> => ({
  anonymous: 401,
  user: status,
  projectAdmin: status,
  robot: status,
  systemAdmin: status,
});
const everyone = (status: number): Record<Caller, number> => ({
  anonymous: status,
  user: status,
  projectAdmin: status,
  robot: status,
  systemAdmin: status,
});

const fixed = (url: string, body?: unknown) => async () => ({ url, body });
/** A fixed URL, once `setup` has made what it names. */
const after = (setup: (h: Harness) => Promise<unknown>, url: string) => async (h: Harness) => {
  await setup(h);
  return { url };
};
const suffix = (caller: Caller) => caller.toLowerCase();

async function freshRobot(h: Harness, name: string): Promise<string> {
  await h.accounts.createRobot({
    name,
    permissions: [{ project: 'team', actions: ['pull'] }],
    createdBy: 'admin',
  });
  return name;
}

/** carol, a single sign-on user (as a provider's first login makes her), with a CLI secret. */
async function oidcUserWithSecret(h: Harness): Promise<void> {
  const profile = {
    issuer: 'https://idp.test',
    subject: 'carol-sub',
    username: 'carol',
    email: null,
    groups: [],
  };
  await h.accounts.signInWithOidc(profile, '');
  await h.accounts.createCliSecret('carol');
}

/** Waits for the retention runs of `team` to end, so that the next one may start. */
async function settleRetention(h: Harness): Promise<void> {
  for (const run of await h.retention.runs('team', { limit: 100 })) await h.runner.wait(run.id);
}

/** Waits for the garbage collection runs to end, so that the next one may start. */
async function settleGc(h: Harness): Promise<void> {
  for (const run of await h.runner.runs.list('gc', { limit: 100 })) await h.runner.wait(run.id);
}

/** A webhook endpoint of the project (or, with null, system-wide) to read, change or remove. */
async function freshWebhook(h: Harness, project: string | null): Promise<number> {
  const endpoint = await h.webhooks.create(
    { project },
    {
      name: 'fresh',
      url: 'http://127.0.0.1:9/hook',
      eventTypes: ['push'],
      format: 'cloudevents',
      enabled: true,
    },
    'admin',
  );
  return endpoint.id;
}

/** A remote registry (nothing listens there) and a push policy of `team/none` to it, named for the caller. */
async function freshReplication(h: Harness, caller: Caller): Promise<{ registry: string; policy: number }> {
  const registry = `remote-${suffix(caller)}-${Math.random().toString(36).slice(2, 8)}`;
  await h.replication.createRegistry(
    { name: registry, url: 'http://127.0.0.1:9', username: 'u', password: 'remote secret' },
    'admin',
  );
  const policy = await h.replication.createPolicy(
    { name: `p-${registry}`, registry, direction: 'push', repositories: 'team/none', trigger: 'manual' },
    'admin',
  );
  return { registry, policy: policy.id };
}

const EVENT_SECRET = 'authz-matrix-event-secret';
/** A push at the remote, outside the policy's filters (nothing runs). */
const REMOTE_EVENT = JSON.stringify({
  specversion: '1.0',
  id: 'e1',
  source: '/projects/elsewhere',
  type: 'io.berth.artifact.pushed',
  data: { repository: 'elsewhere/app', tag: 'v1' },
});

/** An event-triggered pull policy of `team/none` from a fresh remote registry, with EVENT_SECRET. */
async function eventPolicy(h: Harness, caller: Caller): Promise<number> {
  const { registry } = await freshReplication(h, caller);
  const policy = await h.replication.createPolicy(
    {
      name: `events-${registry}`,
      registry,
      direction: 'pull',
      repositories: 'team/none',
      trigger: 'event',
      eventSecret: EVENT_SECRET,
    },
    'admin',
  );
  return policy.id;
}

/** An ended execution of a fresh policy with one failed task to retry. */
async function failedExecution(h: Harness, caller: Caller): Promise<{ policy: number; execution: number }> {
  const { policy } = await freshReplication(h, caller);
  const run = await h.replication.run(policy, 'admin');
  await h.runner.wait(run.id);
  const task = { sourceRepository: 'team/none', sourceReference: 'v1', targetRepository: 'team/none' };
  await h.replication.store.addTasks(run.id, policy, [{ operation: 'copy', ...task }]);
  const [added] = await h.replication.store.tasks(run.id);
  await h.replication.store.taskFinished(added?.id as number, { status: 'failed', error: 'test' });
  return { policy, execution: run.id };
}

/** An endpoint with one (queued, never sent: the deliverer is not started) delivery. */
async function freshDelivery(h: Harness, project: string | null): Promise<{ id: number; delivery: number }> {
  const id = await freshWebhook(h, project);
  await h.webhooks.store.enqueue([
    { endpointId: id, eventId: 'e1', eventType: 'push', body: '{}', contentType: 'application/json' },
  ]);
  const [delivery] = await h.webhooks.store.deliveries(id, { limit: 1 });
  return { id, delivery: delivery?.id ?? 0 };
}

/** Waits for the integrity scrub runs to end, so that the next one may start. */
async function settleScrub(h: Harness): Promise<void> {
  for (const run of await h.runner.runs.list('scrub', { limit: 100 })) await h.runner.wait(run.id);
}

const publicKeyPem = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
const ROOT_CA = readFileSync(new URL('../../fixtures/trust/notation-root-ca.pem', import.meta.url), 'utf8');

/** Pushes a minimal image (an image config, no layers) to team/app:image through the registry core. */
async function pushImage(h: Harness): Promise<string> {
  const existing = await h.registry.meta.manifestByTag('team/app', 'image');
  if (existing) return existing.digest;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { User: 'app' } }));
  return pushConfigOnlyImage(h.registry, 'team/app', 'image', config);
}

/** Pushes a small artifact (an empty config, no layers) to team/app:v1 through the registry core. */
async function pushArtifact(h: Harness): Promise<string> {
  const config = Buffer.from('{}');
  const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  const parsed = parseDigest(configDigest);
  await h.registry.store.write('uploads/authz-config', [config], 0);
  await h.registry.blobs.commit('team/app', 'uploads/authz-config', parsed, config.length);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.example.thing',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: configDigest, size: config.length },
      layers: [],
    }),
  );
  const { digest } = await h.registry.manifests.put(
    'team/app',
    'v1',
    manifest,
    'application/vnd.oci.image.manifest.v1+json',
  );
  return digest;
}

const CASES: Case[] = [
  {
    route: 'GET /api/v1/openapi.json',
    prepare: fixed('/api/v1/openapi.json'),
    expect: everyone(200),
  },
  {
    route: 'GET /api/v1/me',
    prepare: fixed('/api/v1/me'),
    expect: signedIn(200),
  },
  {
    route: 'POST /api/v1/users',
    prepare: async (_h, caller) => ({
      url: '/api/v1/users',
      body: { username: `new-${suffix(caller)}`, password: PASSWORD },
    }),
    expect: systemAdmins(201),
    audit: 'user.create',
  },
  {
    route: 'GET /api/v1/users',
    prepare: fixed('/api/v1/users'),
    expect: systemAdmins(200),
  },
  {
    route: 'GET /api/v1/users/{username}',
    label: "(another user's)",
    prepare: fixed('/api/v1/users/bob'),
    expect: systemAdmins(200),
  },
  {
    route: 'PATCH /api/v1/users/{username}',
    prepare: fixed('/api/v1/users/bob', { email: 'bob@example.com' }),
    expect: systemAdmins(200),
    audit: 'user.update',
  },
  {
    route: 'PUT /api/v1/users/{username}/password',
    label: "(another user's)",
    prepare: fixed('/api/v1/users/bob/password', { password: 'a new password' }),
    expect: systemAdmins(204),
    audit: 'user.password',
  },
  {
    route: 'DELETE /api/v1/users/{username}',
    prepare: async (h, caller) => {
      const username = `gone-${suffix(caller)}`;
      await h.accounts.createUser({ username, password: PASSWORD });
      return { url: `/api/v1/users/${username}` };
    },
    expect: systemAdmins(204),
    audit: 'user.delete',
  },
  {
    route: 'DELETE /api/v1/users/{username}',
    label: '(themself)',
    prepare: async (_h, caller) => ({ url: `/api/v1/users/${encodeURIComponent(LOGIN[caller])}` }),
    expect: systemAdmins(409),
    audit: 'user.delete',
  },
  {
    route: 'POST /api/v1/users/{username}/tokens',
    label: "(another user's)",
    prepare: fixed('/api/v1/users/bob/tokens', { name: 'ci' }),
    expect: systemAdmins(201),
    audit: 'token.create',
  },
  {
    route: 'GET /api/v1/users/{username}/tokens',
    label: "(another user's)",
    prepare: fixed('/api/v1/users/bob/tokens'),
    expect: systemAdmins(200),
  },
  {
    route: 'DELETE /api/v1/users/{username}/tokens/{id}',
    label: "(another user's)",
    async prepare(h, caller) {
      const { token } = await h.accounts.createAccessToken({ username: 'bob', name: `t-${suffix(caller)}` });
      return { url: `/api/v1/users/bob/tokens/${token.id}` };
    },
    expect: systemAdmins(204),
    audit: 'token.revoke',
  },
  {
    route: 'GET /api/v1/users/{username}/sessions',
    label: "(another user's)",
    prepare: fixed('/api/v1/users/bob/sessions'),
    expect: systemAdmins(200),
  },
  {
    route: 'DELETE /api/v1/users/{username}/sessions/{id}',
    label: "(another user's)",
    async prepare(h, caller) {
      const id = `session-of-bob-${suffix(caller)}`;
      await h.accounts.openSession({ id, subject: 'bob', expiresAt: Date.now() + 3_600_000 });
      return { url: `/api/v1/users/bob/sessions/${id}` };
    },
    expect: systemAdmins(204),
    audit: 'session.revoke',
  },
  {
    route: 'DELETE /api/v1/users/{username}/sessions',
    label: "(another user's: sign out everywhere)",
    prepare: fixed('/api/v1/users/bob/sessions'),
    expect: systemAdmins(200),
    audit: 'session.revokeAll',
  },
  {
    route: 'GET /api/v1/auth/oidc/login',
    label: '(single sign-on not configured)',
    prepare: fixed('/api/v1/auth/oidc/login?next=/projects'),
    expect: everyone(404),
  },
  {
    route: 'GET /api/v1/auth/oidc/callback',
    label: '(single sign-on not configured)',
    prepare: fixed('/api/v1/auth/oidc/callback?code=c&state=s'),
    expect: everyone(404),
  },
  {
    route: 'GET /api/v1/users/{username}/cli-secret',
    label: "(another OIDC user's)",
    prepare: after(oidcUserWithSecret, '/api/v1/users/carol/cli-secret'),
    expect: systemAdmins(200),
  },
  {
    route: 'POST /api/v1/users/{username}/cli-secret',
    label: "(another OIDC user's)",
    prepare: after(oidcUserWithSecret, '/api/v1/users/carol/cli-secret'),
    expect: systemAdmins(201),
    audit: 'cliSecret.create',
  },
  {
    route: 'DELETE /api/v1/users/{username}/cli-secret',
    label: "(another OIDC user's)",
    prepare: after(oidcUserWithSecret, '/api/v1/users/carol/cli-secret'),
    expect: systemAdmins(204),
    audit: 'cliSecret.revoke',
  },
  {
    route: 'POST /api/v1/projects',
    prepare: async (_h, caller) => ({ url: '/api/v1/projects', body: { name: `p-${suffix(caller)}` } }),
    expect: systemAdmins(201),
    audit: 'project.create',
  },
  {
    route: 'GET /api/v1/projects',
    prepare: fixed('/api/v1/projects'),
    expect: everyone(200),
  },
  {
    route: 'GET /api/v1/projects/{name}',
    label: '(private)',
    prepare: fixed('/api/v1/projects/team'),
    expect: projectMembers(200),
  },
  {
    route: 'GET /api/v1/projects/{name}',
    label: '(public)',
    prepare: fixed('/api/v1/projects/library'),
    expect: everyone(200),
  },
  {
    route: 'PATCH /api/v1/projects/{name}',
    prepare: fixed('/api/v1/projects/team', { public: false }),
    expect: projectAdmins(200),
    audit: 'project.update',
  },
  {
    route: 'DELETE /api/v1/projects/{name}',
    label: '(padmin administers it)',
    async prepare(h, caller) {
      const name = `gone-${suffix(caller)}`;
      await h.accounts.createProject({ name });
      await h.accounts.setMember(name, { kind: 'user', name: 'padmin', role: 'projectAdmin' });
      return { url: `/api/v1/projects/${name}` };
    },
    expect: systemAdmins(204),
    audit: 'project.delete',
  },
  {
    route: 'GET /api/v1/projects/{name}/members',
    prepare: fixed('/api/v1/projects/team/members'),
    expect: projectAdmins(200),
  },
  {
    route: 'GET /api/v1/projects/{name}/members/{kind}/{member}',
    prepare: fixed('/api/v1/projects/team/members/user/padmin'),
    expect: projectAdmins(200),
  },
  {
    route: 'PUT /api/v1/projects/{name}/members/{kind}/{member}',
    prepare: fixed('/api/v1/projects/team/members/user/bob', { role: 'guest' }),
    expect: projectAdmins(200),
    audit: 'member.set',
  },
  {
    route: 'DELETE /api/v1/projects/{name}/members/{kind}/{member}',
    async prepare(h, caller) {
      const group = `g-${suffix(caller)}`;
      await h.accounts.setMember('team', { kind: 'group', name: group, role: 'developer' });
      return { url: `/api/v1/projects/team/members/group/${group}` };
    },
    expect: projectAdmins(204),
    audit: 'member.remove',
  },
  {
    route: 'GET /api/v1/projects/{name}/quota',
    prepare: fixed('/api/v1/projects/team/quota'),
    expect: projectMembers(200),
  },
  {
    route: 'GET /api/v1/projects/{name}/quota',
    label: '(public: members only all the same)',
    prepare: fixed('/api/v1/projects/library/quota'),
    expect: systemAdmins(200),
  },
  {
    route: 'PUT /api/v1/projects/{name}/quota',
    prepare: fixed('/api/v1/projects/team/quota', { limitBytes: 1_000_000 }),
    expect: systemAdmins(200),
    audit: 'quota.set',
  },
  {
    route: 'GET /api/v1/usage',
    prepare: fixed('/api/v1/usage'),
    expect: systemAdmins(200),
  },
  {
    route: 'GET /api/v1/projects/{name}/immutability',
    prepare: fixed('/api/v1/projects/team/immutability'),
    expect: projectAdmins(200),
  },
  {
    route: 'POST /api/v1/projects/{name}/immutability',
    prepare: fixed('/api/v1/projects/team/immutability', { repositoryPattern: 'team/**', tagPattern: 'v*' }),
    expect: projectAdmins(201),
    audit: 'immutability.add',
  },
  {
    route: 'DELETE /api/v1/projects/{name}/immutability/{id}',
    async prepare(h) {
      const rule = await h.lifecycle.addRule('team', { repositoryPattern: 'team/app', tagPattern: 'latest' });
      return { url: `/api/v1/projects/team/immutability/${rule.id}` };
    },
    expect: projectAdmins(204),
    audit: 'immutability.remove',
  },
  {
    route: 'GET /api/v1/projects/{name}/retention',
    prepare: fixed('/api/v1/projects/team/retention'),
    expect: projectMembers(200),
  },
  {
    route: 'PUT /api/v1/projects/{name}/retention',
    prepare: fixed('/api/v1/projects/team/retention', {
      rules: [{ keep: 'latestPushed', count: 10 }],
      schedule: '0 3 * * *',
    }),
    expect: projectAdmins(200),
    audit: 'retention.set',
  },
  {
    route: 'POST /api/v1/projects/{name}/retention/runs',
    async prepare(h) {
      await settleRetention(h);
      return { url: '/api/v1/projects/team/retention/runs', body: { dryRun: true } };
    },
    expect: projectAdmins(202),
    audit: 'retention.run',
  },
  {
    route: 'GET /api/v1/projects/{name}/retention/runs',
    prepare: fixed('/api/v1/projects/team/retention/runs'),
    expect: projectMembers(200),
  },
  {
    route: 'GET /api/v1/projects/{name}/retention/runs/{id}',
    async prepare(h) {
      await settleRetention(h);
      const run = await h.retention.run('team', { dryRun: true, trigger: 'manual' });
      await h.runner.wait(run.id);
      return { url: `/api/v1/projects/team/retention/runs/${run.id}` };
    },
    expect: projectMembers(200),
  },
  {
    route: 'POST /api/v1/gc/runs',
    async prepare(h) {
      await settleGc(h);
      return { url: '/api/v1/gc/runs', body: { dryRun: true } };
    },
    expect: systemAdmins(202),
    audit: 'gc.run',
  },
  {
    route: 'GET /api/v1/gc/runs',
    prepare: fixed('/api/v1/gc/runs'),
    expect: systemAdmins(200),
  },
  {
    route: 'GET /api/v1/gc/runs/{id}',
    label: '(a finished dry run)',
    async prepare(h) {
      await settleGc(h);
      const started = await h.request('systemAdmin', 'POST', '/api/v1/gc/runs', { dryRun: true });
      expect(started.statusCode, started.body).toBe(202);
      const { id } = started.json() as { id: number };
      await h.runner.wait(id);
      return { url: `/api/v1/gc/runs/${id}` };
    },
    expect: systemAdmins(200),
  },
  {
    route: 'GET /api/v1/gc/runs/{id}',
    label: '(no such run)',
    prepare: fixed('/api/v1/gc/runs/999999'),
    expect: systemAdmins(404),
  },
  {
    route: 'GET /api/v1/gc/runs/{id}',
    label: "(a retention run's id)",
    async prepare(h) {
      await settleRetention(h);
      const run = await h.retention.run('team', { dryRun: true, trigger: 'manual' });
      await h.runner.wait(run.id);
      return { url: `/api/v1/gc/runs/${run.id}` };
    },
    expect: systemAdmins(404),
  },
  {
    route: 'GET /api/v1/projects/{name}/trust',
    prepare: fixed('/api/v1/projects/team/trust'),
    expect: projectMembers(200),
  },
  {
    route: 'POST /api/v1/projects/{name}/trust/keys',
    prepare: async (_h, caller) => ({
      url: '/api/v1/projects/team/trust/keys',
      body: { name: `key-${suffix(caller)}`, publicKeyPem: publicKeyPem() },
    }),
    expect: projectAdmins(201),
    audit: 'trust.key.add',
  },
  {
    route: 'DELETE /api/v1/projects/{name}/trust/keys/{id}',
    async prepare(h, caller) {
      const key = await h.signatures.addKey('team', {
        name: `gone-${suffix(caller)}`,
        publicKeyPem: publicKeyPem(),
      });
      return { url: `/api/v1/projects/team/trust/keys/${key.id}` };
    },
    expect: projectAdmins(204),
    audit: 'trust.key.remove',
  },
  {
    route: 'POST /api/v1/projects/{name}/trust/notation',
    prepare: async (_h, caller) => ({
      url: '/api/v1/projects/team/trust/notation',
      body: { name: `store-${suffix(caller)}`, rootCertificatesPem: [ROOT_CA], trustedIdentities: ['*'] },
    }),
    expect: projectAdmins(201),
    audit: 'trust.notation.add',
  },
  {
    route: 'DELETE /api/v1/projects/{name}/trust/notation/{id}',
    async prepare(h, caller) {
      const store = await h.signatures.addNotation('team', {
        name: `old-${suffix(caller)}`,
        rootCertificatesPem: [ROOT_CA],
        trustedIdentities: ['*'],
      });
      return { url: `/api/v1/projects/team/trust/notation/${store.id}` };
    },
    expect: projectAdmins(204),
    audit: 'trust.notation.remove',
  },
  {
    route: 'PUT /api/v1/projects/{name}/trust/policy',
    prepare: fixed('/api/v1/projects/team/trust/policy', { required: 'warn', repositories: ['team/**'] }),
    expect: projectAdmins(200),
    audit: 'signatures.policy',
  },
  {
    route: 'GET /api/v1/projects/{name}/repositories/{repo}/artifacts/{reference}',
    label: '(private project)',
    async prepare(h) {
      if (!(await h.registry.meta.manifestByTag('team/app', 'v1'))) await pushArtifact(h);
      return { url: '/api/v1/projects/team/repositories/app/artifacts/v1' };
    },
    expect: projectMembers(200),
  },
  {
    route: 'POST /api/v1/session',
    label: '(each caller logs in as itself; anonymous with a wrong password)',
    async prepare(h, caller) {
      const logins: Record<Caller, { username: string; password: string }> = {
        anonymous: { username: 'alice', password: 'wrong password' },
        user: { username: 'alice', password: PASSWORD },
        projectAdmin: { username: 'padmin', password: PASSWORD },
        robot: { username: 'robot$ci', password: h.robotSecret },
        systemAdmin: { username: 'admin', password: ADMIN_PASSWORD },
      };
      return { url: '/api/v1/session', body: logins[caller] };
    },
    expect: { anonymous: 401, user: 201, projectAdmin: 201, robot: 403, systemAdmin: 201 },
  },
  {
    route: 'GET /api/v1/session',
    label: '(Basic credentials are no console session: answered with none)',
    prepare: fixed('/api/v1/session'),
    expect: everyone(200),
  },
  {
    route: 'DELETE /api/v1/session',
    prepare: fixed('/api/v1/session'),
    expect: everyone(204),
  },
  {
    route: 'GET /api/v1/projects/{name}/access',
    label: '(private project)',
    prepare: fixed('/api/v1/projects/team/access'),
    expect: projectMembers(200),
  },
  {
    route: 'GET /api/v1/projects/{name}/repositories',
    label: '(private project)',
    prepare: fixed('/api/v1/projects/team/repositories'),
    expect: projectMembers(200),
  },
  {
    route: 'GET /api/v1/projects/{name}/repositories/{repo}/artifacts',
    label: '(private project)',
    prepare: after(pushImage, '/api/v1/projects/team/repositories/app/artifacts'),
    expect: projectMembers(200),
  },
  {
    route: 'GET /api/v1/projects/{name}/repositories/{repo}/artifacts/{reference}/manifest',
    label: '(private project)',
    prepare: after(pushImage, '/api/v1/projects/team/repositories/app/artifacts/image/manifest'),
    expect: projectMembers(200),
  },
  {
    route: 'GET /api/v1/projects/{name}/scanning',
    prepare: fixed('/api/v1/projects/team/scanning'),
    expect: projectMembers(200),
  },
  {
    route: 'PATCH /api/v1/projects/{name}/scanning',
    prepare: fixed('/api/v1/projects/team/scanning', { scanOnPush: true, blockSeverity: null }),
    expect: projectAdmins(200),
    audit: 'scanning.settings',
  },
  {
    route: 'GET /api/v1/projects/{name}/repositories/{repo}/artifacts/{reference}/vulnerabilities',
    label: '(private project)',
    prepare: after(pushImage, '/api/v1/projects/team/repositories/app/artifacts/image/vulnerabilities'),
    expect: projectMembers(200),
  },
  {
    route: 'POST /api/v1/projects/{name}/repositories/{repo}/artifacts/{reference}/scan',
    prepare: after(pushImage, '/api/v1/projects/team/repositories/app/artifacts/image/scan'),
    expect: projectMembers(202),
    audit: 'scanning.scan',
  },
  {
    route: 'GET /api/v1/projects/{name}/repositories/{repo}/artifacts/{reference}/sbom',
    label: '(not scanned: 404 once allowed)',
    async prepare(h) {
      if (!(await h.registry.meta.manifestByTag('team/app', 'v1'))) await pushArtifact(h);
      return { url: '/api/v1/projects/team/repositories/app/artifacts/v1/sbom' };
    },
    expect: projectMembers(404),
  },
  {
    route: 'GET /api/v1/scanner/database',
    prepare: fixed('/api/v1/scanner/database'),
    expect: signedIn(200),
  },
  {
    route: 'PUT /api/v1/scanner/database',
    label: '(a JSON body: 415 once allowed)',
    prepare: fixed('/api/v1/scanner/database', { records: [] }),
    expect: systemAdmins(415),
    audit: 'scanning.database',
  },
  {
    route: 'POST /api/v1/scanner/rescans',
    prepare: fixed('/api/v1/scanner/rescans'),
    expect: systemAdmins(202),
    audit: 'scanning.rescan',
  },
  {
    route: 'GET /api/v1/scanner/rescans',
    prepare: fixed('/api/v1/scanner/rescans'),
    expect: systemAdmins(200),
  },
  {
    route: 'GET /api/v1/scanner/rescans/{id}',
    label: '(unknown run: 404 once allowed)',
    prepare: fixed('/api/v1/scanner/rescans/999999'),
    expect: systemAdmins(404),
  },
  {
    route: 'POST /api/v1/robots',
    prepare: async (_h, caller) => ({
      url: '/api/v1/robots',
      body: { name: `r-${suffix(caller)}`, permissions: [{ project: 'team', actions: ['pull'] }] },
    }),
    expect: projectAdmins(201),
    audit: 'robot.create',
  },
  {
    route: 'GET /api/v1/robots',
    label: '(all)',
    prepare: fixed('/api/v1/robots'),
    expect: systemAdmins(200),
  },
  {
    route: 'GET /api/v1/robots',
    label: '(?project=team)',
    prepare: fixed('/api/v1/robots?project=team'),
    expect: projectAdmins(200),
  },
  {
    route: 'GET /api/v1/robots/{name}',
    label: '(another robot on team)',
    prepare: async (h, caller) => ({
      url: `/api/v1/robots/${await freshRobot(h, `read-${suffix(caller)}`)}`,
    }),
    expect: projectAdmins(200),
  },
  {
    route: 'PATCH /api/v1/robots/{name}',
    prepare: async (h, caller) => ({
      url: `/api/v1/robots/${await freshRobot(h, `patch-${suffix(caller)}`)}`,
      body: { disabled: true },
    }),
    expect: projectAdmins(200),
    audit: 'robot.update',
  },
  {
    route: 'DELETE /api/v1/robots/{name}',
    prepare: async (h, caller) => ({ url: `/api/v1/robots/${await freshRobot(h, `del-${suffix(caller)}`)}` }),
    expect: projectAdmins(204),
    audit: 'robot.delete',
  },
  {
    route: 'POST /api/v1/robots/{name}/secret',
    prepare: async (h, caller) => ({
      url: `/api/v1/robots/${await freshRobot(h, `rot-${suffix(caller)}`)}/secret`,
    }),
    expect: projectAdmins(200),
    audit: 'robot.secret',
  },
  {
    route: 'GET /api/v1/projects/{name}/webhooks',
    prepare: fixed('/api/v1/projects/team/webhooks'),
    expect: projectAdmins(200),
  },
  {
    route: 'POST /api/v1/projects/{name}/webhooks',
    prepare: fixed('/api/v1/projects/team/webhooks', {
      name: 'ci',
      url: 'http://127.0.0.1:9/hook',
      eventTypes: ['push'],
    }),
    expect: projectAdmins(201),
    audit: 'webhook.create',
  },
  {
    route: 'GET /api/v1/projects/{name}/webhooks/{id}',
    prepare: async (h) => ({ url: `/api/v1/projects/team/webhooks/${await freshWebhook(h, 'team')}` }),
    expect: projectAdmins(200),
  },
  {
    route: 'PATCH /api/v1/projects/{name}/webhooks/{id}',
    prepare: async (h) => ({
      url: `/api/v1/projects/team/webhooks/${await freshWebhook(h, 'team')}`,
      body: { enabled: false },
    }),
    expect: projectAdmins(200),
    audit: 'webhook.update',
  },
  {
    route: 'DELETE /api/v1/projects/{name}/webhooks/{id}',
    prepare: async (h) => ({ url: `/api/v1/projects/team/webhooks/${await freshWebhook(h, 'team')}` }),
    expect: projectAdmins(204),
    audit: 'webhook.delete',
  },
  {
    route: 'GET /api/v1/projects/{name}/webhooks/{id}/deliveries',
    prepare: async (h) => ({
      url: `/api/v1/projects/team/webhooks/${await freshWebhook(h, 'team')}/deliveries`,
    }),
    expect: projectAdmins(200),
  },
  {
    route: 'POST /api/v1/projects/{name}/webhooks/{id}/deliveries/{delivery}/redeliver',
    prepare: async (h) => {
      const { id, delivery } = await freshDelivery(h, 'team');
      return { url: `/api/v1/projects/team/webhooks/${id}/deliveries/${delivery}/redeliver` };
    },
    expect: projectAdmins(202),
    audit: 'webhook.redeliver',
  },
  {
    route: 'GET /api/v1/webhooks',
    prepare: fixed('/api/v1/webhooks'),
    expect: systemAdmins(200),
  },
  {
    route: 'POST /api/v1/webhooks',
    prepare: fixed('/api/v1/webhooks', {
      name: 'all',
      url: 'https://hooks.example/berth',
      eventTypes: ['push', 'gc'],
      format: 'slack',
    }),
    expect: systemAdmins(201),
    audit: 'webhook.create',
  },
  {
    route: 'GET /api/v1/webhooks/{id}',
    prepare: async (h) => ({ url: `/api/v1/webhooks/${await freshWebhook(h, null)}` }),
    expect: systemAdmins(200),
  },
  {
    route: 'PATCH /api/v1/webhooks/{id}',
    prepare: async (h) => ({
      url: `/api/v1/webhooks/${await freshWebhook(h, null)}`,
      body: { secret: 'a new secret of enough length' },
    }),
    expect: systemAdmins(200),
    audit: 'webhook.update',
  },
  {
    route: 'DELETE /api/v1/webhooks/{id}',
    prepare: async (h) => ({ url: `/api/v1/webhooks/${await freshWebhook(h, null)}` }),
    expect: systemAdmins(204),
    audit: 'webhook.delete',
  },
  {
    route: 'GET /api/v1/webhooks/{id}/deliveries',
    prepare: async (h) => ({ url: `/api/v1/webhooks/${await freshWebhook(h, null)}/deliveries` }),
    expect: systemAdmins(200),
  },
  {
    route: 'POST /api/v1/webhooks/{id}/deliveries/{delivery}/redeliver',
    prepare: async (h) => {
      const { id, delivery } = await freshDelivery(h, null);
      return { url: `/api/v1/webhooks/${id}/deliveries/${delivery}/redeliver` };
    },
    expect: systemAdmins(202),
    audit: 'webhook.redeliver',
  },
  {
    route: 'POST /api/v1/scrub/runs',
    prepare: async (h) => {
      await settleScrub(h);
      return { url: '/api/v1/scrub/runs', body: {} };
    },
    expect: systemAdmins(202),
    audit: 'scrub.run',
  },
  {
    route: 'GET /api/v1/scrub/runs',
    prepare: fixed('/api/v1/scrub/runs'),
    expect: systemAdmins(200),
  },
  {
    route: 'GET /api/v1/scrub/runs/{id}',
    prepare: async (h) => {
      await settleScrub(h);
      const run = await h.scrub.start({ quarantine: false });
      await h.runner.wait(run.id);
      return { url: `/api/v1/scrub/runs/${run.id}` };
    },
    expect: systemAdmins(200),
  },
  {
    route: 'GET /api/v1/scrub/quarantine',
    prepare: fixed('/api/v1/scrub/quarantine'),
    expect: systemAdmins(200),
  },
  {
    route: 'DELETE /api/v1/scrub/quarantine/{digest}',
    prepare: async (h, caller) => {
      const digest = `sha256:${createHash('sha256').update(`quarantined-${caller}`).digest('hex')}`;
      await h.scrub.quarantine().add(digest, 1, 'test');
      return { url: `/api/v1/scrub/quarantine/${digest}` };
    },
    expect: systemAdmins(204),
    audit: 'scrub.release',
  },
  {
    route: 'GET /api/v1/registries',
    prepare: fixed('/api/v1/registries'),
    expect: systemAdmins(200),
  },
  {
    route: 'POST /api/v1/registries',
    prepare: async (_h, caller) => ({
      url: '/api/v1/registries',
      body: { name: `new-${suffix(caller)}`, url: 'https://registry.example', password: 'p' },
    }),
    expect: systemAdmins(201),
    audit: 'replication.registry.create',
  },
  {
    route: 'GET /api/v1/registries/{name}',
    prepare: async (h, caller) => ({
      url: `/api/v1/registries/${(await freshReplication(h, caller)).registry}`,
    }),
    expect: systemAdmins(200),
  },
  {
    route: 'PATCH /api/v1/registries/{name}',
    prepare: async (h, caller) => ({
      url: `/api/v1/registries/${(await freshReplication(h, caller)).registry}`,
      body: { description: 'changed' },
    }),
    expect: systemAdmins(200),
    audit: 'replication.registry.update',
  },
  {
    route: 'DELETE /api/v1/registries/{name}',
    prepare: async (h, caller) => {
      const name = `gone-${suffix(caller)}`;
      await h.replication.createRegistry({ name, url: 'http://127.0.0.1:9' }, 'admin');
      return { url: `/api/v1/registries/${name}` };
    },
    expect: systemAdmins(204),
    audit: 'replication.registry.delete',
  },
  {
    route: 'POST /api/v1/registries/{name}/test',
    prepare: async (h, caller) => ({
      url: `/api/v1/registries/${(await freshReplication(h, caller)).registry}/test`,
    }),
    expect: systemAdmins(200),
  },
  {
    route: 'GET /api/v1/replication/policies',
    prepare: fixed('/api/v1/replication/policies'),
    expect: systemAdmins(200),
  },
  {
    route: 'POST /api/v1/replication/policies',
    prepare: async (h, caller) => {
      const { registry } = await freshReplication(h, caller);
      return {
        url: '/api/v1/replication/policies',
        body: {
          name: `new-${registry}`,
          registry,
          direction: 'pull',
          repositories: 'lib/**',
          trigger: 'manual',
        },
      };
    },
    expect: systemAdmins(201),
    audit: 'replication.policy.create',
  },
  {
    route: 'GET /api/v1/replication/policies/{id}',
    prepare: async (h, caller) => ({
      url: `/api/v1/replication/policies/${(await freshReplication(h, caller)).policy}`,
    }),
    expect: systemAdmins(200),
  },
  {
    route: 'PATCH /api/v1/replication/policies/{id}',
    prepare: async (h, caller) => ({
      url: `/api/v1/replication/policies/${(await freshReplication(h, caller)).policy}`,
      body: { tags: 'v*' },
    }),
    expect: systemAdmins(200),
    audit: 'replication.policy.update',
  },
  {
    route: 'DELETE /api/v1/replication/policies/{id}',
    prepare: async (h, caller) => ({
      url: `/api/v1/replication/policies/${(await freshReplication(h, caller)).policy}`,
    }),
    expect: systemAdmins(204),
    audit: 'replication.policy.delete',
  },
  {
    route: 'POST /api/v1/replication/policies/{id}/executions',
    prepare: async (h, caller) => ({
      url: `/api/v1/replication/policies/${(await freshReplication(h, caller)).policy}/executions`,
    }),
    expect: systemAdmins(202),
    audit: 'replication.run',
  },
  {
    route: 'GET /api/v1/replication/policies/{id}/executions',
    prepare: async (h, caller) => ({
      url: `/api/v1/replication/policies/${(await failedExecution(h, caller)).policy}/executions`,
    }),
    expect: systemAdmins(200),
  },
  {
    route: 'GET /api/v1/replication/policies/{id}/executions/{execution}',
    prepare: async (h, caller) => {
      const { policy, execution } = await failedExecution(h, caller);
      return { url: `/api/v1/replication/policies/${policy}/executions/${execution}` };
    },
    expect: systemAdmins(200),
  },
  {
    route: 'POST /api/v1/replication/policies/{id}/executions/{execution}/retry',
    prepare: async (h, caller) => {
      const { policy, execution } = await failedExecution(h, caller);
      return { url: `/api/v1/replication/policies/${policy}/executions/${execution}/retry` };
    },
    expect: systemAdmins(202),
    audit: 'replication.retry',
  },
  {
    route: 'POST /api/v1/replication/policies/{id}/events',
    label: '(without the policy secret: credentials are no proof)',
    remote: true,
    prepare: async (h, caller) => ({
      url: `/api/v1/replication/policies/${await eventPolicy(h, caller)}/events`,
      body: REMOTE_EVENT,
    }),
    expect: signedIn(401),
    audit: 'replication.events',
  },
  {
    route: 'POST /api/v1/replication/policies/{id}/events',
    label: '(signed with the policy secret)',
    remote: true,
    prepare: async (h, caller) => ({
      url: `/api/v1/replication/policies/${await eventPolicy(h, caller)}/events`,
      body: REMOTE_EVENT,
      headers: {
        'x-berth-signature': `sha256=${createHmac('sha256', EVENT_SECRET).update(REMOTE_EVENT).digest('hex')}`,
      },
    }),
    expect: everyone(202),
    audit: 'replication.events',
  },
  {
    route: 'GET /api/v1/audit',
    label: '(all)',
    prepare: fixed('/api/v1/audit'),
    expect: systemAdmins(200),
  },
  {
    route: 'GET /api/v1/audit',
    label: '(?project=team)',
    prepare: fixed('/api/v1/audit?project=team'),
    expect: projectAdmins(200),
  },
  {
    route: 'GET /api/v1/audit/export',
    label: '(all)',
    prepare: fixed('/api/v1/audit/export'),
    expect: systemAdmins(200),
  },
  {
    route: 'GET /api/v1/audit/export',
    label: '(?project=team)',
    prepare: fixed('/api/v1/audit/export?project=team'),
    expect: projectAdmins(200),
  },
  {
    route: 'GET /api/v1/audit/anomalies',
    prepare: fixed('/api/v1/audit/anomalies?kind=mass-pull'),
    expect: systemAdmins(200),
  },
  {
    route: 'GET /api/v1/audit/export',
    label: '(CSV, ?project=team)',
    prepare: fixed('/api/v1/audit/export?project=team&format=csv'),
    expect: projectAdmins(200),
  },
  {
    route: 'GET /api/v1/system/health',
    prepare: fixed('/api/v1/system/health'),
    expect: systemAdmins(200),
  },
];

describe('/api/v1 authorization matrix', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('covers every registered route', () => {
    expect(new Set(CASES.map((c) => c.route))).toEqual(new Set(h.routes));
  });

  for (const c of CASES) {
    describe(`${c.route}${c.label ? ` ${c.label}` : ''}`, () => {
      for (const caller of CALLERS) {
        const status = c.expect[caller];
        it(`${caller} → ${status}`, async () => {
          const { url, body, headers } = await c.prepare(h, caller);
          const before = h.audit.events.length;
          const method = c.route.split(' ')[0] as string;
          const response = await h.request(caller, method, url, body, headers);
          expect(response.statusCode, response.body).toBe(status);
          if (status === 401 && !c.remote) {
            expect(response.headers['www-authenticate']).toMatch(/^Basic realm="berth"/);
            expect(response.json().errors[0].code).toBe('UNAUTHORIZED');
          }
          if (status === 403) {
            const error = response.json().errors[0];
            expect(error.code).toBe('DENIED');
            expect(error.message).toMatch(/needs|cannot/);
          }
          if (c.audit) {
            expect(h.audit.events.length).toBe(before + 1);
            expect(h.audit.last()).toMatchObject({
              action: c.audit,
              actor: c.remote ? 'anonymous' : LOGIN[caller],
              actorKind:
                c.remote || caller === 'anonymous' ? 'anonymous' : caller === 'robot' ? 'robot' : 'user',
              result: status < 400 ? 'success' : 'failure',
              sourceIp: '127.0.0.1',
              userAgent: 'api-test',
            });
          } else {
            expect(h.audit.events.length).toBe(before);
          }
        });
      }
    });
  }
});
