import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../src/registry/errors.js';
import { type ParsedManifest, parseManifest } from '../../src/registry/manifest-parser.js';
import { MediaType } from '../../src/registry/media-types.js';

const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const OCI_NONDIST_LAYER = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const DOCKER_FOREIGN_LAYER = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
const EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const desc = (mediaType: string, c: string, size = 100, extra: Record<string, unknown> = {}) => ({
  mediaType,
  digest: digest(c),
  size,
  ...extra,
});

const ociConfig = desc(OCI_CONFIG, 'c', 500);
const ociLayer1 = desc(OCI_LAYER, '1', 1000);
const ociLayer2 = desc(OCI_LAYER, '2', 2000);
const emptyConfig = { mediaType: MediaType.OciEmpty, digest: EMPTY_DIGEST, size: 2 };
const subject = desc(MediaType.OciManifest, 'f', 700);

function ociManifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: ociConfig,
    layers: [ociLayer1, ociLayer2],
    ...extra,
  };
}

function ociIndex(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [
      desc(MediaType.OciManifest, 'a', 400, { platform: { architecture: 'amd64', os: 'linux' } }),
      desc(MediaType.OciManifest, 'b', 410, {
        platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
      }),
    ],
    ...extra,
  };
}

function dockerManifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaType.DockerManifest,
    config: desc(DOCKER_CONFIG, 'c', 1500),
    layers: [desc(DOCKER_LAYER, '1', 3000)],
    ...extra,
  };
}

function dockerList(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaType.DockerManifestList,
    manifests: [
      desc(MediaType.DockerManifest, 'a', 500, { platform: { architecture: 'amd64', os: 'linux' } }),
    ],
    ...extra,
  };
}

/** Drops a key from a fixture, for "missing field" cases. */
function without(value: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _dropped, ...rest } = value;
  return rest;
}

const bytes = (value: unknown) =>
  new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

function parse(body: unknown, contentType: string | undefined): ParsedManifest {
  return parseManifest(bytes(body), contentType);
}

