// Clients that lie: a digest that does not match the bytes, a Content-Length or Content-Range promising more
// than is sent. None of it may become a blob, and an honest retry must still work.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256 } from '../helpers/oci-client.js';
import { describeReply, errorCode, openRequest, send } from '../helpers/raw-http.js';
import { startBerth, type TestBerth } from '../helpers/server.js';
import {
  blobPath,
  filesUnder,
  getBlob,
  patchChunk,
  settled,
  startSession,
  uniqueRepo,
  uploadFileSize,
  waitFor,
  withDigest,
} from './support.js';

const KiB = 1024;

let berth: TestBerth;

beforeEach(async () => {
  berth = await startBerth();
});

afterEach(async () => {
  await berth?.close();
});

/** HEAD is 404 and no file exists at the digest's content address. */
async function expectNotStored(repo: string, ...digests: string[]): Promise<void> {
  const stored = (await filesUnder(join(berth.dataDir, 'blobs'))).map((file) => `blobs/${file.path}`);
  for (const digest of digests) {
    const head = await getBlob(berth.url, repo, digest, 'HEAD');
    expect(head.status, `HEAD ${digest}`).toBe(404);
    expect(stored).not.toContain(blobPath(digest));
  }
}

async function expectBlob(repo: string, data: Buffer): Promise<void> {
  const reply = await getBlob(berth.url, repo, sha256(data));
  expect(reply.status, describeReply(reply)).toBe(200);
  expect(reply.headers['content-length']).toBe(String(data.length));
  expect(reply.body.length).toBe(data.length);
  expect(reply.body.equals(data)).toBe(true);
}

async function uploadOffset(location: string): Promise<string | undefined> {
  const status = await send(berth.url, 'GET', location);
  expect(status.status, describeReply(status)).toBe(204);
  return status.headers.range;
}

describe('wrong digest', () => {
  it('PUT closing a session with a wrong digest: 400 DIGEST_INVALID, nothing stored for either digest', async () => {
    const repo = uniqueRepo('digest');
    const blob = randomBytes(300 * KiB);
    const wrong = sha256(randomBytes(32));
    const { location } = await startSession(berth.url, repo);
    expect((await patchChunk(berth.url, location, blob, 0)).status).toBe(202);

    const put = await send(berth.url, 'PUT', withDigest(location, wrong));
    expect(put.status, describeReply(put)).toBe(400);
    expect(errorCode(put)).toBe('DIGEST_INVALID');
    await expectNotStored(repo, wrong, sha256(blob));
    expect(await filesUnder(join(berth.dataDir, 'uploads'))).toEqual([]);
    // The failed session is gone: a client has to start over.
    expect((await send(berth.url, 'GET', location)).status).toBe(404);
  });

  it('PUT with a wrong digest and the body in the PUT itself', async () => {
    const repo = uniqueRepo('digest-put');
    const blob = randomBytes(200 * KiB);
    const wrong = sha256(Buffer.concat([blob, Buffer.from('x')]));
    const { location } = await startSession(berth.url, repo);
    const put = await send(berth.url, 'PUT', withDigest(location, wrong), { body: blob });
    expect(put.status, describeReply(put)).toBe(400);
    expect(errorCode(put)).toBe('DIGEST_INVALID');
    await expectNotStored(repo, wrong, sha256(blob));
  });

  it('monolithic POST ?digest= with a wrong digest: 400 DIGEST_INVALID, no blob, no temp file', async () => {
    const repo = uniqueRepo('digest-mono');
    const blob = randomBytes(1024 * KiB);
    const wrong = sha256(blob.subarray(1));
    const post = await send(berth.url, 'POST', `/v2/${repo}/blobs/uploads/?digest=${wrong}`, { body: blob });
    expect(post.status, describeReply(post)).toBe(400);
    expect(errorCode(post)).toBe('DIGEST_INVALID');
    await expectNotStored(repo, wrong, sha256(blob));
    expect(await filesUnder(join(berth.dataDir, 'uploads'))).toEqual([]);

    const retry = await send(berth.url, 'POST', `/v2/${repo}/blobs/uploads/?digest=${sha256(blob)}`, {
      body: blob,
    });
    expect(retry.status, describeReply(retry)).toBe(201);
    await expectBlob(repo, blob);
  });
});

