// Hostile and broken signature content: every case is one 'invalid' result (or, where a signature merely
// fails to verify, 'untrusted'), never an exception, and no blob is read past its limit.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type SignatureArtifact, verifyArtifact } from '../../../src/signatures/index.js';
import {
  BUNDLE_V03,
  bundleReferrer,
  dsseBundle,
  MemorySource,
  makeSigner,
  pushImage,
  referrerSignature,
  SIMPLE_SIGNING,
  signatureLayer,
  signedLayer,
  simpleSigningPayload,
  statement,
  tagSignature,
  trustOf,
} from './cosign-fixtures.js';

const REPOSITORY = 'library/app';
const encode = (text: string) => new TextEncoder().encode(text);
const MiB = 1024 * 1024;

/** Sets up an image and a trusted signer, runs `arrange`, and returns the single result. */
async function onlyResult(
  arrange: (
    source: MemorySource,
    image: ReturnType<typeof pushImage>,
    signer: ReturnType<typeof makeSigner>,
  ) => void,
) {
  const source = new MemorySource();
  const image = pushImage(source);
  const signer = makeSigner('ecdsa-p256');
  arrange(source, image, signer);
  const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer }));
  expect(verdict.verified).toBe(false);
  expect(verdict.signatures).toHaveLength(1);
  return verdict.signatures[0];
}

/** A payload signed by the trusted key, so only its content can make it invalid. */
function signedPayloadLayer(source: MemorySource, signer: ReturnType<typeof makeSigner>, payload: string) {
  return signatureLayer(source, { payload, signature: signer.sign(encode(payload)) });
}

