// `berth backup s3://…` of a Berth on PostgreSQL + S3 (Swift) while pushes go on, `berth restore` into a
// fresh PostgreSQL database and a fresh bucket: every image of the snapshot pulls byte-identical (skopeo), and
// of the pushes racing the backup each is wholly in the restored registry or not at all. The same PostgreSQL
// snapshot restores into an SQLite + filesystem instance too. A second backup sends only new blobs; verify
// reads the S3 snapshot; a restore into a PostgreSQL database holding content is refused.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from '../fixtures/image.js';
import { type ChildBerth, startChildBerth } from '../helpers/child-server.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, dropTestDatabase, postgresAvailable } from '../helpers/postgres.js';
import {
  createBucket,
  deleteBucket,
  ensureSwift,
  objectNames,
  type S3Endpoint,
  s3Client,
} from '../helpers/swift.js';
import {
  expectMultiArchPulls,
  expectRacingPushesWholeOrAbsent,
  expectSameContent,
  seedBackupSource,
  startRacingPushes,
} from './backup-checks.js';
import { listTags, pushRandomImage } from './support.js';

const endpoint: S3Endpoint | undefined = await ensureSwift();
const missing = [
  ...['skopeo', 'umoci'].filter((tool) => !requireTool(tool)),
  ...(endpoint ? [] : ['Swift S3']),
  ...(postgresAvailable ? [] : ['PostgreSQL']),
];
if (missing.length > 0)
  console.warn(`\n!!! SKIPPING PostgreSQL/S3 backup tests: missing ${missing.join(', ')} !!!\n`);

const TIMEOUT = 300_000;
const SEED_IMAGES = 6;

/** The environment of a Berth on PostgreSQL `database` and S3 `bucket` (also the backup locations' store). */
function instanceEnv(s3: S3Endpoint, database: string | undefined, bucket: string | undefined) {
  const connection = {
    ENDPOINT: s3.endpoint,
    REGION: s3.region,
    FORCE_PATH_STYLE: 'true',
    ACCESS_KEY_ID: s3.accessKeyId,
    SECRET_ACCESS_KEY: s3.secretAccessKey,
  };
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(connection)) env[`BERTH_BACKUP_S3_${key}`] = value;
  if (database) env.BERTH_METADATA_URL = database;
  if (bucket) {
    env.BERTH_STORAGE_DRIVER = 's3';
    env.BERTH_STORAGE_S3_BUCKET = bucket;
    for (const [key, value] of Object.entries(connection)) env[`BERTH_STORAGE_S3_${key}`] = value;
  }
  return env;
}

