// OCI Distribution v1.1 referrers: pushing manifests with a `subject` (OCI-Subject response header) and
// GET /v2/<name>/referrers/<digest> (end-12a) with the artifactType filter (end-12b).
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type BuiltArtifact,
  type BuiltImage,
  buildArtifact,
  buildImage,
  buildIndex,
  type Descriptor,
  descriptorOf,
  expectOciError,
  MT,
  type OciClient,
  randomDigest,
  uniqueRepo,
} from '../helpers/oci-client.js';
import { startBerthWithClient } from '../helpers/server.js';

let client: OciClient;
startBerthWithClient((started) => {
  client = started.client;
});

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Descriptor[];
}

async function referrers(
  repo: string,
  digest: string,
  query = '',
): Promise<{ res: Response; body: ReferrersIndex }> {
  const res = await client.get(`/v2/${repo}/referrers/${digest}${query}`);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect(res.headers.get('content-type')).toBe(MT.ociIndex);
  return { res, body: JSON.parse(text) as ReferrersIndex };
}

const byDigest = (a: Descriptor, b: Descriptor) => a.digest.localeCompare(b.digest);

const SBOM = 'application/vnd.example.sbom.v1+json';
const SIG = 'application/vnd.example.signature.v1';
const CONFIG_TYPE = 'application/vnd.example.legacy.config.v1+json';

describe('pushing a manifest with a subject', () => {
  it('returns 201 with OCI-Subject: <subject digest>', async () => {
    const repo = uniqueRepo('ref');
    const subject = await client.pushRandomImage(repo, 'app');
    const artifact = buildArtifact({
      artifactType: SBOM,
      subject: descriptorOf(subject.mediaType, subject.manifest),
    });
    const res = await client.pushArtifact(repo, artifact);
    expect(res.headers.get('oci-subject')).toBe(subject.digest);
  });

  it('accepts a subject that does not exist (yet)', async () => {
    // "A registry MUST initially accept an otherwise valid manifest with a subject field that references a
    // manifest that does not exist in the repository."
    const repo = uniqueRepo('ref');
    const later = buildImage();
    const artifact = buildArtifact({
      artifactType: SIG,
      subject: descriptorOf(later.mediaType, later.manifest),
    });
    const res = await client.pushArtifact(repo, artifact, 'sig');
    expect(res.headers.get('oci-subject')).toBe(later.digest);

    // Pushing the subject afterwards works and the referrer is listed for it.
    await client.pushImage(repo, later, 'later');
    const { body } = await referrers(repo, later.digest);
    expect(body.manifests.map((d) => d.digest)).toEqual([artifact.digest]);
  });

  it('does not send OCI-Subject for a manifest without a subject', async () => {
    const repo = uniqueRepo('ref');
    const image = buildImage();
    await client.pushBlob(repo, image.config);
    for (const layer of image.layers) await client.pushBlob(repo, layer);
    const res = await client.putManifest(repo, 'plain', image.manifest, image.mediaType);
    expect(res.headers.get('oci-subject')).toBeNull();
  });
});

