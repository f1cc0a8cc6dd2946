// SIGTERM while an upload is streaming: the upload finishes and is acknowledged, then the process exits 0.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ChildBerth, type ChildExit, startChildBerth } from '../helpers/child-server.js';
import { sha256 } from '../helpers/oci-client.js';
import { describeReply, openRequest, type Reply } from '../helpers/raw-http.js';
import { filesUnder, getBlob, uniqueRepo, waitFor } from './support.js';

const PIECE = 64 * 1024;
const PIECE_INTERVAL_MS = 50;

let dataDir: string;
const children: ChildBerth[] = [];
let agent: Agent | undefined;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'berth-fault-'));
});

afterEach(async () => {
  agent?.destroy();
  agent = undefined;
  await Promise.all(children.splice(0).map((child) => child.kill()));
  await rm(dataDir, { recursive: true, force: true });
});

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How the process ended, or `timedOut` when it is still running after `ms`. */
async function exitWithin(berth: ChildBerth, ms: number): Promise<ChildExit | 'timedOut'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timedOut'>((resolve) => {
    timer = setTimeout(() => resolve('timedOut'), ms);
  });
  try {
    return await Promise.race([berth.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Streams a blob slowly (a piece every 50 ms) in a monolithic POST, sends SIGTERM once the server is writing
 * it, keeps streaming for at least 300 ms more, then finishes. Returns the reply and what was sent.
 */
async function slowUploadThroughSigterm(
  berth: ChildBerth,
  via?: Agent,
): Promise<{ reply: Reply; repo: string; blob: Buffer; digest: string }> {
  const repo = uniqueRepo('drain');
  const pieces = Array.from({ length: 12 }, () => randomBytes(PIECE));
  const blob = Buffer.concat(pieces);
  const digest = sha256(blob);
  const upload = openRequest(
    berth.url,
    'POST',
    `/v2/${repo}/blobs/uploads/?digest=${digest}`,
    { 'content-type': 'application/octet-stream', 'content-length': blob.length },
    via,
  );
  let sent = 0;
  const writeNext = async () => {
    await upload.write(pieces[sent] as Buffer);
    sent++;
    await pause(PIECE_INTERVAL_MS);
  };

  // The server is streaming this upload to disk before it is told to stop.
  await writeNext();
  await waitFor('the server to write the first piece', async () => {
    const files = await filesUnder(join(dataDir, 'uploads'));
    return files.some((file) => file.size > 0);
  });
  berth.process.kill('SIGTERM');
  await waitFor('the shutdown to begin', () =>
    berth.logs().some((entry) => entry.msg === 'shutting down: finishing in-flight requests'),
  );
  const signalled = Date.now();
  while (sent < pieces.length - 1) {
    await writeNext();
    expect(berth.process.exitCode, 'the process exited with an upload in flight').toBeNull();
  }
  const rest = 300 - (Date.now() - signalled);
  if (rest > 0) await pause(rest);
  const reply = await upload.end(pieces[pieces.length - 1]);
  return { reply, repo, blob, digest };
}

describe('graceful shutdown', () => {
  it('SIGTERM during a slow upload: the upload completes with 201, then the process exits 0', async () => {
    const berth = await startChildBerth(dataDir);
    children.push(berth);
    // Without an agent the request has a connection of its own, sent with `Connection: close`.
    const { reply, repo, blob, digest } = await slowUploadThroughSigterm(berth);
    expect(reply.status, describeReply(reply)).toBe(201);
    expect(reply.headers['docker-content-digest']).toBe(digest);
    expect(await exitWithin(berth, 10_000)).toEqual({ code: 0, signal: null });

    // The acknowledged blob is there for the next process.
    const next = await startChildBerth(dataDir);
    children.push(next);
    const get = await getBlob(next.url, repo, digest);
    expect(get.status, describeReply(get)).toBe(200);
    expect(get.body.equals(blob)).toBe(true);
  });

  it('SIGTERM during an upload on a keep-alive connection: exits promptly once the upload is done', async () => {
    // Real clients keep connections open; shutdown must not wait out the keep-alive (or its own timeout).
    const berth = await startChildBerth(dataDir);
    children.push(berth);
    agent = new Agent({ keepAlive: true });
    const { reply, digest } = await slowUploadThroughSigterm(berth, agent);
    expect(reply.status, describeReply(reply)).toBe(201);
    expect(reply.headers['docker-content-digest']).toBe(digest);
    expect(await exitWithin(berth, 5_000)).toEqual({ code: 0, signal: null });
  });

  it('SIGTERM with nothing in flight exits 0 promptly', async () => {
    const berth = await startChildBerth(dataDir);
    children.push(berth);
    berth.process.kill('SIGTERM');
    expect(await exitWithin(berth, 5_000)).toEqual({ code: 0, signal: null });
  });
});
