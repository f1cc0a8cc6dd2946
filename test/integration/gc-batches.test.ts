// Garbage collection's work in batches (issue 17, 1,000,000 blobs): what a batch of deleted manifests costs
// the listeners (scan reports forgotten together, per repository), and the page of blobs no link keeps. On
// SQLite and, in the `postgres` project, on PostgreSQL.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Invalidation } from '../../src/cluster/index.js';
import type { CollectionSummary } from '../../src/lifecycle/index.js';
import { CollectionStore } from '../../src/metadata/index.js';
import { buildImage, OciClient, uniqueRepo } from '../helpers/oci-client.js';
import { startBerth, type TestBerth } from '../helpers/server.js';

let server: TestBerth;
let client: OciClient;

beforeAll(async () => {
  server = await startBerth({ config: { 'gc.graceSeconds': 0 } });
  client = new OciClient(server.url);
});

afterAll(async () => {
  await server?.close();
});

async function collect(): Promise<CollectionSummary> {
  const run = await server.berth.gc.start({ dryRun: false });
  const done = await server.berth.gc.wait(run.id);
  expect(done?.status, done?.error ?? '').toBe('succeeded');
  return done?.summary as unknown as CollectionSummary;
}

/** The scan reports that exist, as `repository@digest`. */
async function reports(): Promise<string[]> {
  const { rows } = await sql<{ name: string; digest: string }>`
    select r.name, s.digest from scan_reports s join repositories r on r.id = s.repository_id
  `.execute(server.berth.registry.meta.db);
  return rows.map((row) => `${row.name}@${row.digest}`).sort();
}

