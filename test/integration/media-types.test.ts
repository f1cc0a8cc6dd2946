// Exact Content-Type values of every /v2 response whose media type the distribution spec fixes: manifests
// ("Pulling manifests": the manifest's own media type), referrers ("Listing Referrers": exactly
// `application/vnd.oci.image.index.v1+json`), tags, catalog and error bodies (`application/json`), blobs.
// Compared as whole header values, not by media type, so a framework-added parameter such as
// `; charset=utf-8` fails them (it once did, on the referrers response).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BuiltImage,
  buildArtifact,
  buildImage,
  buildIndex,
  descriptorOf,
  MT,
  OciClient,
  randomDigest,
  sha256,
  uniqueRepo,
} from '../helpers/oci-client.js';
import { startBerth } from '../helpers/server.js';

const JSON_TYPE = 'application/json';
const SBOM = 'application/vnd.example.sbom.v1+json';
const SIG = 'application/vnd.example.signature.v1';
const ODD_CONFIG = 'application/vnd.example.config.v1+json';

let berth: Awaited<ReturnType<typeof startBerth>>;
let secured: Awaited<ReturnType<typeof startBerth>>;
let client: OciClient;
const repo = uniqueRepo('mediatypes');

/** Each manifest flavour the registry stores, pushed under its own tag, with the exact type it must come back as. */
interface Pushed {
  name: string;
  tag: string;
  digest: string;
  mediaType: string;
}
const pushed: Pushed[] = [];
let subject: BuiltImage;
let layerDigest: string;
let layerSize: number;

beforeAll(async () => {
  berth = await startBerth();
  secured = await startBerth({ config: { 'auth.enabled': true } });
  client = new OciClient(berth.url);

  subject = await client.pushImage(repo, buildImage(), 'oci');
  pushed.push({ name: 'OCI image manifest', tag: 'oci', digest: subject.digest, mediaType: MT.ociManifest });
  layerDigest = sha256(subject.layers[0] as Buffer);
  layerSize = (subject.layers[0] as Buffer).length;

  const docker = await client.pushImage(repo, buildImage({ flavour: 'docker' }), 'docker');
  pushed.push({
    name: 'Docker v2 manifest',
    tag: 'docker',
    digest: docker.digest,
    mediaType: MT.dockerManifest,
  });

  const children = [descriptorOf(subject.mediaType, subject.manifest)];
  const index = buildIndex(children);
  await client.putManifest(repo, 'index', index.manifest, index.mediaType);
  pushed.push({ name: 'OCI index', tag: 'index', digest: index.digest, mediaType: MT.ociIndex });

  const list = buildIndex([descriptorOf(docker.mediaType, docker.manifest)], { flavour: 'docker' });
  await client.putManifest(repo, 'list', list.manifest, list.mediaType);
  pushed.push({ name: 'Docker manifest list', tag: 'list', digest: list.digest, mediaType: MT.dockerList });

  // Artifacts: an odd artifactType with the empty config, and an odd config media type without artifactType;
  // both referrers of `subject`. The manifest's own media type is still the image manifest's.
  const sbom = buildArtifact({
    artifactType: SBOM,
    subject: descriptorOf(subject.mediaType, subject.manifest),
  });
  await client.pushArtifact(repo, sbom, 'sbom');
  pushed.push({
    name: 'artifact (artifactType)',
    tag: 'sbom',
    digest: sbom.digest,
    mediaType: MT.ociManifest,
  });
  const legacy = buildArtifact({
    configMediaType: ODD_CONFIG,
    subject: descriptorOf(subject.mediaType, subject.manifest),
  });
  await client.pushArtifact(repo, legacy, 'legacy');
  pushed.push({
    name: 'artifact (config type)',
    tag: 'legacy',
    digest: legacy.digest,
    mediaType: MT.ociManifest,
  });

  // An index artifact, pushed with a Content-Type that carries a parameter: stored and served bare.
  const signatures = buildIndex(children, { artifactType: SIG });
  await client.putManifest(repo, 'signatures', signatures.manifest, `${MT.ociIndex}; charset=utf-8`);
  pushed.push({
    name: 'index artifact (pushed with a parameter)',
    tag: 'signatures',
    digest: signatures.digest,
    mediaType: MT.ociIndex,
  });
});

afterAll(async () => {
  await berth?.close();
  await secured?.close();
});

/** Both the pull by tag and by digest, GET and HEAD: the stored manifest's media type, nothing added. */
describe('manifests (GET and HEAD, by tag and by digest)', () => {
  const cases = () =>
    pushed.flatMap((manifest) =>
      ['GET', 'HEAD'].flatMap((method) =>
        [manifest.tag, manifest.digest].map((reference) => ({ ...manifest, method, reference })),
      ),
    );

  it('answers each with exactly the manifest media type', async () => {
    const table = cases();
    expect(table.length).toBe(7 * 4);
    for (const { name, method, reference, digest, mediaType } of table) {
      const res = await client.request(method, `/v2/${repo}/manifests/${reference}`, {
        headers: { accept: [MT.ociManifest, MT.ociIndex, MT.dockerManifest, MT.dockerList].join(', ') },
      });
      await res.arrayBuffer();
      const where = `${method} ${name} by ${reference}`;
      expect(res.status, where).toBe(200);
      expect(res.headers.get('content-type'), where).toBe(mediaType);
      expect(res.headers.get('docker-content-digest'), where).toBe(digest);
    }
  });
});

