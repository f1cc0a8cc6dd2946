// Issue 3 with real clients: skopeo (and podman, when installed) against a Berth with auth on. Credentials go
// in with --creds or an auth file; the clients do the Docker token flow themselves.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunError, requireTool, run } from '../fixtures/image.js';
import type { TestBerth } from '../helpers/server.js';
import {
  audit,
  type Cast,
  createCast,
  expectEvent,
  type Login,
  MT,
  PASSWORD,
  startAuthBerth,
  writeTinyLayout,
} from './support.js';

const hasSkopeo = requireTool('skopeo');
if (!hasSkopeo) console.warn('\n!!! SKIPPING auth client tests: skopeo is not installed !!!\n');
// podman only logs in here (no containers run): CI installs it, like skopeo.
const hasPodman = requireTool('podman');
if (!hasPodman) console.warn('\n!!! SKIPPING the podman login test: podman is not installed !!!\n');

const TIMEOUT = 60_000;

let berth: TestBerth;
let cast: Cast;
let tmp: string;
let layout: string;
let layoutDigest: string;
/** HOME and XDG_RUNTIME_DIR in a temp dir, so no auth file of the machine's user is ever read or written. */
let env: NodeJS.ProcessEnv;

const creds = (login: Login) => `${login.username}:${login.password}`;
const remote = (ref: string) => `docker://${berth.host}/${ref}`;
const local = () => `oci:${layout}:1.0`;

function skopeo(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('skopeo', ['--insecure-policy', ...args], { env, timeoutMs: 30_000 });
}

/** Runs it expecting failure; returns what the client printed. */
async function refused(command: Promise<unknown>): Promise<string> {
  const error = await command.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the client must fail').toBeInstanceOf(RunError);
  return (error as RunError).stderr;
}

async function inspectDigest(ref: string, ...flags: string[]): Promise<string> {
  const { stdout } = await skopeo('inspect', '--tls-verify=false', ...flags, remote(ref));
  return (JSON.parse(stdout) as { Digest: string }).Digest;
}

/** The digest Berth serves for a tag, asked as an administrator (not through the client under test). */
async function servedDigest(repoAndTag: string): Promise<string | null> {
  const [repo, tag] = repoAndTag.split(':') as [string, string];
  const res = await cast.seeder.request('HEAD', `/v2/${repo}/manifests/${tag}`, {
    headers: { accept: MT.manifest },
  });
  return res.status === 200 ? res.headers.get('docker-content-digest') : null;
}

