// Manifests: push (end-7), pull and HEAD (end-3), delete (end-9), the manifest kinds a registry meets in
// practice (OCI image/index, Docker schema2 image/list, OCI 1.1 artifacts) and manifest validation errors.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type BuiltImage,
  buildArtifact,
  buildImage,
  buildIndex,
  bytesOf,
  type Descriptor,
  descriptorOf,
  EMPTY_DESCRIPTOR,
  EMPTY_JSON,
  expectOciError,
  jsonBytes,
  MT,
  type OciClient,
  randomBytes,
  randomDigest,
  sha256,
  sha512,
  uniqueRepo,
} from '../helpers/oci-client.js';
import { startBerthWithClient } from '../helpers/server.js';

let client: OciClient;
startBerthWithClient((started) => {
  client = started.client;
});

function descriptorOfImage(image: { manifest: Buffer; mediaType: string }, extra: Partial<Descriptor> = {}) {
  return descriptorOf(image.mediaType, image.manifest, extra);
}

/** Asserts a manifest GET returns exactly the pushed bytes with the pushed type and digest. */
async function expectManifest(repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<void> {
  const res = await client.get(`/v2/${repo}/manifests/${ref}`, { accept: mediaType });
  const body = await bytesOf(res);
  expect(res.status, body.toString()).toBe(200);
  expect(res.headers.get('content-type')).toBe(mediaType);
  expect(res.headers.get('docker-content-digest')).toBe(sha256(bytes));
  expect(body.equals(bytes), 'manifest bytes differ from what was pushed').toBe(true);
}

describe('PUT /v2/<name>/manifests/<reference> (end-7) and GET/HEAD (end-3)', () => {
  const repo = uniqueRepo('man');
  let image: BuiltImage;
  let put: Response;

  beforeAll(async () => {
    // Pretty-printed with an unusual indent: the registry must store and serve the exact bytes.
    image = buildImage({ indent: 3, annotations: { 'org.example.note': 'exact bytes ✓' } });
    await client.pushBlob(repo, image.config);
    for (const layer of image.layers) await client.pushBlob(repo, layer);
    put = await client.pushManifest(repo, 'v1', image.manifest, image.mediaType);
    await put.arrayBuffer();
  });

  it('returns 201 with Location and Docker-Content-Digest = sha256 of the exact bytes', async () => {
    expect(put.status).toBe(201);
    expect(put.headers.get('docker-content-digest')).toBe(image.digest);
    expect(client.locationPath(put)).toMatch(new RegExp(`^/v2/${repo}/manifests/(v1|${image.digest})$`));
  });

  it('the Location is a pullable manifest URL', async () => {
    const res = await client.get(put.headers.get('location') as string, { accept: image.mediaType });
    expect(res.status).toBe(200);
    expect((await bytesOf(res)).equals(image.manifest)).toBe(true);
  });

  it('GET by tag returns the identical bytes, Content-Type and Docker-Content-Digest', async () => {
    await expectManifest(repo, 'v1', image.manifest, image.mediaType);
  });

  it('GET by digest returns the identical bytes', async () => {
    await expectManifest(repo, image.digest, image.manifest, image.mediaType);
  });

  it('GET without an Accept header still returns the manifest', async () => {
    const res = await client.get(`/v2/${repo}/manifests/v1`);
    expect(res.status).toBe(200);
    expect((await bytesOf(res)).equals(image.manifest)).toBe(true);
  });

  it.each(['v1', 'digest'])(
    'HEAD by %s → 200 with Content-Length, Content-Type, digest and no body',
    async (r) => {
      const ref = r === 'digest' ? image.digest : r;
      const res = await client.head(`/v2/${repo}/manifests/${ref}`, { accept: image.mediaType });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe(String(image.manifest.length));
      expect(res.headers.get('content-type')).toBe(image.mediaType);
      expect(res.headers.get('docker-content-digest')).toBe(image.digest);
      expect((await bytesOf(res)).length).toBe(0);
    },
  );

  it('re-pushing the same manifest is idempotent', async () => {
    const res = await client.pushManifest(repo, 'v1', image.manifest, image.mediaType);
    await res.arrayBuffer();
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(image.digest);
  });

  it('one manifest may carry several tags', async () => {
    await client.putManifest(repo, 'also-v1', image.manifest, image.mediaType);
    await expectManifest(repo, 'also-v1', image.manifest, image.mediaType);
    expect(await client.tags(repo)).toEqual(expect.arrayContaining(['v1', 'also-v1']));
  });
});

describe('PUT by digest', () => {
  it('stores the manifest without creating a tag', async () => {
    const repo = uniqueRepo('man');
    await client.pushRandomImage(repo, 'keep');
    const image = await client.pushRandomImage(repo);
    await expectManifest(repo, image.digest, image.manifest, image.mediaType);
    expect(await client.tags(repo)).toEqual(['keep']);
  });

  it('accepts a sha512 digest reference matching the body', async () => {
    const repo = uniqueRepo('man');
    const image = buildImage();
    await client.pushBlob(repo, image.config);
    for (const layer of image.layers) await client.pushBlob(repo, layer);
    const digest = sha512(image.manifest);
    const res = await client.pushManifest(repo, digest, image.manifest, image.mediaType);
    await res.arrayBuffer();
    expect(res.status).toBe(201);
    const get = await client.get(`/v2/${repo}/manifests/${digest}`, { accept: image.mediaType });
    expect(get.status).toBe(200);
    expect((await bytesOf(get)).equals(image.manifest)).toBe(true);
  });

  it('rejects a digest reference that does not match the body with 400 DIGEST_INVALID', async () => {
    const repo = uniqueRepo('man');
    const image = buildImage();
    await client.pushBlob(repo, image.config);
    for (const layer of image.layers) await client.pushBlob(repo, layer);
    const wrong = randomDigest();
    const res = await client.pushManifest(repo, wrong, image.manifest, image.mediaType);
    await expectOciError(res, 400, 'DIGEST_INVALID');
    expect((await client.head(`/v2/${repo}/manifests/${wrong}`)).status).toBe(404);
    expect((await client.head(`/v2/${repo}/manifests/${image.digest}`)).status).toBe(404);
  });
});

describe('manifest kinds', () => {
  it('OCI image index referencing manifests in the repository', async () => {
    const repo = uniqueRepo('kinds');
    const amd = await client.pushRandomImage(repo);
    const arm = await client.pushRandomImage(repo);
    const index = buildIndex([
      descriptorOfImage(amd, { platform: { architecture: 'amd64', os: 'linux' } }),
      descriptorOfImage(arm, { platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } }),
    ]);
    const res = await client.putManifest(repo, 'multi', index.manifest, index.mediaType);
    expect(res.headers.get('docker-content-digest')).toBe(index.digest);
    await expectManifest(repo, 'multi', index.manifest, MT.ociIndex);
    await expectManifest(repo, index.digest, index.manifest, MT.ociIndex);
  });

  it('Docker schema2 image manifest', async () => {
    const repo = uniqueRepo('kinds');
    const image = await client.pushRandomImage(repo, 'docker', { flavour: 'docker' });
    expect(image.mediaType).toBe(MT.dockerManifest);
    await expectManifest(repo, 'docker', image.manifest, MT.dockerManifest);
    await expectManifest(repo, image.digest, image.manifest, MT.dockerManifest);
  });

  it('Docker manifest list', async () => {
    const repo = uniqueRepo('kinds');
    const a = await client.pushRandomImage(repo, undefined, { flavour: 'docker' });
    const b = await client.pushRandomImage(repo, undefined, { flavour: 'docker' });
    const list = buildIndex(
      [
        descriptorOfImage(a, { platform: { architecture: 'amd64', os: 'linux' } }),
        descriptorOfImage(b, { platform: { architecture: 'arm', os: 'linux', variant: 'v7' } }),
      ],
      { flavour: 'docker' },
    );
    await client.putManifest(repo, 'list', list.manifest, MT.dockerList);
    await expectManifest(repo, 'list', list.manifest, MT.dockerList);
  });

  it('OCI 1.1 artifact manifest (artifactType, empty config)', async () => {
    const repo = uniqueRepo('kinds');
    const artifact = buildArtifact({ artifactType: 'application/vnd.example.thing.v1' });
    await client.pushArtifact(repo, artifact, 'artifact');
    await expectManifest(repo, 'artifact', artifact.manifest, MT.ociManifest);
  });

  it('artifact whose only layer is the empty descriptor', async () => {
    const repo = uniqueRepo('kinds');
    await client.pushBlob(repo, EMPTY_JSON);
    const manifest = jsonBytes({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      artifactType: 'application/vnd.example.empty',
      config: EMPTY_DESCRIPTOR,
      layers: [EMPTY_DESCRIPTOR],
      annotations: { 'org.example.k': 'v' },
    });
    await client.putManifest(repo, 'empty', manifest, MT.ociManifest);
    await expectManifest(repo, 'empty', manifest, MT.ociManifest);
  });

  it('image manifest whose layers reference sha512 blobs', async () => {
    const repo = uniqueRepo('kinds');
    const config = jsonBytes({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [] },
    });
    const layer = randomBytes(100);
    await client.pushBlob(repo, config);
    await client.pushBlob(repo, layer, sha512(layer));
    const manifest = jsonBytes({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: descriptorOf(MT.ociConfig, config),
      layers: [{ mediaType: MT.ociLayer, digest: sha512(layer), size: layer.length }],
    });
    await client.putManifest(repo, 'sha512', manifest, MT.ociManifest);
    await expectManifest(repo, 'sha512', manifest, MT.ociManifest);
  });
});

