// The example in deploy/nginx.conf, as shipped, in front of two Berth nodes sharing PostgreSQL and storage:
// real skopeo pushes and pulls through it. Only the upstream addresses and the listen port are rewritten.
import type { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildBusyboxLayout,
  hashBlobs,
  type Layout,
  layoutDigest,
  missingTools,
  run,
} from '../fixtures/image.js';
import { type ChildBerth, startChildBerth } from '../helpers/child-server.js';
import { renderNginx, startNginx } from '../helpers/nginx.js';
import { freePort } from '../helpers/ports.js';
import { createTestDatabase, dropTestDatabase, postgresAvailable } from '../helpers/postgres.js';

const missing = missingTools(['nginx', 'skopeo', 'umoci', 'apt-get', 'dpkg'], 'nginx tests');
const TIMEOUT = 120_000;
describe.skipIf(missing.length > 0 || !postgresAvailable)('deploy/nginx.conf in front of two nodes', () => {
  let dir: string;
  let database: string;
  let nodes: ChildBerth[] = [];
  let nginx: ReturnType<typeof spawn> | undefined;
  let proxy: string;
  let busybox: Layout;

  beforeAll(async () => {
    busybox = await buildBusyboxLayout();
    dir = await mkdtemp(join(tmpdir(), 'berth-nginx-'));
    database = await createTestDatabase();
    const env = {
      BERTH_METADATA_URL: database,
      BERTH_STORAGE_ROOT: join(dir, 'shared-storage'),
      BERTH_LOG_LEVEL: 'warn',
    };
    nodes = await Promise.all(
      ['a', 'b'].map(async (name) => {
        await mkdir(join(dir, name));
        return startChildBerth(join(dir, name), { env });
      }),
    );
    const port = await freePort();
    const config = await renderNginx(
      dir,
      nodes.map((n) => n.port),
      port,
    );
    proxy = `127.0.0.1:${port}`;
    nginx = await startNginx(dir, config, `http://${proxy}/v2/`);
  }, TIMEOUT);

  afterAll(async () => {
    nginx?.kill('SIGTERM');
    await Promise.all(nodes.map((node) => node.kill('SIGTERM')));
    if (database) await dropTestDatabase(database);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args], { timeoutMs: 60_000 });

  it(
    'pushes and pulls a real image through the proxy, spread over both nodes',
    async () => {
      await skopeo(
        'copy',
        '--dest-tls-verify=false',
        `oci:${busybox.dir}:${busybox.tag}`,
        `docker://${proxy}/lb/busybox:1`,
      );
      const out = join(dir, 'pulled');
      await skopeo('copy', '--src-tls-verify=false', `docker://${proxy}/lb/busybox:1`, `oci:${out}:1`);
      expect(await layoutDigest(out, '1')).toBe(busybox.digest);
      const [pulled, original] = await Promise.all([hashBlobs(out), hashBlobs(busybox.dir)]);
      expect([...pulled.entries()].sort()).toEqual([...original.entries()].sort());
      // Both nodes served part of it: the proxy really balanced, and still the push was consistent.
      const served = nodes.map((node) => node.logs().filter((l) => l.msg === 'request').length);
      expect(
        served.every((count) => count > 0),
        `requests per node: ${served}`,
      ).toBe(true);
    },
    TIMEOUT,
  );

  it(
    'keeps serving when one node is killed',
    async () => {
      await nodes[0]?.kill('SIGKILL');
      for (let i = 0; i < 6; i++) {
        const { stdout } = await skopeo('inspect', '--tls-verify=false', `docker://${proxy}/lb/busybox:1`);
        expect((JSON.parse(stdout) as { Digest: string }).Digest).toBe(busybox.digest);
      }
    },
    TIMEOUT,
  );
});
