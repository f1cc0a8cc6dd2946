// `berth serve --workers 2` on the embedded SQLite database: two worker processes behind one port (node:cluster
// hands each new connection to the next worker), kept consistent through the primary's IPC relay.

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, withDigest } from '../fault/support.js';
import type { ChildBerth } from '../helpers/child-server.js';
import { type BuiltImage, buildImage, MT, sha256, uniqueRepo } from '../helpers/oci-client.js';
import { describeReply, openRequest, send } from '../helpers/raw-http.js';
import { type Served, sendServed, startWorkers, type Workers } from '../helpers/worker-processes.js';

const MiB = 1024 * 1024;
const WORKERS = 2;

let workers: Workers;
let berth: ChildBerth;
let workerPids: number[];

// No deadline of its own: startWorkers fails a start that stops making progress (test/helpers/child-server.ts),
// and the configured hook timeout bounds the whole.
beforeAll(async () => {
  workers = await startWorkers('berth-workers-', {}, WORKERS);
  ({ berth, pids: workerPids } = workers);
});

afterAll(async () => {
  await workers?.stop();
});

/** One request on a connection of its own (so the primary hands it to the next worker); says who served it. */
function request(
  method: string,
  path: string,
  options: { headers?: Record<string, string | number>; body?: Buffer } = {},
): Promise<Served> {
  return sendServed(berth.url, () => berth.logs(), method, path, options, 5000);
}

async function pushImage(repo: string, image: BuiltImage, reference = image.digest): Promise<Served> {
  for (const blob of [image.config, ...image.layers]) {
    const reply = await request('POST', `/v2/${repo}/blobs/uploads/?digest=${sha256(blob)}`, { body: blob });
    expect(reply.status, describeReply(reply)).toBe(201);
  }
  const put = await request('PUT', `/v2/${repo}/manifests/${reference}`, {
    headers: { 'content-type': image.mediaType },
    body: image.manifest,
  });
  expect(put.status, describeReply(put)).toBe(201);
  return put;
}

function getManifest(repo: string, reference: string): Promise<Served> {
  return request('GET', `/v2/${repo}/manifests/${reference}`, { headers: { accept: MT.ociManifest } });
}

/** Asserts that both workers were among those that served `replies`: the test really crossed processes. */
function expectBothWorkers(replies: Served[], what: string): void {
  expect(new Set(replies.map((reply) => reply.pid)), what).toEqual(new Set(workerPids));
}