describe('scan reports of deleted manifests', () => {
  it('a run forgets the reports of the manifests it deletes, per repository: the same image kept elsewhere keeps its own', async () => {
    const a = uniqueRepo('gcbatch');
    const b = uniqueRepo('gcbatch');
    const shared = buildImage({ layers: 1 });
    const untagged = [buildImage({ layers: 1 }), buildImage({ layers: 1 })];
    // The same image: untagged in a (garbage), tagged in b (kept).
    await client.pushImage(a, shared);
    await client.pushImage(b, shared, 'v1');
    for (const image of untagged) await client.pushImage(a, image);
    const scans = server.berth.scanning.store;
    for (const [repository, digest] of [
      [a, shared.digest],
      [b, shared.digest],
      ...untagged.map((image) => [a, image.digest]),
    ] as const) {
      expect(await scans.enqueue(repository, digest, false)).toBe(true);
    }
    expect(await reports()).toHaveLength(4);

    const summary = await collect();
    expect(summary.manifests).toBeGreaterThanOrEqual(3);
    // Forgotten once the batch's events were heard (a statement at the end of that turn of the event loop).
    const deadline = Date.now() + 30_000;
    while ((await reports()).some((r) => r.startsWith(`${a}@`)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await reports()).toEqual([`${b}@${shared.digest}`]);
  });

  it('the deletes heard in one turn of the event loop are forgotten in one statement', async () => {
    const scans = server.berth.scanning.store;
    const calls: number[] = [];
    const forgetAll = scans.forgetAll.bind(scans);
    scans.forgetAll = async (items) => {
      calls.push(items.length);
      return forgetAll(items);
    };
    try {
      const repository = uniqueRepo('gcbatch');
      const images = [buildImage(), buildImage(), buildImage()];
      for (const image of images) {
        await client.pushImage(repository, image);
        expect(await scans.enqueue(repository, image.digest, false)).toBe(true);
      }
      const events: Invalidation[] = images.map((image) => ({
        kind: 'manifest-deleted',
        repository,
        digest: image.digest,
      }));
      // Manifests still there: only the listeners hear of them (as they would of a collector's batch).
      await server.berth.registry.manifests.changedAll(events.slice(0, 2));
      await new Promise((resolve) => setImmediate(resolve));
      await server.berth.registry.manifests.changedAll(events.slice(2));
      const deadline = Date.now() + 30_000;
      while ((await reports()).some((r) => r.startsWith(`${repository}@`)) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect((await reports()).filter((r) => r.startsWith(`${repository}@`))).toEqual([]);
      expect(calls).toEqual([2, 1]);
    } finally {
      scans.forgetAll = forgetAll;
    }
  });
});

describe('the blobs no link keeps, page by page', () => {
  it('pages through the blobs in digest order, leaving out linked and recently touched ones', async () => {
    const db = server.berth.registry.meta.db;
    const collection = new CollectionStore(db);
    const now = Date.now();
    const old = now - 3_600_000;
    // Digests of a range no pushed blob falls in (sha256:ffff…), so the pages see only these.
    const digest = (i: number) => `sha256:ffff${i.toString(16).padStart(60, '0')}`;
    const { id } = await db
      .insertInto('repositories')
      .values({ name: uniqueRepo('gcbatch'), created_at: old })
      .returning('id')
      .executeTakeFirstOrThrow();
    const blobs = Array.from({ length: 10 }, (_, i) => ({
      digest: digest(i),
      size: 100 + i,
      created_at: old,
      // 7 was touched by a push a moment ago: spared.
      touched_at: i === 7 ? now : old,
    }));
    await db.insertInto('blobs').values(blobs).execute();
    // 2 and 5 are linked.
    await db
      .insertInto('repository_blobs')
      .values([2, 5].map((i) => ({ repository_id: Number(id), digest: digest(i), created_at: old })))
      .execute();

    const seen: { digest: string; size: number }[] = [];
    const ends: (string | undefined)[] = [];
    let after = 'sha256:fffe';
    for (;;) {
      const page = await collection.unlinkedBlobs(after, now - 1000, 3);
      ends.push(page.last);
      if (page.last === undefined) break;
      seen.push(...page.blobs);
      after = page.last;
    }
    expect(seen).toEqual([0, 1, 3, 4, 6, 8, 9].map((i) => ({ digest: digest(i), size: 100 + i })));
    // Pages of 3 rows whatever was left out of them: ends at 2, 5, 8, 9, then nothing.
    expect(ends).toEqual([digest(2), digest(5), digest(8), digest(9), undefined]);

    await db.deleteFrom('repository_blobs').where('repository_id', '=', Number(id)).execute();
    await db
      .deleteFrom('blobs')
      .where(
        'digest',
        'in',
        blobs.map((b) => b.digest),
      )
      .execute();
  });
});

describe('a blob whose bytes cannot be deleted', () => {
  it('fails the run and keeps its row; the others of its batch go, rows and bytes; the next run takes it', async () => {
    const repository = uniqueRepo('gcfail');
    const image = buildImage({ layers: 2 });
    await client.pushImage(repository, image);
    expect((await client.delete(`/v2/${repository}/manifests/${image.digest}`)).status).toBe(202);
    const [stuck, ...others] = [image.config, ...image.layers].map((bytes) =>
      createHash('sha256').update(bytes).digest('hex'),
    ) as [string, ...string[]];
    // Where the stuck blob's file was, a directory: unlink(2) refuses it (EISDIR, or EPERM on some systems).
    const path = (hex: string) => join(server.dataDir, 'blobs', 'sha256', hex.slice(0, 2), hex);
    await rm(path(stuck));
    await mkdir(join(path(stuck), 'inner'), { recursive: true });
    const rows = async () =>
      (
        await server.berth.registry.meta.db
          .selectFrom('blobs')
          .select('digest')
          .where(
            'digest',
            'in',
            [stuck, ...others].map((hex) => `sha256:${hex}`),
          )
          .execute()
      ).map((row) => row.digest);

    const run = await server.berth.gc.start({ dryRun: false });
    const done = await server.berth.gc.wait(run.id);
    expect(done?.status).toBe('failed');
    expect(done?.error).toMatch(/EISDIR|EPERM|directory|not permitted/i);
    expect(await rows()).toEqual([`sha256:${stuck}`]);
    for (const hex of others) expect(existsSync(path(hex))).toBe(false);

    await rm(path(stuck), { recursive: true });
    const again = await collect();
    expect(again.blobs).toBeGreaterThanOrEqual(1);
    expect(await rows()).toEqual([]);
  });
});