describe.skipIf(!hasSkopeo)('real clients against a private project', () => {
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'berth-auth-clients-'));
    env = { ...process.env, HOME: tmp, XDG_RUNTIME_DIR: tmp, REGISTRY_AUTH_FILE: join(tmp, 'none.json') };
    layout = join(tmp, 'layout');
    layoutDigest = await writeTinyLayout(layout, '1.0');
    berth = await startAuthBerth();
    cast = await createCast(berth, { pub: true, priv: false });
  }, TIMEOUT);

  afterAll(async () => {
    await berth?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it(
    'skopeo --creds: a developer pushes, and it is audited as their push, with the client and source address',
    async () => {
      await skopeo(
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        creds(cast.members.developer),
        local(),
        remote('priv/img:1.0'),
      );
      expect(await servedDigest('priv/img:1.0')).toBe(layoutDigest);

      const pushes = await audit(berth, { actor: 'developer', action: 'push' });
      expectEvent(pushes, {
        actorKind: 'user',
        resource: 'priv/img:1.0',
        result: 'success',
        sourceIp: '127.0.0.1',
        userAgent: expect.stringMatching(/^skopeo\//),
      });
      expectEvent(await audit(berth, { actor: 'developer', action: 'token' }), {
        resource: 'repository:priv/img:pull,push',
        detail: 'repository:priv/img:pull,push',
      });
      expectEvent(await audit(berth, { actor: 'developer', action: 'login' }), { result: 'success' });
    },
    TIMEOUT,
  );

  it(
    'skopeo --authfile (base64 auth): a developer pushes, a guest inspects',
    async () => {
      const authfile = join(tmp, 'auth.json');
      const entry = (login: Login) => ({
        auths: { [berth.host]: { auth: Buffer.from(creds(login)).toString('base64') } },
      });
      await writeFile(authfile, JSON.stringify(entry(cast.members.developer)));
      await skopeo(
        'copy',
        '--dest-tls-verify=false',
        '--dest-authfile',
        authfile,
        local(),
        remote('priv/img:authfile'),
      );
      expect(await servedDigest('priv/img:authfile')).toBe(layoutDigest);

      await writeFile(authfile, JSON.stringify(entry(cast.members.guest)));
      expect(await inspectDigest('priv/img:authfile', '--authfile', authfile)).toBe(layoutDigest);
      const stderr = await refused(
        skopeo(
          'copy',
          '--dest-tls-verify=false',
          '--dest-authfile',
          authfile,
          local(),
          remote('priv/img:guest-authfile'),
        ),
      );
      expect(stderr).toMatch(/denied: guest may not push priv\/img/);
    },
    TIMEOUT,
  );

  it(
    "a guest's push is refused with a clear message, changes nothing, and is audited as a refused push",
    async () => {
      const stderr = await refused(
        skopeo(
          'copy',
          '--dest-tls-verify=false',
          '--dest-creds',
          creds(cast.members.guest),
          local(),
          remote('priv/img:guest'),
        ),
      );
      expect(stderr).toMatch(/denied/i);
      expect(stderr).toContain('guest may not push priv/img');
      expect(await servedDigest('priv/img:guest')).toBeNull();

      expectEvent(await audit(berth, { actor: 'guest', action: 'push' }), {
        // Refused at the first write: the blob upload (repository only), or the manifest when the blobs exist.
        resource: expect.stringMatching(/^priv\/img(:guest)?$/),
        result: 'failure',
        detail: 'HTTP 403',
        userAgent: expect.stringMatching(/^skopeo\//),
      });
      // The token it got granted pull only: asking for more was not an error.
      expectEvent(await audit(berth, { actor: 'guest', action: 'token' }), {
        resource: 'repository:priv/img:pull,push',
        detail: 'repository:priv/img:pull',
      });
    },
    TIMEOUT,
  );

  it(
    'the guest pulls (inspect and copy back to a layout); an outsider is denied; a wrong password is unauthorized',
    async () => {
      expect(await inspectDigest('priv/img:1.0', '--creds', creds(cast.members.guest))).toBe(layoutDigest);
      const out = join(tmp, 'pulled');
      await skopeo(
        'copy',
        '--src-tls-verify=false',
        '--src-creds',
        creds(cast.members.guest),
        remote('priv/img:1.0'),
        `oci:${out}:1.0`,
      );
      const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8'));
      expect(index.manifests[0].digest).toBe(layoutDigest);
      expectEvent(await audit(berth, { actor: 'guest', action: 'pull' }), {
        resource: 'priv/img:1.0',
        result: 'success',
      });

      const outsider = await refused(
        skopeo('inspect', '--tls-verify=false', '--creds', creds(cast.outsider), remote('priv/img:1.0')),
      );
      expect(outsider).toContain('denied: outsider may not pull priv/img');
      expectEvent(await audit(berth, { actor: 'outsider', action: 'pull' }), {
        resource: 'priv/img:1.0',
        result: 'failure',
      });

      const wrong = await refused(
        skopeo(
          'inspect',
          '--tls-verify=false',
          '--creds',
          'developer:not-the-password',
          remote('priv/img:1.0'),
        ),
      );
      expect(wrong).toMatch(/unauthorized: wrong username or password/);
      expectEvent(await audit(berth, { actor: 'developer', action: 'login' }), {
        result: 'failure',
        detail: 'wrong credentials',
      });
    },
    TIMEOUT,
  );

  it(
    'a robot account pushes with robot$<name> and its secret',
    async () => {
      expect(cast.robot.username).toBe('robot$ci');
      expect(cast.robot.password).toMatch(/^berth_/);
      await skopeo(
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        creds(cast.robot),
        local(),
        remote('priv/robot:1.0'),
      );
      expect(await servedDigest('priv/robot:1.0')).toBe(layoutDigest);
      expectEvent(await audit(berth, { actor: 'robot$ci', action: 'push' }), {
        actorKind: 'robot',
        resource: 'priv/robot:1.0',
        result: 'success',
      });
      // An expired robot's secret does not sign in.
      const stderr = await refused(
        skopeo(
          'copy',
          '--dest-tls-verify=false',
          '--dest-creds',
          creds(cast.expiredRobot),
          local(),
          remote('priv/robot:gone'),
        ),
      );
      expect(stderr).toMatch(/unauthorized/i);
      expect(await servedDigest('priv/robot:gone')).toBeNull();
    },
    TIMEOUT,
  );

  it(
    'anonymous pull of a public project works without credentials; of a private one it is unauthorized',
    async () => {
      await skopeo(
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        creds(cast.admin),
        local(),
        remote('pub/img:1.0'),
      );
      expect(await inspectDigest('pub/img:1.0', '--no-creds')).toBe(layoutDigest);
      const out = join(tmp, 'anonymous');
      await skopeo(
        'copy',
        '--src-tls-verify=false',
        '--src-no-creds',
        remote('pub/img:1.0'),
        `oci:${out}:1.0`,
      );
      expectEvent(await audit(berth, { actor: 'anonymous', action: 'pull' }), {
        actorKind: 'anonymous',
        resource: 'pub/img:1.0',
        result: 'success',
      });

      const stderr = await refused(
        skopeo('inspect', '--tls-verify=false', '--no-creds', remote('priv/img:1.0')),
      );
      expect(stderr).toMatch(/unauthorized/);
      // Nor may an anonymous client push to the public project.
      const push = await refused(
        skopeo('copy', '--dest-tls-verify=false', '--dest-no-creds', local(), remote('pub/img:anonymous')),
      );
      expect(push).toMatch(/unauthorized|authentication required/i);
      expect(await servedDigest('pub/img:anonymous')).toBeNull();
    },
    TIMEOUT,
  );

  describe.skipIf(!hasPodman)('podman', () => {
    it(
      'podman login succeeds with the right password and fails with a wrong one',
      async () => {
        const authfile = join(tmp, 'podman-auth.json');
        const podman = (...args: string[]) => run('podman', args, { env, timeoutMs: 30_000 });
        await podman(
          'login',
          '--tls-verify=false',
          '--authfile',
          authfile,
          '-u',
          'developer',
          '-p',
          PASSWORD,
          berth.host,
        );
        const stored = JSON.parse(await readFile(authfile, 'utf8'));
        expect(Buffer.from(stored.auths[berth.host].auth, 'base64').toString()).toBe(`developer:${PASSWORD}`);
        const stderr = await refused(
          podman(
            'login',
            '--tls-verify=false',
            '--authfile',
            join(tmp, 'podman-wrong.json'),
            '-u',
            'developer',
            '-p',
            'wrong-password',
            berth.host,
          ),
        );
        expect(stderr).toMatch(/unauthorized|invalid username\/password/i);
        expectEvent(await audit(berth, { actor: 'developer', action: 'login' }), {
          result: 'success',
          userAgent: expect.stringMatching(/podman|containers/i),
        });
      },
      TIMEOUT,
    );
  });
});
