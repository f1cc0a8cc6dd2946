// The per-artifact entry point: which manifests count as signatures, how each kind is dispatched, and the caps.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  isSignatureArtifact,
  MAX_SIGNATURES,
  type SignatureArtifact,
  verifyArtifact,
} from '../../../src/signatures/index.js';
import {
  BUNDLE_V03,
  COSIGN_REFERRER,
  MemorySource,
  makeSigner,
  pushImage,
  referrerSignature,
  SIMPLE_SIGNING,
  signedLayer,
  tagSignature,
  trustOf,
} from './cosign-fixtures.js';

const notation = vi.hoisted(() => ({
  verifyNotationSignature: vi.fn(),
  failWith: undefined as Error | undefined,
}));
vi.mock('../../../src/signatures/notation/index.js', () => ({
  // throws outside the vi.fn: one whose implementation threw failed the test here although verifyArtifact caught it
  verifyNotationSignature: async (input: unknown) => {
    if (notation.failWith) throw notation.failWith;
    return notation.verifyNotationSignature(input);
  },
}));

const REPOSITORY = 'library/app';
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const DOCKER = 'application/vnd.docker.distribution.manifest.v2+json';
const encode = (value: unknown) =>
  new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
const layer = (mediaType: string, size = 300) => ({ mediaType, size, digest: `sha256:${'a'.repeat(64)}` });
const imageConfig = {
  mediaType: 'application/vnd.oci.image.config.v1+json',
  size: 233,
  digest: `sha256:${'b'.repeat(64)}`,
};
const emptyConfig = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  size: 2,
  digest: `sha256:${'c'.repeat(64)}`,
};

