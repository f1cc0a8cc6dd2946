// The same content pushed twice at the same time: both pushes succeed and the bytes are stored once.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256 } from '../helpers/oci-client.js';
import { describeReply, openRequest, type Reply, send } from '../helpers/raw-http.js';
import { startBerth, type TestBerth } from '../helpers/server.js';
import {
  filesUnder,
  getBlob,
  patchChunk,
  pushBlob,
  startSession,
  uniqueRepo,
  waitFor,
  withDigest,
} from './support.js';

const MiB = 1024 * 1024;

let berth: TestBerth;

beforeEach(async () => {
  berth = await startBerth();
});

afterEach(async () => {
  await berth?.close();
});

/** The files in the blob's fan-out directory: there must be exactly one, the blob itself, whole. */
async function expectStoredOnce(data: Buffer): Promise<void> {
  const hex = sha256(data).slice('sha256:'.length);
  const files = await filesUnder(join(berth.dataDir, 'blobs', 'sha256', hex.slice(0, 2)));
  expect(files).toEqual([{ path: hex, size: data.length }]);
  expect(await filesUnder(join(berth.dataDir, 'uploads'))).toEqual([]);
}

async function expectBlob(repo: string, data: Buffer): Promise<void> {
  const reply = await getBlob(berth.url, repo, sha256(data));
  expect(reply.status, describeReply(reply)).toBe(200);
  expect(reply.body.equals(data)).toBe(true);
}

function expectCreated(reply: Reply, digest: string): void {
  expect(reply.status, describeReply(reply)).toBe(201);
  expect(reply.headers['docker-content-digest']).toBe(digest);
}

describe('concurrent uploads of the same blob', () => {
  it('two chunked sessions in the same repository, interleaved, both close with 201', async () => {
    const repo = uniqueRepo('same');
    const blob = randomBytes(3 * MiB + 11);
    const digest = sha256(blob);
    const half = Math.floor(blob.length / 2);
    const a = await startSession(berth.url, repo);
    const b = await startSession(berth.url, repo);
    expect(a.id).not.toBe(b.id);

    const firstHalves = await Promise.all([
      patchChunk(berth.url, a.location, blob.subarray(0, half), 0),
      patchChunk(berth.url, b.location, blob.subarray(0, half), 0),
    ]);
    for (const reply of firstHalves) expect(reply.status, describeReply(reply)).toBe(202);

    // Both closing PUTs carry the rest of the blob and are in the server at the same time.
    const puts = [a, b].map((session) =>
      openRequest(berth.url, 'PUT', withDigest(session.location, digest), {
        'content-type': 'application/octet-stream',
        'content-range': `${half}-${blob.length - 1}`,
        'content-length': blob.length - half,
      }),
    );
    const rest = blob.subarray(half);
    const split = Math.floor(rest.length / 2);
    for (const put of puts) await put.write(rest.subarray(0, split));
    await waitFor('both PUTs to be writing', () => berth.berth.registry.uploads.inFlight === 2);
    const replies = await Promise.all(puts.map((put) => put.end(rest.subarray(split))));
    for (const reply of replies) expectCreated(reply, digest);

    await expectStoredOnce(blob);
    await expectBlob(repo, blob);
  });

  it('two monolithic pushes into different repositories: both see the blob, stored once', async () => {
    const repos = [uniqueRepo('mono-a'), uniqueRepo('mono-b')];
    const blob = randomBytes(4 * MiB);
    const digest = sha256(blob);
    const replies = await Promise.all(repos.map((repo) => pushBlob(berth.url, repo, blob)));
    for (const reply of replies) expectCreated(reply, digest);
    await expectStoredOnce(blob);
    for (const repo of repos) await expectBlob(repo, blob);
  });

  it('a push of a blob that already exists succeeds and leaves the stored copy alone', async () => {
    const repo = uniqueRepo('again');
    const blob = randomBytes(MiB);
    expectCreated(await pushBlob(berth.url, repo, blob), sha256(blob));
    const { location } = await startSession(berth.url, repo);
    expect((await patchChunk(berth.url, location, blob, 0)).status).toBe(202);
    expectCreated(await send(berth.url, 'PUT', withDigest(location, sha256(blob))), sha256(blob));
    await expectStoredOnce(blob);
    await expectBlob(repo, blob);
  });
});
