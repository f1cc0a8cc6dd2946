// The integrity scrub against a real Berth: a flipped byte in a stored layer (filesystem, and S3 on Swift) is
// found and named with its repository and tag, quarantine makes the GET fail clearly, a deleted blob file is
// reported missing, and a run stopped by a restart is carried on from its cursor rather than started over.
import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScrubSummary } from '../../src/lifecycle/scrub/index.js';
import type { JobRunRow } from '../../src/metadata/index.js';
import { OciClient } from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';
import {
  berthS3Storage,
  createBucket,
  deleteBucket,
  ensureSwift,
  type S3Endpoint,
  s3Client,
} from '../helpers/swift.js';

const endpoint: S3Endpoint | undefined = await ensureSwift();
// /api/v1 needs the administrator even with registry auth off; the servers below create it with this password.
const ADMIN_PASSWORD = 'scrub admin password';
process.env.BERTH_ADMIN_PASSWORD = ADMIN_PASSWORD;
const ADMIN = { authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}` };
if (!endpoint)
  console.warn('!!! SKIPPING the S3 scrub test: Swift (scripts/swift-s3.sh) does not answer !!!');

function blobPath(dataDir: string, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(dataDir, 'blobs', 'sha256', hex.slice(0, 2), hex);
}

/** Flips one bit of one byte in the middle of the file. */
async function flipByte(path: string): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const { size } = await file.stat();
    const byte = Buffer.alloc(1);
    const at = Math.floor(size / 2);
    await file.read(byte, 0, 1, at);
    byte[0] = (byte[0] as number) ^ 0x01;
    await file.write(byte, 0, 1, at);
  } finally {
    await file.close();
  }
}

async function startScrub(berth: TestBerth, body: Record<string, unknown>): Promise<JobRunRow> {
  const response = await fetch(`${berth.url}/api/v1/scrub/runs`, {
    method: 'POST',
    headers: { ...ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(202);
  return (await response.json()) as JobRunRow;
}

async function finished(berth: TestBerth, id: number): Promise<ScrubSummary> {
  const run = await berth.berth.scrub.wait(id);
  expect(run?.status, run?.error ?? '').toBe('succeeded');
  return run?.summary as ScrubSummary;
}

describe('integrity scrub on the filesystem', () => {
  let berth: TestBerth;
  let client: OciClient;
  beforeAll(async () => {
    berth = await startBerth();
    client = new OciClient(berth.url);
  });
  afterAll(() => berth.close());

  it('finds a flipped byte and a deleted blob, names their repositories and tags, and quarantines', async () => {
    const image = await client.pushRandomImage('team/app', 'v1', { layers: 2, layerSize: 300_000 });
    const other = await client.pushRandomImage('team/other', 'v2', { layers: 1 });
    const healthy = await client.pushRandomImage('team/fine', 'v3');
    const [corrupt] = (image.json.layers as { digest: string }[]).map((l) => l.digest);
    const missing = (other.json.layers as { digest: string }[])[0]?.digest as string;
    await flipByte(blobPath(berth.dataDir, corrupt as string));
    await rm(blobPath(berth.dataDir, missing));

    // Served (wrong bytes) before the scrub: the GET path does not re-hash what it streams.
    const before = await fetch(`${berth.url}/v2/team/app/blobs/${corrupt}`);
    expect(before.status).toBe(200);
    const bytes = Buffer.from(await before.arrayBuffer());
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).not.toBe(corrupt);

    const run = await startScrub(berth, { quarantine: true });
    const summary = await finished(berth, run.id);
    expect(summary.corrupt).toEqual([
      {
        digest: corrupt,
        problem: 'corrupt',
        detail: expect.stringMatching(/^stored bytes hash to sha256:[0-9a-f]{64}$/),
        size: 300_000,
        affected: [{ repository: 'team/app', manifests: [image.digest], tags: ['v1'] }],
        quarantined: true,
      },
    ]);
    expect(summary.missing).toEqual([
      expect.objectContaining({
        digest: missing,
        problem: 'missing',
        affected: [{ repository: 'team/other', manifests: [other.digest], tags: ['v2'] }],
        quarantined: false,
      }),
    ]);
    expect(summary.badManifests).toEqual([]);
    expect(summary.blobs.checked).toBe(summary.blobs.total);
    expect(summary.manifests.checked).toBe(3);

    // Quarantined: a clear BLOB_UNKNOWN naming the run, never the bad bytes.
    const after = await fetch(`${berth.url}/v2/team/app/blobs/${corrupt}`);
    expect(after.status).toBe(404);
    const error = ((await after.json()) as { errors: { code: string; message: string }[] }).errors[0];
    expect(error?.code).toBe('BLOB_UNKNOWN');
    expect(error?.message).toBe(
      `blob ${corrupt} is corrupt (quarantined by scrub run ${run.id}): ${summary.corrupt[0]?.detail}`,
    );
    // Everything else is served as before.
    const fine = (healthy.json.layers as { digest: string }[])[0]?.digest as string;
    expect((await fetch(`${berth.url}/v2/team/fine/blobs/${fine}`)).status).toBe(200);
    const listed = await fetch(`${berth.url}/api/v1/scrub/quarantine`, { headers: ADMIN });
    expect(await listed.json()).toEqual({
      items: [expect.objectContaining({ digest: corrupt, runId: run.id })],
    });

    // Released (after a repair), it is served again.
    const released = await fetch(`${berth.url}/api/v1/scrub/quarantine/${corrupt}`, {
      method: 'DELETE',
      headers: ADMIN,
    });
    expect(released.status).toBe(204);
    expect((await fetch(`${berth.url}/v2/team/app/blobs/${corrupt}`)).status).toBe(200);
  });
});

describe('integrity scrub resumes after a restart', () => {
  it('carries on from the cursor of the run the restart stopped', async () => {
    const first = await startBerth();
    const dataDir = first.dataDir;
    const client = new OciClient(first.url);
    for (let i = 0; i < 10; i++)
      await client.pushRandomImage(`team/r${i}`, 'v1', { layers: 1, layerSize: 64 * 1024 });
    const blobs = 20; // a config and a layer per image
    // 64 KiB/s: about a second per image, so the run is mid-way when the server stops.
    const run = await startScrub(first, { rateBytesPerSecond: 64 * 1024 });
    for (;;) {
      const now = await first.berth.scrub.run(run.id);
      if (((now?.progress as { blobs?: { checked: number } } | null)?.blobs?.checked ?? 0) >= 3) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await first.berth.close();

    const second = await startBerth({ dataDir });
    try {
      const stopped = await second.berth.scrub.run(run.id);
      expect(stopped?.status).toBe('failed');
      expect(stopped?.error).toBe('stopped: the server shut down');
      const reached = (stopped?.summary as ScrubSummary | undefined)?.blobs.checked ?? 0;
      expect(reached).toBeGreaterThanOrEqual(3);
      expect(reached).toBeLessThan(blobs);
      const resumed = await startScrub(second, { rateBytesPerSecond: 0 });
      const summary = await finished(second, resumed.id);
      expect(summary.resumedFrom).toBe(run.id);
      expect(summary.resumedAt).toEqual({ blobs: reached, manifests: 0 });
      // Had it started over, it would have counted the first `reached` blobs twice.
      expect(summary.blobs).toMatchObject({ checked: blobs, total: blobs });
      expect(summary.corrupt).toEqual([]);
      // A run after a complete one starts from the beginning again.
      const fresh = await finished(second, (await startScrub(second, {})).id);
      expect(fresh.resumedFrom).toBeUndefined();
      expect(fresh.blobs.checked).toBe(blobs);
    } finally {
      await second.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!endpoint)('integrity scrub on S3 (Swift)', () => {
  it('finds a flipped byte in a stored layer and quarantines it', async () => {
    const s3 = endpoint as S3Endpoint;
    const client = s3Client(s3);
    const bucket = await createBucket(client);
    const berth = await startBerth({
      config: {
        ...berthS3Storage(s3, bucket),
      },
    });
    try {
      const image = await new OciClient(berth.url).pushRandomImage('team/s3app', 'latest', { layers: 1 });
      const layer = (image.json.layers as { digest: string }[])[0]?.digest as string;
      const key = `blobs/sha256/${layer.slice(7, 9)}/${layer.slice(7)}`;
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = Buffer.from(
        await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
      );
      bytes[100] = (bytes[100] as number) ^ 0x80;
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));

      const run = await startScrub(berth, { quarantine: true });
      const summary = await finished(berth, run.id);
      expect(summary.corrupt.map((f) => [f.digest, f.affected])).toEqual([
        [layer, [{ repository: 'team/s3app', manifests: [image.digest], tags: ['latest'] }]],
      ]);
      const response = await fetch(`${berth.url}/v2/team/s3app/blobs/${layer}`);
      expect(response.status).toBe(404);
      expect(await response.text()).toContain(`quarantined by scrub run ${run.id}`);
    } finally {
      await berth.close();
      await deleteBucket(client, bucket);
    }
  });
});