describe('referrers', () => {
  const table: Array<{ name: string; query: string; filtered: boolean; count: number; unknown?: true }> = [
    { name: 'unfiltered', query: '', filtered: false, count: 2 },
    {
      name: 'filtered, matching',
      query: `?artifactType=${encodeURIComponent(SBOM)}`,
      filtered: true,
      count: 1,
    },
    {
      name: 'filtered by config media type',
      query: `?artifactType=${encodeURIComponent(ODD_CONFIG)}`,
      filtered: true,
      count: 1,
    },
    {
      name: 'filtered, matching nothing',
      query: '?artifactType=application%2Fnone',
      filtered: true,
      count: 0,
    },
    { name: 'of an unknown subject', query: '', filtered: false, count: 0, unknown: true },
  ];

  it.each(table)('$name → exactly the OCI index media type', async ({ query, filtered, count, unknown }) => {
    const digest = unknown ? randomDigest() : subject.digest;
    const res = await client.get(`/v2/${repo}/referrers/${digest}${query}`);
    const body = (await res.json()) as { mediaType: string; manifests: unknown[] };
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(MT.ociIndex);
    expect(res.headers.get('oci-filters-applied')).toBe(filtered ? 'artifactType' : null);
    expect(body.mediaType).toBe(MT.ociIndex);
    expect(body.manifests).toHaveLength(count);
  });
});

describe('listings, errors and blobs', () => {
  const table: Array<{ name: string; method?: string; path: () => string; status: number; type: string }> = [
    { name: 'API version check', path: () => '/v2/', status: 200, type: JSON_TYPE },
    { name: 'tags list', path: () => `/v2/${repo}/tags/list`, status: 200, type: JSON_TYPE },
    {
      name: 'tags list, paginated',
      path: () => `/v2/${repo}/tags/list?n=2&last=docker`,
      status: 200,
      type: JSON_TYPE,
    },
    { name: 'catalog', path: () => '/v2/_catalog', status: 200, type: JSON_TYPE },
    { name: 'catalog, paginated', path: () => '/v2/_catalog?n=1', status: 200, type: JSON_TYPE },
    { name: 'unknown manifest', path: () => `/v2/${repo}/manifests/nope`, status: 404, type: JSON_TYPE },
    {
      name: 'unknown manifest (HEAD)',
      method: 'HEAD',
      path: () => `/v2/${repo}/manifests/nope`,
      status: 404,
      type: JSON_TYPE,
    },
    { name: 'unknown blob', path: () => `/v2/${repo}/blobs/${randomDigest()}`, status: 404, type: JSON_TYPE },
    { name: 'unknown repository tags', path: () => '/v2/no/such/tags/list', status: 404, type: JSON_TYPE },
    { name: 'invalid name', path: () => '/v2/UPPER/tags/list', status: 400, type: JSON_TYPE },
    {
      name: 'invalid digest',
      path: () => `/v2/${repo}/referrers/sha256:short`,
      status: 400,
      type: JSON_TYPE,
    },
    { name: 'method not allowed', method: 'POST', path: () => '/v2/_catalog', status: 405, type: JSON_TYPE },
    { name: 'no such endpoint', path: () => '/v2/x/nothing', status: 404, type: JSON_TYPE },
    { name: 'outside /v2', path: () => '/nothing', status: 404, type: JSON_TYPE },
    {
      name: 'blob',
      path: () => `/v2/${repo}/blobs/${layerDigest}`,
      status: 200,
      type: 'application/octet-stream',
    },
    {
      name: 'blob (HEAD)',
      method: 'HEAD',
      path: () => `/v2/${repo}/blobs/${layerDigest}`,
      status: 200,
      type: 'application/octet-stream',
    },
  ];

  it.each(table)('$name → $status $type', async ({ method, path, status, type }) => {
    const res = await client.request(method ?? 'GET', path());
    await res.arrayBuffer();
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe(type);
  });

  it('a blob range → 206 application/octet-stream', async () => {
    const res = await client.get(`/v2/${repo}/blobs/${layerDigest}`, { range: `bytes=1-${layerSize - 2}` });
    expect((await res.arrayBuffer()).byteLength).toBe(layerSize - 2);
    expect(res.status).toBe(206);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
  });

  it('an unauthenticated request to a secured registry → 401 application/json', async () => {
    const res = await new OciClient(secured.url).get('/v2/');
    await res.arrayBuffer();
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
  });
});
