// Replication policies between real registries on loopback: a central Berth (the real `berth serve`, token auth,
// driven only through /api/v1) pulls a cosign-signed multi-arch index with an oras SBOM from CNCF Distribution
// 2.8.2, pushes it to a second Berth (token auth) and to Distribution with htpasswd, replicates pushes (and,
// when asked, deletes) as they happen, reports an immutable tag on the target, survives a target killed
// mid-execution through a retry, and never shows a remote password in an answer, a log line or its database.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/replication/index.js';
import { type PrivateRegistry, startPrivateRegistry } from '../e2e/private-registry.js';
import { type ChildBerth, startChildBerth } from '../helpers/child-server.js';
import { privateHome, requireGoTools } from '../helpers/go-tools.js';
import { type Distribution, requireDistribution, startDistribution } from './distribution.js';
import { RestartableDistribution } from './restartable-distribution.js';
import { pushSignedIndexWithSbom } from './signed-index.js';
import { expectSameManifest, type PushedIndex, pushImage } from './support.js';

const TIMEOUT = 300_000;
const tools = requireGoTools(['cosign', 'oras'], 'replication policy tests (cosign signs, oras attaches)');
const distribution = requireDistribution('replication policy tests', true);
const ADMIN = { username: 'admin', password: 'centre-admin-password-1' };
/** Passwords the centre keeps for its remotes: distinctive, so a leak anywhere is found by a plain search. */
const DIST_BASIC = { username: 'replicator', password: 'dist-basic-secret-7f3a9e' };
const BRANCH_LOGIN = { username: 'replicator', password: 'branch-login-secret-c41d8b' };
const SECRETS = [DIST_BASIC.password, BRANCH_LOGIN.password];

interface Execution {
  id: number;
  trigger: string;
  status: string;
  progress: {
    total: number;
    done: number;
    succeeded: number;
    failed: number;
    immutable: number;
    bytes: number;
  };
  tasks?: {
    sourceRepository: string;
    sourceReference: string;
    targetRepository: string;
    status: string;
    error: string | null;
  }[];
}

