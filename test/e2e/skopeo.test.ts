// End-to-end tests: a real Berth server driven by the real skopeo client.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildBusyboxLayout,
  buildMultiArchLayout,
  hashBlobs,
  type Layout,
  layoutDigest,
  MEDIA_TYPES,
  missingTools,
  RunError,
  run,
  sha256,
} from '../fixtures/image.js';
import { startBerth } from '../helpers/server.js';

const missing = missingTools(['skopeo', 'umoci', 'apt-get', 'dpkg'], 'skopeo e2e tests');

const TIMEOUT = 120_000;
/** Shorter than TIMEOUT, so a hung skopeo fails with its stderr rather than as a bare test timeout. */
const SKOPEO_TIMEOUT = 60_000;

type Berth = Awaited<ReturnType<typeof startBerth>>;

function skopeo(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('skopeo', ['--insecure-policy', ...args], { timeoutMs: SKOPEO_TIMEOUT });
}

function copy(src: string, dest: string, ...flags: string[]) {
  return skopeo('copy', '--src-tls-verify=false', '--dest-tls-verify=false', ...flags, src, dest);
}

async function rawManifest(ref: string): Promise<string> {
  return (await skopeo('inspect', '--raw', '--tls-verify=false', ref)).stdout;
}

async function inspectDigest(ref: string): Promise<string> {
  const { stdout } = await skopeo('inspect', '--tls-verify=false', ref);
  return (JSON.parse(stdout) as { Digest: string }).Digest;
}

