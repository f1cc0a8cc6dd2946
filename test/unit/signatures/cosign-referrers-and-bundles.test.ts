// OCI 1.1 referrer signatures: cosign's (application/vnd.dev.cosign.artifact.sig.v1+json) and sigstore bundles
// (messageSignature and DSSE), made with node:crypto in the published wire formats.
import { describe, expect, it } from 'vitest';
import { verifyArtifact } from '../../../src/signatures/index.js';
import {
  bundleReferrer,
  dsseBundle,
  MemorySource,
  makeCertificateSigner,
  makeSigner,
  messageSignatureBundle,
  pushImage,
  referrerSignature,
  signedLayer,
  statement,
  tagSignature,
  trustOf,
} from './cosign-fixtures.js';

const REPOSITORY = 'library/app';

describe('cosign referrer signatures', () => {
  it('verifies a referrer-style cosign signature', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const signer = makeSigner('ecdsa-p256');
    const referrer = referrerSignature(source, image, [signedLayer(source, signer, image.digest)]);
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer }));
    expect(verdict).toEqual({
      digest: image.digest,
      verified: true,
      signatures: [{ format: 'cosign', signatureDigest: referrer.digest, status: 'verified', signer: 'ci' }],
    });
  });

  it('gathers the tag-scheme signature and the referrers together, ignoring non-signature referrers', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const ci = makeSigner('ed25519');
    const stranger = makeSigner('ecdsa-p256');
    const sig = tagSignature(source, image.digest, [signedLayer(source, stranger, image.digest)]);
    const referrer = referrerSignature(source, image, [signedLayer(source, ci, image.digest)]);
    // an SBOM referrer is not a signature
    const sbom = source.put('application/spdx+json', '{"spdxVersion":"SPDX-2.3"}');
    const sbomManifest = new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        artifactType: 'application/spdx+json',
        layers: [sbom],
        subject: image,
      }),
    );
    source.referring.get(image.digest)?.push({
      digest: source.put('application/vnd.oci.image.manifest.v1+json', sbomManifest).digest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/spdx+json',
      content: sbomManifest,
    });
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer: ci }));
    expect(verdict.verified).toBe(true);
    expect(verdict.signatures.map((s) => [s.signatureDigest, s.status])).toEqual([
      [sig.digest, 'untrusted'],
      [referrer.digest, 'verified'],
    ]);
    expect(source.reads).not.toContain(sbom.digest);
  });
});

describe('sigstore bundles', () => {
  it('verifies a DSSE bundle whose in-toto statement names the image (cosign v3 signing)', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const signer = makeSigner('ecdsa-p256');
    const referrer = bundleReferrer(source, image, dsseBundle([signer], statement(image.digest)));
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer }));
    expect(verdict).toEqual({
      digest: image.digest,
      verified: true,
      signatures: [
        { format: 'sigstore-bundle', signatureDigest: referrer.digest, status: 'verified', signer: 'ci' },
      ],
    });
  });

  it('verifies a DSSE envelope with several signatures when one is by a trusted key', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const ci = makeSigner('rsa-pss');
    bundleReferrer(source, image, dsseBundle([makeSigner('ed25519'), ci], statement(image.digest)));
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer: ci }));
    expect(verdict.signatures).toMatchObject([{ status: 'verified', signer: 'ci' }]);
  });

  it('refuses a DSSE statement about another digest, and a tampered statement', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const other = pushImage(source);
    const signer = makeSigner('ecdsa-p256');
    bundleReferrer(source, image, dsseBundle([signer], statement(other.digest)));
    const tampered = dsseBundle([signer], statement(other.digest)) as { dsseEnvelope: { payload: string } };
    tampered.dsseEnvelope.payload = Buffer.from(statement(image.digest)).toString('base64');
    bundleReferrer(source, image, tampered);
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer }));
    expect(verdict.verified).toBe(false);
    expect(verdict.signatures).toMatchObject([
      { status: 'invalid', reason: expect.stringContaining('subjects do not include this artifact') },
      { status: 'untrusted', reason: expect.stringContaining('payload was altered') },
    ]);
  });

  it('leaves attestation bundles (another predicate type) out of the signatures', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const signer = makeSigner('ecdsa-p256');
    bundleReferrer(
      source,
      image,
      dsseBundle([signer], statement(image.digest, 'https://slsa.dev/provenance/v1')),
    );
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer }));
    expect(verdict).toEqual({ digest: image.digest, verified: false, signatures: [] });
  });

  it('verifies a messageSignature bundle over the manifest bytes', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const signer = makeSigner('ecdsa-p384');
    const manifest = source.blobs.get(image.digest) as Uint8Array;
    bundleReferrer(source, image, messageSignatureBundle(signer, manifest));
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer }));
    expect(verdict.signatures).toMatchObject([
      { format: 'sigstore-bundle', status: 'verified', signer: 'ci' },
    ]);
  });

  it('refuses a messageSignature bundle whose message is another artifact', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const other = pushImage(source);
    const signer = makeSigner('ed25519');
    bundleReferrer(
      source,
      image,
      messageSignatureBundle(signer, source.blobs.get(other.digest) as Uint8Array),
    );
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer }));
    expect(verdict.signatures).toMatchObject([
      { status: 'invalid', reason: expect.stringContaining('the bundle signs another message') },
    ]);
  });

  it('says why a messageSignature bundle cannot be checked when the manifest bytes are not readable', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const signer = makeSigner('ecdsa-p256');
    bundleReferrer(
      source,
      image,
      messageSignatureBundle(signer, source.blobs.get(image.digest) as Uint8Array),
    );
    source.blobs.delete(image.digest);
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer }));
    expect(verdict.signatures).toMatchObject([
      { status: 'invalid', reason: expect.stringContaining('signs the manifest bytes themselves') },
    ]);
  });

  it('reports a keyless bundle (certificate) untrusted, or verified when its key is trusted', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const keyless = makeCertificateSigner('ci@example.com');
    bundleReferrer(source, image, dsseBundle([keyless], statement(image.digest), keyless.certificatePem));
    const untrusted = await verifyArtifact(
      source,
      REPOSITORY,
      image,
      trustOf({ name: 'other', signer: makeSigner('ed25519') }),
    );
    expect(untrusted.signatures).toMatchObject([
      {
        status: 'untrusted',
        signer: expect.stringContaining('CN=ci@example.com'),
        reason: expect.stringContaining('Rekor'),
      },
    ]);
    const trusted = await verifyArtifact(
      source,
      REPOSITORY,
      image,
      trustOf({ name: 'ci-cert-key', signer: keyless }),
    );
    expect(trusted.signatures).toMatchObject([{ status: 'verified', signer: 'ci-cert-key' }]);
  });

  it('accepts the parameterised bundle media type (…bundle+json;version=0.3)', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const signer = makeSigner('ecdsa-p256');
    const bundle = {
      ...dsseBundle([signer], statement(image.digest)),
      mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.3',
    };
    bundleReferrer(source, image, bundle);
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer }));
    expect(verdict.verified).toBe(true);
  });
});