describe('malformed cosign signatures', () => {
  const payloadCases: [string, (digest: string) => string, string][] = [
    ['not JSON', () => 'this is not json', 'payload is not a JSON object'],
    ['a JSON array', () => '[1,2,3]', 'payload is not a JSON object'],
    ['without critical', () => '{"optional":null}', 'no "critical" object'],
    [
      'of another type',
      (digest) => simpleSigningPayload(digest).replace('cosign container image signature', 'something else'),
      'critical.type is not a container image signature',
    ],
    [
      'with an unrecognised critical member',
      (digest) =>
        JSON.stringify({
          critical: {
            identity: { 'docker-reference': 'r' },
            image: { 'docker-manifest-digest': digest },
            type: 'cosign container image signature',
            extra: 1,
          },
          optional: null,
        }),
      'unrecognised members: extra',
    ],
    [
      'with two spellings of the digest',
      (digest) =>
        JSON.stringify({
          critical: {
            identity: { 'docker-reference': 'r' },
            image: { 'docker-manifest-digest': digest, 'Docker-manifest-digest': digest },
            type: 'cosign container image signature',
          },
          optional: null,
        }),
      'exactly "docker-manifest-digest"',
    ],
    ['with a non-digest', () => simpleSigningPayload('sha256:1234'), 'is not a digest'],
    [
      'with optional a string',
      (digest) => simpleSigningPayload(digest).replace('"optional":null', '"optional":"x"'),
      '"optional" is not an object',
    ],
    ['not UTF-8', () => '\u00ff', 'payload is not a JSON object'],
  ];
  it.each(payloadCases)(
    'a payload %s, even signed by a trusted key, is invalid',
    async (_name, payload, reason) => {
      const result = await onlyResult((source, image, signer) => {
        const text = payload(image.digest);
        const layer =
          text === '\u00ff'
            ? signatureLayer(source, {
                payload: new Uint8Array([0xff, 0xfe]),
                signature: signer.sign(new Uint8Array([0xff, 0xfe])),
              })
            : signedPayloadLayer(source, signer, text);
        tagSignature(source, image.digest, [layer]);
      });
      expect(result).toMatchObject({ status: 'invalid', reason: expect.stringContaining(reason) });
    },
  );

  const layerCases: [
    string,
    (source: MemorySource, digest: string, signer: ReturnType<typeof makeSigner>) => unknown,
    string,
  ][] = [
    [
      'bad base64',
      (s, d) => signatureLayer(s, { payload: simpleSigningPayload(d), signature: 'not*base64!' }),
      'is not base64',
    ],
    [
      'no signature annotation',
      (s, d) => ({ ...s.put(SIMPLE_SIGNING, simpleSigningPayload(d)), annotations: {} }),
      'has no dev.cosignproject.cosign/signature annotation',
    ],
    [
      'a certificate annotation that is not one',
      (s, d, k) => ({
        ...signedLayer(s, k, d),
        annotations: {
          'dev.cosignproject.cosign/signature': 'AAAA',
          'dev.sigstore.cosign/certificate': 'garbage',
        },
      }),
      'is not a PEM certificate',
    ],
    [
      'a payload declared over 1 MiB',
      (s, d, k) => ({ ...signedLayer(s, k, d), size: 2 * MiB }),
      'over the 1048576-byte limit',
    ],
    [
      'a payload blob over 1 MiB declared small',
      (s, _d, k) => {
        const huge = new Uint8Array(MiB + 1).fill(0x20);
        return { ...signatureLayer(s, { payload: huge, signature: k.sign(huge) }), size: 10 };
      },
      'could not be read',
    ],
    [
      'a payload blob that is missing',
      (_s, _d, k) => ({
        mediaType: SIMPLE_SIGNING,
        digest: `sha256:${'0'.repeat(64)}`,
        size: 10,
        annotations: {
          'dev.cosignproject.cosign/signature': Buffer.from(k.sign(encode('x'))).toString('base64'),
        },
      }),
      'could not be read',
    ],
    ['no digest', (s, d, k) => ({ ...signedLayer(s, k, d), digest: 'md5:abc' }), 'has no valid digest'],
  ];
  it.each(layerCases)('a layer with %s is invalid', async (_name, layer, reason) => {
    const result = await onlyResult((source, image, signer) => {
      tagSignature(source, image.digest, [layer(source, image.digest, signer)]);
    });
    expect(result).toMatchObject({
      format: 'cosign',
      status: 'invalid',
      reason: expect.stringContaining(reason),
    });
  });

  it('never reads a blob with a limit above 1 MiB for a payload', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const signer = makeSigner('ecdsa-p256');
    const limits: number[] = [];
    const readBlob = source.readBlob.bind(source);
    source.readBlob = async (repository, digest, maxBytes) => {
      limits.push(maxBytes);
      return readBlob(repository, digest, maxBytes);
    };
    tagSignature(source, image.digest, [signedLayer(source, signer, image.digest)]);
    await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer }));
    expect(limits).toEqual([MiB]);
  });

  it('a blob whose bytes do not match its digest is invalid', async () => {
    const result = await onlyResult((source, image, signer) => {
      const layer = signedLayer(source, signer, image.digest) as { digest: string };
      source.blobs.set(layer.digest, encode(simpleSigningPayload(image.digest, 'swapped')));
      tagSignature(source, image.digest, [layer]);
    });
    expect(result).toMatchObject({
      status: 'invalid',
      reason: expect.stringContaining('does not match its digest'),
    });
  });

  const manifestCases: [string, Uint8Array][] = [
    ['not JSON', encode('{{{')],
    ['random bytes', randomBytes(300)],
    ['JSON without layers', encode('{"schemaVersion":2}')],
    [
      'layers that are not signatures',
      encode(
        '{"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:00","size":1}]}',
      ),
    ],
    ['layers of the wrong shape', encode('{"layers":[null,1,"x",[]]}')],
  ];
  it.each(manifestCases)('a .sig manifest that is %s is one invalid result', async (_name, content) => {
    const result = await onlyResult((source, image) => {
      source.tags.set(image.digest, {
        digest: `sha256:${'1'.repeat(64)}`,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        content,
      });
    });
    expect(result).toMatchObject({ format: 'cosign', status: 'invalid' });
  });

  it('a signature far too long to be one does not verify (and is not fed to the verifier)', async () => {
    const result = await onlyResult((source, image) => {
      tagSignature(source, image.digest, [
        signatureLayer(source, {
          payload: simpleSigningPayload(image.digest),
          signature: randomBytes(64 * 1024),
        }),
      ]);
    });
    expect(result).toMatchObject({ status: 'untrusted' });
  });

  it('a trusted key whose PEM does not parse is skipped, not thrown on', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const signer = makeSigner('ed25519');
    tagSignature(source, image.digest, [signedLayer(source, signer, image.digest)]);
    const trust = trustOf({ name: 'ci', signer });
    trust.keys.unshift({
      id: 99,
      name: 'broken',
      publicKeyPem: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n',
    });
    const verdict = await verifyArtifact(source, REPOSITORY, image, trust);
    expect(verdict.signatures).toMatchObject([{ status: 'verified', signer: 'ci' }]);
  });
});

