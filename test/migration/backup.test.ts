// `berth backup` while pushes go on, `berth restore` into a fresh instance: every image of the snapshot pulls
// byte-identical, and of the pushes racing the backup each is either wholly in the restored registry or not
// at all. Then: a repeated backup copies only new blobs, `backup verify` finds a flipped byte, and a restore
// into a registry that holds content is refused.
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from '../fixtures/image.js';
import { type ChildBerth, startChildBerth } from '../helpers/child-server.js';
import { runCli } from '../helpers/cli.js';
import {
  expectMultiArchPulls,
  expectRacingPushesWholeOrAbsent,
  expectSameContent,
  seedBackupSource,
  startRacingPushes,
} from './backup-checks.js';
import { listTags, pushRandomImage } from './support.js';

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
    tmp = await mkdtemp(join(tmpdir(), 'berth-backup-'));
    source = await startChildBerth(join(tmp, 'source'));
    await seedBackupSource(source.url, SEED_IMAGES, LAYER_BYTES);
  }, TIMEOUT);

  afterAll(async () => {
    await Promise.all([source?.kill('SIGTERM'), restored?.kill('SIGTERM')]);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it(
    'backs up online while pushes go on; the restored registry serves the snapshot byte-identical, no push half there',
    async () => {
      // Pushes in a loop for as long as the backup runs, each timed.
      const racing = startRacingPushes(source.url, 'load/app', 256 * 1024);
      const { pushes } = racing;
      const backupStarted = Date.now();
      const first = await runCli(['backup', backupDir(), '-d', join(tmp, 'source'), '--json']);
      const backupEnded = Date.now();
      await racing.stop();
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
      const repositories = await expectSameContent(source.url, restored.url);
      expect(repositories).toEqual(expect.arrayContaining(['library/busybox', 'seed/app', 'team/multi']));
      expect(await listTags(restored.url, 'seed/app')).toHaveLength(SEED_IMAGES);
      await expectRacingPushesWholeOrAbsent(restored.url, 'load/app', pushes, backupStarted, backupEnded);
      await expectMultiArchPulls(source.url, restored.url, tmp);
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
