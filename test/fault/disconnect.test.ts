// A client that vanishes mid-upload: nothing half-written may become visible, the session (when there is one)
// stays where the last complete chunk left it, and the server carries on serving.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256 } from '../helpers/oci-client.js';
import { describeReply, openRequest, send } from '../helpers/raw-http.js';
import { startBerth, type TestBerth } from '../helpers/server.js';
import {
  blobPath,
  filesUnder,
  getBlob,
  patchChunk,
  pushBlob,
  settled,
  startSession,
  uniqueRepo,
  uploadFileSize,
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

/** Bytes the server has written to upload temp files so far. */
async function uploadedBytes(): Promise<number> {
  const files = await filesUnder(join(berth.dataDir, 'uploads'));
  return files.reduce((sum, file) => sum + file.size, 0);
}

async function expectServing(): Promise<void> {
  const reply = await send(berth.url, 'GET', '/v2/');
  expect(reply.status, describeReply(reply)).toBe(200);
}

async function expectBlobAbsent(repo: string, digest: string): Promise<void> {
  const head = await getBlob(berth.url, repo, digest, 'HEAD');
  expect(head.status).toBe(404);
  const blobs = await filesUnder(join(berth.dataDir, 'blobs'));
  expect(blobs.map((file) => `blobs/${file.path}`)).not.toContain(blobPath(digest));
}

async function expectBlob(repo: string, data: Buffer): Promise<void> {
  const reply = await getBlob(berth.url, repo, sha256(data));
  expect(reply.status, describeReply(reply)).toBe(200);
  expect(reply.headers['content-length']).toBe(String(data.length));
  expect(reply.body.equals(data)).toBe(true);
}

describe('client disconnect mid-upload', () => {
  it('monolithic POST ?digest=: nothing is committed, the temp file goes, and a retry succeeds', async () => {
    const repo = uniqueRepo('mono');
    const blob = randomBytes(8 * MiB);
    const digest = sha256(blob);
    const upload = openRequest(berth.url, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      'content-type': 'application/octet-stream',
      'content-length': blob.length,
    });
    await upload.write(blob.subarray(0, blob.length / 2));
    // The server is really streaming the body to disk before the client goes away.
    await waitFor('the server to write part of the body', async () => (await uploadedBytes()) > 0);
    upload.abort();
    await expect(upload.reply).rejects.toThrow();

    await settled(berth);
    // The aborted monolithic upload's session and temp file are discarded.
    await waitFor('the temp file to be removed', async () => (await uploadedBytes()) === 0);
    expect(await filesUnder(join(berth.dataDir, 'uploads'))).toEqual([]);
    await expectBlobAbsent(repo, digest);
    await expectServing();

    const retry = await pushBlob(berth.url, repo, blob);
    expect(retry.status, describeReply(retry)).toBe(201);
    expect(retry.headers['docker-content-digest']).toBe(digest);
    await expectBlob(repo, blob);
  });

  it('PATCH cut mid-chunk: the session keeps the last complete chunk and resumes from there', async () => {
    const repo = uniqueRepo('patch');
    const chunk1 = randomBytes(1 * MiB + 17);
    const chunk2 = randomBytes(3 * MiB + 5);
    const blob = Buffer.concat([chunk1, chunk2]);
    const { location, id } = await startSession(berth.url, repo);

    const first = await patchChunk(berth.url, location, chunk1, 0);
    expect(first.status, describeReply(first)).toBe(202);
    expect(first.headers.range).toBe(`0-${chunk1.length - 1}`);

    const second = openRequest(berth.url, 'PATCH', location, {
      'content-type': 'application/octet-stream',
      'content-range': `${chunk1.length}-${blob.length - 1}`,
      'content-length': chunk2.length,
    });
    await second.write(chunk2.subarray(0, MiB));
    await waitFor(
      'the server to write part of chunk 2',
      async () => (await uploadFileSize(berth.dataDir, id)) > chunk1.length,
    );
    second.abort();
    await expect(second.reply).rejects.toThrow();
    await settled(berth);
    await expectServing();

    const status = await send(berth.url, 'GET', location);
    expect(status.status, describeReply(status)).toBe(204);
    expect(status.headers.range).toBe(`0-${chunk1.length - 1}`);
    await expectBlobAbsent(repo, sha256(blob));

    const resumed = await patchChunk(berth.url, location, chunk2, chunk1.length);
    expect(resumed.status, describeReply(resumed)).toBe(202);
    expect(resumed.headers.range).toBe(`0-${blob.length - 1}`);
    const done = await send(berth.url, 'PUT', withDigest(location, sha256(blob)));
    expect(done.status, describeReply(done)).toBe(201);
    await expectBlob(repo, blob);
    expect(await filesUnder(join(berth.dataDir, 'uploads'))).toEqual([]);
  });

  it('PUT with a final chunk cut mid-way: not committed, the session survives, a retried PUT works', async () => {
    const repo = uniqueRepo('put');
    const chunk1 = randomBytes(512 * 1024);
    const last = randomBytes(2 * MiB);
    const blob = Buffer.concat([chunk1, last]);
    const digest = sha256(blob);
    const { location, id } = await startSession(berth.url, repo);
    expect((await patchChunk(berth.url, location, chunk1, 0)).status).toBe(202);

    const put = openRequest(berth.url, 'PUT', withDigest(location, digest), {
      'content-type': 'application/octet-stream',
      'content-range': `${chunk1.length}-${blob.length - 1}`,
      'content-length': last.length,
    });
    await put.write(last.subarray(0, MiB));
    await waitFor(
      'the server to write part of the last chunk',
      async () => (await uploadFileSize(berth.dataDir, id)) > chunk1.length,
    );
    put.abort();
    await expect(put.reply).rejects.toThrow();
    await settled(berth);

    await expectBlobAbsent(repo, digest);
    const status = await send(berth.url, 'GET', location);
    expect(status.status, describeReply(status)).toBe(204);
    expect(status.headers.range).toBe(`0-${chunk1.length - 1}`);

    const retry = await send(berth.url, 'PUT', withDigest(location, digest), {
      headers: { 'content-range': `${chunk1.length}-${blob.length - 1}` },
      body: last,
    });
    expect(retry.status, describeReply(retry)).toBe(201);
    await expectBlob(repo, blob);
  });

  it('many aborted uploads in a row leave no temp files and do not wedge the server', async () => {
    const repo = uniqueRepo('many');
    const blob = randomBytes(2 * MiB);
    for (let i = 0; i < 5; i++) {
      const upload = openRequest(berth.url, 'POST', `/v2/${repo}/blobs/uploads/?digest=${sha256(blob)}`, {
        'content-type': 'application/octet-stream',
        'content-length': blob.length,
      });
      await upload.write(blob.subarray(0, 256 * 1024 * (i + 1)));
      await waitFor('part of the body on disk', async () => (await uploadedBytes()) > 0);
      upload.abort();
      await expect(upload.reply).rejects.toThrow();
      await settled(berth);
      await waitFor('the temp file to be removed', async () => (await uploadedBytes()) === 0);
    }
    expect(await filesUnder(join(berth.dataDir, 'uploads'))).toEqual([]);
    await expectBlobAbsent(repo, sha256(blob));
    await expectServing();
    expect((await pushBlob(berth.url, repo, blob)).status).toBe(201);
    await expectBlob(repo, blob);
  });
});
