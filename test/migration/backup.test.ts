// `berth backup` while pushes go on, `berth restore` into a fresh instance: every image of the snapshot pulls
// byte-identical, and of the pushes racing the backup each is either wholly in the restored registry or not
// at all. Then: a repeated backup copies only new blobs, `backup verify` finds a flipped byte, and a restore
// into a registry that holds content is refused.
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxLayout, buildMultiArchLayout, requireTool } from '../fixtures/image.js';
import { type ChildBerth, startChildBerth } from '../helpers/child-server.js';
import { runCli } from '../helpers/cli.js';
import {
  catalog,
  contentOf,
  getBlobDigest,
  listTags,
  pullWithSkopeo,
  pushRandomImage,
  skopeoCopy,
} from './support.js';

const missing = ['skopeo', 'umoci'].filter((tool) => !requireTool(tool));
if (missing.length > 0) console.warn(`\n!!! SKIPPING backup tests: missing ${missing.join(', ')} !!!\n`);

const TIMEOUT = 300_000;
const SEED_IMAGES = 40;
const LAYER_BYTES = 1024 * 1024;

describe.skipIf(missing.length > 0)('berth backup / restore', () => {
  let tmp: string;
  let source: ChildBerth;
  let restored: ChildBerth | undefined;
  const backupDir = () => join(tmp, 'backup');

  beforeAll(async () => {
    const [busybox, multi] = await Promise.all([buildBusyboxLayout(), buildMultiArchLayout()]);
    tmp = await mkdtemp(join(tmpdir(), 'berth-backup-'));
    source = await startChildBerth(join(tmp, 'source'));
    const host = new URL(source.url).host;
    await skopeoCopy(`oci:${busybox.dir}:${busybox.tag}`, `docker://${host}/library/busybox:1.0`);
    await skopeoCopy(`oci:${multi.dir}:${multi.tag}`, `docker://${host}/team/multi:multi`, '--all');
    for (let i = 0; i < SEED_IMAGES; i++) await pushRandomImage(source.url, 'seed/app', `v${i}`, LAYER_BYTES);
  }, TIMEOUT);

  afterAll(async () => {
    await Promise.all([source?.kill('SIGTERM'), restored?.kill('SIGTERM')]);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it(
    'backs up online while pushes go on; the restored registry serves the snapshot byte-identical, no push half there',
    async () => {
      // Pushes in a loop for as long as the backup runs, each timed.
      const pushes: { tag: string; started: number; finished?: number }[] = [];
      let pushing = true;
      const loop = (async () => {
        for (let i = 0; pushing; i++) {
          const push: { tag: string; started: number; finished?: number } = {
            tag: `p${i}`,
            started: Date.now(),
          };
          pushes.push(push);
          await pushRandomImage(source.url, 'load/app', push.tag, 256 * 1024);
          push.finished = Date.now();
        }
      })();
      const backupStarted = Date.now();
      const first = await runCli(['backup', backupDir(), '-d', join(tmp, 'source'), '--json']);
      const backupEnded = Date.now();
      pushing = false;
      await loop;
      expect(first.code, first.stderr).toBe(0);
      const summary = JSON.parse(first.stdout);
      expect(summary.problems).toEqual([]);
      expect(summary.copied).toBe(summary.snapshot.blobs);
      console.info(
        `backup: ${summary.snapshot.blobs} blobs, ${summary.snapshot.bytes} bytes in ${summary.snapshot.durationMs} ms; ${pushes.filter((p) => p.finished && p.started > backupStarted && p.finished < backupEnded).length} pushes completed while it ran`,
      );

      const restoredDir = join(tmp, 'restored');
      const restoreStarted = Date.now();
      const restoring = await runCli(['restore', backupDir(), '-d', restoredDir]);
      expect(restoring.code, restoring.stderr).toBe(0);
      restored = await startChildBerth(restoredDir);
      console.info(`restore and start: ${Date.now() - restoreStarted} ms`);

      // Everything the snapshot holds is whole and byte-identical to the source.
      const repositories = await catalog(restored.url);
      expect(repositories).toEqual(expect.arrayContaining(['library/busybox', 'seed/app', 'team/multi']));
      for (const repository of repositories) {
        for (const tag of await listTags(restored.url, repository)) {
          const want = await contentOf(source.url, repository, tag);
          const got = await contentOf(restored.url, repository, tag);
          expect([...got.manifests.keys()]).toEqual([...want.manifests.keys()]);
          for (const [digest, bytes] of got.manifests)
            expect(bytes.equals(want.manifests.get(digest) as Buffer)).toBe(true);
          for (const blob of got.blobs)
            expect(await getBlobDigest(restored.url, repository, blob)).toBe(blob);
        }
      }
      expect(await listTags(restored.url, 'seed/app')).toHaveLength(SEED_IMAGES);
      // The racing pushes: all that finished before the backup began are in; none that began after it ended.
      const load = new Set(await listTags(restored.url, 'load/app'));
      for (const push of pushes) {
        if (push.finished !== undefined && push.finished < backupStarted)
          expect(load.has(push.tag)).toBe(true);
        if (push.started > backupEnded) expect(load.has(push.tag)).toBe(false);
      }
      const pulled = await pullWithSkopeo(
        new URL(restored.url).host,
        'team/multi',
        'multi',
        join(tmp, 'pull'),
      );
      expect(
        (await contentOf(source.url, 'team/multi', 'multi')).manifests.has(
          pulled.get('manifest.json') as string,
        ),
      ).toBe(true);
    },
    TIMEOUT,
  );

  it(
    'copies only new blobs the second time, verify finds a flipped byte, and a non-empty target is refused',
    async () => {
      await pushRandomImage(source.url, 'seed/app', 'later', LAYER_BYTES);
      const second = JSON.parse(
        (await runCli(['backup', backupDir(), '-d', join(tmp, 'source'), '--json'])).stdout,
      );
      expect(second.problems).toEqual([]);
      // The new image's layer and config at least; everything of the first snapshot is reused.
      expect(second.copied).toBeGreaterThanOrEqual(2);
      expect(second.present).toBeGreaterThanOrEqual(SEED_IMAGES * 2);
      expect(second.copied + second.present).toBe(second.snapshot.blobs);
      expect(await readdir(join(backupDir(), 'snapshots'))).toHaveLength(2);

      const verified = await runCli(['backup', 'verify', backupDir()]);
      expect(verified.code, verified.stdout).toBe(0);
      expect(verified.stdout).toMatch(/all verified/);

      // One flipped byte in a backed-up layer.
      const shard = (await readdir(join(backupDir(), 'blobs', 'sha256')))[0] as string;
      const hex = (await readdir(join(backupDir(), 'blobs', 'sha256', shard)))[0] as string;
      const file = await open(join(backupDir(), 'blobs', 'sha256', shard, hex), 'r+');
      const byte = Buffer.alloc(1);
      await file.read(byte, 0, 1, 0);
      byte[0] = (byte[0] as number) ^ 0x80;
      await file.write(byte, 0, 1, 0);
      await file.close();
      const damaged = await runCli(['backup', 'verify', backupDir()]);
      expect(damaged.code).toBe(1);
      expect(damaged.stdout).toContain(`problem: blob sha256:${hex}: the bytes hash to sha256:`);

      const refused = await runCli(['restore', backupDir(), '-d', join(tmp, 'source')]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/holds \d+ repositories: restore only into an empty instance/);
    },
    TIMEOUT,
  );
});
