// Blobs: single-POST monolithic push (end-4b), pull and HEAD (end-2), ranged pulls ("Resumable Pull"),
// repository scoping, deletion (end-10) and cross-repository mount (end-11).
import { existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildArtifact,
  bytesOf,
  digestMatches,
  expectOciError,
  MT,
  OciClient,
  randomBytes,
  randomDigest,
  sha256,
  sha512,
  sleep,
  uniqueRepo,
} from '../helpers/oci-client.js';
import { startBerth, startBerthWithClient, type TestBerth } from '../helpers/server.js';

let berth: TestBerth;
let client: OciClient;
startBerthWithClient((started) => {
  ({ berth, client } = started);
});

describe('monolithic push: POST /v2/<name>/blobs/uploads/?digest=<digest> (end-4b)', () => {
  it('returns 201 with Location of the blob and Docker-Content-Digest', async () => {
    const repo = uniqueRepo('blobs');
    const data = randomBytes(1000);
    const digest = sha256(data);
    const res = await client.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      headers: { 'content-type': 'application/octet-stream' },
      body: data,
    });
    await res.arrayBuffer();
    expect(res.status).toBe(201);
    expect(client.locationPath(res)).toBe(`/v2/${repo}/blobs/${digest}`);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
  });

  it('pushes the empty blob', async () => {
    const repo = uniqueRepo('blobs');
    const digest = await client.pushBlob(repo, Buffer.alloc(0));
    const res = await client.get(`/v2/${repo}/blobs/${digest}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('0');
    expect((await bytesOf(res)).length).toBe(0);
  });

  it('is idempotent: pushing the same blob twice succeeds both times', async () => {
    const repo = uniqueRepo('blobs');
    const data = randomBytes(100);
    await client.pushBlob(repo, data);
    await client.pushBlob(repo, data);
    const res = await client.get(`/v2/${repo}/blobs/${sha256(data)}`);
    expect(await bytesOf(res)).toEqual(data);
  });

  it('rejects a digest that does not match the body with 400 DIGEST_INVALID and stores nothing', async () => {
    const repo = uniqueRepo('blobs');
    const data = randomBytes(200);
    const claimed = randomDigest();
    const res = await client.request('POST', `/v2/${repo}/blobs/uploads/?digest=${claimed}`, {
      headers: { 'content-type': 'application/octet-stream' },
      body: data,
    });
    await expectOciError(res, 400, 'DIGEST_INVALID');
    for (const digest of [claimed, sha256(data)]) {
      const head = await client.head(`/v2/${repo}/blobs/${digest}`);
      expect(head.status, digest).toBe(404);
    }
  });

  it('supports sha512 end to end', async () => {
    const repo = uniqueRepo('blobs');
    const data = randomBytes(3000);
    const digest = sha512(data);
    const res = await client.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: data });
    await res.arrayBuffer();
    expect(res.status).toBe(201);
    expect(client.locationPath(res)).toBe(`/v2/${repo}/blobs/${digest}`);

    const get = await client.get(`/v2/${repo}/blobs/${digest}`);
    expect(get.status).toBe(200);
    const body = await bytesOf(get);
    expect(body).toEqual(data);
    // "If present, the value of this header MUST be a digest matching that of the response body."
    const header = get.headers.get('docker-content-digest');
    if (header) expect(digestMatches(header, body), header).toBe(true);

    const head = await client.head(`/v2/${repo}/blobs/${digest}`);
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(data.length));
  });

  it('rejects a sha512 digest that does not match the body', async () => {
    const repo = uniqueRepo('blobs');
    const data = randomBytes(50);
    const res = await client.request('POST', `/v2/${repo}/blobs/uploads/?digest=${sha512(randomBytes(50))}`, {
      body: data,
    });
    await expectOciError(res, 400, 'DIGEST_INVALID');
    expect((await client.head(`/v2/${repo}/blobs/${sha512(data)}`)).status).toBe(404);
  });
});

describe('pull: GET / HEAD /v2/<name>/blobs/<digest> (end-2)', () => {
  const repo = uniqueRepo('pull');
  const data = randomBytes(100);
  const digest = sha256(data);

  beforeAll(async () => {
    await client.pushBlob(repo, data);
  });

  it('GET returns 200 with the exact bytes, Content-Length and Docker-Content-Digest', async () => {
    const res = await client.get(`/v2/${repo}/blobs/${digest}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(data.length));
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    expect(await bytesOf(res)).toEqual(data);
  });

  it('HEAD returns 200 with Content-Length and Docker-Content-Digest and no body', async () => {
    const res = await client.head(`/v2/${repo}/blobs/${digest}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(data.length));
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    expect((await bytesOf(res)).length).toBe(0);
  });

  it('GET of an unknown digest → 404 BLOB_UNKNOWN', async () => {
    await expectOciError(await client.get(`/v2/${repo}/blobs/${randomDigest()}`), 404, 'BLOB_UNKNOWN');
  });

  it('HEAD of an unknown digest → 404 without a body', async () => {
    const res = await client.head(`/v2/${repo}/blobs/${randomDigest()}`);
    expect(res.status).toBe(404);
    expect((await bytesOf(res)).length).toBe(0);
  });

  it('GET in a repository that does not exist → 404', async () => {
    const res = await client.get(`/v2/${uniqueRepo('nothing')}/blobs/${digest}`);
    await expectOciError(res, 404, ['BLOB_UNKNOWN', 'NAME_UNKNOWN']);
  });

  // RFC 9110 §14 range requests; the spec's "Resumable Pull" use case relies on them.
  const size = data.length;
  it.each([
    { range: 'bytes=0-9', start: 0, end: 9 },
    { range: 'bytes=5-', start: 5, end: size - 1 },
    { range: 'bytes=-4', start: size - 4, end: size - 1 },
    { range: 'bytes=90-99', start: 90, end: 99 },
    { range: 'bytes=42-42', start: 42, end: 42 },
    { range: 'bytes=10-100000', start: 10, end: size - 1 },
  ])('Range: $range → 206 bytes $start-$end/SIZE', async ({ range, start, end }) => {
    const res = await client.get(`/v2/${repo}/blobs/${digest}`, { range });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${size}`);
    expect(res.headers.get('content-length')).toBe(String(end - start + 1));
    expect(await bytesOf(res)).toEqual(data.subarray(start, end + 1));
  });

  it.each(['bytes=100-', 'bytes=100-200', 'bytes=5000-6000'])(
    'Range: %s (start beyond the blob) → 416 with Content-Range bytes */SIZE',
    async (range) => {
      const res = await client.get(`/v2/${repo}/blobs/${digest}`, { range });
      await res.arrayBuffer();
      expect(res.status).toBe(416);
      expect(res.headers.get('content-range')).toBe(`bytes */${size}`);
    },
  );
});

