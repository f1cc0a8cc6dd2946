// cosign's tag scheme (`sha256-<hex>.sig`): real signatures made with node:crypto in cosign's wire format.
import { sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyArtifact } from '../../../src/signatures/index.js';
import {
  type Algorithm,
  MemorySource,
  makeCertificateSigner,
  makeSigner,
  pushImage,
  signatureLayer,
  signedLayer,
  simpleSigningPayload,
  tagSignature,
  trustOf,
} from './cosign-fixtures.js';

const REPOSITORY = 'library/app';
const encode = (text: string) => new TextEncoder().encode(text);

describe('cosign tag-scheme signatures', () => {
  const algorithms: Algorithm[] = ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-pkcs1', 'rsa-pss'];
  it.each(algorithms)('verifies a %s signature by a trusted key', async (algorithm) => {
    const source = new MemorySource();
    const image = pushImage(source);
    const signer = makeSigner(algorithm);
    const sig = tagSignature(source, image.digest, [signedLayer(source, signer, image.digest)]);
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci-key', signer }));
    expect(verdict).toEqual({
      digest: image.digest,
      verified: true,
      signatures: [{ format: 'cosign', signatureDigest: sig.digest, status: 'verified', signer: 'ci-key' }],
    });
  });

  it('accepts a P-384 signature over SHA-256, as containers/image (skopeo) makes them', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const signer = makeSigner('ecdsa-p384');
    const payload = simpleSigningPayload(image.digest);
    const signature = sign('sha256', encode(payload), { key: signer.privateKey, dsaEncoding: 'der' });
    tagSignature(source, image.digest, [signatureLayer(source, { payload, signature })]);
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer }));
    expect(verdict.verified).toBe(true);
  });

  it('reads the payload skopeo writes (atomic-style optional members) and the "Docker-manifest-digest" spelling', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const signer = makeSigner('ecdsa-p256');
    const skopeo = JSON.stringify({
      critical: {
        identity: { 'docker-reference': '127.0.0.1:5000/library/app:1' },
        image: { 'docker-manifest-digest': image.digest },
        type: 'cosign container image signature',
      },
      optional: { creator: 'containers/image 5.23.1', timestamp: 1_700_000_000 },
    });
    // cosign's SIGNATURE_SPEC.md example capitalises the key; Go's JSON matching is case-insensitive.
    const specExample = JSON.stringify({
      critical: {
        identity: { 'docker-reference': 'testing/manifest' },
        image: { 'Docker-manifest-digest': image.digest },
        type: 'cosign container image signature',
      },
      optional: { creator: 'atomic', timestamp: 1458239713 },
    });
    tagSignature(
      source,
      image.digest,
      [skopeo, specExample].map((payload) =>
        signatureLayer(source, { payload, signature: signer.sign(encode(payload)) }),
      ),
    );
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer }));
    expect(verdict.signatures.map((s) => s.status)).toEqual(['verified', 'verified']);
  });

  it('reports a tampered payload: not made by the trusted key', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const signer = makeSigner('ecdsa-p256');
    const payload = simpleSigningPayload(image.digest);
    const tampered = simpleSigningPayload(image.digest, 'registry.example/evil/app');
    tagSignature(source, image.digest, [
      signatureLayer(source, { payload: tampered, signature: signer.sign(encode(payload)) }),
    ]);
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer }));
    expect(verdict.verified).toBe(false);
    expect(verdict.signatures).toMatchObject([
      {
        status: 'untrusted',
        reason: expect.stringContaining('trusted key (an unknown key, or the payload was altered'),
      },
    ]);
  });

  it('refuses a good signature over another digest as invalid', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const other = pushImage(source);
    const signer = makeSigner('ecdsa-p256');
    tagSignature(source, image.digest, [signedLayer(source, signer, other.digest)]);
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer }));
    expect(verdict.verified).toBe(false);
    expect(verdict.signatures).toMatchObject([
      {
        status: 'invalid',
        signer: 'ci',
        reason: `the payload signs ${other.digest}, not this artifact (${image.digest})`,
      },
    ]);
  });

  it('reports a signature by an unknown key as untrusted, and says when no key is trusted', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const stranger = makeSigner('ecdsa-p256');
    tagSignature(source, image.digest, [signedLayer(source, stranger, image.digest)]);
    const trusted = trustOf({ name: 'ci', signer: makeSigner('ecdsa-p256') });
    const verdict = await verifyArtifact(source, REPOSITORY, image, trusted);
    expect(verdict.signatures).toMatchObject([
      { status: 'untrusted', reason: expect.stringContaining('1 trusted key') },
    ]);
    const none = await verifyArtifact(source, REPOSITORY, image, { version: 1, keys: [], notation: [] });
    expect(none.signatures).toMatchObject([
      { status: 'untrusted', reason: 'the project trusts no public keys' },
    ]);
  });

  it('gives one result per layer: two signers, one of them trusted', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const ci = makeSigner('ecdsa-p256');
    const stranger = makeSigner('ed25519');
    tagSignature(source, image.digest, [
      signedLayer(source, stranger, image.digest),
      signedLayer(source, ci, image.digest),
    ]);
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer: ci }));
    expect(verdict.verified).toBe(true);
    expect(verdict.signatures.map((s) => [s.status, s.signer])).toEqual([
      ['untrusted', undefined],
      ['verified', 'ci'],
    ]);
  });

  it('reports keyless (certificate) signatures as untrusted unless the certificate key is trusted', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const keyless = makeCertificateSigner('dev@example.com');
    const payload = simpleSigningPayload(image.digest);
    tagSignature(source, image.digest, [
      signatureLayer(source, {
        payload,
        signature: keyless.sign(encode(payload)),
        certificatePem: keyless.certificatePem,
      }),
    ]);
    const other = trustOf({ name: 'ci', signer: makeSigner('ecdsa-p256') });
    const untrusted = await verifyArtifact(source, REPOSITORY, image, other);
    expect(untrusted.signatures).toMatchObject([
      {
        status: 'untrusted',
        signer: expect.stringContaining('CN=dev@example.com'),
        reason: expect.stringContaining(
          'does not check Fulcio certificate chains or the Rekor transparency log',
        ),
      },
    ]);
    const trusted = await verifyArtifact(
      source,
      REPOSITORY,
      image,
      trustOf({ name: 'dev-key', signer: keyless }),
    );
    expect(trusted.signatures).toMatchObject([{ status: 'verified', signer: 'dev-key' }]);
  });

  it('reports a certificate that does not match the signature as invalid', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const keyless = makeCertificateSigner('dev@example.com');
    const payload = simpleSigningPayload(image.digest);
    tagSignature(source, image.digest, [
      signatureLayer(source, {
        payload,
        signature: makeSigner('ecdsa-p256').sign(encode(payload)),
        certificatePem: keyless.certificatePem,
      }),
    ]);
    const verdict = await verifyArtifact(
      source,
      REPOSITORY,
      image,
      trustOf({ name: 'ci', signer: makeSigner('ed25519') }),
    );
    expect(verdict.signatures).toMatchObject([
      {
        status: 'invalid',
        reason: expect.stringContaining('does not verify with the certificate it carries'),
      },
    ]);
  });

  it('finds no signatures for an unsigned image', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const verdict = await verifyArtifact(
      source,
      REPOSITORY,
      image,
      trustOf({ name: 'ci', signer: makeSigner('ed25519') }),
    );
    expect(verdict).toEqual({ digest: image.digest, verified: false, signatures: [] });
  });
});
