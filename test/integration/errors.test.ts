// Cross-cutting error behaviour: the error body format (spec "Error Codes"), repository name and digest
// validation on every endpoint, UNSUPPORTED for unknown routes and methods, and X-Request-Id everywhere.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectOciError,
  MT,
  OciClient,
  randomBytes,
  randomDigest,
  randomUUID,
  sha256,
  uniqueRepo,
} from '../helpers/oci-client.js';
import { startBerth } from '../helpers/server.js';

let berth: Awaited<ReturnType<typeof startBerth>>;
let client: OciClient;
const repo = uniqueRepo('errors');
let blobDigest: string;
let manifestDigest: string;
let manifestBytes: Buffer;
let uploadLocation: string;

beforeAll(async () => {
  berth = await startBerth();
  client = new OciClient(berth.url);
  const image = await client.pushRandomImage(repo, 'latest');
  manifestDigest = image.digest;
  manifestBytes = image.manifest;
  blobDigest = sha256(image.layers[0] as Buffer);
  uploadLocation = await client.startUpload(repo);
});

afterAll(async () => {
  await berth?.close();
});

interface Endpoint {
  name: string;
  method: string;
  path: string;
  body?: Buffer;
  headers?: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------------------------
// Repository names: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*, at most 255 chars.

describe('repository name validation', () => {
  /** Every endpoint that takes a <name>. */
  const endpoints = (name: string): Endpoint[] => [
    { name: 'tags list', method: 'GET', path: `/v2/${name}/tags/list` },
    { name: 'GET manifest', method: 'GET', path: `/v2/${name}/manifests/latest` },
    {
      name: 'PUT manifest',
      method: 'PUT',
      path: `/v2/${name}/manifests/latest`,
      headers: { 'content-type': MT.ociManifest },
      body: manifestBytes,
    },
    { name: 'DELETE manifest', method: 'DELETE', path: `/v2/${name}/manifests/${manifestDigest}` },
    { name: 'GET blob', method: 'GET', path: `/v2/${name}/blobs/${blobDigest}` },
    { name: 'DELETE blob', method: 'DELETE', path: `/v2/${name}/blobs/${blobDigest}` },
    { name: 'POST upload', method: 'POST', path: `/v2/${name}/blobs/uploads/` },
    {
      name: 'POST monolithic',
      method: 'POST',
      path: `/v2/${name}/blobs/uploads/?digest=${sha256('x')}`,
      body: Buffer.from('x'),
    },
    { name: 'GET upload', method: 'GET', path: `/v2/${name}/blobs/uploads/${randomUUID()}` },
    { name: 'referrers', method: 'GET', path: `/v2/${name}/referrers/${manifestDigest}` },
  ];

  const invalid: Array<[string, string]> = [
    ['upper case', 'Upper'],
    ['upper case in a later component', 'a/B'],
    ['empty component', 'a//b'],
    ['leading dash', '-a'],
    ['trailing dash', 'a-'],
    ['leading period', '.a'],
    ['leading underscore', '_a'],
    ['double period', 'a..b'],
    ['three underscores', 'a___b'],
    ['mixed separators', 'a._b'],
    ['illegal character', 'a+b'],
    ['encoded space', 'a%20b'],
    ['256 characters', 'a'.repeat(256)],
    ['256 characters with slashes', `${'ab/'.repeat(85)}a`],
  ];

  it.each(invalid)('%s (%s) → 400 NAME_INVALID on every endpoint', async (_, name) => {
    for (const ep of endpoints(name)) {
      const res = await client.request(ep.method, ep.path, { headers: ep.headers, body: ep.body });
      await expectOciError(res, 400, 'NAME_INVALID').catch((e: Error) => {
        throw new Error(`${ep.name} ${ep.method} ${ep.path}: ${e.message}`);
      });
    }
  });

  it('the invalid-name cases really are the lengths they claim', () => {
    expect(`${'ab/'.repeat(85)}a`).toHaveLength(256);
  });

  const valid: Array<[string, string]> = [
    ['single character', 'a'],
    ['digits', '0123'],
    ['period', 'a.b'],
    ['underscore', 'a_b'],
    ['double underscore', 'a__b'],
    ['dash', 'a-b'],
    ['several dashes', 'a---b'],
    ['several components', 'a0/b-c/d.e/f__g'],
    ['255 characters', 'a'.repeat(255)],
    ['255 characters with slashes', `${'ab/'.repeat(84)}abc`],
  ];

  it.each(valid)('%s (%s) is accepted', async (_, name) => {
    expect(name.length).toBeLessThanOrEqual(255);
    const location = await client.startUpload(name);
    expect(new URL(location).pathname.startsWith(`/v2/${name}/blobs/uploads/`)).toBe(true);
    // A valid but unknown repository is NAME_UNKNOWN, not NAME_INVALID.
    const res = await client.get(`/v2/${name}/tags/list`);
    if (res.status === 200) await res.arrayBuffer();
    else await expectOciError(res, 404, 'NAME_UNKNOWN');
  });

  it('a 255-character name works end to end', async () => {
    const name = `${'ab/'.repeat(84)}abc`;
    const image = await client.pushRandomImage(name, 'long');
    const res = await client.get(`/v2/${name}/manifests/long`, { accept: image.mediaType });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(await client.tags(name)).toEqual(['long']);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Digests: sha256 (64 lowercase hex) and sha512 (128 lowercase hex) only.

describe('digest validation', () => {
  const invalid: Array<[string, string]> = [
    ['upper-case hex', `sha256:${'A'.repeat(64)}`],
    ['non-hex characters', `sha256:${'g'.repeat(64)}`],
    ['63 hex characters', `sha256:${'a'.repeat(63)}`],
    ['65 hex characters', `sha256:${'a'.repeat(65)}`],
    ['sha256 with 128 hex characters', `sha256:${'a'.repeat(128)}`],
    ['sha512 with 64 hex characters', `sha512:${'a'.repeat(64)}`],
    ['sha384', `sha384:${'a'.repeat(96)}`],
    ['md5', `md5:${'a'.repeat(32)}`],
    ['empty hex', 'sha256:'],
    ['no algorithm', `:${'a'.repeat(64)}`],
    ['upper-case algorithm', `SHA256:${'a'.repeat(64)}`],
  ];

  const endpoints = (d: string): Endpoint[] => [
    { name: 'GET blob', method: 'GET', path: `/v2/${repo}/blobs/${d}` },
    { name: 'DELETE blob', method: 'DELETE', path: `/v2/${repo}/blobs/${d}` },
    {
      name: 'POST monolithic',
      method: 'POST',
      path: `/v2/${repo}/blobs/uploads/?digest=${d}`,
      body: randomBytes(8),
    },
    { name: 'POST mount', method: 'POST', path: `/v2/${repo}/blobs/uploads/?mount=${d}&from=${repo}` },
    { name: 'GET referrers', method: 'GET', path: `/v2/${repo}/referrers/${d}` },
    { name: 'GET manifest', method: 'GET', path: `/v2/${repo}/manifests/${d}` },
    { name: 'DELETE manifest', method: 'DELETE', path: `/v2/${repo}/manifests/${d}` },
    {
      name: 'PUT manifest',
      method: 'PUT',
      path: `/v2/${repo}/manifests/${d}`,
      headers: { 'content-type': MT.ociManifest },
      body: manifestBytes,
    },
  ];

  it.each(invalid)('%s (%s) → 400 DIGEST_INVALID on every endpoint', async (_, digest) => {
    for (const ep of endpoints(digest)) {
      const res = await client.request(ep.method, ep.path, { headers: ep.headers, body: ep.body });
      await expectOciError(res, 400, 'DIGEST_INVALID').catch((e: Error) => {
        throw new Error(`${ep.name} ${ep.method} ${ep.path}: ${e.message}`);
      });
    }
  });

  it.each(invalid)('%s (%s) as the closing PUT digest → 400 DIGEST_INVALID', async (_, digest) => {
    const location = new URL(await client.startUpload(repo));
    location.searchParams.set('digest', digest);
    await expectOciError(await client.request('PUT', location.toString(), { body: randomBytes(8) }), 400, [
      'DIGEST_INVALID',
    ]);
  });

  it.each(['sha256', 'notadigest'])('a blob path without a digest (%s) → 400 DIGEST_INVALID', async (d) => {
    await expectOciError(await client.get(`/v2/${repo}/blobs/${d}`), 400, 'DIGEST_INVALID');
  });

  it('a HEAD with an invalid digest → 400 (no body)', async () => {
    const res = await client.head(`/v2/${repo}/blobs/sha256:${'z'.repeat(64)}`);
    expect(res.status).toBe(400);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// UNSUPPORTED

describe('UNSUPPORTED', () => {
  const notAllowed = (): Endpoint[] => [
    { name: 'base', method: 'DELETE', path: '/v2/' },
    { name: 'base', method: 'POST', path: '/v2/' },
    { name: 'catalog', method: 'POST', path: '/v2/_catalog' },
    { name: 'catalog', method: 'DELETE', path: '/v2/_catalog' },
    { name: 'tags list', method: 'PUT', path: `/v2/${repo}/tags/list` },
    { name: 'tags list', method: 'DELETE', path: `/v2/${repo}/tags/list` },
    { name: 'manifest', method: 'POST', path: `/v2/${repo}/manifests/latest` },
    { name: 'manifest', method: 'PATCH', path: `/v2/${repo}/manifests/latest` },
    { name: 'blob', method: 'POST', path: `/v2/${repo}/blobs/${blobDigest}` },
    { name: 'blob', method: 'PUT', path: `/v2/${repo}/blobs/${blobDigest}` },
    { name: 'blob', method: 'PATCH', path: `/v2/${repo}/blobs/${blobDigest}` },
    { name: 'uploads collection', method: 'GET', path: `/v2/${repo}/blobs/uploads/` },
    { name: 'uploads collection', method: 'DELETE', path: `/v2/${repo}/blobs/uploads/` },
    { name: 'upload session', method: 'POST', path: new URL(uploadLocation).pathname },
    { name: 'referrers', method: 'POST', path: `/v2/${repo}/referrers/${manifestDigest}` },
    { name: 'referrers', method: 'DELETE', path: `/v2/${repo}/referrers/${manifestDigest}` },
  ];

  it('a method not allowed on a known route → 405 UNSUPPORTED', async () => {
    for (const ep of notAllowed()) {
      const res = await client.request(ep.method, ep.path);
      await expectOciError(res, 405, 'UNSUPPORTED').catch((e: Error) => {
        throw new Error(`${ep.method} ${ep.path}: ${e.message}`);
      });
    }
  });

  it('a 405 response lists the allowed methods in Allow (RFC 9110 §15.5.6)', async () => {
    for (const ep of notAllowed()) {
      const res = await client.request(ep.method, ep.path);
      await res.arrayBuffer();
      const allow = res.headers.get('allow');
      expect(allow, `${ep.method} ${ep.path}`).toBeTruthy();
      expect(allow?.toUpperCase(), `${ep.method} ${ep.path}`).not.toContain(ep.method);
    }
  });

  it.each([
    ['GET', `/v2/${repo}/nope`],
    ['GET', `/v2/${repo}/manifests`],
    ['GET', `/v2/${repo}/blobs`],
    ['GET', `/v2/${repo}/tags`],
    ['GET', `/v2/${repo}/tags/list/extra`],
    ['DELETE', `/v2/${repo}/something/else`],
    ['GET', '/v2/_unknown'],
    ['POST', `/v2/${repo}/nope`],
  ])('%s %s (unknown /v2 path) → 404 UNSUPPORTED', async (method, path) => {
    await expectOciError(await client.request(method, path), 404, 'UNSUPPORTED');
  });

  it('an unknown path outside /v2 → 404', async () => {
    const res = await client.get('/definitely-not-here');
    await res.arrayBuffer();
    expect(res.status).toBe(404);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// X-Request-Id on every response.

describe('X-Request-Id', () => {
  const requests = (): Array<[string, string, string?]> => [
    ['GET', '/v2/'],
    ['HEAD', '/v2/'],
    ['GET', '/v2/_catalog'],
    ['GET', `/v2/${repo}/tags/list`],
    ['GET', `/v2/${repo}/manifests/latest`],
    ['HEAD', `/v2/${repo}/manifests/latest`],
    ['GET', `/v2/${repo}/manifests/nope`],
    ['GET', `/v2/${repo}/blobs/${blobDigest}`],
    ['HEAD', `/v2/${repo}/blobs/${randomDigest()}`],
    ['GET', `/v2/${repo}/blobs/not-a-digest`],
    ['GET', '/v2/Bad/tags/list'],
    ['POST', `/v2/${repo}/blobs/uploads/`],
    ['GET', new URL(uploadLocation).pathname],
    ['GET', `/v2/${repo}/blobs/uploads/${randomUUID()}`],
    ['GET', `/v2/${repo}/referrers/${manifestDigest}`],
    ['POST', `/v2/${repo}/manifests/latest`],
    ['GET', `/v2/${repo}/nope`],
    ['GET', '/healthz'],
    ['GET', '/readyz'],
    ['GET', '/metrics'],
    ['GET', '/definitely-not-here'],
  ];

  it('is set on every response, success or error', async () => {
    for (const [method, path] of requests()) {
      const res = await client.request(method, path);
      await res.arrayBuffer();
      expect(res.headers.get('x-request-id'), `${method} ${path} → ${res.status}`).toBeTruthy();
    }
  });

  it('is set on a successful push', async () => {
    const data = randomBytes(10);
    const res = await client.request('POST', `/v2/${repo}/blobs/uploads/?digest=${sha256(data)}`, {
      body: data,
    });
    await res.arrayBuffer();
    expect(res.status).toBe(201);
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Error body format, checked once more explicitly on a representative error of each code.

describe('error body format', () => {
  it.each([
    ['BLOB_UNKNOWN', 404, () => client.get(`/v2/${repo}/blobs/${randomDigest()}`)],
    ['BLOB_UPLOAD_UNKNOWN', 404, () => client.get(`/v2/${repo}/blobs/uploads/${randomUUID()}`)],
    ['DIGEST_INVALID', 400, () => client.get(`/v2/${repo}/blobs/sha256:zz`)],
    ['MANIFEST_UNKNOWN', 404, () => client.get(`/v2/${repo}/manifests/missing`)],
    ['NAME_INVALID', 400, () => client.get('/v2/UPPER/tags/list')],
    ['NAME_UNKNOWN', 404, () => client.get(`/v2/${uniqueRepo('ghost')}/tags/list`)],
    [
      'MANIFEST_INVALID',
      400,
      () => client.pushManifest(repo, 'broken', Buffer.from('not json'), MT.ociManifest),
    ],
    ['UNSUPPORTED', 405, () => client.request('POST', `/v2/${repo}/manifests/latest`)],
  ] as const)('%s: {"errors":[{code, message, detail?}]} as application/json', async (code, status, send) => {
    const body = await expectOciError(await send(), status, code);
    const err = body.errors.find((e) => e.code === code);
    expect(typeof err?.message).toBe('string');
    expect(Object.keys(err ?? {}).every((k) => ['code', 'message', 'detail'].includes(k))).toBe(true);
  });
});