describe('repository scoping', () => {
  it('a blob pushed to repository A is not visible in repository B', async () => {
    const a = uniqueRepo('scope');
    const b = uniqueRepo('scope');
    const data = randomBytes(64);
    await client.pushBlob(a, data);
    await client.pushBlob(b, randomBytes(64)); // B exists, it just does not hold this blob
    await expectOciError(await client.get(`/v2/${b}/blobs/${sha256(data)}`), 404, 'BLOB_UNKNOWN');
    expect((await client.head(`/v2/${b}/blobs/${sha256(data)}`)).status).toBe(404);
  });
});

describe('DELETE /v2/<name>/blobs/<digest> (end-10)', () => {
  it('returns 202, after which the blob is 404 BLOB_UNKNOWN', async () => {
    const repo = uniqueRepo('del');
    const digest = await client.pushBlob(repo, randomBytes(128));
    const res = await client.delete(`/v2/${repo}/blobs/${digest}`);
    await res.arrayBuffer();
    expect(res.status).toBe(202);
    await expectOciError(await client.get(`/v2/${repo}/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
    expect((await client.head(`/v2/${repo}/blobs/${digest}`)).status).toBe(404);
  });

  it('returns 404 BLOB_UNKNOWN for a blob that is not there', async () => {
    const repo = uniqueRepo('del');
    await client.pushBlob(repo, randomBytes(8));
    await expectOciError(await client.delete(`/v2/${repo}/blobs/${randomDigest()}`), 404, 'BLOB_UNKNOWN');
  });

  it('deleting from one repository leaves the same blob in another repository intact', async () => {
    const a = uniqueRepo('del');
    const b = uniqueRepo('del');
    const data = randomBytes(300);
    const digest = await client.pushBlob(a, data);
    await client.pushBlob(b, data);
    expect((await client.delete(`/v2/${a}/blobs/${digest}`)).status).toBe(202);
    const res = await client.get(`/v2/${b}/blobs/${digest}`);
    expect(res.status).toBe(200);
    expect(await bytesOf(res)).toEqual(data);
  });

  it('the blob can be pushed again after deletion', async () => {
    const repo = uniqueRepo('del');
    const data = randomBytes(32);
    const digest = await client.pushBlob(repo, data);
    expect((await client.delete(`/v2/${repo}/blobs/${digest}`)).status).toBe(202);
    await client.pushBlob(repo, data);
    expect(await bytesOf(await client.get(`/v2/${repo}/blobs/${digest}`))).toEqual(data);
  });
});

describe('mount: POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other> (end-11)', () => {
  it('returns 201 with the blob Location when the source repository has the blob', async () => {
    const from = uniqueRepo('mount');
    const to = uniqueRepo('mount');
    const data = randomBytes(256);
    const digest = await client.pushBlob(from, data);

    const res = await client.request('POST', `/v2/${to}/blobs/uploads/?mount=${digest}&from=${from}`);
    await res.arrayBuffer();
    expect(res.status).toBe(201);
    expect(client.locationPath(res)).toBe(`/v2/${to}/blobs/${digest}`);
    const header = res.headers.get('docker-content-digest');
    if (header) expect(header).toBe(digest);

    const get = await client.get(`/v2/${to}/blobs/${digest}`);
    expect(get.status).toBe(200);
    expect(await bytesOf(get)).toEqual(data);
  });

  it('the mounted blob survives deletion from the source repository', async () => {
    const from = uniqueRepo('mount');
    const to = uniqueRepo('mount');
    const data = randomBytes(256);
    const digest = await client.pushBlob(from, data);
    expect(
      (await client.request('POST', `/v2/${to}/blobs/uploads/?mount=${digest}&from=${from}`)).status,
    ).toBe(201);
    expect((await client.delete(`/v2/${from}/blobs/${digest}`)).status).toBe(202);
    expect(await bytesOf(await client.get(`/v2/${to}/blobs/${digest}`))).toEqual(data);
  });

  it('falls back to an upload session (202) when the source repository lacks the blob', async () => {
    const from = uniqueRepo('mount');
    const to = uniqueRepo('mount');
    await client.pushBlob(from, randomBytes(16));
    const data = randomBytes(80);
    const digest = sha256(data);

    const res = await client.request('POST', `/v2/${to}/blobs/uploads/?mount=${digest}&from=${from}`);
    await res.arrayBuffer();
    expect(res.status).toBe(202);
    expect(client.locationPath(res)).toMatch(new RegExp(`^/v2/${to}/blobs/uploads/[^/]+$`));
    expect((await client.head(`/v2/${to}/blobs/${digest}`)).status).toBe(404);

    // The session is a real one: the blob can be uploaded through it.
    const put = new URL(client.url(res.headers.get('location') as string));
    put.searchParams.set('digest', digest);
    const done = await client.request('PUT', put.toString(), { body: data });
    await done.arrayBuffer();
    expect(done.status).toBe(201);
    expect(await bytesOf(await client.get(`/v2/${to}/blobs/${digest}`))).toEqual(data);
  });

  it('falls back to an upload session (202) when the source repository does not exist', async () => {
    const res = await client.request(
      'POST',
      `/v2/${uniqueRepo('mount')}/blobs/uploads/?mount=${randomDigest()}&from=${uniqueRepo('ghost')}`,
    );
    await res.arrayBuffer();
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBeTruthy();
  });

  it('without from, mounts (201) when some repository holds the blob', async () => {
    const holder = uniqueRepo('mount');
    const to = uniqueRepo('mount');
    const data = randomBytes(40);
    const digest = await client.pushBlob(holder, data);
    const res = await client.request('POST', `/v2/${to}/blobs/uploads/?mount=${digest}`);
    await res.arrayBuffer();
    expect(res.status).toBe(201);
    expect(client.locationPath(res)).toBe(`/v2/${to}/blobs/${digest}`);
    expect(await bytesOf(await client.get(`/v2/${to}/blobs/${digest}`))).toEqual(data);
  });

  it('without from, starts an upload (202) when no repository holds the blob', async () => {
    const to = uniqueRepo('mount');
    const res = await client.request('POST', `/v2/${to}/blobs/uploads/?mount=${randomDigest()}`);
    await res.arrayBuffer();
    expect(res.status).toBe(202);
    expect(client.locationPath(res)).toMatch(new RegExp(`^/v2/${to}/blobs/uploads/[^/]+$`));
  });

  it('mounts a sha512 blob', async () => {
    const from = uniqueRepo('mount');
    const to = uniqueRepo('mount');
    const data = randomBytes(90);
    const digest = await client.pushBlob(from, data, sha512(data));
    const res = await client.request('POST', `/v2/${to}/blobs/uploads/?mount=${digest}&from=${from}`);
    await res.arrayBuffer();
    expect(res.status).toBe(201);
    expect(await bytesOf(await client.get(`/v2/${to}/blobs/${digest}`))).toEqual(data);
  });
});

describe('client disconnect mid-download', () => {
  // The server runs in this process, so its descriptors are ours: count them around aborted downloads.
  const openFds = (): number => readdirSync('/proc/self/fd').length;

  /** GET over a fresh connection, read the first chunk of the body, then drop the connection. */
  function abortAfterFirstChunk(path: string, headers: Record<string, string> = {}): Promise<void> {
    const { hostname, port } = new URL(berth.url);
    return new Promise((resolve, reject) => {
      const req = http.get({ host: hostname, port, path, headers, agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
        res.once('end', resolve);
      });
      req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve() : reject(e)));
    });
  }

  it.skipIf(!existsSync('/proc/self/fd'))('does not leak file descriptors and keeps serving', async () => {
    const repo = uniqueRepo('abort');
    const data = randomBytes(4 * 1024 * 1024);
    const digest = await client.pushBlob(repo, data);
    await abortAfterFirstChunk(`/v2/${repo}/blobs/${digest}`); // warm up lazily opened descriptors
    await sleep(100);
    const before = openFds();
    for (let i = 0; i < 40; i++) {
      await abortAfterFirstChunk(`/v2/${repo}/blobs/${digest}`, i % 2 ? { range: 'bytes=100-' } : {});
    }
    await sleep(300);
    expect(openFds()).toBeLessThanOrEqual(before + 5);
    const res = await client.get(`/v2/${repo}/blobs/${digest}`);
    expect(sha256(await bytesOf(res))).toBe(digest);
  });
});

describe('close() while a download is in flight', () => {
  /** A GET on a connection of its own (kept alive), paused as soon as the headers are in. */
  async function pausedGet(url: string, path: string, agent: http.Agent, accept?: string) {
    const { hostname, port } = new URL(url);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http
        .get({ host: hostname, port, path, agent, headers: accept ? { accept } : {} }, resolve)
        .on('error', reject);
    });
    res.pause();
    return res;
  }

  /** Resolves once close() has got as far as closing the listening socket (and, with it, idle connections). */
  async function stoppedListening(own: TestBerth): Promise<void> {
    while (own.berth.app.server.listening) await sleep(5);
  }

  it('lets the download finish, then closes promptly instead of waiting for the shutdown timeout', async () => {
    // The response started before close(); once it completes, its keep-alive connection must not hold the
    // shutdown open until http.shutdownTimeoutSeconds (Node's server.close() reaps only connections idle at
    // the moment it is called). The timeout is an hour, far past the test's: close() resolving at all shows
    // that the connection was closed as soon as the download was done.
    const own = await startBerth({ config: { 'http.shutdownTimeoutSeconds': 3600 } });
    const agent = new http.Agent({ keepAlive: true });
    try {
      const ownClient = new OciClient(own.url);
      const repo = uniqueRepo('drain');
      const data = randomBytes(32 * 1024 * 1024);
      const digest = await ownClient.pushBlob(repo, data);

      const res = await pausedGet(own.url, `/v2/${repo}/blobs/${digest}`, agent);
      expect(res.statusCode).toBe(200);
      // The server's close() only, not the helper's (which then also drops the test's database).
      const closing = own.berth.close();
      await stoppedListening(own);
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      expect(sha256(Buffer.concat(chunks))).toBe(digest);
      await closing;
    } finally {
      agent.destroy();
      await own.close().catch(() => {});
    }
  });

  it('sends a response ended before close() in full to a client that has not read it yet', async () => {
    // A manifest goes out in one end(buffer): all but the first few MiB of a large one wait in the socket's
    // buffers for the client to read them. Node's closeIdleConnections() (which server.close() calls) counts
    // the connection idle as soon as the response has ended, and destroyed it: the client saw `aborted`.
    const own = await startBerth({
      config: { 'http.shutdownTimeoutSeconds': 3600, 'manifests.maxBytes': 64 * 1024 * 1024 },
    });
    const agent = new http.Agent({ keepAlive: true });
    try {
      const ownClient = new OciClient(own.url);
      const repo = uniqueRepo('drain');
      const artifact = buildArtifact({
        artifactType: 'application/vnd.example.padded.v1',
        annotations: { padding: 'x'.repeat(12 * 1024 * 1024) },
      });
      await ownClient.pushArtifact(repo, artifact);

      // Fastify writes the head and end(body) together: with the head here, the response has ended.
      const res = await pausedGet(own.url, `/v2/${repo}/manifests/${artifact.digest}`, agent, MT.ociManifest);
      expect(res.statusCode).toBe(200);
      const closing = own.berth.close();
      await stoppedListening(own);
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      expect(sha256(Buffer.concat(chunks))).toBe(artifact.digest);
      await closing;
    } finally {
      agent.destroy();
      await own.close().catch(() => {});
    }
  });
});
