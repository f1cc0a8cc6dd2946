// End to end: a project owner turns on signature enforcement with two `berth` commands; skopeo pushes an
// image, a deploy robot's skopeo pull is refused with the rule, cosign signs the image with the CI's key, and
// the same pull succeeds. (Debian's skopeo 1.9 has sigstore signing compiled out, so cosign signs.)
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildBusyboxLayout,
  type Layout,
  layoutDigest,
  missingTools,
  RunError,
  run,
} from '../fixtures/image.js';
import { runCli } from '../helpers/cli.js';
import { privateHome, requireGoTools } from '../helpers/go-tools.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

const missing = missingTools(['skopeo', 'umoci', 'apt-get', 'dpkg'], 'signature e2e tests');
const go = missing.length > 0 ? null : requireGoTools(['cosign'], 'signature e2e tests');

const TIMEOUT = 180_000;
const ADMIN_PASSWORD = 'e2e signatures admin';
const PASSPHRASE = 'ci key passphrase';

describe.skipIf(!go)('signature enforcement end to end (skopeo, cosign, berth CLI)', () => {
  let server: TestBerth;
  let busybox: Layout;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let robotCreds: string;
  let cliEnv: Record<string, string>;

  const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args], { timeoutMs: 60_000 });
  const berth = (...args: string[]) => runCli(args, { env: cliEnv });
  const pullAsRobot = (tag: string) =>
    skopeo(
      'copy',
      '--src-tls-verify=false',
      '--src-creds',
      robotCreds,
      `docker://${server.host}/team/app:1`,
      `oci:${join(dir, 'pulled')}:${tag}`,
    );

  beforeAll(async () => {
    busybox = await buildBusyboxLayout();
    dir = await mkdtemp(join(tmpdir(), 'berth-e2e-signatures-'));
    env = { ...(await privateHome(join(dir, 'home'))), COSIGN_PASSWORD: PASSPHRASE };
    server = await startBerth({ config: { 'auth.enabled': true } });
    await server.berth.accounts.setPassword('admin', ADMIN_PASSWORD);
    await server.berth.accounts.createProject({ name: 'team' });
    const { secret } = await server.berth.accounts.createRobot({
      name: 'deploy',
      permissions: [{ project: 'team', actions: ['pull'] }],
      createdBy: 'admin',
    });
    robotCreds = `robot$deploy:${secret}`;
    cliEnv = { BERTH_SERVER: server.url, BERTH_USER: 'admin', BERTH_PASSWORD: ADMIN_PASSWORD };
    await mkdir(join(dir, 'ci'));
    await run(go?.cosign as string, ['generate-key-pair'], { env, cwd: join(dir, 'ci') });
    await run(go?.cosign as string, ['login', server.host, '-u', 'admin', '-p', ADMIN_PASSWORD], { env });
  }, TIMEOUT);

  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(
    'push, pull refused under enforce, sign, pull succeeds',
    async () => {
      await skopeo(
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        `admin:${ADMIN_PASSWORD}`,
        `oci:${busybox.dir}:${busybox.tag}`,
        `docker://${server.host}/team/app:1`,
      );
      const digest = await layoutDigest(busybox.dir, busybox.tag);

      // The two commands of the README.
      const added = await berth(
        'project',
        'trust',
        'add-key',
        'team',
        '--name',
        'ci',
        '--file',
        join(dir, 'ci', 'cosign.pub'),
      );
      expect(added.stderr).toBe('');
      expect(added.stdout).toMatch(/^team now trusts key \d+ 'ci' \(SHA256:[0-9a-f]{64}\)\n$/);
      const enforced = await berth('project', 'signatures', 'team', '--require', 'enforce');
      expect(enforced.stdout).toBe(
        'team: signatures.required=enforce for every repository: pulls of artifacts without a signature from a trusted key are refused\n',
      );

      const refused = await pullAsRobot('refused').catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(RunError);
      expect((refused as RunError).stderr).toContain(
        'project team requires signatures (policy signatures.required=enforce): no signature from a trusted key; the artifact is not signed',
      );
      const before = await berth('artifact', 'show', 'team/app:1');
      expect(before.stdout).toContain(`artifact:   team/app@${digest}`);
      expect(before.stdout).toContain('signature:  unsigned');
      expect(before.stdout).toContain('pull:       REFUSED: project team requires signatures');

      await run(
        go?.cosign as string,
        [
          'sign',
          '--key',
          join(dir, 'ci', 'cosign.key'),
          '--tlog-upload=false',
          '--allow-http-registry',
          '--yes',
          `${server.host}/team/app@${digest}`,
        ],
        { env, timeoutMs: 60_000 },
      );

      await pullAsRobot('pulled');
      expect(await layoutDigest(join(dir, 'pulled'), 'pulled')).toBe(digest);
      const after = await berth('artifact', 'show', 'team/app:1');
      expect(after.stdout).toContain('signature:  verified (signed by ci)');
      expect(after.stdout).toContain('pull:       pullable: signed by ci');
      const listed = await berth('project', 'trust', 'list', 'team');
      expect(listed.stdout).toMatch(/^team: signatures.required=enforce for every repository/);
      expect(listed.stdout).toMatch(/\n\d+\s+key\s+ci\s+SHA256:[0-9a-f]{64}/);
    },
    TIMEOUT,
  );
});
