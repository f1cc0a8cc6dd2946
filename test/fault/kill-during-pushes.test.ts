// kill -9 of a real `berth serve` at a random moment during 100 concurrent image pushes, several rounds on
// the same data, on filesystem+SQLite and on PostgreSQL+S3 (Swift). After each restart:
// - every push acknowledged (manifest PUT answered 201) pulls byte-identical, manifest and every blob;
// - anything visible is complete and correct: a tag or manifest the client was never told about may exist
//   (its PUT finished but the reply died with the server), but then it is exactly the manifest pushed, and
//   its blobs, like any other blob a repository shows, pull whole and match their digests;
// and after the last round, garbage collection past its grace window leaves storage holding exactly the
// blobs that visible manifests reference. The seed is printed; BERTH_FAULT_SEED replays a run.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../../src/auth/index.js';
import { startChildBerth } from '../helpers/child-server.js';
import { sha256 } from '../helpers/oci-client.js';
import { createTestDatabase, dropTestDatabase, postgresAvailable } from '../helpers/postgres.js';
import { send } from '../helpers/raw-http.js';
import { deleteBucket, ensureSwift, objectNames, s3Client } from '../helpers/swift.js';
import { makeImage, pullProblems, pushImage, type TestImage } from './image-push.js';
import { filesUnder, getBlob, waitFor } from './support.js';