describe.skipIf(!tools || !distribution)('replication policies between real registries', () => {
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  let upstream: Distribution;
  let basicDist: Distribution;
  let flaky: RestartableDistribution;
  let centre: ChildBerth;
  let branch: PrivateRegistry;
  const clients = {} as Record<'upstream' | 'basicDist' | 'centre' | 'branch' | 'flaky', RegistryClient>;
  /** Every /api/v1 answer the centre gave, for the credentials check. */
  const answers: string[] = [];
  let artifact: PushedIndex;
  let signatureTag: string;
  let sbom: string;

  // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field, each checked by an assertion
  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(new URL(`/api/v1${path}`, centre.url), {
      method,
      headers: {
        authorization: `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    answers.push(text);
    return { status: res.status, json: text ? JSON.parse(text) : null };
  }

  async function createPolicy(body: Record<string, unknown>): Promise<number> {
    const { status, json } = await api('POST', '/replication/policies', body);
    expect(status, JSON.stringify(json)).toBe(201);
    return json.id as number;
  }

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async function execution(policy: number, id: number): Promise<Execution> {
    const { status, json } = await api('GET', `/replication/policies/${policy}/executions/${id}`);
    expect(status, JSON.stringify(json)).toBe(200);
    return json as Execution;
  }

  /** Waits for an execution to end; returns it with its tasks. */
  async function ended(policy: number, id: number): Promise<Execution> {
    return waitFor(`execution ${id}`, async () => {
      const found = await execution(policy, id);
      return found.status === 'running' ? undefined : found;
    });
  }

  async function runPolicy(policy: number): Promise<Execution> {
    const { status, json } = await api('POST', `/replication/policies/${policy}/executions`);
    expect(status, JSON.stringify(json)).toBe(202);
    return ended(policy, json.id);
  }

  /** Creates a manual policy, runs it and expects the execution to succeed; returns the execution. */
  async function runNewPolicy(body: Record<string, unknown>): Promise<Execution> {
    const done = await runPolicy(await createPolicy({ ...body, trigger: 'manual' }));
    expect(done.status, JSON.stringify(done)).toBe('succeeded');
    return done;
  }

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'berth-replication-policies-'));
    env = {
      ...(await privateHome(join(tmp, 'home'))),
      COSIGN_PASSWORD: 'replication test key',
      TUF_MIRROR: 'http://127.0.0.1:9',
    };
    [upstream, basicDist, flaky, branch, centre] = await Promise.all([
      startDistribution(),
      startDistribution({ htpasswd: DIST_BASIC }),
      RestartableDistribution.start(),
      startPrivateRegistry('branch'),
      startChildBerth(join(tmp, 'centre'), {
        env: {
          BERTH_AUTH_ENABLED: 'true',
          BERTH_ADMIN_PASSWORD: ADMIN.password,
          BERTH_REPLICATION_SECRET_KEY: `k1:${randomBytes(32).toString('base64')}`,
        },
      }),
    ]);
    // The branch's login for the centre: a maintainer of its project only.
    const accounts = branch.berth.berth.accounts;
    await accounts.createUser(BRANCH_LOGIN);
    await accounts.setMember('branch', { kind: 'user', name: BRANCH_LOGIN.username, role: 'maintainer' });
    await branch.berth.berth.scanning.changeSettings('branch', { scanOnPush: false });
    expect((await api('POST', '/projects', { name: 'team' })).status).toBe(201);
    expect((await api('PATCH', '/projects/team/scanning', { scanOnPush: false })).status).toBe(200);

    clients.upstream = new RegistryClient({ url: upstream.url, access: 'push' });
    clients.basicDist = new RegistryClient({ url: basicDist.url, credentials: DIST_BASIC });
    clients.flaky = new RegistryClient({ url: flaky.url });
    clients.centre = new RegistryClient({ url: centre.url, access: 'push', credentials: ADMIN });
    clients.branch = new RegistryClient({
      url: branch.berth.url,
      access: 'push',
      credentials: branch.member,
    });

    // At the upstream: the signed index with its SBOM, and a plain image under two tags.
    ({ artifact, signatureTag, sbom } = await pushSignedIndexWithSbom(
      clients.upstream,
      upstream.host,
      'app/multi',
      tools as { cosign: string; oras: string },
      env,
      tmp,
    ));
    const single = await pushImage(clients.upstream, 'app/single', { tag: 'v2' });
    await clients.upstream.putManifest('app/single', 'latest', {
      bytes: single.manifest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
    });

    for (const [name, url, login] of [
      ['upstream', upstream.url, null],
      ['branch', branch.berth.url, BRANCH_LOGIN],
      ['dist-basic', basicDist.url, DIST_BASIC],
      ['flaky', flaky.url, null],
    ] as const) {
      const { status, json } = await api('POST', '/registries', {
        name,
        url,
        ...(login && { username: login.username, password: login.password }),
      });
      expect(status, JSON.stringify(json)).toBe(201);
    }
  }, TIMEOUT);

  afterAll(async () => {
    await centre?.kill('SIGTERM');
    await Promise.all([upstream?.close(), basicDist?.close(), flaky?.close(), branch?.close()]);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const at = (client: RegistryClient, repository: string) => ({ client, repository });

  /** The signed index, its cosign signature tag and its SBOM are at `to` byte for byte as at `from`. */
  async function expectSignedIndexCopied(from: ReturnType<typeof at>, to: ReturnType<typeof at>) {
    await expectSameManifest(from, to, 'v1');
    await expectSameManifest(from, to, signatureTag);
    await expectSameManifest(from, to, sbom);
  }

  it(
    'pull policy Distribution → Berth: the signed multi-arch index and its SBOM referrer arrive intact',
    async () => {
      const done = await runNewPolicy({
        name: 'from-upstream',
        registry: 'upstream',
        direction: 'pull',
        repositories: 'app/**',
        rewrite: { from: 'app/**', to: 'team/app/**' },
      });
      // One task per tag; the signature and tag-schema tags travel as referrers, not as tasks.
      expect(
        done.tasks?.map((t) => `${t.sourceRepository}:${t.sourceReference}→${t.targetRepository}`).sort(),
      ).toEqual([
        'app/multi:v1→team/app/multi',
        'app/single:latest→team/app/single',
        'app/single:v2→team/app/single',
      ]);
      expect(done.progress).toMatchObject({ total: 3, done: 3, succeeded: 3, failed: 0 });
      expect(done.progress.bytes).toBeGreaterThan(0);
      const from = at(clients.upstream, 'app/multi');
      const to = at(clients.centre, 'team/app/multi');
      await expectSignedIndexCopied(from, to);
      const referrers = await clients.centre.referrers('team/app/multi', artifact.digest);
      expect(referrers.via).toBe('api');
      expect(referrers.manifests.map((m) => m.digest)).toContain(sbom);
    },
    TIMEOUT,
  );

  it(
    'push policy Berth → second Berth (token auth): tags filtered, names rewritten, referrers carried',
    async () => {
      const done = await runNewPolicy({
        name: 'to-branch',
        registry: 'branch',
        direction: 'push',
        repositories: 'team/app/**',
        tags: 'v*',
        rewrite: { from: 'team/**', to: 'branch/team/**' },
      });
      expect(
        done.tasks?.map((t) => `${t.sourceRepository}:${t.sourceReference}→${t.targetRepository}`).sort(),
      ).toEqual(['team/app/multi:v1→branch/team/app/multi', 'team/app/single:v2→branch/team/app/single']);
      const from = at(clients.centre, 'team/app/multi');
      const to = at(clients.branch, 'branch/team/app/multi');
      await expectSignedIndexCopied(from, to);
      expect(
        (await clients.branch.referrers('branch/team/app/multi', artifact.digest)).manifests.map(
          (m) => m.digest,
        ),
      ).toContain(sbom);
      // `latest` is not a v* tag.
      expect(await clients.branch.headManifest('branch/team/app/single', 'latest')).toBeUndefined();
      expect(await clients.branch.headManifest('branch/team/app/single', 'v2')).toBeDefined();
    },
    TIMEOUT,
  );

  it(
    'push policy Berth → Distribution with Basic auth under a fixed prefix; the SBOM lands in the tag-schema index',
    async () => {
      await runNewPolicy({
        name: 'to-dist',
        registry: 'dist-basic',
        direction: 'push',
        repositories: 'team/app/multi',
        rewrite: { from: '**', to: 'mirror/**' },
      });
      const from = at(clients.centre, 'team/app/multi');
      const to = at(clients.basicDist, 'mirror/team/app/multi');
      await expectSignedIndexCopied(from, to);
      const referrers = await clients.basicDist.referrers('mirror/team/app/multi', artifact.digest);
      expect(referrers.via).toBe('tag-schema');
      expect(referrers.manifests.map((m) => m.digest)).toContain(sbom);
    },
    TIMEOUT,
  );

  it(
    'event policy: a push at the centre appears at the branch; deletes follow only once asked',
    async () => {
      const policy = await createPolicy({
        name: 'events-to-branch',
        registry: 'branch',
        direction: 'push',
        repositories: 'team/events/**',
        rewrite: { from: 'team/**', to: 'branch/team/**' },
        trigger: 'event',
      });
      const atBranch = (tag: string) => clients.branch.headManifest('branch/team/events/app', tag);
      const e1 = await pushImage(clients.centre, 'team/events/app', { tag: 'e1' });
      const copied = await waitFor('e1 at the branch', () => atBranch('e1'));
      expect(copied.digest).toBe(e1.digest);

      // Deletion replication is off by default: e1 deleted here stays there, even once e2 (pushed after the
      // delete, so replicated after it) has arrived.
      expect(await clients.centre.deleteManifest('team/events/app', 'e1')).toBe(true);
      const e2 = await pushImage(clients.centre, 'team/events/app', { tag: 'e2' });
      expect((await waitFor('e2 at the branch', () => atBranch('e2'))).digest).toBe(e2.digest);
      expect((await atBranch('e1'))?.digest).toBe(e1.digest);

      expect((await api('PATCH', `/replication/policies/${policy}`, { replicateDeletes: true })).status).toBe(
        200,
      );
      expect(await clients.centre.deleteManifest('team/events/app', 'e2')).toBe(true);
      await waitFor('e2 gone from the branch', async () => ((await atBranch('e2')) ? undefined : true));

      const { json } = await api('GET', `/replication/policies/${policy}/executions`);
      const executions = json.items as Execution[];
      expect(executions.length).toBeGreaterThanOrEqual(3);
      expect(executions.every((e) => e.trigger === 'event')).toBe(true);
    },
    TIMEOUT,
  );

  it(
    'an immutable tag on the target is reported as such, not retried, and not moved',
    async () => {
      await branch.berth.berth.lifecycle.addRule('branch', {
        repositoryPattern: 'branch/team/app/**',
        tagPattern: 'v*',
      });
      const before = await clients.branch.headManifest('branch/team/app/single', 'v2');
      // v2 moves at the centre; the branch refuses to move it.
      const moved = await pushImage(clients.centre, 'team/app/single', { tag: 'v2' });
      const { json } = await api('GET', '/replication/policies');
      const policy = (json.items as { id: number; name: string }[]).find((p) => p.name === 'to-branch')
        ?.id as number;
      const done = await runPolicy(policy);
      expect(done.status, JSON.stringify(done)).toBe('succeeded');
      expect(done.progress).toMatchObject({ failed: 0, immutable: 1 });
      const refused = done.tasks?.find((t) => t.sourceRepository === 'team/app/single');
      expect(refused?.status).toBe('immutable');
      expect(refused?.error).toMatch(/^immutable on target/);
      expect((await clients.branch.headManifest('branch/team/app/single', 'v2'))?.digest).toBe(
        before?.digest,
      );
      expect(before?.digest).not.toBe(moved.digest);
    },
    TIMEOUT,
  );

  it(
    'a target killed mid-execution: the execution fails, the retry completes with nothing missing',
    async () => {
      const names = ['b0', 'b1', 'b2', 'b3', 'b4', 'b5'].map((n) => `team/bulk/${n}`);
      for (const name of names) {
        await pushImage(clients.centre, name, { tag: 'v1', layers: [randomBytes(512 * 1024)] });
      }
      // 256 KiB/s for the whole execution: 3 MiB take at least 10 s, so it cannot be over when the first
      // image is.
      const policy = await createPolicy({
        name: 'to-flaky',
        registry: 'flaky',
        direction: 'push',
        repositories: 'team/bulk/**',
        trigger: 'manual',
        bytesPerSecond: 256 * 1024,
      });
      const started = await api('POST', `/replication/policies/${policy}/executions`);
      expect(started.status).toBe(202);
      const id = started.json.id as number;
      await waitFor('the first image copied', async () => {
        const now = await execution(policy, id);
        return now.progress && now.progress.done >= 1 ? true : undefined;
      });
      await flaky.kill();
      const failed = await ended(policy, id);
      expect(failed.status).toBe('failed');
      expect(failed.progress.failed).toBeGreaterThan(0);
      expect(failed.progress.succeeded).toBeLessThan(names.length);

      await flaky.up();
      const retry = await api('POST', `/replication/policies/${policy}/executions/${id}/retry`);
      expect(retry.status, JSON.stringify(retry.json)).toBe(202);
      const retried = await ended(policy, retry.json.id);
      expect(retried.status, JSON.stringify(retried)).toBe('succeeded');
      expect(retried.progress.total).toBe(failed.progress.failed);
      for (const name of names)
        await expectSameManifest(at(clients.centre, name), at(clients.flaky, name), 'v1');
    },
    TIMEOUT,
  );

  it(
    'remote passwords never appear in API answers, log lines or the database; test connection works',
    async () => {
      const ok = await api('POST', '/registries/branch/test');
      expect(ok.json).toMatchObject({ ok: true });
      expect((await api('POST', '/registries/dist-basic/test')).json).toMatchObject({ ok: true });
      const listed = await api('GET', '/registries');
      for (const registry of listed.json.items as Record<string, unknown>[]) {
        expect(registry).not.toHaveProperty('password');
      }
      expect(listed.json.items.find((r: { name: string }) => r.name === 'branch')).toMatchObject({
        username: BRANCH_LOGIN.username,
        hasPassword: true,
      });
      // A refused login is reported without the password it tried.
      const refused = await api('PATCH', '/registries/dist-basic', { password: 'not-the-password-x' });
      expect(refused.status).toBe(200);
      // A change names only what it changes: the username stays.
      expect(refused.json).toMatchObject({ username: DIST_BASIC.username, hasPassword: true });
      const check = await api('POST', '/registries/dist-basic/test');
      expect(check.json.ok).toBe(false);
      expect(check.json.error).toMatch(/401/);
      expect(JSON.stringify(check.json)).not.toContain('not-the-password-x');

      const logs = `${JSON.stringify(centre.logs())}\n${centre.stderr()}`;
      expect(centre.logs().length).toBeGreaterThan(50);
      const stored: Buffer[] = [];
      for (const file of await readdir(join(tmp, 'centre'), { recursive: true })) {
        stored.push(await readFile(join(tmp, 'centre', file)).catch(() => Buffer.alloc(0)));
      }
      for (const secret of SECRETS) {
        for (const answer of answers) expect(answer).not.toContain(secret);
        expect(logs).not.toContain(secret);
        for (const bytes of stored) expect(bytes.includes(secret)).toBe(false);
      }
    },
    TIMEOUT,
  );
});