function expectInvalid(body: unknown, contentType: string | undefined, message?: RegExp): RegistryError {
  let caught: unknown;
  try {
    parse(body, contentType);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(RegistryError);
  const error = caught as RegistryError;
  expect(error.code).toBe('MANIFEST_INVALID');
  expect(error.status).toBe(400);
  if (message) expect(error.message).toMatch(message);
  return error;
}

describe('parseManifest: valid manifests', () => {
  it.each<[string, unknown, string | undefined, ParsedManifest]>([
    [
      'an OCI image manifest',
      ociManifest(),
      MediaType.OciManifest,
      {
        mediaType: MediaType.OciManifest,
        blobs: [ociConfig, ociLayer1, ociLayer2],
        manifests: [],
        artifactType: OCI_CONFIG,
      },
    ],
    [
      'an OCI image manifest without mediaType in the body',
      without(ociManifest(), 'mediaType'),
      MediaType.OciManifest,
      {
        mediaType: MediaType.OciManifest,
        blobs: [ociConfig, ociLayer1, ociLayer2],
        manifests: [],
        artifactType: OCI_CONFIG,
      },
    ],
    [
      'an OCI image manifest with Content-Type parameters and odd case',
      ociManifest(),
      'Application/VND.OCI.Image.Manifest.v1+JSON; charset=utf-8',
      {
        mediaType: MediaType.OciManifest,
        blobs: [ociConfig, ociLayer1, ociLayer2],
        manifests: [],
        artifactType: OCI_CONFIG,
      },
    ],
    [
      'an OCI image manifest without Content-Type, typed by its body',
      ociManifest(),
      undefined,
      {
        mediaType: MediaType.OciManifest,
        blobs: [ociConfig, ociLayer1, ociLayer2],
        manifests: [],
        artifactType: OCI_CONFIG,
      },
    ],
    [
      'an OCI image manifest with an empty Content-Type, typed by its body',
      ociManifest(),
      '',
      {
        mediaType: MediaType.OciManifest,
        blobs: [ociConfig, ociLayer1, ociLayer2],
        manifests: [],
        artifactType: OCI_CONFIG,
      },
    ],
    [
      'an OCI image manifest with no layers at all in the list',
      ociManifest({ layers: [] }),
      MediaType.OciManifest,
      { mediaType: MediaType.OciManifest, blobs: [ociConfig], manifests: [], artifactType: OCI_CONFIG },
    ],
    [
      'an OCI image manifest with annotations',
      ociManifest({
        annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
        layers: [desc(OCI_LAYER, '1', 1000, { annotations: { 'org.opencontainers.image.title': 'a.txt' } })],
      }),
      MediaType.OciManifest,
      {
        mediaType: MediaType.OciManifest,
        blobs: [
          ociConfig,
          desc(OCI_LAYER, '1', 1000, { annotations: { 'org.opencontainers.image.title': 'a.txt' } }),
        ],
        manifests: [],
        artifactType: OCI_CONFIG,
        annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
      },
    ],
    [
      'an OCI index',
      ociIndex(),
      MediaType.OciIndex,
      {
        mediaType: MediaType.OciIndex,
        blobs: [],
        manifests: ociIndex().manifests as ParsedManifest['manifests'],
      },
    ],
    [
      'an empty OCI index',
      ociIndex({ manifests: [] }),
      MediaType.OciIndex,
      { mediaType: MediaType.OciIndex, blobs: [], manifests: [] },
    ],
    [
      'an OCI index with artifactType and subject',
      ociIndex({ artifactType: 'application/vnd.example.bundle', subject }),
      MediaType.OciIndex,
      {
        mediaType: MediaType.OciIndex,
        blobs: [],
        manifests: ociIndex().manifests as ParsedManifest['manifests'],
        artifactType: 'application/vnd.example.bundle',
        subject,
      },
    ],
    [
      'a Docker schema 2 manifest',
      dockerManifest(),
      MediaType.DockerManifest,
      {
        mediaType: MediaType.DockerManifest,
        blobs: [desc(DOCKER_CONFIG, 'c', 1500), desc(DOCKER_LAYER, '1', 3000)],
        manifests: [],
        artifactType: DOCKER_CONFIG,
      },
    ],
    [
      'a Docker manifest list',
      dockerList(),
      MediaType.DockerManifestList,
      {
        mediaType: MediaType.DockerManifestList,
        blobs: [],
        manifests: dockerList().manifests as ParsedManifest['manifests'],
      },
    ],
    [
      'an artifact manifest with artifactType and the empty config',
      ociManifest({
        artifactType: 'application/vnd.example.sbom.v1',
        config: emptyConfig,
        layers: [desc('application/spdx+json', '3', 321)],
      }),
      MediaType.OciManifest,
      {
        mediaType: MediaType.OciManifest,
        blobs: [emptyConfig, desc('application/spdx+json', '3', 321)],
        manifests: [],
        artifactType: 'application/vnd.example.sbom.v1',
      },
    ],
    [
      'an artifact manifest with only the empty layer',
      ociManifest({
        artifactType: 'application/vnd.example.signature',
        config: emptyConfig,
        layers: [emptyConfig],
      }),
      MediaType.OciManifest,
      {
        mediaType: MediaType.OciManifest,
        blobs: [emptyConfig, emptyConfig],
        manifests: [],
        artifactType: 'application/vnd.example.signature',
      },
    ],
    [
      'an artifactType that overrides a regular config media type',
      ociManifest({ artifactType: 'application/vnd.example.thing' }),
      MediaType.OciManifest,
      {
        mediaType: MediaType.OciManifest,
        blobs: [ociConfig, ociLayer1, ociLayer2],
        manifests: [],
        artifactType: 'application/vnd.example.thing',
      },
    ],
    [
      'a manifest with a subject',
      ociManifest({
        artifactType: 'application/vnd.example.sig',
        config: emptyConfig,
        layers: [emptyConfig],
        subject,
      }),
      MediaType.OciManifest,
      {
        mediaType: MediaType.OciManifest,
        blobs: [emptyConfig, emptyConfig],
        manifests: [],
        artifactType: 'application/vnd.example.sig',
        subject,
      },
    ],
    [
      'a Docker manifest with a foreign layer (urls), excluded from blobs',
      dockerManifest({
        layers: [
          desc(DOCKER_FOREIGN_LAYER, '9', 9000, { urls: ['https://example.com/layer.tar.gz'] }),
          desc(DOCKER_LAYER, '1', 3000),
        ],
      }),
      MediaType.DockerManifest,
      {
        mediaType: MediaType.DockerManifest,
        blobs: [desc(DOCKER_CONFIG, 'c', 1500), desc(DOCKER_LAYER, '1', 3000)],
        manifests: [],
        artifactType: DOCKER_CONFIG,
      },
    ],
    [
      'an OCI manifest with a non-distributable layer (urls), excluded from blobs',
      ociManifest({
        layers: [
          ociLayer1,
          desc(OCI_NONDIST_LAYER, '8', 8000, { urls: ['https://a.example/x', 'https://b.example/x'] }),
        ],
      }),
      MediaType.OciManifest,
      {
        mediaType: MediaType.OciManifest,
        blobs: [ociConfig, ociLayer1],
        manifests: [],
        artifactType: OCI_CONFIG,
      },
    ],
    [
      'a layer with an empty urls list, which the registry must hold',
      ociManifest({ layers: [desc(OCI_LAYER, '1', 1000, { urls: [] })] }),
      MediaType.OciManifest,
      {
        mediaType: MediaType.OciManifest,
        blobs: [ociConfig, desc(OCI_LAYER, '1', 1000, { urls: [] })],
        manifests: [],
        artifactType: OCI_CONFIG,
      },
    ],
    [
      'a descriptor of size 0 with a sha512 digest',
      ociManifest({ layers: [{ mediaType: OCI_LAYER, digest: `sha512:${'0'.repeat(128)}`, size: 0 }] }),
      MediaType.OciManifest,
      {
        mediaType: MediaType.OciManifest,
        blobs: [ociConfig, { mediaType: OCI_LAYER, digest: `sha512:${'0'.repeat(128)}`, size: 0 }],
        manifests: [],
        artifactType: OCI_CONFIG,
      },
    ],
  ])('parses %s', (_label, body, contentType, expected) => {
    expect(parse(body, contentType)).toEqual(expected);
  });

  it('parses a body viewed through a subarray of a larger buffer', () => {
    const json = JSON.stringify(ociManifest());
    const backing = new TextEncoder().encode(`xxxx${json}yyyy`);
    const view = backing.subarray(4, 4 + json.length);
    expect(parseManifest(view, MediaType.OciManifest).blobs).toHaveLength(3);
  });

  it('keeps descriptor artifactType and platform', () => {
    const child = desc(MediaType.OciManifest, 'a', 1, {
      artifactType: 'application/vnd.example',
      platform: { architecture: 'arm', os: 'linux', variant: 'v7' },
    });
    expect(parse(ociIndex({ manifests: [child] }), MediaType.OciIndex).manifests).toEqual([child]);
  });
});

describe('parseManifest: invalid manifests (MANIFEST_INVALID, 400)', () => {
  describe('bodies that are not manifests', () => {
    it.each([
      ['empty body', ''],
      ['truncated JSON', '{"schemaVersion": 2'],
      ['not JSON', 'not json'],
      ['trailing garbage', `${JSON.stringify(ociManifest())}}`],
    ])('%s', (_label, body) => {
      expectInvalid(body, MediaType.OciManifest, /not valid JSON/);
    });

    it.each([
      ['array', '[]'],
      ['string', '"manifest"'],
      ['number', '2'],
      ['null', 'null'],
      ['boolean', 'true'],
    ])('non-object: %s', (_label, body) => {
      expectInvalid(body, MediaType.OciManifest, /JSON object/);
    });
  });

  describe('schema versions', () => {
    it.each([
      ['missing', without(ociManifest(), 'schemaVersion')],
      ['3', ociManifest({ schemaVersion: 3 })],
      ['the string "2"', ociManifest({ schemaVersion: '2' })],
      ['0', ociManifest({ schemaVersion: 0 })],
    ])('schemaVersion %s', (_label, body) => {
      expectInvalid(body, MediaType.OciManifest, /schemaVersion must be 2/);
    });

    it.each<[string, unknown, string | undefined]>([
      [
        'schemaVersion 1 body',
        { schemaVersion: 1, name: 'a', tag: 'latest', architecture: 'amd64', fsLayers: [], history: [] },
        undefined,
      ],
      [
        'schemaVersion 1 body under the schema-1 Content-Type',
        { schemaVersion: 1, name: 'a', tag: 'latest', fsLayers: [] },
        MediaType.DockerSchema1,
      ],
      ['schema-1 Content-Type', dockerManifest(), MediaType.DockerSchema1],
      ['signed schema-1 Content-Type', dockerManifest(), MediaType.DockerSchema1Signed],
      [
        'schema-1 Content-Type with parameters',
        dockerManifest(),
        `${MediaType.DockerSchema1Signed}; charset=utf-8`,
      ],
      ['schema-1 mediaType in the body', dockerManifest({ mediaType: MediaType.DockerSchema1 }), undefined],
      [
        'signed schema-1 mediaType in the body',
        dockerManifest({ mediaType: MediaType.DockerSchema1Signed }),
        undefined,
      ],
    ])('refuses Docker schema 1: %s', (_label, body, contentType) => {
      expectInvalid(body, contentType, /schema 1/);
    });
  });

  describe('media types', () => {
    it.each<[string, unknown, string | undefined, RegExp]>([
      [
        'OCI manifest body under the Docker Content-Type',
        ociManifest(),
        MediaType.DockerManifest,
        /does not match/,
      ],
      [
        'Docker manifest body under the OCI Content-Type',
        dockerManifest(),
        MediaType.OciManifest,
        /does not match/,
      ],
      ['index body under a manifest Content-Type', ociIndex(), MediaType.OciManifest, /does not match/],
      ['manifest body under an index Content-Type', ociManifest(), MediaType.OciIndex, /does not match/],
      [
        'Docker list body under the OCI index Content-Type',
        dockerList(),
        MediaType.OciIndex,
        /does not match/,
      ],
      [
        'no Content-Type and no body mediaType',
        without(ociManifest(), 'mediaType'),
        undefined,
        /unknown manifest/,
      ],
      [
        'unknown Content-Type and no body mediaType',
        without(ociManifest(), 'mediaType'),
        'application/json',
        /unknown manifest/,
      ],
      [
        'unknown body mediaType and no Content-Type',
        ociManifest({ mediaType: 'application/vnd.example.manifest+json' }),
        undefined,
        /unsupported manifest media type/,
      ],
      [
        'a config media type as the body mediaType',
        ociManifest({ mediaType: OCI_CONFIG }),
        'application/octet-stream',
        /unsupported manifest media type/,
      ],
      [
        'body mediaType that is not a string',
        ociManifest({ mediaType: 42 }),
        MediaType.OciManifest,
        /string/,
      ],
      ['body mediaType null', ociManifest({ mediaType: null }), MediaType.OciManifest, /string/],
    ])('%s', (_label, body, contentType, message) => {
      expectInvalid(body, contentType, message);
    });

    it('names both types in the detail of a mismatch', () => {
      const error = expectInvalid(ociManifest(), `${MediaType.DockerManifest}; charset=utf-8`);
      expect(error.detail).toEqual({
        contentType: MediaType.DockerManifest,
        mediaType: MediaType.OciManifest,
      });
    });
  });

  describe('structure', () => {
    it.each<[string, unknown, string, RegExp]>([
      ['image manifest with manifests', ociManifest({ manifests: [] }), MediaType.OciManifest, /manifests/],
      ['image manifest without config', without(ociManifest(), 'config'), MediaType.OciManifest, /config/],
      ['image manifest with a null config', ociManifest({ config: null }), MediaType.OciManifest, /config/],
      [
        'image manifest with layers not an array',
        ociManifest({ layers: {} }),
        MediaType.OciManifest,
        /layers/,
      ],
      [
        'image manifest with a null layer',
        ociManifest({ layers: [null] }),
        MediaType.OciManifest,
        /layers\[0\]/,
      ],
      ['Docker manifest with no layers', dockerManifest({ layers: [] }), MediaType.DockerManifest, /layer/],
      [
        'Docker manifest without a layers field',
        without(dockerManifest(), 'layers'),
        MediaType.DockerManifest,
        /layer/,
      ],
      ['index with config', ociIndex({ config: ociConfig }), MediaType.OciIndex, /config or layers/],
      ['index with layers', ociIndex({ layers: [] }), MediaType.OciIndex, /config or layers/],
      ['index without manifests', without(ociIndex(), 'manifests'), MediaType.OciIndex, /manifests/],
      ['index with manifests an object', ociIndex({ manifests: {} }), MediaType.OciIndex, /manifests/],
      [
        'list with a string entry',
        dockerList({ manifests: ['x'] }),
        MediaType.DockerManifestList,
        /manifests\[0\]/,
      ],
      [
        'empty config without artifactType',
        ociManifest({ config: emptyConfig, layers: [emptyConfig] }),
        MediaType.OciManifest,
        /artifactType is required/,
      ],
      [
        'manifest artifactType not a string',
        ociManifest({ artifactType: 1 }),
        MediaType.OciManifest,
        /artifactType/,
      ],
      ['index artifactType not a string', ociIndex({ artifactType: {} }), MediaType.OciIndex, /artifactType/],
      [
        'manifest annotations not strings',
        ociManifest({ annotations: { a: 1 } }),
        MediaType.OciManifest,
        /annotations/,
      ],
      [
        'manifest annotations an array',
        ociManifest({ annotations: ['a'] }),
        MediaType.OciManifest,
        /annotations/,
      ],
      ['index annotations null', ociIndex({ annotations: null }), MediaType.OciIndex, /annotations/],
      ['subject not an object', ociManifest({ subject: 'sha256:x' }), MediaType.OciManifest, /subject/],
      [
        'subject with a bad digest',
        ociManifest({ subject: desc(MediaType.OciManifest, 'z') }),
        MediaType.OciManifest,
        /subject/,
      ],
    ])('%s', (_label, body, contentType, message) => {
      expectInvalid(body, contentType, message);
    });
  });

  describe('bad descriptors', () => {
    const good = desc(OCI_LAYER, '1', 1000);
    it.each<[string, Record<string, unknown>, RegExp]>([
      ['missing mediaType', without(good, 'mediaType'), /mediaType is required/],
      ['empty mediaType', { ...good, mediaType: '' }, /mediaType is required/],
      ['non-string mediaType', { ...good, mediaType: 7 }, /mediaType is required/],
      ['missing digest', without(good, 'digest'), /digest/],
      ['short digest', { ...good, digest: 'sha256:abc' }, /digest/],
      ['uppercase digest', { ...good, digest: digest('A') }, /digest/],
      ['unknown digest algorithm', { ...good, digest: `md5:${'0'.repeat(32)}` }, /digest/],
      ['digest without a colon', { ...good, digest: '1'.repeat(64) }, /digest/],
      ['numeric digest', { ...good, digest: 1 }, /digest/],
      ['missing size', without(good, 'size'), /size/],
      ['negative size', { ...good, size: -1 }, /size/],
      ['fractional size', { ...good, size: 1.5 }, /size/],
      ['string size', { ...good, size: '1000' }, /size/],
      ['size beyond 2^53', { ...good, size: 2 ** 53 }, /size/],
      ['annotation value not a string', { ...good, annotations: { a: 1 } }, /annotations/],
      ['annotation value null', { ...good, annotations: { a: null } }, /annotations/],
      ['annotations a string', { ...good, annotations: 'a=b' }, /annotations/],
      ['urls not an array', { ...good, urls: 'https://example.com' }, /urls/],
      ['urls with a non-string', { ...good, urls: [1] }, /urls/],
      ['platform not an object', { ...good, platform: 'linux/amd64' }, /platform/],
      ['artifactType not a string', { ...good, artifactType: 5 }, /artifactType/],
    ])('layer with %s', (_label, layer, message) => {
      expectInvalid(ociManifest({ layers: [ociLayer1, layer] }), MediaType.OciManifest, message);
    });

    it.each<[string, Record<string, unknown>]>([
      ['config with a bad digest', ociManifest({ config: { ...ociConfig, digest: 'sha256:' } })],
      ['config with a negative size', ociManifest({ config: { ...ociConfig, size: -5 } })],
      ['config without mediaType', ociManifest({ config: without(ociConfig, 'mediaType') })],
      [
        'index entry with a fractional size',
        ociIndex({ manifests: [desc(MediaType.OciManifest, 'a', 0.5)] }),
      ],
      [
        'index entry with a bad platform',
        ociIndex({ manifests: [desc(MediaType.OciManifest, 'a', 5, { platform: [] })] }),
      ],
    ])('%s', (_label, body) => {
      expectInvalid(body, String(body.mediaType));
    });

    it('names the position of the bad descriptor', () => {
      const error = expectInvalid(
        ociManifest({ layers: [ociLayer1, ociLayer2, { ...ociLayer1, size: -1 }] }),
        MediaType.OciManifest,
      );
      expect(error.message).toContain('layers[2]');
      expect(error.detail).toEqual({ size: -1 });
    });
  });
});