describe('isSignatureArtifact', () => {
  const cases: [string, { mediaType: string; artifactType?: string; content: Uint8Array }, boolean][] = [
    [
      'a cosign .sig manifest (OCI)',
      {
        mediaType: OCI,
        content: encode({
          schemaVersion: 2,
          mediaType: OCI,
          config: imageConfig,
          layers: [layer(SIMPLE_SIGNING), layer(SIMPLE_SIGNING)],
        }),
      },
      true,
    ],
    [
      'a cosign .sig manifest (Docker schema 2)',
      {
        mediaType: DOCKER,
        content: encode({
          schemaVersion: 2,
          mediaType: DOCKER,
          config: imageConfig,
          layers: [layer(SIMPLE_SIGNING)],
        }),
      },
      true,
    ],
    [
      'a cosign .att manifest (DSSE layers)',
      {
        mediaType: OCI,
        content: encode({ config: imageConfig, layers: [layer('application/vnd.dsse.envelope.v1+json')] }),
      },
      true,
    ],
    [
      'a cosign OCI 1.1 referrer signature',
      {
        mediaType: OCI,
        artifactType: COSIGN_REFERRER,
        content: encode({
          artifactType: COSIGN_REFERRER,
          config: emptyConfig,
          layers: [layer(SIMPLE_SIGNING)],
        }),
      },
      true,
    ],
    [
      'a sigstore bundle referrer',
      {
        mediaType: OCI,
        artifactType: BUNDLE_V03,
        content: encode({ artifactType: BUNDLE_V03, config: emptyConfig, layers: [layer(BUNDLE_V03)] }),
      },
      true,
    ],
    [
      'a sigstore bundle referrer, artifact type only in the manifest',
      {
        mediaType: OCI,
        content: encode({ artifactType: BUNDLE_V03, config: emptyConfig, layers: [layer(BUNDLE_V03)] }),
      },
      true,
    ],
    [
      'a bundle (version=0.3 media type) as config type',
      {
        mediaType: OCI,
        content: encode({
          config: { ...emptyConfig, mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.3' },
          layers: [layer('application/vnd.dev.sigstore.bundle+json;version=0.3')],
        }),
      },
      true,
    ],
    [
      'a notation JWS signature',
      {
        mediaType: OCI,
        artifactType: 'application/vnd.cncf.notary.signature',
        content: encode({ config: emptyConfig, layers: [layer('application/jose+json')] }),
      },
      true,
    ],
    [
      'a notation COSE signature',
      {
        mediaType: OCI,
        artifactType: 'application/vnd.cncf.notary.signature',
        content: encode({ config: emptyConfig, layers: [layer('application/cose')] }),
      },
      true,
    ],
    [
      'an ordinary image',
      {
        mediaType: OCI,
        content: encode({
          config: imageConfig,
          layers: [layer('application/vnd.oci.image.layer.v1.tar+gzip', 5_000_000)],
        }),
      },
      false,
    ],
    [
      'an image with one signature-typed layer among real ones',
      {
        mediaType: OCI,
        content: encode({
          config: imageConfig,
          layers: [layer(SIMPLE_SIGNING), layer('application/vnd.oci.image.layer.v1.tar+gzip')],
        }),
      },
      false,
    ],
    [
      'a "signature" layer of 100 MiB',
      {
        mediaType: OCI,
        content: encode({ config: imageConfig, layers: [layer(SIMPLE_SIGNING, 100 * 1024 * 1024)] }),
      },
      false,
    ],
    [
      'a signature layer with no size',
      {
        mediaType: OCI,
        content: encode({
          config: imageConfig,
          layers: [{ mediaType: SIMPLE_SIGNING, digest: `sha256:${'a'.repeat(64)}` }],
        }),
      },
      false,
    ],
    [
      'a notation artifact with a tar layer',
      {
        mediaType: OCI,
        artifactType: 'application/vnd.cncf.notary.signature',
        content: encode({ config: emptyConfig, layers: [layer('application/vnd.oci.image.layer.v1.tar')] }),
      },
      false,
    ],
    [
      'a bundle artifact with simple-signing layers',
      {
        mediaType: OCI,
        artifactType: BUNDLE_V03,
        content: encode({ config: emptyConfig, layers: [layer(SIMPLE_SIGNING)] }),
      },
      false,
    ],
    [
      'a signature manifest with a 10 MiB config',
      {
        mediaType: OCI,
        content: encode({
          config: { ...imageConfig, size: 10 * 1024 * 1024 },
          layers: [layer(SIMPLE_SIGNING)],
        }),
      },
      false,
    ],
    [
      'an SBOM referrer',
      {
        mediaType: OCI,
        artifactType: 'application/spdx+json',
        content: encode({ config: emptyConfig, layers: [layer('application/spdx+json')] }),
      },
      false,
    ],
    [
      'an index',
      { mediaType: 'application/vnd.oci.image.index.v1+json', content: encode({ manifests: [] }) },
      false,
    ],
    [
      'a manifest without layers',
      { mediaType: OCI, content: encode({ config: imageConfig, layers: [] }) },
      false,
    ],
    ['garbage', { mediaType: OCI, content: encode('{not json') }, false],
    ['JSON that is not an object', { mediaType: OCI, content: encode('[1]') }, false],
  ];
  it.each(cases)('%s', (_name, manifest, expected) => {
    expect(isSignatureArtifact(manifest)).toBe(expected);
  });
});

describe('verifyArtifact', () => {
  beforeEach(() => {
    notation.verifyNotationSignature.mockReset();
    notation.failWith = undefined;
  });

  function notationReferrer(
    source: MemorySource,
    subject: { digest: string; mediaType: string; size: number },
    mediaType: string,
  ) {
    const envelope = source.put(mediaType, `{"payload":"…","protected":"${mediaType}","signature":"…"}`);
    const content = encode({
      schemaVersion: 2,
      mediaType: OCI,
      artifactType: 'application/vnd.cncf.notary.signature',
      config: emptyConfig,
      layers: [envelope],
      subject,
    });
    const referrer: SignatureArtifact = {
      ...source.put(OCI, content),
      artifactType: 'application/vnd.cncf.notary.signature',
      content,
    };
    source.referring.set(subject.digest, [...(source.referring.get(subject.digest) ?? []), referrer]);
    return { referrer, envelope };
  }

  it('hands notation referrers to verifyNotationSignature with the envelope, subject, notation trust and time', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const { referrer, envelope } = notationReferrer(source, image, 'application/jose+json');
    notation.verifyNotationSignature.mockResolvedValue({
      format: 'notation-jws',
      status: 'verified',
      signer: 'CN=ci',
    });
    const trust = {
      version: 3,
      keys: [],
      notation: [{ id: 1, name: 'acme', rootCertificatesPem: ['PEM'], trustedIdentities: ['*'] }],
    };
    const now = new Date('2026-01-02T03:04:05Z');
    const verdict = await verifyArtifact(source, REPOSITORY, image, trust, now);
    expect(notation.verifyNotationSignature).toHaveBeenCalledWith({
      envelope: source.blobs.get(envelope.digest),
      envelopeMediaType: 'application/jose+json',
      subject: image,
      trust: trust.notation,
      now,
    });
    expect(verdict).toEqual({
      digest: image.digest,
      verified: true,
      signatures: [
        { format: 'notation-jws', signatureDigest: referrer.digest, status: 'verified', signer: 'CN=ci' },
      ],
    });
  });

  it('turns a notation verifier that throws, or an envelope it cannot have, into an invalid result', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    notationReferrer(source, image, 'application/cose');
    const { envelope } = notationReferrer(source, image, 'application/jose+json');
    source.blobs.delete(envelope.digest);
    notation.failWith = new Error('boom');
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf());
    expect(verdict.signatures).toMatchObject([
      { format: 'notation-cose', status: 'invalid', reason: expect.stringContaining('boom') },
      { format: 'notation-jws', status: 'invalid', reason: expect.stringContaining('could not be read') },
    ]);
  });

  it(`examines at most ${MAX_SIGNATURES} signature artifacts`, async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const stranger = makeSigner('ecdsa-p256') /* randomised: each signature manifest differs */;
    for (let i = 0; i < MAX_SIGNATURES + 6; i++)
      referrerSignature(source, image, [signedLayer(source, stranger, image.digest)]);
    const verdict = await verifyArtifact(
      source,
      REPOSITORY,
      image,
      trustOf({ name: 'ci', signer: makeSigner('ed25519') }),
    );
    expect(verdict.signatures).toHaveLength(MAX_SIGNATURES);
    expect(verdict.signatures.at(-1)?.reason).toMatch(/; 6 more signatures not examined \(limit 64\)$/);
  });

  it(`counts .sig layers against the same budget, and a verified verdict carries no note`, async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const ci = makeSigner('ecdsa-p256');
    const stranger = makeSigner('ecdsa-p256');
    const layers = Array.from({ length: MAX_SIGNATURES + 10 }, () =>
      signedLayer(source, stranger, image.digest),
    );
    tagSignature(source, image.digest, [signedLayer(source, ci, image.digest), ...layers]);
    referrerSignature(source, image, [signedLayer(source, ci, image.digest)]);
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer: ci }));
    expect(verdict.verified).toBe(true);
    expect(verdict.signatures).toHaveLength(MAX_SIGNATURES);
    expect(verdict.signatures.filter((s) => s.status === 'verified')).toHaveLength(1);
    expect(verdict.signatures.every((s) => !s.reason?.includes('not examined'))).toBe(true);
  });

  it('counts the .sig tag once when it is also listed as a referrer', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const signer = makeSigner('ecdsa-p256');
    const sig = tagSignature(source, image.digest, [signedLayer(source, signer, image.digest)]);
    source.referring.set(image.digest, [{ ...sig, artifactType: COSIGN_REFERRER }]);
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer }));
    expect(verdict.signatures).toHaveLength(1);
  });

  it('lets errors of the source while listing propagate, rather than judge from a partial view', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    source.referrers = async () => {
      throw new Error('database unavailable');
    };
    await expect(verifyArtifact(source, REPOSITORY, image, trustOf())).rejects.toThrow(
      'database unavailable',
    );
  });
});