describe('size lies', () => {
  it('monolithic POST with Content-Length larger than what is sent, then disconnect: not committed', async () => {
    const repo = uniqueRepo('cl-mono');
    const sent = randomBytes(700 * KiB);
    const claimed = Buffer.concat([sent, randomBytes(700 * KiB)]);
    const upload = openRequest(berth.url, 'POST', `/v2/${repo}/blobs/uploads/?digest=${sha256(claimed)}`, {
      'content-type': 'application/octet-stream',
      'content-length': claimed.length,
    });
    await upload.write(sent);
    await waitFor('all the bytes sent to be on disk', async () => {
      const files = await filesUnder(join(berth.dataDir, 'uploads'));
      return files.length === 1 && files[0]?.size === sent.length;
    });
    upload.abort();
    await expect(upload.reply).rejects.toThrow();
    await settled(berth);
    await waitFor(
      'the temp file to be removed',
      async () => (await filesUnder(join(berth.dataDir, 'uploads'))).length === 0,
    );
    await expectNotStored(repo, sha256(claimed), sha256(sent));
  });

  it('PATCH with Content-Length larger than what is sent, then disconnect: the offset does not move', async () => {
    const repo = uniqueRepo('cl-patch');
    const chunk1 = randomBytes(100 * KiB);
    const chunk2 = randomBytes(400 * KiB);
    const blob = Buffer.concat([chunk1, chunk2]);
    const { location, id } = await startSession(berth.url, repo);
    expect((await patchChunk(berth.url, location, chunk1, 0)).status).toBe(202);

    const lie = openRequest(berth.url, 'PATCH', location, {
      'content-type': 'application/octet-stream',
      'content-length': chunk2.length * 2,
    });
    await lie.write(chunk2);
    await waitFor(
      'the bytes sent to be on disk',
      async () => (await uploadFileSize(berth.dataDir, id)) === blob.length,
    );
    lie.abort();
    await expect(lie.reply).rejects.toThrow();
    await settled(berth);
    expect(await uploadOffset(location)).toBe(`0-${chunk1.length - 1}`);
    await expectNotStored(repo, sha256(blob));

    expect((await patchChunk(berth.url, location, chunk2, chunk1.length)).status).toBe(202);
    const put = await send(berth.url, 'PUT', withDigest(location, sha256(blob)));
    expect(put.status, describeReply(put)).toBe(201);
    await expectBlob(repo, blob);
  });

  it('PATCH whose Content-Range claims more than the body carries (chunked encoding): rejected, not committed', async () => {
    const repo = uniqueRepo('cr-chunked');
    const chunk1 = randomBytes(64 * KiB);
    const chunk2 = randomBytes(64 * KiB);
    const blob = Buffer.concat([chunk1, chunk2]);
    const { location } = await startSession(berth.url, repo);
    expect((await patchChunk(berth.url, location, chunk1, 0)).status).toBe(202);

    // No Content-Length: the body ends cleanly (chunked), short of what Content-Range promised.
    const lie = openRequest(berth.url, 'PATCH', location, {
      'content-type': 'application/octet-stream',
      'content-range': `${chunk1.length}-${chunk1.length + 2 * chunk2.length - 1}`,
    });
    await lie.write(chunk2);
    const reply = await lie.end();
    expect(reply.status, describeReply(reply)).toBe(400);
    expect(errorCode(reply)).toBe('SIZE_INVALID');
    expect(await uploadOffset(location)).toBe(`0-${chunk1.length - 1}`);
    await expectNotStored(repo, sha256(blob));

    expect((await patchChunk(berth.url, location, chunk2, chunk1.length)).status).toBe(202);
    const put = await send(berth.url, 'PUT', withDigest(location, sha256(blob)));
    expect(put.status, describeReply(put)).toBe(201);
    await expectBlob(repo, blob);
  });

  it('PATCH whose Content-Range disagrees with Content-Length: 416 before any byte is taken', async () => {
    const repo = uniqueRepo('cr-cl');
    const chunk = randomBytes(32 * KiB);
    const { location, id } = await startSession(berth.url, repo);
    const reply = await send(berth.url, 'PATCH', location, {
      headers: { 'content-range': `0-${2 * chunk.length - 1}` },
      body: chunk,
    });
    expect(reply.status, describeReply(reply)).toBe(416);
    expect(await uploadOffset(location)).toBe('0-0');
    // No byte taken: the temporary file is created by the first write, so it is absent (-1) or empty.
    expect([-1, 0]).toContain(await uploadFileSize(berth.dataDir, id));
    await expectNotStored(repo, sha256(chunk));
  });

  it('PATCH whose Content-Range and Content-Length claim more than sent, then disconnect: not committed', async () => {
    const repo = uniqueRepo('cr-abort');
    const chunk = randomBytes(600 * KiB);
    const claimed = 2 * chunk.length;
    const { location, id } = await startSession(berth.url, repo);
    const lie = openRequest(berth.url, 'PATCH', location, {
      'content-type': 'application/octet-stream',
      'content-range': `0-${claimed - 1}`,
      'content-length': claimed,
    });
    await lie.write(chunk);
    await waitFor('the bytes sent to be on disk', async () => (await uploadFileSize(berth.dataDir, id)) > 0);
    lie.abort();
    await expect(lie.reply).rejects.toThrow();
    await settled(berth);
    expect(await uploadOffset(location)).toBe('0-0');
    // Closing the session now can only describe the empty blob: the partial bytes do not count.
    const put = await send(berth.url, 'PUT', withDigest(location, sha256(chunk)));
    expect(put.status, describeReply(put)).toBe(400);
    expect(errorCode(put)).toBe('DIGEST_INVALID');
    await expectNotStored(repo, sha256(chunk));
  });

  it('closing a session right after a failed chunk commits exactly the acknowledged bytes', async () => {
    // The failed chunk left bytes in the temp file past the session offset; the blob must not include them.
    const repo = uniqueRepo('tail');
    const chunk1 = randomBytes(128 * KiB);
    const chunk2 = randomBytes(128 * KiB);
    const { location, id } = await startSession(berth.url, repo);
    expect((await patchChunk(berth.url, location, chunk1, 0)).status).toBe(202);
    const lie = openRequest(berth.url, 'PATCH', location, {
      'content-type': 'application/octet-stream',
      'content-range': `${chunk1.length}-${chunk1.length + 2 * chunk2.length - 1}`,
    });
    await lie.write(chunk2);
    expect((await lie.end()).status).toBe(400);
    expect(await uploadFileSize(berth.dataDir, id)).toBeGreaterThan(chunk1.length);

    const put = await send(berth.url, 'PUT', withDigest(location, sha256(chunk1)));
    expect(put.status, describeReply(put)).toBe(201);
    const stored = (await filesUnder(join(berth.dataDir, 'blobs'))).find(
      (file) => `blobs/${file.path}` === blobPath(sha256(chunk1)),
    );
    expect.soft(stored?.size, 'size of the committed blob file').toBe(chunk1.length);
    await expectBlob(repo, chunk1);
  });
});