describe(`berth serve --workers ${WORKERS} on SQLite`, () => {
  it('runs the workers in processes of their own, and spreads connections over them', async () => {
    expect(workerPids).toHaveLength(WORKERS);
    expect(workerPids).not.toContain(berth.process.pid);
    const replies: Served[] = [];
    for (let i = 0; i < 6; i++) {
      const reply = await request('GET', '/v2/');
      expect(reply.status).toBe(200);
      replies.push(reply);
    }
    expectBothWorkers(replies, 'workers that answered /v2/');
  });

  it('a tag move through one worker is served by every worker at once', async () => {
    const repo = uniqueRepo('workers');
    const images = Array.from({ length: 6 }, () => buildImage({ layers: 1, layerSize: 256 }));
    for (const image of images) await pushImage(repo, image);
    const writes: Served[] = [];
    const reads: Served[] = [];
    for (const image of images) {
      writes.push(await pushImage(repo, image, 'latest'));
      // No sleep: every following connection, whichever worker takes it, sees the new digest.
      for (let i = 0; i < 4; i++) {
        const reply = await getManifest(repo, 'latest');
        expect(reply.status, describeReply(reply)).toBe(200);
        expect(reply.headers['docker-content-digest'], `read by ${reply.pid}`).toBe(image.digest);
        expect(reply.body.equals(image.manifest)).toBe(true);
        reads.push(reply);
      }
    }
    expectBothWorkers(writes, 'workers that moved the tag');
    expectBothWorkers(reads, 'workers that read the tag');
  });

  it('a manifest deleted through one worker is gone on every worker within 2 s', async () => {
    const repo = uniqueRepo('workers');
    const image = buildImage({ layers: 1, layerSize: 256 });
    await pushImage(repo, image, 'doomed');
    // Both workers read it by digest twice: their second answer comes from their caches.
    const reads: Served[] = [];
    for (let i = 0; i < 4; i++) {
      const reply = await getManifest(repo, image.digest);
      expect(reply.status, describeReply(reply)).toBe(200);
      reads.push(reply);
    }
    expectBothWorkers(reads, 'workers that cached the manifest');

    const deleted = await request('DELETE', `/v2/${repo}/manifests/${image.digest}`);
    expect(deleted.status, describeReply(deleted)).toBe(202);
    // The other worker hears of the delete through the primary's IPC relay: asynchronously, in milliseconds.
    // Poll until each worker has answered 404; one that did never answers 200 again.
    const gone = new Set<number>();
    await waitFor(
      'both workers to answer 404 for the deleted manifest',
      async () => {
        const reply = await getManifest(repo, image.digest);
        if (reply.status === 404) gone.add(reply.pid);
        else {
          expect(reply.status).toBe(200);
          expect(gone.has(reply.pid), `worker ${reply.pid} served a manifest it had reported gone`).toBe(
            false,
          );
        }
        return gone.size === WORKERS;
      },
      2000,
    );
    expect((await getManifest(repo, 'doomed')).status).toBe(404);
  });

  it('an upload started on one connection continues on others and is closed on yet another', async () => {
    const repo = uniqueRepo('workers');
    const chunks = Array.from({ length: 5 }, () => randomBytes(MiB));
    const tail = randomBytes(4321);
    const blob = Buffer.concat([...chunks, tail]);
    const started = await request('POST', `/v2/${repo}/blobs/uploads/`);
    expect(started.status, describeReply(started)).toBe(202);
    const location = String(started.headers.location);

    const steps: Served[] = [started];
    let offset = 0;
    for (const chunk of chunks) {
      const reply = await request('PATCH', location, {
        headers: { 'content-range': `${offset}-${offset + chunk.length - 1}` },
        body: chunk,
      });
      expect(reply.status, describeReply(reply)).toBe(202);
      offset += chunk.length;
      expect(reply.headers.range).toBe(`0-${offset - 1}`);
      steps.push(reply);
    }
    const done = await request('PUT', withDigest(location, sha256(blob)), {
      headers: { 'content-range': `${offset}-${blob.length - 1}` },
      body: tail,
    });
    expect(done.status, describeReply(done)).toBe(201);
    steps.push(done);
    expectBothWorkers(steps, 'workers that took part in the upload');

    const reads: Served[] = [];
    for (let i = 0; i < 4; i++) {
      const reply = await request('GET', `/v2/${repo}/blobs/${sha256(blob)}`);
      expect(reply.status, describeReply(reply)).toBe(200);
      expect(sha256(reply.body)).toBe(sha256(blob));
      reads.push(reply);
    }
    expectBothWorkers(reads, 'workers that served the blob');
  });

  // Last: it stops the server.
  it('SIGTERM to the primary lets an in-flight upload finish, then every worker and the primary exit 0', async () => {
    const repo = uniqueRepo('workers');
    const blob = randomBytes(2 * MiB);
    const started = await request('POST', `/v2/${repo}/blobs/uploads/`);
    expect(started.status, describeReply(started)).toBe(202);
    const patch = openRequest(berth.url, 'PATCH', String(started.headers.location), {
      'content-type': 'application/octet-stream',
      'content-range': `0-${blob.length - 1}`,
      'content-length': blob.length,
    });
    await patch.write(blob.subarray(0, MiB));
    await waitFor('the upload to be in flight', async () => {
      const metrics = await send(berth.url, 'GET', '/metrics');
      return /^berth_uploads_in_flight 1$/m.test(metrics.body.toString('utf8'));
    });

    berth.process.kill('SIGTERM');
    const reply = await patch.end(blob.subarray(MiB));
    expect(reply.status, describeReply(reply)).toBe(202);
    expect(reply.headers.range).toBe(`0-${blob.length - 1}`);

    const exit = await berth.exited;
    expect(exit, berth.stderr()).toEqual({ code: 0, signal: null });
    for (const pid of workerPids) {
      expect(() => process.kill(pid, 0), `worker ${pid} is still running`).toThrow(
        expect.objectContaining({ code: 'ESRCH' }),
      );
    }
    const refused = await new Promise<string>((resolve) => {
      const socket = net.connect(berth.port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});