describe('malformed sigstore bundles', () => {
  const bundleCases: [
    string,
    (digest: string, signer: ReturnType<typeof makeSigner>) => Record<string, unknown> | string,
    string,
  ][] = [
    ['not JSON', () => 'nope', 'not a JSON object'],
    [
      'of another media type',
      (d, k) => ({ ...dsseBundle([k], statement(d)), mediaType: 'application/json' }),
      'unsupported sigstore bundle media type',
    ],
    [
      'without verificationMaterial',
      (d, k) => ({ ...dsseBundle([k], statement(d)), verificationMaterial: undefined }),
      'no verificationMaterial',
    ],
    [
      'with both contents',
      (d, k) => ({ ...dsseBundle([k], statement(d)), messageSignature: { signature: 'AAAA' } }),
      'exactly one of dsseEnvelope and messageSignature',
    ],
    [
      'with neither content',
      (d, k) => ({ ...dsseBundle([k], statement(d)), dsseEnvelope: undefined }),
      'exactly one of',
    ],
    [
      'with a DSSE payload that is not base64',
      (d, k) => {
        const b = dsseBundle([k], statement(d)) as { dsseEnvelope: Record<string, unknown> };
        b.dsseEnvelope.payload = '%%%';
        return b;
      },
      'DSSE payload is not base64',
    ],
    [
      'with a DSSE signature that is not base64',
      (d, k) => {
        const b = dsseBundle([k], statement(d)) as { dsseEnvelope: Record<string, unknown> };
        b.dsseEnvelope.signatures = [{ sig: '!!' }];
        return b;
      },
      'not base64',
    ],
    [
      'with no DSSE signatures',
      (d, k) => {
        const b = dsseBundle([k], statement(d)) as { dsseEnvelope: Record<string, unknown> };
        b.dsseEnvelope.signatures = [];
        return b;
      },
      'has no signatures',
    ],
    [
      'with another payload type',
      (d, k) => {
        const b = dsseBundle([k], statement(d)) as { dsseEnvelope: Record<string, unknown> };
        b.dsseEnvelope.payloadType = 'text/plain';
        return b;
      },
      'not an in-toto statement',
    ],
    [
      'whose statement is not one',
      (_d, k) => dsseBundle([k], '{"hello":"world"}'),
      'not an in-toto statement',
    ],
    [
      'with a certificate that is not one',
      (d, k) => ({
        ...dsseBundle([k], statement(d)),
        verificationMaterial: { certificate: { rawBytes: 'AAAA' } },
      }),
      'not an X.509 certificate',
    ],
    [
      'with a malformed messageDigest',
      (_d, k) => ({
        mediaType: BUNDLE_V03,
        verificationMaterial: { publicKey: { hint: '' } },
        messageSignature: {
          messageDigest: { algorithm: 'MD5', digest: 'AAAA' },
          signature: Buffer.from(k.sign(encode('x'))).toString('base64'),
        },
      }),
      'messageDigest is malformed',
    ],
  ];
  it.each(bundleCases)('a bundle %s is invalid', async (_name, bundle, reason) => {
    const result = await onlyResult((source, image, signer) => {
      bundleReferrer(source, image, bundle(image.digest, signer));
    });
    expect(result).toMatchObject({
      format: 'sigstore-bundle',
      status: 'invalid',
      reason: expect.stringContaining(reason),
    });
  });

  it('a bundle blob declared over 4 MiB is refused without reading it', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const signer = makeSigner('ecdsa-p256');
    const referrer = bundleReferrer(source, image, dsseBundle([signer], statement(image.digest)));
    const document = JSON.parse(new TextDecoder().decode(referrer.content));
    document.layers[0].size = 5 * MiB;
    referrer.content = encode(JSON.stringify(document));
    source.reads.length = 0;
    const verdict = await verifyArtifact(source, REPOSITORY, image, trustOf({ name: 'ci', signer }));
    expect(verdict.signatures).toMatchObject([
      { status: 'invalid', reason: expect.stringContaining('over the 4194304-byte limit') },
    ]);
    expect(source.reads).toEqual([]);
  });

  it('random referrer content of every signature kind never throws', async () => {
    const source = new MemorySource();
    const image = pushImage(source);
    const kinds = [
      'application/vnd.dev.cosign.artifact.sig.v1+json',
      BUNDLE_V03,
      'application/vnd.cncf.notary.signature',
    ];
    const referrers: SignatureArtifact[] = [];
    for (let i = 0; i < 30; i++) {
      const content =
        i % 2 === 0
          ? randomBytes(200)
          : encode(JSON.stringify({ layers: [{ mediaType: BUNDLE_V03, digest: 'x' }], i }));
      referrers.push({
        digest: `sha256:${i.toString(16).padStart(64, '0')}`,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: kinds[i % 3],
        content,
      });
    }
    source.referring.set(image.digest, referrers);
    const verdict = await verifyArtifact(
      source,
      REPOSITORY,
      image,
      trustOf({ name: 'ci', signer: makeSigner('ed25519') }),
    );
    expect(verdict.signatures).toHaveLength(30);
    expect(verdict.signatures.every((s) => s.status === 'invalid')).toBe(true);
  });

  it('a cosign referrer whose layers are junk is invalid', async () => {
    const result = await onlyResult((source, image) => {
      referrerSignature(source, image, [
        {
          mediaType: SIMPLE_SIGNING,
          digest: 42,
          annotations: { 'dev.cosignproject.cosign/signature': 'AAAA' },
        },
      ]);
    });
    expect(result).toMatchObject({
      format: 'cosign',
      status: 'invalid',
      reason: expect.stringContaining('no valid digest'),
    });
  });
});
