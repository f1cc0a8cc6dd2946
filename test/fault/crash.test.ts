// kill -9 of a real `berth serve` process mid-upload, then a new process on the same data directory:
// acknowledged data is all there, unacknowledged data is invisible, and an interrupted session resumes.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ChildBerth, startChildBerth } from '../helpers/child-server.js';
import { sha256 } from '../helpers/oci-client.js';
import { describeReply, openRequest, send } from '../helpers/raw-http.js';
import {
  blobPath,
  buildImage,
  filesUnder,
  getBlob,
  patchChunk,
  pushBlob,
  startSession,
  uniqueRepo,
  uploadFileSize,
  waitFor,
  withDigest,
} from './support.js';

const MiB = 1024 * 1024;
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

let dataDir: string;
const children: ChildBerth[] = [];

async function start(): Promise<ChildBerth> {
  const child = await startChildBerth(dataDir);
  children.push(child);
  return child;
}

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'berth-fault-'));
});

afterEach(async () => {
  await Promise.all(children.splice(0).map((child) => child.kill()));
  await rm(dataDir, { recursive: true, force: true });
});

async function expectBlob(base: string, repo: string, data: Buffer): Promise<void> {
  const reply = await getBlob(base, repo, sha256(data));
  expect(reply.status, describeReply(reply)).toBe(200);
  expect(reply.headers['content-length']).toBe(String(data.length));
  expect(reply.body.equals(data)).toBe(true);
}

describe('kill -9 and restart on the same data directory', () => {
  it('a chunked upload killed mid-chunk resumes from the last acknowledged chunk; acknowledged pushes survive', async () => {
    let berth = await start();
    const repo = uniqueRepo('crash');

    // Acknowledged before the crash: an image (config, layer, tagged manifest).
    const image = buildImage();
    for (const blob of [image.config, image.layer]) {
      const reply = await pushBlob(berth.url, repo, blob);
      expect(reply.status, describeReply(reply)).toBe(201);
    }
    const put = await send(berth.url, 'PUT', `/v2/${repo}/manifests/v1`, {
      headers: { 'content-type': MANIFEST_TYPE },
      body: image.manifest,
    });
    expect(put.status, describeReply(put)).toBe(201);
    expect(put.headers['docker-content-digest']).toBe(image.digest);

    // The interrupted upload.
    const chunk1 = randomBytes(MiB + 3);
    const chunk2 = randomBytes(2 * MiB + 1);
    const blob = Buffer.concat([chunk1, chunk2]);
    const { location, id } = await startSession(berth.url, repo);
    const first = await patchChunk(berth.url, location, chunk1, 0);
    expect(first.status, describeReply(first)).toBe(202);
    const second = openRequest(berth.url, 'PATCH', location, {
      'content-type': 'application/octet-stream',
      'content-range': `${chunk1.length}-${blob.length - 1}`,
      'content-length': chunk2.length,
    });
    await second.write(chunk2.subarray(0, MiB));
    await waitFor(
      'the server to write part of chunk 2',
      async () => (await uploadFileSize(dataDir, id)) > chunk1.length,
    );
    await berth.kill('SIGKILL');
    expect(berth.process.signalCode).toBe('SIGKILL');
    await expect(second.reply).rejects.toThrow();

    berth = await start();
    const status = await send(berth.url, 'GET', location);
    expect(status.status, describeReply(status)).toBe(204);
    expect(status.headers.range).toBe(`0-${chunk1.length - 1}`);
    expect(status.headers['docker-upload-uuid']).toBe(id);
    expect((await getBlob(berth.url, repo, sha256(blob), 'HEAD')).status).toBe(404);

    const resumed = await patchChunk(berth.url, location, chunk2, chunk1.length);
    expect(resumed.status, describeReply(resumed)).toBe(202);
    expect(resumed.headers.range).toBe(`0-${blob.length - 1}`);
    const done = await send(berth.url, 'PUT', withDigest(location, sha256(blob)));
    expect(done.status, describeReply(done)).toBe(201);
    await expectBlob(berth.url, repo, blob);

    // Everything acknowledged before the crash is intact.
    await expectBlob(berth.url, repo, image.config);
    await expectBlob(berth.url, repo, image.layer);
    for (const reference of ['v1', image.digest]) {
      const manifest = await send(berth.url, 'GET', `/v2/${repo}/manifests/${reference}`, {
        headers: { accept: MANIFEST_TYPE },
      });
      expect(manifest.status, describeReply(manifest)).toBe(200);
      expect(manifest.headers['docker-content-digest']).toBe(image.digest);
      expect(manifest.body.equals(image.manifest)).toBe(true);
    }
    const tags = await send(berth.url, 'GET', `/v2/${repo}/tags/list`);
    expect(JSON.parse(tags.body.toString('utf8'))).toEqual({ name: repo, tags: ['v1'] });
  });

  it('a monolithic upload killed mid-body is not visible after restart, and pushing it again works', async () => {
    let berth = await start();
    const repo = uniqueRepo('crash-mono');
    const blob = randomBytes(6 * MiB);
    const digest = sha256(blob);
    const upload = openRequest(berth.url, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      'content-type': 'application/octet-stream',
      'content-length': blob.length,
    });
    await upload.write(blob.subarray(0, 3 * MiB));
    await waitFor('the server to write part of the body', async () => {
      const files = await filesUnder(join(dataDir, 'uploads'));
      return files.some((file) => file.size > 0);
    });
    await berth.kill('SIGKILL');
    await expect(upload.reply).rejects.toThrow();

    berth = await start();
    const head = await getBlob(berth.url, repo, digest, 'HEAD');
    expect(head.status, describeReply(head)).toBe(404);
    expect((await getBlob(berth.url, repo, digest)).status).toBe(404);
    const stored = (await filesUnder(join(dataDir, 'blobs'))).map((file) => `blobs/${file.path}`);
    expect(stored).not.toContain(blobPath(digest));

    const retry = await pushBlob(berth.url, repo, blob);
    expect(retry.status, describeReply(retry)).toBe(201);
    await expectBlob(berth.url, repo, blob);
  });

  it('a server killed right after acknowledging a chunked upload still has the blob after restart', async () => {
    let berth = await start();
    const repo = uniqueRepo('crash-ack');
    const blob = randomBytes(2 * MiB + 9);
    const { location } = await startSession(berth.url, repo);
    expect((await patchChunk(berth.url, location, blob, 0)).status).toBe(202);
    const done = await send(berth.url, 'PUT', withDigest(location, sha256(blob)));
    expect(done.status, describeReply(done)).toBe(201);
    await berth.kill('SIGKILL');

    berth = await start();
    await expectBlob(berth.url, repo, blob);
    expect((await send(berth.url, 'GET', location)).status).toBe(404);
  });
});
