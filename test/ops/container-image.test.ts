// deploy/image/build.sh: Berth's container image, built here without a daemon, then checked as a runtime would
// see it (its config: user, entrypoint, port, volume, health check) and run: its layers unpacked into a root
// filesystem and its entrypoint started there as its user with its environment, the way a container runtime
// would. (podman cannot run containers on this machine: crun refuses the hybrid cgroup hierarchy and lacks
// CAP_SYS_RESOURCE for its rlimits; the chroot is what is left of a runtime without namespaces and cgroups.)
// Real skopeo then pushes the image into the Berth running from it, which stores it in its volume.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool, run } from '../fixtures/image.js';
import { freePort } from '../helpers/ports.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOOLS = ['umoci', 'tar', 'skopeo', 'chroot'];
const missing = TOOLS.filter((tool) => !requireTool(tool));
const isRoot = process.getuid?.() === 0;
if (missing.length > 0 || !isRoot) {
  const why = missing.length > 0 ? `missing tool(s): ${missing.join(', ')}` : 'not root';
  if (process.env.CI === 'true') throw new Error(`the container image test cannot run in CI: ${why}`);
  console.warn(`\n!!! SKIPPING the container image test: ${why} !!!\n`);
}
const TIMEOUT = 300_000;
const VERSION = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string })
  .version;

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}
interface ImageConfig {
  architecture: string;
  os: string;
  config: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[];
    Cmd?: string[];
    ExposedPorts?: Record<string, object>;
    Volumes?: Record<string, object>;
    WorkingDir?: string;
    StopSignal?: string;
    Labels?: Record<string, string>;
    Healthcheck?: { Test: string[]; Interval: number; Timeout: number; Retries: number };
  };
  rootfs: { diff_ids: string[] };
}

/** In memory when there is room: the image's root filesystem is thousands of small files. */
const scratchBase = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