describe('GET /v2/<name>/referrers/<digest>', () => {
  const repo = uniqueRepo('ref');
  let subject: BuiltImage;
  let subjectDesc: Descriptor;
  let sbom: BuiltArtifact;
  let sig: BuiltArtifact;
  let legacy: BuiltArtifact;
  let signedIndex: ReturnType<typeof buildIndex>;

  beforeAll(async () => {
    subject = await client.pushRandomImage(repo, 'app');
    subjectDesc = descriptorOf(subject.mediaType, subject.manifest);
    sbom = buildArtifact({
      artifactType: SBOM,
      subject: subjectDesc,
      annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'org.example.k': 'v' },
    });
    sig = buildArtifact({ artifactType: SIG, subject: subjectDesc });
    // No artifactType: the descriptor's artifactType falls back to config.mediaType.
    legacy = buildArtifact({ configMediaType: CONFIG_TYPE, subject: subjectDesc });
    for (const a of [sbom, sig, legacy]) await client.pushArtifact(repo, a);
    // An image index can be a referrer too.
    const child = await client.pushRandomImage(repo);
    signedIndex = buildIndex([descriptorOf(child.mediaType, child.manifest)], {
      artifactType: 'application/vnd.example.bundle',
      subject: subjectDesc,
      annotations: { 'org.example.bundle': 'yes' },
    });
    await client.putManifest(repo, signedIndex.digest, signedIndex.manifest, signedIndex.mediaType);
  });

  it('returns an OCI image index of descriptors for every referrer', async () => {
    const { body } = await referrers(repo, subject.digest);
    expect(body.schemaVersion).toBe(2);
    expect(body.mediaType).toBe(MT.ociIndex);
    const expected: Descriptor[] = [
      {
        mediaType: MT.ociManifest,
        digest: sbom.digest,
        size: sbom.manifest.length,
        artifactType: SBOM,
        annotations: sbom.json.annotations as Record<string, string>,
      },
      { mediaType: MT.ociManifest, digest: sig.digest, size: sig.manifest.length, artifactType: SIG },
      {
        mediaType: MT.ociManifest,
        digest: legacy.digest,
        size: legacy.manifest.length,
        artifactType: CONFIG_TYPE,
      },
      {
        mediaType: MT.ociIndex,
        digest: signedIndex.digest,
        size: signedIndex.manifest.length,
        artifactType: 'application/vnd.example.bundle',
        annotations: { 'org.example.bundle': 'yes' },
      },
    ];
    // Annotations are copied from the referrer; an absent map may be omitted or empty.
    const normalised = body.manifests.map((d) =>
      d.annotations && Object.keys(d.annotations).length === 0 ? { ...d, annotations: undefined } : d,
    );
    expect([...normalised].sort(byDigest)).toEqual([...expected].sort(byDigest));
  });

  it('does not list the subject itself nor unrelated manifests', async () => {
    const { body } = await referrers(repo, subject.digest);
    const digests = body.manifests.map((d) => d.digest);
    expect(digests).not.toContain(subject.digest);
    expect(digests).toHaveLength(4);
  });

  it('?artifactType= filters and sets OCI-Filters-Applied: artifactType', async () => {
    for (const [type, artifact] of [
      [SBOM, sbom],
      [CONFIG_TYPE, legacy],
    ] as const) {
      const { res, body } = await referrers(
        repo,
        subject.digest,
        `?artifactType=${encodeURIComponent(type)}`,
      );
      expect(res.headers.get('oci-filters-applied')).toBe('artifactType');
      expect(body.manifests.map((d) => d.digest)).toEqual([artifact.digest]);
    }
  });

  it('?artifactType= with no match → 200, empty list, filter header still set', async () => {
    const { res, body } = await referrers(repo, subject.digest, '?artifactType=application%2Fvnd.none');
    expect(res.headers.get('oci-filters-applied')).toBe('artifactType');
    expect(body.manifests).toEqual([]);
  });

  it('a digest with no referrers → 200 with an empty manifests array', async () => {
    const { body } = await referrers(repo, randomDigest());
    expect(body).toEqual({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] });
  });

  it('referrers are scoped to the repository', async () => {
    const other = uniqueRepo('ref');
    await client.pushRandomImage(other, 'x');
    const { body } = await referrers(other, subject.digest);
    expect(body.manifests).toEqual([]);
  });

  it.each(['sha256:abc', `sha256:${'G'.repeat(64)}`, `md5:${'a'.repeat(32)}`, 'notadigest'])(
    'an invalid digest %s → 400 DIGEST_INVALID',
    async (digest) => {
      await expectOciError(await client.get(`/v2/${repo}/referrers/${digest}`), 400, 'DIGEST_INVALID');
    },
  );
});

describe('referrers and deletion', () => {
  it('a deleted referrer disappears from the list', async () => {
    const repo = uniqueRepo('refdel');
    const subject = await client.pushRandomImage(repo, 'app');
    const desc = descriptorOf(subject.mediaType, subject.manifest);
    const keep = buildArtifact({ artifactType: SBOM, subject: desc });
    const drop = buildArtifact({ artifactType: SIG, subject: desc });
    await client.pushArtifact(repo, keep);
    await client.pushArtifact(repo, drop);
    expect((await referrers(repo, subject.digest)).body.manifests).toHaveLength(2);

    const res = await client.delete(`/v2/${repo}/manifests/${drop.digest}`);
    expect(res.status).toBe(202);
    const { body } = await referrers(repo, subject.digest);
    expect(body.manifests.map((d) => d.digest)).toEqual([keep.digest]);
  });

  it('a tagged referrer stays listed when only its tag is deleted', async () => {
    const repo = uniqueRepo('refdel');
    const subject = await client.pushRandomImage(repo, 'app');
    const artifact = buildArtifact({
      artifactType: SBOM,
      subject: descriptorOf(subject.mediaType, subject.manifest),
    });
    await client.pushArtifact(repo, artifact, 'sbom-tag');
    expect((await client.delete(`/v2/${repo}/manifests/sbom-tag`)).status).toBe(202);
    const { body } = await referrers(repo, subject.digest);
    expect(body.manifests.map((d) => d.digest)).toEqual([artifact.digest]);
  });
});