const PUSHES = 100;
/** Kill rounds per backend; on S3 fewer by default, as Swift on a small machine takes ~90 s per round. */
const ROUNDS = Number(process.env.BERTH_FAULT_ROUNDS ?? 3);
const S3_ROUNDS = Number(process.env.BERTH_FAULT_ROUNDS ?? 2);
const SEED = Number(process.env.BERTH_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const GRACE_SECONDS = 3;
const PASSWORD = 'kill test admin password';
const ADMIN = basicAuthorization('admin', PASSWORD);

/** mulberry32: a small seeded generator, so that a run's kill moments and shapes can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface Backend {
  env: Record<string, string>;
  /** Every object under blobs/ in storage, as keys relative to the store's root. */
  storedBlobKeys(): Promise<string[]>;
  destroy(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function filesystemBackend(dataDir: string): Promise<Backend> {
  return {
    env: {},
    storedBlobKeys: async () =>
      (await filesUnder(join(dataDir, 'blobs'))).map((file) => `blobs/${file.path}`),
    destroy: async () => {},
  };
}

const swift = await ensureSwift();

async function postgresS3Backend(): Promise<Backend> {
  if (!swift) throw new Error('no Swift');
  const bucket = `berth-fault-kill-${process.pid}-${randomBytes(3).toString('hex')}`;
  const databaseUrl = await createTestDatabase();
  const client = s3Client(swift);
  return {
    env: {
      BERTH_METADATA_URL: databaseUrl,
      BERTH_STORAGE_DRIVER: 's3',
      BERTH_STORAGE_S3_ENDPOINT: swift.endpoint,
      BERTH_STORAGE_S3_REGION: swift.region,
      BERTH_STORAGE_S3_BUCKET: bucket,
      BERTH_STORAGE_S3_FORCE_PATH_STYLE: 'true',
      BERTH_STORAGE_S3_ACCESS_KEY_ID: swift.accessKeyId,
      BERTH_STORAGE_S3_SECRET_ACCESS_KEY: swift.secretAccessKey,
    },
    storedBlobKeys: () => objectNames(client, bucket, 'blobs/'),
    destroy: async () => {
      await deleteBucket(client, bucket).catch(() => {});
      await dropTestDatabase(databaseUrl);
    },
  };
}

const BLOB_KEY = /^blobs\/sha256\/[0-9a-f]{2}\/([0-9a-f]{64})$/;

async function runGc(url: string): Promise<void> {
  const started = await fetch(`${url}/api/v1/gc/runs`, {
    method: 'POST',
    headers: { authorization: ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify({ dryRun: false }),
  });
  expect(started.status, await started.clone().text()).toBeLessThan(300);
  const { id } = (await started.json()) as { id: number };
  let run: { status: string; error: string | null; summary: unknown } = {
    status: 'running',
    error: null,
    summary: null,
  };
  await waitFor(
    'the garbage collection run to finish',
    async () => {
      const reply = await fetch(`${url}/api/v1/gc/runs/${id}`, { headers: { authorization: ADMIN } });
      run = (await reply.json()) as typeof run;
      return run.status !== 'running';
    },
    300_000,
  );
  expect(run.status, run.error ?? '').toBe('succeeded');
  console.info(`kill test: gc ${JSON.stringify(run.summary)}`);
}

/** Problems with what a restarted server shows of the pushes it was not known to have finished. */
async function visibleProblems(
  url: string,
  image: TestImage,
): Promise<{ visible: boolean; problems: string[] }> {
  const manifest = await send(url, 'GET', `/v2/${image.repo}/manifests/${image.tag}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  const problems: string[] = [];
  if (manifest.status === 200) {
    // Visible although never acknowledged: fine, as long as it is all there.
    problems.push(...(await pullProblems(url, image)));
    return { visible: true, problems };
  }
  if (manifest.status !== 404) problems.push(`${image.repo}:${image.tag}: manifest GET ${manifest.status}`);
  const byDigest = await send(url, 'HEAD', `/v2/${image.repo}/manifests/${image.digest}`);
  if (byDigest.status !== 404) problems.push(`${image.repo}@${image.digest} visible without its tag`);
  for (const blob of image.blobs) {
    const head = await getBlob(url, image.repo, sha256(blob), 'HEAD');
    if (head.status === 404) continue;
    const got = await getBlob(url, image.repo, sha256(blob));
    if (got.status !== 200 || !got.body.equals(blob)) {
      problems.push(
        `${image.repo} blob ${sha256(blob)}: HEAD ${head.status}, GET ${got.status} ${got.body.length} bytes`,
      );
    }
  }
  return { visible: false, problems };
}

async function killRounds(name: string, dataDir: string, backend: Backend, rounds: number): Promise<void> {
  const random = seeded(SEED);
  const env = {
    ...backend.env,
    BERTH_GC_GRACE_SECONDS: String(GRACE_SECONDS),
    BERTH_ADMIN_PASSWORD: PASSWORD,
  };
  const start = async () => {
    const child = await startChildBerth(dataDir, { env });
    cleanups.push(() => child.kill());
    return child;
  };
  const acknowledged: TestImage[] = [];
  const unacknowledged: TestImage[] = [];
  let berth = await start();
  let killedAt = Date.now();
  for (let round = 0; round < rounds; round++) {
    const images = Array.from({ length: PUSHES }, (_, i) =>
      makeImage(`kill/r${round}-${i % 10}`, `p${i}`, 1 + Math.floor(random() * 3), 48 * 1024, random() < 0.4),
    );
    // Requests the round would make uninterrupted: a POST per monolithic blob, POST + 2 PATCH + PUT per
    // chunked one, and the manifest PUT. The kill comes after between 20% and 95% of them.
    const total = images.reduce((sum, image) => sum + image.blobs.length * (image.chunked ? 4 : 1) + 1, 0);
    const killAfter = Math.floor(total * (0.2 + random() * 0.75));
    let replies = 0;
    const killing = waitFor('replies before the kill', () => replies >= killAfter, 300_000).then(() =>
      berth.kill('SIGKILL'),
    );
    // Push i starts once the round has had 2i replies: all are in flight together, but at different
    // stages, so the kill finds blobs, chunks and manifests half-way.
    const outcomes = await Promise.all(
      images.map(async (image, i) => {
        await waitFor(
          'the push before it to begin',
          () => replies >= 2 * i || berth.process.exitCode !== null || berth.process.signalCode !== null,
          300_000,
        );
        return pushImage(berth.url, image, () => replies++);
      }),
    );
    await killing;
    killedAt = Date.now();
    outcomes.forEach((outcome, i) => {
      (outcome.acknowledged ? acknowledged : unacknowledged).push(images[i] as TestImage);
    });
    const acked = outcomes.filter((outcome) => outcome.acknowledged).length;
    console.info(
      `kill test ${name} seed ${SEED} round ${round}: SIGKILL after ${killAfter} of ${total} replies, ${acked}/${PUSHES} pushes acknowledged`,
    );

    berth = await start();
    const problems: string[] = [];
    for (const image of acknowledged) problems.push(...(await pullProblems(berth.url, image)));
    let visible = 0;
    for (const image of unacknowledged) {
      const seen = await visibleProblems(berth.url, image);
      if (seen.visible) visible++;
      problems.push(...seen.problems);
    }
    console.info(`kill test ${name} round ${round}: ${visible} unacknowledged pushes visible (complete)`);
    expect(problems).toEqual([]);
    // No tag appears that no client pushed.
    const pushedTags = new Set(
      [...acknowledged, ...unacknowledged].map((image) => `${image.repo}:${image.tag}`),
    );
    for (const repo of new Set(images.map((image) => image.repo))) {
      const tags = await send(berth.url, 'GET', `/v2/${repo}/tags/list`);
      if (tags.status === 404) continue;
      for (const tag of (JSON.parse(tags.body.toString('utf8')) as { tags: string[] | null }).tags ?? []) {
        expect(pushedTags.has(`${repo}:${tag}`), `${repo}:${tag}`).toBe(true);
      }
    }
  }

  // Garbage collection after the grace window: storage holds exactly what visible manifests reference.
  const wait = killedAt + (GRACE_SECONDS + 1) * 1000 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  await runGc(berth.url);
  const referenced = new Set<string>();
  for (const image of [...acknowledged, ...unacknowledged]) {
    const manifest = await send(berth.url, 'HEAD', `/v2/${image.repo}/manifests/${image.tag}`);
    if (manifest.status === 200) for (const blob of image.blobs) referenced.add(sha256(blob));
  }
  const keys = await backend.storedBlobKeys();
  const stranger = keys.filter((key) => !BLOB_KEY.test(key));
  expect(stranger, 'objects under blobs/ that are not committed blobs').toEqual([]);
  const stored = keys.map((key) => `sha256:${BLOB_KEY.exec(key)?.[1]}`);
  console.info(`kill test ${name}: after gc ${stored.length} blobs stored, ${referenced.size} referenced`);
  expect(stored.sort()).toEqual([...referenced].sort());
  for (const image of acknowledged) expect(await pullProblems(berth.url, image)).toEqual([]);
}

describe('kill -9 during 100 concurrent pushes', () => {
  it('filesystem + SQLite: acknowledged pushes survive, nothing partial is visible, GC leaves the referenced set', {
    timeout: 900_000,
  }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'berth-fault-kill-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    await killRounds('filesystem+sqlite', dataDir, await filesystemBackend(dataDir), ROUNDS);
  });

  it.skipIf(!postgresAvailable || !swift)(
    'PostgreSQL + S3 (Swift): acknowledged pushes survive, nothing partial is visible, GC leaves the referenced set',
    { timeout: 900_000 },
    async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'berth-fault-kill-pg-'));
      cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
      const backend = await postgresS3Backend();
      cleanups.push(() => backend.destroy());
      await killRounds('postgres+s3', dataDir, backend, S3_ROUNDS);
    },
  );
});