describe.skipIf(missing.length > 0 || !isRoot)('the container image (deploy/image/build.sh)', () => {
  let dir: string;
  let layout: string;
  let rootfs: string;
  let server: ChildProcess | undefined;
  const blob = (digest: string) => join(layout, 'blobs', ...digest.split(':'));
  const readJson = async <T>(digest: string) => JSON.parse(await readFile(blob(digest), 'utf8')) as T;
  let index: { manifests: Descriptor[] };
  const manifestOf = async (ref: string) => {
    const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref);
    expect(entry, `reference ${ref} in index.json`).toBeDefined();
    const manifest = await readJson<{ mediaType: string; config: Descriptor; layers: Descriptor[] }>(
      entry?.digest ?? '',
    );
    return {
      entry: entry as Descriptor,
      manifest,
      config: await readJson<ImageConfig>(manifest.config.digest),
    };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(scratchBase, 'berth-image-test-'));
    // The JavaScript this test run compiled from src/ (test/setup/global.ts), else `npm run build`'s dist/.
    const compiled = process.env.BERTH_TEST_CLI_JS;
    const app = compiled ? dirname(dirname(compiled)) : join(ROOT, 'dist');
    const args = ['deploy/image/build.sh', '--skip-build', '--output', join(dir, 'out'), '--app', app];
    if (existsSync(join(ROOT, 'dist/web/index.html'))) args.push('--web', join(ROOT, 'dist/web'));
    const { stdout } = await run('bash', args, { cwd: ROOT, timeoutMs: TIMEOUT });
    console.log(`image built: ${stdout.trim().split('\n').at(-1)}`);
    layout = join(dir, 'out', 'oci');
    index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as typeof index;
  }, TIMEOUT);

  afterAll(async () => {
    server?.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('has a config a runtime runs as an unprivileged user, with a port, a volume and a health check', async () => {
    const { entry, manifest, config } = await manifestOf(VERSION);
    expect(entry.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(manifest.layers.map((layer) => layer.mediaType)).toEqual(
      Array(3).fill('application/vnd.oci.image.layer.v1.tar+gzip'),
    );
    expect(config.rootfs.diff_ids).toHaveLength(3);
    expect(config.os).toBe('linux');
    const c = config.config;
    expect(c.User).toBe('10001:10001');
    expect(c.Entrypoint).toEqual(['/usr/bin/node', '/app/dist/cli/main.js']);
    expect(c.Cmd).toEqual(['serve']);
    expect(Object.keys(c.ExposedPorts ?? {})).toEqual(['5000/tcp']);
    expect(Object.keys(c.Volumes ?? {})).toEqual(['/var/lib/berth']);
    expect(c.Env).toEqual(
      expect.arrayContaining([
        'BERTH_DATA_DIR=/var/lib/berth',
        'BERTH_HTTP_PORT=5000',
        'NODE_ENV=production',
      ]),
    );
    expect(c.StopSignal).toBe('SIGTERM');
    expect(c.Labels?.['org.opencontainers.image.version']).toBe(VERSION);
    expect(c.Healthcheck?.Test).toEqual(['CMD', '/usr/bin/node', '/app/healthcheck.mjs']);
    expect(c.Healthcheck?.Retries).toBeGreaterThan(0);

    // The Docker schema 2 reference: the same layers and config, Docker media types (podman reads its health
    // check only from such a config).
    const docker = await manifestOf(`${VERSION}-docker`);
    expect(docker.entry.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(docker.manifest.config.mediaType).toBe('application/vnd.docker.container.image.v1+json');
    expect(docker.manifest.config.digest).toBe(manifest.config.digest);
    expect(docker.manifest.layers.map((layer) => layer.digest)).toEqual(manifest.layers.map((l) => l.digest));
    // Every blob the index reaches is present with its size (the layout is complete).
    for (const layer of manifest.layers) expect((await stat(blob(layer.digest))).size).toBe(layer.size);
  });

  it('holds node and Berth but no shell, and gives the data directory to the berth user', async () => {
    const { manifest } = await manifestOf(VERSION);
    rootfs = join(dir, 'rootfs');
    await mkdir(rootfs);
    const listings: string[] = [];
    for (const layer of manifest.layers) {
      // A runtime applies the layers in order; these have no whiteouts, so extracting them in order is that.
      await run('tar', ['-xzf', blob(layer.digest), '-C', rootfs, '--numeric-owner', '--same-owner']);
      listings.push((await run('tar', ['-tzvf', blob(layer.digest), '--numeric-owner'])).stdout);
    }
    const all = listings.join('\n');
    expect(all).toMatch(/ usr\/bin\/node$/m);
    expect(all).toMatch(/ app\/dist\/cli\/main\.js$/m);
    expect(all).toMatch(/ app\/node_modules\/fastify\/package\.json$/m);
    expect(all).toMatch(/better_sqlite3\.node$/m);
    // Production dependencies only.
    expect(all).not.toMatch(/ app\/node_modules\/(vitest|typescript|@biomejs)\//m);
    expect(all).not.toMatch(/ (usr\/)?bin\/(sh|bash|dash)$/m);
    const data = await stat(join(rootfs, 'var/lib/berth'));
    expect([data.uid, data.gid]).toEqual([10001, 10001]);
    expect(await readFile(join(rootfs, 'etc/passwd'), 'utf8')).toMatch(/^berth:x:10001:10001:/m);
  });

  it(
    'runs as uid 10001, answers /healthz and /readyz, passes its health check and stores a pushed image',
    async () => {
      expect(rootfs, 'the previous test unpacked the image').toBeDefined();
      const { config } = await manifestOf(VERSION);
      const port = await freePort();
      // The image's environment, plus what `docker run -e` would add; nothing of this machine's.
      const env: Record<string, string> = {
        ...Object.fromEntries(
          (config.config.Env ?? []).map((pair) => pair.split(/=(.*)/s, 2) as [string, string]),
        ),
        BERTH_HTTP_HOST: '127.0.0.1',
        BERTH_HTTP_PORT: String(port),
        BERTH_ADMIN_PASSWORD: 'image-test-password-1',
      };
      const user = `--userspec=${config.config.User}`;
      // The environment above has no PATH (the image's has none): name chroot by its path.
      const chroot = execFileSync('sh', ['-c', 'command -v chroot'], { encoding: 'utf8' }).trim();
      const command = [...(config.config.Entrypoint ?? []), ...(config.config.Cmd ?? [])];
      let output = '';
      server = spawn(chroot, [user, rootfs, ...command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      server.stdout?.on('data', (chunk) => {
        output += chunk;
      });
      server.stderr?.on('data', (chunk) => {
        output += chunk;
      });
      const exited = new Promise<number | null>((resolve) => server?.once('exit', (code) => resolve(code)));
      const base = `http://127.0.0.1:${port}`;
      let ready = false;
      for (let i = 0; i < 300 && !ready && server.exitCode === null; i++) {
        ready = await fetch(`${base}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (!ready) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(ready, `Berth in the image did not become ready:\n${output}`).toBe(true);
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
      // The process really is the image's user.
      const pid = server.pid as number;
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
      // chroot execs the entrypoint in place: the pid is node's.
      expect(uid).toBe('10001');

      // The health check, as Docker runs it: the command in the image, in the container, as its user.
      const test = config.config.Healthcheck?.Test ?? [];
      expect(test[0]).toBe('CMD');
      await run(chroot, [user, rootfs, ...test.slice(1)], { env });

      // skopeo pushes the image itself into the Berth running from it; it lands in the volume, owned by 10001.
      await run(
        'skopeo',
        [
          '--insecure-policy',
          'copy',
          '--dest-tls-verify=false',
          '--dest-creds',
          `admin:${env.BERTH_ADMIN_PASSWORD}`,
          `oci:${layout}:${VERSION}`,
          `docker://127.0.0.1:${port}/library/berth:${VERSION}`,
        ],
        { timeoutMs: 120_000 },
      );
      const head = await fetch(`${base}/v2/library/berth/manifests/${VERSION}`, {
        method: 'HEAD',
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      expect(head.status).toBe(200);
      const { entry } = await manifestOf(VERSION);
      expect(head.headers.get('docker-content-digest')).toBe(entry.digest);
      const database = await stat(join(rootfs, 'var/lib/berth/berth.db'));
      expect(database.uid).toBe(10001);

      // SIGTERM (the image's stop signal) drains and exits cleanly.
      server.kill('SIGTERM');
      expect(await exited).toBe(0);
      server = undefined;
    },
    TIMEOUT,
  );
});
