// Upload sessions: POST then PUT (end-4a + end-6), chunked PATCH (end-5), status (GET), cancel (DELETE),
// and the failure modes of each (spec "Pushing a blob in chunks").
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bytesOf,
  expectOciError,
  type OciClient,
  randomBytes,
  randomDigest,
  randomUUID,
  rawRequest,
  sendThenDisconnect,
  sha256,
  sha512,
  sleep,
  uniqueRepo,
} from '../helpers/oci-client.js';
import { startBerthWithClient, type TestBerth } from '../helpers/server.js';

let berth: TestBerth;
let client: OciClient;
startBerthWithClient((started) => {
  ({ berth, client } = started);
});

/** `<location>?digest=<digest>`, keeping any query parameters the registry put in the location. */
function withDigest(location: string, digest: string): string {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url.toString();
}

async function patch(location: string, chunk: Buffer, start: number): Promise<Response> {
  return client.request('PATCH', location, {
    headers: {
      'content-type': 'application/octet-stream',
      'content-range': `${start}-${start + chunk.length - 1}`,
    },
    body: chunk,
  });
}

/** PATCHes a chunk, asserts 202 and returns the (absolute) location to use next. */
async function patchOk(location: string, chunk: Buffer, start: number): Promise<string> {
  const res = await patch(location, chunk, start);
  const text = await res.text();
  expect(res.status, text).toBe(202);
  expect(res.headers.get('range')).toBe(`0-${start + chunk.length - 1}`);
  return client.url(res.headers.get('location') as string);
}

function streamOf(...chunks: Buffer[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = chunks.shift();
      if (next === undefined) controller.close();
      else {
        await sleep(5);
        controller.enqueue(new Uint8Array(next));
      }
    },
  });
}

describe('POST /v2/<name>/blobs/uploads/ (end-4a)', () => {
  it('opens a session: 202, Location with a UUID, Docker-Upload-UUID, Range 0-0', async () => {
    const repo = uniqueRepo('up');
    const res = await client.request('POST', `/v2/${repo}/blobs/uploads/`, {
      headers: { 'content-length': '0' },
    });
    await res.arrayBuffer();
    expect(res.status).toBe(202);
    const uuid = res.headers.get('docker-upload-uuid');
    expect(uuid).toBeTruthy();
    expect(client.locationPath(res)).toBe(`/v2/${repo}/blobs/uploads/${uuid}`);
    expect(res.headers.get('range')).toBe('0-0');
  });

  it('gives every session a distinct location', async () => {
    const repo = uniqueRepo('up');
    const locations = await Promise.all([1, 2, 3].map(() => client.startUpload(repo)));
    expect(new Set(locations).size).toBe(3);
  });
});