describe.skipIf(missing.length > 0)('berth backup / restore on PostgreSQL + S3', () => {
  const s3 = endpoint as S3Endpoint;
  let client: S3Client;
  let tmp: string;
  const databases: string[] = [];
  const buckets: string[] = [];
  const servers: ChildBerth[] = [];
  let source: ChildBerth;
  let sourceEnv: Record<string, string>;
  let backupUrl: string;

  beforeAll(async () => {
    client = s3Client(s3);
    tmp = await mkdtemp(join(tmpdir(), 'berth-backup-pg-'));
    const database = await createTestDatabase();
    const bucket = await createBucket(client);
    const backupBucket = await createBucket(client);
    databases.push(database);
    buckets.push(bucket, backupBucket);
    backupUrl = `s3://${backupBucket}/nightly/berth`;
    sourceEnv = instanceEnv(s3, database, bucket);
    source = await startChildBerth(join(tmp, 'source'), { env: sourceEnv });
    servers.push(source);
    await seedBackupSource(source.url, SEED_IMAGES, 512 * 1024);
  }, TIMEOUT);

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.kill('SIGTERM')));
    for (const database of databases) await dropTestDatabase(database).catch(() => undefined);
    for (const bucket of buckets) await deleteBucket(client, bucket).catch(() => undefined);
    client?.destroy();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it(
    'backs up to S3 online while pushes go on; a fresh PostgreSQL + bucket serves the snapshot byte-identical, no push half there',
    async () => {
      const racing = startRacingPushes(source.url, 'load/app', 128 * 1024);
      const { pushes } = racing;
      // Let a few pushes finish first, so that some are surely before the snapshot.
      while (pushes.filter((p) => p.finished).length < 3) await new Promise((r) => setTimeout(r, 20));
      const backupStarted = Date.now();
      const first = await runCli(['backup', backupUrl, '-d', join(tmp, 'source'), '--json'], {
        env: sourceEnv,
      });
      const backupEnded = Date.now();
      await racing.stop();
      expect(first.code, first.stderr).toBe(0);
      const summary = JSON.parse(first.stdout);
      expect(summary.problems).toEqual([]);
      expect(summary.snapshot.dialect).toBe('postgres');
      expect(summary.copied).toBe(summary.snapshot.blobs);
      const names = await objectNames(client, buckets[1] as string, 'nightly/berth/');
      expect(names).toContain(`nightly/berth/snapshots/${summary.snapshot.id}/metadata.jsonl.gz`);
      expect(names).toContain(`nightly/berth/snapshots/${summary.snapshot.id}/snapshot.json`);

      const database = await createTestDatabase();
      const bucket = await createBucket(client);
      databases.push(database);
      buckets.push(bucket);
      const env = instanceEnv(s3, database, bucket);
      const restoring = await runCli(['restore', backupUrl, '-d', join(tmp, 'restored')], { env });
      expect(restoring.code, restoring.stderr).toBe(0);
      const restored = await startChildBerth(join(tmp, 'restored'), { env });
      servers.push(restored);

      const repositories = await expectSameContent(source.url, restored.url);
      expect(repositories).toEqual(expect.arrayContaining(['library/busybox', 'seed/app', 'team/multi']));
      expect(await listTags(restored.url, 'seed/app')).toHaveLength(SEED_IMAGES);
      await expectRacingPushesWholeOrAbsent(restored.url, 'load/app', pushes, backupStarted, backupEnded);
      await expectMultiArchPulls(source.url, restored.url, tmp);
      // The restored registry takes pushes (its id sequences continue after the restored rows).
      await pushRandomImage(restored.url, 'seed/app', 'after-restore', 64 * 1024);
      expect(await listTags(restored.url, 'seed/app')).toContain('after-restore');
    },
    TIMEOUT,
  );

  it(
    'restores the PostgreSQL snapshot into an SQLite + filesystem instance',
    async () => {
      const dir = join(tmp, 'to-sqlite');
      const env = instanceEnv(s3, undefined, undefined);
      const restoring = await runCli(['restore', backupUrl, '-d', dir], { env });
      expect(restoring.code, restoring.stderr).toBe(0);
      const restored = await startChildBerth(dir, { env });
      servers.push(restored);
      await expectSameContent(source.url, restored.url);
      expect(await listTags(restored.url, 'team/multi')).toEqual(['multi']);
    },
    TIMEOUT,
  );

  it(
    'sends only new blobs the second time, verifies the S3 snapshot, and refuses a non-empty PostgreSQL target',
    async () => {
      await pushRandomImage(source.url, 'seed/app', 'later', 512 * 1024);
      const second = await runCli(['backup', backupUrl, '-d', join(tmp, 'source'), '--json'], {
        env: sourceEnv,
      });
      expect(second.code, second.stderr).toBe(0);
      const summary = JSON.parse(second.stdout);
      expect(summary.problems).toEqual([]);
      expect(summary.copied).toBeGreaterThanOrEqual(2);
      expect(summary.present).toBeGreaterThanOrEqual(SEED_IMAGES * 2);
      expect(summary.copied + summary.present).toBe(summary.snapshot.blobs);

      const verified = await runCli(['backup', 'verify', backupUrl], { env: sourceEnv });
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      expect(verified.stdout).toMatch(/all verified/);

      const refused = await runCli(['restore', backupUrl, '-d', join(tmp, 'again')], { env: sourceEnv });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/holds \d+ repositories: restore only into an empty instance/);
    },
    TIMEOUT,
  );
});