describe('Accept negotiation', () => {
  const repo = uniqueRepo('accept');
  let index: ReturnType<typeof buildIndex>;

  beforeAll(async () => {
    const child = await client.pushRandomImage(repo);
    index = buildIndex([descriptorOfImage(child, { platform: { architecture: 'amd64', os: 'linux' } })]);
    await client.putManifest(repo, 'idx', index.manifest, index.mediaType);
  });

  it.each([
    MT.ociIndex,
    `${MT.ociManifest}, ${MT.ociIndex}`,
    `${MT.dockerManifest}, ${MT.dockerList}, ${MT.ociManifest}, ${MT.ociIndex}`,
    `${MT.ociManifest};q=0.9, ${MT.ociIndex};q=0.5`,
    '*/*',
  ])('Accept: %s → the stored index', async (accept) => {
    const res = await client.get(`/v2/${repo}/manifests/idx`, { accept });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(MT.ociIndex);
    expect((await bytesOf(res)).equals(index.manifest)).toBe(true);
  });
});

describe('manifest validation errors', () => {
  const repo = uniqueRepo('invalid');
  let image: BuiltImage;

  beforeAll(async () => {
    image = await client.pushRandomImage(repo, 'base');
  });

  /** A manifest referencing the already-pushed config and layers of `image`, with `patch` applied. */
  function variant(patch: Record<string, unknown>): Buffer {
    return jsonBytes({ ...image.json, ...patch });
  }

  const missing = (): Descriptor => descriptorOf(MT.ociLayer, randomBytes(32));

  const cases: Array<{
    name: string;
    body: () => Buffer;
    contentType?: string;
    status: number;
    code: string | string[];
  }> = [
    {
      name: 'invalid JSON',
      body: () => Buffer.from('{"schemaVersion": 2,'),
      status: 400,
      code: 'MANIFEST_INVALID',
    },
    {
      name: 'JSON that is not an object',
      body: () => Buffer.from('[1,2,3]'),
      status: 400,
      code: 'MANIFEST_INVALID',
    },
    { name: 'an empty body', body: () => Buffer.alloc(0), status: 400, code: 'MANIFEST_INVALID' },
    {
      name: 'a missing layer blob',
      body: () => variant({ layers: [...(image.json.layers as Descriptor[]), missing()] }),
      status: 400,
      code: 'MANIFEST_BLOB_UNKNOWN',
    },
    {
      name: 'a missing config blob',
      body: () => variant({ config: descriptorOf(MT.ociConfig, jsonBytes({ nonce: Math.random() })) }),
      status: 400,
      code: 'MANIFEST_BLOB_UNKNOWN',
    },
    {
      name: 'body mediaType differing from Content-Type',
      body: () => variant({ mediaType: MT.ociIndex }),
      status: 400,
      code: 'MANIFEST_INVALID',
    },
    {
      name: 'schemaVersion 1 under the OCI Content-Type',
      body: () => variant({ schemaVersion: 1 }),
      status: 400,
      code: 'MANIFEST_INVALID',
    },
    {
      name: 'Docker schema1 signed manifest',
      contentType: MT.dockerSchema1Signed,
      body: () =>
        jsonBytes({
          schemaVersion: 1,
          name: 'x/y',
          tag: 'latest',
          architecture: 'amd64',
          fsLayers: [{ blobSum: sha256('layer') }],
          history: [{ v1Compatibility: '{}' }],
          signatures: [],
        }),
      status: 400,
      code: 'MANIFEST_INVALID',
    },
    {
      name: 'Docker schema1 unsigned manifest',
      contentType: MT.dockerSchema1,
      body: () => jsonBytes({ schemaVersion: 1, name: 'x/y', tag: 'latest', fsLayers: [], history: [] }),
      status: 400,
      code: 'MANIFEST_INVALID',
    },
    {
      name: 'config without a digest',
      body: () => variant({ config: { mediaType: MT.ociConfig, size: 10 } }),
      status: 400,
      code: 'MANIFEST_INVALID',
    },
    {
      name: 'layers that is not an array',
      body: () => variant({ layers: 'nope' }),
      status: 400,
      code: 'MANIFEST_INVALID',
    },
    {
      name: 'a descriptor with a malformed digest',
      body: () => variant({ layers: [{ mediaType: MT.ociLayer, digest: 'sha256:xyz', size: 3 }] }),
      status: 400,
      code: ['MANIFEST_INVALID', 'DIGEST_INVALID'],
    },
    {
      name: 'an index referencing a child manifest that is not in the repository',
      contentType: MT.ociIndex,
      body: () => buildIndex([descriptorOf(MT.ociManifest, randomBytes(100))]).manifest,
      status: 400,
      code: 'MANIFEST_BLOB_UNKNOWN',
    },
    {
      name: 'an index whose manifests is not an array',
      contentType: MT.ociIndex,
      body: () => jsonBytes({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: {} }),
      status: 400,
      code: 'MANIFEST_INVALID',
    },
  ];

  it.each(cases)('$name → $status $code', async ({ body, contentType, status, code }) => {
    const bytes = body();
    const res = await client.pushManifest(repo, 'bad', bytes, contentType ?? MT.ociManifest);
    await expectOciError(res, status, code);
  });

  it('no rejected push created the tag', async () => {
    await expectOciError(await client.get(`/v2/${repo}/manifests/bad`), 404, 'MANIFEST_UNKNOWN');
  });

  it('a blob that exists only in another repository does not satisfy a manifest (MANIFEST_BLOB_UNKNOWN)', async () => {
    const other = uniqueRepo('invalid');
    const img = buildImage();
    await client.pushBlob(other, img.config);
    for (const layer of img.layers) await client.pushBlob(other, layer);
    await client.pushBlob(repo, img.config); // config present, layers only in `other`
    const res = await client.pushManifest(repo, 'cross', img.manifest, img.mediaType);
    await expectOciError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  it('an index child that exists only in another repository → MANIFEST_BLOB_UNKNOWN', async () => {
    const other = uniqueRepo('invalid');
    const child = await client.pushRandomImage(other);
    const index = buildIndex([descriptorOfImage(child)]);
    await expectOciError(
      await client.pushManifest(repo, 'cross-index', index.manifest, index.mediaType),
      400,
      'MANIFEST_BLOB_UNKNOWN',
    );
  });
});

describe('manifest size limit', () => {
  /** A valid manifest padded with an annotation to exactly `size` bytes. */
  function paddedManifest(image: BuiltImage, size: number): Buffer {
    const base = jsonBytes({ ...image.json, annotations: { pad: '' } });
    return jsonBytes({ ...image.json, annotations: { pad: 'x'.repeat(size - base.length) } });
  }

  it('accepts a manifest just under 4 MiB', async () => {
    // v1.1: "Registries SHOULD accept manifests up to at least 4 megabytes" (the brief makes it the contract).
    const repo = uniqueRepo('size');
    const image = await client.pushRandomImage(repo);
    const manifest = paddedManifest(image, 4 * 1024 * 1024 - 4096);
    expect(manifest.length).toBe(4 * 1024 * 1024 - 4096);
    await client.putManifest(repo, 'big', manifest, MT.ociManifest);
    await expectManifest(repo, 'big', manifest, MT.ociManifest);
  });

  it('rejects a manifest over 4 MiB with 413 SIZE_INVALID', async () => {
    const repo = uniqueRepo('size');
    const image = await client.pushRandomImage(repo);
    const manifest = paddedManifest(image, 4 * 1024 * 1024 + 1024);
    const res = await client.pushManifest(repo, 'huge', manifest, MT.ociManifest);
    await expectOciError(res, 413, 'SIZE_INVALID');
    expect((await client.head(`/v2/${repo}/manifests/huge`)).status).toBe(404);
  });
});

describe('GET/HEAD of what is not there', () => {
  const repo = uniqueRepo('missing');

  beforeAll(async () => {
    await client.pushRandomImage(repo, 'present');
  });

  it('unknown tag → 404 MANIFEST_UNKNOWN', async () => {
    await expectOciError(await client.get(`/v2/${repo}/manifests/absent`), 404, 'MANIFEST_UNKNOWN');
  });

  it('unknown digest → 404 MANIFEST_UNKNOWN', async () => {
    await expectOciError(
      await client.get(`/v2/${repo}/manifests/${randomDigest()}`),
      404,
      'MANIFEST_UNKNOWN',
    );
  });

  it('HEAD of an unknown tag → 404 with no body', async () => {
    const res = await client.head(`/v2/${repo}/manifests/absent`);
    expect(res.status).toBe(404);
    expect((await bytesOf(res)).length).toBe(0);
  });

  it('unknown repository → 404 NAME_UNKNOWN', async () => {
    await expectOciError(
      await client.get(`/v2/${uniqueRepo('ghost')}/manifests/latest`),
      404,
      'NAME_UNKNOWN',
    );
  });

  it('a manifest pushed to one repository is not visible in another', async () => {
    const other = uniqueRepo('missing');
    const image = await client.pushRandomImage(other, 'mine');
    await expectOciError(await client.get(`/v2/${repo}/manifests/${image.digest}`), 404, 'MANIFEST_UNKNOWN');
    await expectOciError(await client.get(`/v2/${repo}/manifests/mine`), 404, 'MANIFEST_UNKNOWN');
  });
});

describe('tags move', () => {
  it('PUT of another manifest under an existing tag moves the tag', async () => {
    const repo = uniqueRepo('move');
    const first = await client.pushRandomImage(repo, 'latest');
    const second = await client.pushRandomImage(repo, 'latest');
    await expectManifest(repo, 'latest', second.manifest, second.mediaType);
    await expectManifest(repo, first.digest, first.manifest, first.mediaType);
    expect(await client.tags(repo)).toEqual(['latest']);
  });
});

describe('DELETE /v2/<name>/manifests/<reference> (end-9)', () => {
  it('by digest → 202; the manifest and the tag pointing to it are gone', async () => {
    const repo = uniqueRepo('delman');
    const keep = await client.pushRandomImage(repo, 'keep');
    const image = await client.pushRandomImage(repo, 'doomed');
    const res = await client.delete(`/v2/${repo}/manifests/${image.digest}`);
    await res.arrayBuffer();
    expect(res.status).toBe(202);
    await expectOciError(await client.get(`/v2/${repo}/manifests/${image.digest}`), 404, 'MANIFEST_UNKNOWN');
    await expectOciError(await client.get(`/v2/${repo}/manifests/doomed`), 404, 'MANIFEST_UNKNOWN');
    expect((await client.head(`/v2/${repo}/manifests/${image.digest}`)).status).toBe(404);
    expect(await client.tags(repo)).toEqual(['keep']);
    await expectManifest(repo, 'keep', keep.manifest, keep.mediaType);
  });

  it('by digest removes every tag pointing at it', async () => {
    const repo = uniqueRepo('delman');
    await client.pushRandomImage(repo, 'other');
    const image = await client.pushRandomImage(repo, 'a');
    await client.putManifest(repo, 'b', image.manifest, image.mediaType);
    expect((await client.delete(`/v2/${repo}/manifests/${image.digest}`)).status).toBe(202);
    expect(await client.tags(repo)).toEqual(['other']);
  });

  it('by tag → 202; only the tag is removed, the manifest stays pullable by digest', async () => {
    const repo = uniqueRepo('delman');
    const image = await client.pushRandomImage(repo, 'gone');
    await client.putManifest(repo, 'stays', image.manifest, image.mediaType);
    const res = await client.delete(`/v2/${repo}/manifests/gone`);
    await res.arrayBuffer();
    expect(res.status).toBe(202);
    await expectOciError(await client.get(`/v2/${repo}/manifests/gone`), 404, 'MANIFEST_UNKNOWN');
    await expectManifest(repo, image.digest, image.manifest, image.mediaType);
    await expectManifest(repo, 'stays', image.manifest, image.mediaType);
    expect(await client.tags(repo)).toEqual(['stays']);
  });

  it('the manifest can be pushed again after deletion', async () => {
    const repo = uniqueRepo('delman');
    const image = await client.pushRandomImage(repo, 'again');
    expect((await client.delete(`/v2/${repo}/manifests/${image.digest}`)).status).toBe(202);
    await client.putManifest(repo, 'again', image.manifest, image.mediaType);
    await expectManifest(repo, 'again', image.manifest, image.mediaType);
  });

  it.each([
    ['an unknown digest', () => randomDigest()],
    ['an unknown tag', () => 'no-such-tag'],
  ])('of %s → 404 MANIFEST_UNKNOWN', async (_, ref) => {
    const repo = uniqueRepo('delman');
    await client.pushRandomImage(repo, 'x');
    await expectOciError(await client.delete(`/v2/${repo}/manifests/${ref()}`), 404, 'MANIFEST_UNKNOWN');
  });

  it('in a repository that does not exist → 404', async () => {
    const res = await client.delete(`/v2/${uniqueRepo('ghost')}/manifests/${randomDigest()}`);
    await expectOciError(res, 404, ['NAME_UNKNOWN', 'MANIFEST_UNKNOWN']);
  });
});
