// The data directory fills up (a 64 MiB tmpfs holding the blobs and the SQLite database): pushes fail with
// 507 DENIED "storage full", whether the blob write or SQLite's own write hit ENOSPC; pulls, tag lists and
// the catalog keep working meanwhile; nothing stored before is damaged; and once space is freed, pushes
// succeed again on the same process.
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, rmdir, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildBerth, startChildBerth } from '../helpers/child-server.js';
import { describeReply, errorCode, type Reply, send } from '../helpers/raw-http.js';
import { MANIFEST_TYPE, makeImage, pullProblems, pushImage, type TestImage } from './image-push.js';
import { pushBlob, uniqueRepo, waitFor } from './support.js';

const MiB = 1024 * 1024;
const mountPoint = await mkdtemp(join(tmpdir(), 'berth-fault-full-'));
const mounted: boolean = (() => {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    return true;
  } catch (error) {
    console.warn(
      `\n!!! SKIPPING the disk-full test: cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): ${(error as Error).message} !!!\n`,
    );
    return false;
  }
})();
const dataDir = join(mountPoint, 'data');
let berth: ChildBerth;

beforeAll(async () => {
  if (mounted) berth = await startChildBerth(dataDir);
});

afterAll(async () => {
  await berth?.kill();
  if (mounted) execFileSync('umount', [mountPoint]);
  await rmdir(mountPoint).catch(() => {});
});

/** Appends to `path` until the filesystem is full, or only `leave` bytes are free; returns the bytes written. */
async function fill(path: string, leave = 0): Promise<number> {
  const file = await open(path, 'a');
  let written = 0;
  try {
    // Big blocks first, then ever smaller ones, so that "full" means not even 512 bytes fit.
    for (let block = 1024 * 1024; block >= 512; block /= 2) {
      const bytes = Buffer.alloc(block, 0x5a);
      for (;;) {
        const info = await statfs(mountPoint);
        if (leave > 0 && info.bavail * info.bsize - block < leave) break;
        try {
          written += (await file.write(bytes)).bytesWritten;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
          break;
        }
      }
    }
    return written;
  } finally {
    await file.close();
  }
}

function expectStorageFull(reply: Reply): void {
  expect(reply.status, describeReply(reply)).toBe(507);
  expect(errorCode(reply)).toBe('DENIED');
  expect(reply.body.toString('utf8')).toContain('storage full');
}

async function expectReadsWork(images: TestImage[]): Promise<void> {
  for (const image of images) expect(await pullProblems(berth.url, image)).toEqual([]);
  const repos = [...new Set(images.map((image) => image.repo))];
  for (const repo of repos) {
    const tags = await send(berth.url, 'GET', `/v2/${repo}/tags/list`);
    expect(tags.status, describeReply(tags)).toBe(200);
    const listed = (JSON.parse(tags.body.toString('utf8')) as { tags: string[] }).tags;
    for (const image of images.filter((i) => i.repo === repo)) expect(listed).toContain(image.tag);
  }
  const catalog = await send(berth.url, 'GET', '/v2/_catalog?n=1000');
  expect(catalog.status, describeReply(catalog)).toBe(200);
  expect((JSON.parse(catalog.body.toString('utf8')) as { repositories: string[] }).repositories).toEqual(
    expect.arrayContaining(repos),
  );
}

describe.skipIf(!mounted)('disk full (tmpfs data directory)', () => {
  it('refuses pushes with 507 storage full (blob writes and SQLite writes), keeps serving reads, recovers once space is freed', {
    timeout: 300_000,
  }, async () => {
    const repo = uniqueRepo('full');
    const pushed: TestImage[] = [];
    for (let i = 0; i < 3; i++) {
      const image = makeImage(repo, `base${i}`, 2, 256 * 1024, i === 1);
      expect((await pushImage(berth.url, image)).acknowledged).toBe(true);
      pushed.push(image);
    }

    // 1. Blob writes hit ENOSPC: leave ~10 MiB, then push 4 MiB layers until one is refused.
    const filler = join(mountPoint, 'filler');
    await fill(filler, 10 * MiB);
    let refused: Reply | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      const image = makeImage(repo, `big${i}`, 1, 4 * MiB, i % 2 === 1);
      const outcome = await pushImage(berth.url, image);
      if (outcome.acknowledged) pushed.push(image);
      else refused = outcome.replies.at(-1);
    }
    expect(refused, 'no push refused with 10 MiB free').toBeDefined();
    expectStorageFull(refused as Reply);
    await expectReadsWork(pushed);

    // 2. SQLite's own writes hit ENOSPC: the blobs are stored already, the disk is filled to the last byte,
    //    and manifests (rows only) are pushed until SQLite cannot grow its files.
    const small = makeImage(repo, 'rows', 1, 1024, false);
    await rm(filler);
    for (const blob of small.blobs) expect((await pushBlob(berth.url, repo, blob)).status).toBe(201);
    await fill(join(mountPoint, 'filler-2'));
    let sqliteRefused: Reply | undefined;
    let manifests = 0;
    for (let i = 0; i < 5000 && !sqliteRefused; i++) {
      const manifest = Buffer.from(
        JSON.stringify({
          ...JSON.parse(small.manifest.toString('utf8')),
          annotations: { n: String(i), pad: 'x'.repeat(2000) },
        }),
      );
      const reply = await send(berth.url, 'PUT', `/v2/${repo}/manifests/rows${i}`, {
        headers: { 'content-type': MANIFEST_TYPE },
        body: manifest,
      });
      if (reply.status === 201) manifests++;
      else sqliteRefused = reply;
    }
    console.info(
      `disk full: ${pushed.length} images stored, then ${manifests} manifests before SQLite ran out of space`,
    );
    expect(sqliteRefused, 'SQLite never ran out of space').toBeDefined();
    expectStorageFull(sqliteRefused as Reply);
    // And it was SQLite that failed (the manifest's blobs were all stored before the disk filled).
    // The log line comes through a pipe, possibly after the reply.
    const failureOf = () =>
      berth.logs().find((entry) => entry.reqId === sqliteRefused?.headers['x-request-id'] && entry.err);
    await waitFor('the refused request in the log', () => failureOf() !== undefined);
    expect((failureOf()?.err as { code?: string } | undefined)?.code).toBe('SQLITE_FULL');
    await expectReadsWork(pushed);

    // 3. Space freed: pushes work again, same process, and everything acknowledged is intact.
    await rm(join(mountPoint, 'filler-2'));
    const after = makeImage(repo, 'after', 2, 512 * 1024, true);
    const outcome = await pushImage(berth.url, after);
    expect(outcome.acknowledged, outcome.replies.map(describeReply).join('\n')).toBe(true);
    pushed.push(after);
    await expectReadsWork(pushed);
    expect(berth.process.exitCode).toBeNull();
    const db = new Database(join(dataDir, 'berth.db'), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  });
});