describe.skipIf(missing.length > 0)('skopeo against Berth', () => {
  let berth: Berth;
  let busybox: Layout;
  let multi: Layout;
  let tmp: string;

  beforeAll(async () => {
    [busybox, multi] = await Promise.all([buildBusyboxLayout(), buildMultiArchLayout()]);
    tmp = await mkdtemp(join(tmpdir(), 'berth-e2e-skopeo-'));
    berth = await startBerth();
  }, TIMEOUT);

  afterAll(async () => {
    await berth?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const remote = (repoAndRef: string) => `docker://${berth.host}/${repoAndRef}`;
  const local = (layout: Layout) => `oci:${layout.dir}:${layout.tag}`;

  it(
    'pushes an OCI layout, then inspect and list-tags see it',
    async () => {
      await copy(local(busybox), remote('e2e/busybox:1.0'));

      expect(await inspectDigest(remote('e2e/busybox:1.0'))).toBe(busybox.digest);
      const raw = await rawManifest(remote('e2e/busybox:1.0'));
      expect(`sha256:${sha256(raw)}`).toBe(busybox.digest);

      const { stdout } = await skopeo('list-tags', '--tls-verify=false', remote('e2e/busybox'));
      expect(JSON.parse(stdout).Tags).toEqual(['1.0']);
    },
    TIMEOUT,
  );

  it(
    'pulls back a byte-identical image',
    async () => {
      await copy(local(busybox), remote('e2e/roundtrip:1.0'));
      const out = join(tmp, 'roundtrip');
      await copy(remote('e2e/roundtrip:1.0'), `oci:${out}:1.0`);

      expect(await layoutDigest(out, '1.0')).toBe(busybox.digest);
      await expectSameBlobs(out, busybox.dir);
    },
    TIMEOUT,
  );

  it(
    'copies between repositories of the same registry',
    async () => {
      await copy(local(busybox), remote('e2e/mount-src:1.0'));
      await copy(remote('e2e/mount-src:1.0'), remote('other/mount-dest:copy'));

      expect(await inspectDigest(remote('other/mount-dest:copy'))).toBe(busybox.digest);
    },
    TIMEOUT,
  );

  it(
    'copies a multi-arch index with --all',
    async () => {
      await copy(local(multi), remote('e2e/multi:1'), '--all');

      const raw = await rawManifest(remote('e2e/multi:1'));
      expect(`sha256:${sha256(raw)}`).toBe(multi.digest);
      const index = JSON.parse(raw);
      expect(index.mediaType).toBe(MEDIA_TYPES.ociIndex);
      expect(
        index.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture),
      ).toEqual(['amd64', 'arm64']);

      const out = join(tmp, 'multi');
      await copy(remote('e2e/multi:1'), `oci:${out}:multi`, '--all');
      expect(await layoutDigest(out, 'multi')).toBe(multi.digest);
      await expectSameBlobs(out, multi.dir);
    },
    TIMEOUT,
  );

  it(
    'converts to Docker schema 2 and back to OCI with --format',
    async () => {
      const docker = remote('e2e/format-v2s2:1.0');
      const oci = remote('e2e/format-oci:1.0');
      // The umoci manifest has no mediaType field, so convert from a Docker manifest to get one in the OCI one.
      await copy(local(busybox), docker, '--format', 'v2s2');
      await copy(docker, oci, '--format', 'oci');

      for (const [ref, mediaType] of [
        [docker, MEDIA_TYPES.dockerManifest],
        [oci, MEDIA_TYPES.ociManifest],
      ] as const) {
        const raw = await rawManifest(ref);
        expect(JSON.parse(raw).mediaType).toBe(mediaType);
        expect(await inspectDigest(ref)).toBe(`sha256:${sha256(raw)}`);
      }
    },
    TIMEOUT,
  );

  it(
    'keeps images across a server restart',
    async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'berth-e2e-restart-'));
      try {
        const first = await startBerth({ dataDir });
        try {
          await copy(local(busybox), `docker://${first.host}/e2e/restart:1.0`);
        } finally {
          await first.close();
        }

        const second = await startBerth({ dataDir });
        try {
          const out = join(tmp, 'restart');
          await copy(`docker://${second.host}/e2e/restart:1.0`, `oci:${out}:1.0`);
          expect(await layoutDigest(out, '1.0')).toBe(busybox.digest);
          await expectSameBlobs(out, busybox.dir);
        } finally {
          await second.close();
        }
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
    TIMEOUT,
  );

  it(
    'deletes a manifest by digest',
    async () => {
      await copy(local(busybox), remote('e2e/delete:1.0'));
      const byDigest = remote(`e2e/delete@${busybox.digest}`);
      await skopeo('delete', '--tls-verify=false', byDigest);

      const failure = await skopeo('inspect', '--raw', '--tls-verify=false', byDigest).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(RunError);
      expect((failure as RunError).exitCode).not.toBe(0);
      expect((failure as RunError).stderr).toMatch(/manifest unknown|404|not found/i);
    },
    TIMEOUT,
  );

  it(
    'garbage collection after a skopeo delete keeps every kept image whole, multi-arch included',
    async () => {
      const collected = await startBerth({ config: { 'gc.graceSeconds': 0 } });
      const at = (repoAndRef: string) => `docker://${collected.host}/${repoAndRef}`;
      try {
        await copy(local(busybox), at('e2e/gc-keep:1.0'));
        await copy(`oci:${multi.dir}:${multi.tag}`, at('e2e/gc-multi:1'), '--all');
        await copy(local(busybox), at('e2e/gc-drop:1.0'));
        await skopeo('delete', '--tls-verify=false', at(`e2e/gc-drop@${busybox.digest}`));

        const run = await collected.berth.gc.wait((await collected.berth.gc.start({ dryRun: false })).id);
        expect(run?.status, run?.error ?? '').toBe('succeeded');
        // The deleted image's links go; its layers stay, since e2e/gc-keep holds the same ones.
        expect(run?.summary).toMatchObject({ blobs: 0 });
        expect((run?.summary as { links: number } | undefined)?.links).toBeGreaterThanOrEqual(2);

        const keepOut = join(tmp, 'gc-keep');
        await copy(at('e2e/gc-keep:1.0'), `oci:${keepOut}:1.0`);
        await expectSameBlobs(keepOut, busybox.dir);
        const multiOut = join(tmp, 'gc-multi');
        await copy(at('e2e/gc-multi:1'), `oci:${multiOut}:1`, '--all');
        await expectSameBlobs(multiOut, multi.dir);
        const gone = await skopeo('inspect', '--raw', '--tls-verify=false', at('e2e/gc-drop:1.0')).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(gone).toBeInstanceOf(RunError);
      } finally {
        await collected.close();
      }
    },
    TIMEOUT,
  );
});

/** Both layouts hold exactly the same blobs, and every blob's bytes match its digest. */
async function expectSameBlobs(actualDir: string, expectedDir: string): Promise<void> {
  const actual = await hashBlobs(actualDir);
  for (const [digest, hash] of actual) expect(`sha256:${hash}`, `blob ${digest} is corrupt`).toBe(digest);
  expect(actual).toEqual(await hashBlobs(expectedDir));
}