describe('POST then PUT (monolithic through a session)', () => {
  it('PUT <location>?digest= with the whole body → 201, blob Location and Docker-Content-Digest', async () => {
    const repo = uniqueRepo('up');
    const data = randomBytes(4096);
    const digest = sha256(data);
    const location = await client.startUpload(repo);
    const res = await client.request('PUT', withDigest(location, digest), {
      headers: { 'content-type': 'application/octet-stream' },
      body: data,
    });
    await res.arrayBuffer();
    expect(res.status).toBe(201);
    expect(client.locationPath(res)).toBe(`/v2/${repo}/blobs/${digest}`);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    expect(await bytesOf(await client.get(`/v2/${repo}/blobs/${digest}`))).toEqual(data);
  });

  it('closes the session once the blob is committed', async () => {
    const repo = uniqueRepo('up');
    const data = randomBytes(10);
    const location = await client.startUpload(repo);
    expect((await client.request('PUT', withDigest(location, sha256(data)), { body: data })).status).toBe(
      201,
    );
    await expectOciError(await client.get(location), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('accepts a sha512 digest', async () => {
    const repo = uniqueRepo('up');
    const data = randomBytes(777);
    const digest = sha512(data);
    const location = await client.startUpload(repo);
    const res = await client.request('PUT', withDigest(location, digest), { body: data });
    await res.arrayBuffer();
    expect(res.status).toBe(201);
    expect(client.locationPath(res)).toBe(`/v2/${repo}/blobs/${digest}`);
    expect(await bytesOf(await client.get(`/v2/${repo}/blobs/${digest}`))).toEqual(data);
  });

  it('commits an empty blob', async () => {
    const repo = uniqueRepo('up');
    const digest = sha256(Buffer.alloc(0));
    const location = await client.startUpload(repo);
    expect((await client.request('PUT', withDigest(location, digest))).status).toBe(201);
    const res = await client.head(`/v2/${repo}/blobs/${digest}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('0');
  });
});

describe('chunked upload: PATCH (end-5) then PUT (end-6)', () => {
  it('uploads in order, reports progress and commits', async () => {
    const repo = uniqueRepo('chunk');
    const parts = [randomBytes(1000), randomBytes(1), randomBytes(2500)];
    const data = Buffer.concat(parts);
    const digest = sha256(data);
    let location = await client.startUpload(repo);

    let offset = 0;
    for (const part of parts) {
      const res = await patch(location, part, offset);
      await res.arrayBuffer();
      expect(res.status).toBe(202);
      offset += part.length;
      expect(res.headers.get('range')).toBe(`0-${offset - 1}`);
      expect(res.headers.get('docker-upload-uuid')).toBeTruthy();
      location = client.url(res.headers.get('location') as string);
      expect(new URL(location).pathname).toMatch(new RegExp(`^/v2/${repo}/blobs/uploads/[^/]+$`));
    }

    const status = await client.get(location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${data.length - 1}`);
    expect(client.locationPath(status)).toMatch(new RegExp(`^/v2/${repo}/blobs/uploads/[^/]+$`));

    const res = await client.request('PUT', withDigest(location, digest));
    await res.arrayBuffer();
    expect(res.status).toBe(201);
    expect(client.locationPath(res)).toBe(`/v2/${repo}/blobs/${digest}`);
    expect(await bytesOf(await client.get(`/v2/${repo}/blobs/${digest}`))).toEqual(data);
  });

  it('GET on a fresh session → 204 with Location and Range 0-0', async () => {
    const repo = uniqueRepo('chunk');
    const location = await client.startUpload(repo);
    const res = await client.get(location);
    expect(res.status).toBe(204);
    expect(res.headers.get('range')).toBe('0-0');
    expect(client.locationPath(res)).toBe(new URL(location).pathname);
  });

  it('accepts the final chunk in the closing PUT', async () => {
    const repo = uniqueRepo('chunk');
    const first = randomBytes(300);
    const last = randomBytes(200);
    const data = Buffer.concat([first, last]);
    let location = await client.startUpload(repo);
    location = await patchOk(location, first, 0);
    const res = await client.request('PUT', withDigest(location, sha256(data)), {
      headers: { 'content-type': 'application/octet-stream' },
      body: last,
    });
    await res.arrayBuffer();
    expect(res.status).toBe(201);
    expect(await bytesOf(await client.get(`/v2/${repo}/blobs/${sha256(data)}`))).toEqual(data);
  });

  it('accepts the final chunk in the closing PUT with its Content-Range', async () => {
    const repo = uniqueRepo('chunk');
    const first = randomBytes(64);
    const last = randomBytes(36);
    const data = Buffer.concat([first, last]);
    let location = await client.startUpload(repo);
    location = await patchOk(location, first, 0);
    const res = await client.request('PUT', withDigest(location, sha256(data)), {
      headers: { 'content-type': 'application/octet-stream', 'content-range': '64-99' },
      body: last,
    });
    await res.arrayBuffer();
    expect(res.status).toBe(201);
    expect(await bytesOf(await client.get(`/v2/${repo}/blobs/${sha256(data)}`))).toEqual(data);
  });

  it('appends streamed PATCH bodies sent without Content-Range', async () => {
    const repo = uniqueRepo('chunk');
    const a = [randomBytes(1000), randomBytes(1000), randomBytes(48)];
    const b = [randomBytes(5000)];
    const data = Buffer.concat([...a, ...b]);
    let location = await client.startUpload(repo);
    for (const chunks of [a, b]) {
      const res = await client.request('PATCH', location, {
        headers: { 'content-type': 'application/octet-stream' },
        body: streamOf(...chunks),
      });
      await res.arrayBuffer();
      expect(res.status).toBe(202);
      location = client.url(res.headers.get('location') as string);
    }
    const status = await client.get(location);
    expect(status.headers.get('range')).toBe(`0-${data.length - 1}`);
    expect((await client.request('PUT', withDigest(location, sha256(data)))).status).toBe(201);
    expect(await bytesOf(await client.get(`/v2/${repo}/blobs/${sha256(data)}`))).toEqual(data);
  });

  it('handles a multi-megabyte streamed upload', async () => {
    const repo = uniqueRepo('chunk');
    const chunks = Array.from({ length: 12 }, () => randomBytes(512 * 1024));
    const data = Buffer.concat(chunks);
    const location = await client.startUpload(repo);
    const res = await client.request('PATCH', location, { body: streamOf(...chunks) });
    await res.arrayBuffer();
    expect(res.status).toBe(202);
    expect(res.headers.get('range')).toBe(`0-${data.length - 1}`);
    const next = client.url(res.headers.get('location') as string);
    expect((await client.request('PUT', withDigest(next, sha256(data)))).status).toBe(201);
    const get = await client.get(`/v2/${repo}/blobs/${sha256(data)}`);
    expect(get.headers.get('content-length')).toBe(String(data.length));
    expect(sha256(await bytesOf(get))).toBe(sha256(data));
  });

  it('keeps two concurrent sessions for the same repository apart', async () => {
    const repo = uniqueRepo('chunk');
    const [x, y] = [randomBytes(600), randomBytes(700)];
    const [lx, ly] = await Promise.all([client.startUpload(repo), client.startUpload(repo)]);
    const [nx, ny] = await Promise.all([
      patchOk(lx, x.subarray(0, 300), 0),
      patchOk(ly, y.subarray(0, 350), 0),
    ]);
    const [fx, fy] = await Promise.all([
      client.request('PUT', withDigest(nx, sha256(x)), { body: x.subarray(300) }),
      client.request('PUT', withDigest(ny, sha256(y)), { body: y.subarray(350) }),
    ]);
    expect([fx.status, fy.status]).toEqual([201, 201]);
    expect(await bytesOf(await client.get(`/v2/${repo}/blobs/${sha256(x)}`))).toEqual(x);
    expect(await bytesOf(await client.get(`/v2/${repo}/blobs/${sha256(y)}`))).toEqual(y);
  });
});

describe('PATCH errors', () => {
  it('rejects an out-of-order chunk with 416 BLOB_UPLOAD_INVALID and keeps the session intact', async () => {
    // "If a chunk is uploaded out of order, the registry MUST respond with a 416 Requested Range Not Satisfiable."
    const repo = uniqueRepo('chunkerr');
    const first = randomBytes(100);
    const second = randomBytes(100);
    let location = await client.startUpload(repo);
    location = await patchOk(location, first, 0);

    for (const start of [0, 50, 101, 200]) {
      await expectOciError(await patch(location, second, start), 416, 'BLOB_UPLOAD_INVALID');
    }

    const status = await client.get(location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-99');
    location = await patchOk(location, second, 100);
    const data = Buffer.concat([first, second]);
    expect((await client.request('PUT', withDigest(location, sha256(data)))).status).toBe(201);
    expect(await bytesOf(await client.get(`/v2/${repo}/blobs/${sha256(data)}`))).toEqual(data);
  });

  it('rejects a first chunk that does not start at 0 with 416', async () => {
    // "The first chunk's range MUST begin with 0."
    const location = await client.startUpload(uniqueRepo('chunkerr'));
    await expectOciError(await patch(location, randomBytes(10), 5), 416, 'BLOB_UPLOAD_INVALID');
  });

  it('rejects a Content-Range whose length differs from Content-Length', async () => {
    const location = await client.startUpload(uniqueRepo('chunkerr'));
    const res = await client.request('PATCH', location, {
      headers: { 'content-type': 'application/octet-stream', 'content-range': '0-4' },
      body: randomBytes(10),
    });
    await expectOciError(res, [416, 400], ['BLOB_UPLOAD_INVALID', 'SIZE_INVALID']);
  });

  it('rejects (raw) a declared Content-Length shorter than the Content-Range', async () => {
    const location = await client.startUpload(uniqueRepo('chunkerr'));
    const path = new URL(location);
    const res = await rawRequest(
      berth.url,
      'PATCH',
      path.pathname + path.search,
      { 'content-type': 'application/octet-stream', 'content-range': '0-9', 'content-length': 5 },
      randomBytes(5),
    );
    expect([416, 400]).toContain(res.status);
    const body = JSON.parse(res.body.toString()) as { errors: Array<{ code: string }> };
    expect(['BLOB_UPLOAD_INVALID', 'SIZE_INVALID']).toContain(body.errors[0]?.code);
  });

  it.each(['abc', '9-0', '-5', '0-'])('rejects a malformed Content-Range %j', async (range) => {
    // The range "MUST match the following regular expression: ^[0-9]+-[0-9]+$".
    const location = await client.startUpload(uniqueRepo('chunkerr'));
    const res = await client.request('PATCH', location, {
      headers: { 'content-type': 'application/octet-stream', 'content-range': range },
      body: randomBytes(10),
    });
    await expectOciError(res, [400, 416], ['BLOB_UPLOAD_INVALID', 'SIZE_INVALID']);
  });

  it('if it accepts the RFC 9110 form "bytes 0-9/10", it reads it as the range 0-9', async () => {
    // The spec requires clients to send ^[0-9]+-[0-9]+$; a registry may be lenient, but must then be right.
    const location = await client.startUpload(uniqueRepo('chunkerr'));
    const res = await client.request('PATCH', location, {
      headers: { 'content-type': 'application/octet-stream', 'content-range': 'bytes 0-9/10' },
      body: randomBytes(10),
    });
    if (res.status === 202) {
      await res.arrayBuffer();
      expect(res.headers.get('range')).toBe('0-9');
    } else {
      await expectOciError(res, [400, 416], ['BLOB_UPLOAD_INVALID', 'SIZE_INVALID']);
    }
  });
});

describe('PUT (close) errors', () => {
  it('without a digest parameter → 400 DIGEST_INVALID', async () => {
    const location = await client.startUpload(uniqueRepo('puterr'));
    const res = await client.request('PUT', location, { body: randomBytes(10) });
    await expectOciError(res, 400, 'DIGEST_INVALID');
  });

  it('with a malformed digest → 400 DIGEST_INVALID', async () => {
    const location = await client.startUpload(uniqueRepo('puterr'));
    const res = await client.request('PUT', withDigest(location, 'sha256:nothex'), { body: randomBytes(10) });
    await expectOciError(res, 400, 'DIGEST_INVALID');
  });

  it('with a digest that does not match → 400 DIGEST_INVALID, the session is gone and nothing is stored', async () => {
    const repo = uniqueRepo('puterr');
    const data = randomBytes(500);
    const wrong = randomDigest();
    let location = await client.startUpload(repo);
    location = await patchOk(location, data, 0);
    await expectOciError(await client.request('PUT', withDigest(location, wrong)), 400, 'DIGEST_INVALID');
    await expectOciError(await client.get(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    expect((await client.head(`/v2/${repo}/blobs/${wrong}`)).status).toBe(404);
    expect((await client.head(`/v2/${repo}/blobs/${sha256(data)}`)).status).toBe(404);
  });
});

describe('DELETE /v2/<name>/blobs/uploads/<uuid>', () => {
  it('cancels the session: 204, then every session operation is 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const repo = uniqueRepo('cancel');
    const data = randomBytes(100);
    let location = await client.startUpload(repo);
    location = await patchOk(location, data, 0);
    const res = await client.delete(location);
    await res.arrayBuffer();
    expect(res.status).toBe(204);

    await expectOciError(await client.get(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectOciError(await patch(location, data, 100), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectOciError(
      await client.request('PUT', withDigest(location, sha256(data))),
      404,
      'BLOB_UPLOAD_UNKNOWN',
    );
    await expectOciError(await client.delete(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    expect((await client.head(`/v2/${repo}/blobs/${sha256(data)}`)).status).toBe(404);
  });
});

describe('unknown sessions → 404 BLOB_UPLOAD_UNKNOWN', () => {
  const repo = uniqueRepo('unknown');
  const other = uniqueRepo('unknown');
  let foreign: string;

  beforeAll(async () => {
    // A live session of another repository: its id must not be usable under `repo`.
    const location = await client.startUpload(other);
    foreign = new URL(location).pathname.split('/').pop() as string;
    await client.pushBlob(repo, randomBytes(4));
  });

  const ids = (): Array<[string, string]> => [
    ['a random UUID', randomUUID()],
    ['not a UUID', 'not-a-uuid'],
    ['a session of another repository', foreign],
  ];

  for (const method of ['GET', 'PATCH', 'PUT', 'DELETE'] as const) {
    it(`${method} with an unknown, malformed or foreign id`, async () => {
      for (const [what, id] of ids()) {
        const data = randomBytes(8);
        const path =
          method === 'PUT'
            ? `/v2/${repo}/blobs/uploads/${id}?digest=${sha256(data)}`
            : `/v2/${repo}/blobs/uploads/${id}`;
        const res = await client.request(method, path, {
          headers: method === 'PATCH' ? { 'content-range': '0-7' } : {},
          body: method === 'PATCH' || method === 'PUT' ? data : undefined,
        });
        await expectOciError(res, 404, 'BLOB_UPLOAD_UNKNOWN').catch((e: Error) => {
          throw new Error(`${what}: ${e.message}`);
        });
      }
    });
  }

  it('the foreign session is still usable in its own repository', async () => {
    const data = randomBytes(8);
    const res = await client.request('PUT', `/v2/${other}/blobs/uploads/${foreign}?digest=${sha256(data)}`, {
      body: data,
    });
    await res.arrayBuffer();
    expect(res.status).toBe(201);
  });
});

describe('client disconnect mid-PATCH', () => {
  it('leaves the server healthy and the session resumable from the reported offset', async () => {
    // Spec use case "Resumable Push": after connectivity returns the client asks for the offset and sends the rest.
    const repo = uniqueRepo('disc');
    const first = randomBytes(1000);
    const rest = randomBytes(9000);
    const data = Buffer.concat([first, rest]);
    let location = await client.startUpload(repo);
    location = await patchOk(location, first, 0);

    const url = new URL(location);
    await sendThenDisconnect(
      berth.url,
      'PATCH',
      url.pathname + url.search,
      {
        'content-type': 'application/octet-stream',
        'content-range': `1000-9999`,
        'content-length': 9000,
      },
      rest.subarray(0, 3000),
    );
    await sleep(300);

    expect((await client.get('/v2/')).status).toBe(200);
    const status = await client.get(location);
    expect(status.status).toBe(204);
    const range = status.headers.get('range') as string;
    expect(range).toMatch(/^0-\d+$/);
    const offset = Number(range.split('-')[1]) + 1;
    expect(offset).toBeGreaterThanOrEqual(1000);
    expect(offset).toBeLessThanOrEqual(4000);

    location = client.url(status.headers.get('location') as string);
    location = await patchOk(location, data.subarray(offset), offset);
    const done = await client.request('PUT', withDigest(location, sha256(data)));
    await done.arrayBuffer();
    expect(done.status).toBe(201);
    expect(sha256(await bytesOf(await client.get(`/v2/${repo}/blobs/${sha256(data)}`)))).toBe(sha256(data));
  });
});
