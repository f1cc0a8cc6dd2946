import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  NOTATION_ARTIFACT_TYPE,
  NOTATION_COSE_MEDIA_TYPE,
  NOTATION_JWS_MEDIA_TYPE,
  verifyNotationSignature,
} from '../../../src/signatures/notation/index.js';
import type { NotationTrust } from '../../../src/signatures/types.js';
import {
  AUTHENTIC_SIGNING_TIME,
  type CertSigningAlgorithm,
  EXPIRY,
  issue,
  LEAF_SUBJECT,
  makePki,
  type Pki,
  payloadFor,
  rfc3339,
  SIGNING_SCHEME,
  SIGNING_TIME,
  SUBJECT,
  signJws,
  testKey,
} from './notation-test-signer.js';

const DAY = 86_400_000;

function verify(
  envelope: Uint8Array,
  trust: readonly NotationTrust[],
  extra: { now?: Date; subject?: typeof SUBJECT } = {},
) {
  return verifyNotationSignature({
    envelope,
    envelopeMediaType: NOTATION_JWS_MEDIA_TYPE,
    subject: extra.subject ?? SUBJECT,
    trust,
    ...(extra.now ? { now: extra.now } : {}),
  });
}

describe('notation JWS: the published constants', () => {
  it('uses the media types of the Notary Project signature specification', () => {
    expect(NOTATION_ARTIFACT_TYPE).toBe('application/vnd.cncf.notary.signature');
    expect(NOTATION_JWS_MEDIA_TYPE).toBe('application/jose+json');
    expect(NOTATION_COSE_MEDIA_TYPE).toBe('application/cose');
  });
});

describe('notation JWS: a real envelope made by Notation (notation-go testdata, withoutTimestamp.sig)', () => {
  // notaryproject/notation-go verifier/testdata/timestamp/sigEnv/withoutTimestamp.sig: PS256, a single
  // self-signed RSA-2048 code-signing certificate "C=US, ST=WA, L=Seattle, O=Notary, CN=alpine" valid
  // 2023-05-09 to 2033-05-10, signed 2024-06-18 by "Notation/1.0.0".
  const envelope = new Uint8Array(
    readFileSync(new URL('./notation-fixtures/notation-go-withoutTimestamp.sig', import.meta.url)),
  );
  const x5c = (JSON.parse(new TextDecoder().decode(envelope)) as { header: { x5c: string[] } }).header.x5c;
  const pem = `-----BEGIN CERTIFICATE-----\n${x5c[0]}\n-----END CERTIFICATE-----\n`;
  const subject = {
    digest: 'sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda',
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    size: 528,
  };
  const now = new Date('2025-06-01T00:00:00Z');
  const trust = (identities: string[]): NotationTrust[] => [
    { id: 7, name: 'notary-test', rootCertificatesPem: [pem], trustedIdentities: identities },
  ];

  it('verifies against its own certificate as the trust store', async () => {
    expect(await verify(envelope, trust(['x509.subject: C=US, ST=WA, O=Notary']), { now, subject })).toEqual({
      format: 'notation-jws',
      status: 'verified',
      signer: 'C=US, ST=WA, L=Seattle, O=Notary, CN=alpine',
    });
  });

  it('is untrusted for another identity, invalid for another artifact or after the certificate expired', async () => {
    const other = await verify(envelope, trust(['x509.subject: C=US, ST=WA, O=Notary, CN=busybox']), {
      now,
      subject,
    });
    expect(other.status).toBe('untrusted');
    expect(other.reason).toContain('x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=alpine');
    const wrong = await verify(envelope, trust(['*']), {
      now,
      subject: { ...subject, digest: SUBJECT.digest },
    });
    expect(wrong).toMatchObject({ status: 'invalid', reason: expect.stringContaining(subject.digest) });
    const late = await verify(envelope, trust(['*']), { now: new Date('2033-06-01T00:00:00Z'), subject });
    expect(late).toMatchObject({ status: 'invalid', reason: expect.stringContaining('expired') });
  });
});

describe('notation JWS: envelopes built in the published wire format', () => {
  let pki: Pki;
  beforeAll(async () => {
    pki = await makePki();
  });

  it('writes the flattened JSON serialization the spec describes', () => {
    const envelope = JSON.parse(new TextDecoder().decode(signJws({ pki }))) as Record<string, unknown>;
    expect(Object.keys(envelope).sort()).toEqual(['header', 'payload', 'protected', 'signature']);
    const header = JSON.parse(Buffer.from(envelope.protected as string, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(header).toMatchObject({
      alg: 'ES256',
      cty: 'application/vnd.cncf.notary.payload.v1+json',
      crit: ['io.cncf.notary.signingScheme'],
      'io.cncf.notary.signingScheme': 'notary.x509',
    });
    expect(envelope.header).toHaveProperty('x5c');
    expect(envelope.header).toHaveProperty(['io.cncf.notary.signingAgent']);
  });

  it.each([
    [{ kind: 'ec', curve: 'P-256' }, 'ES256'],
    [{ kind: 'ec', curve: 'P-384' }, 'ES384'],
    [{ kind: 'ec', curve: 'P-521' }, 'ES512'],
    [{ kind: 'rsa', bits: 2048 }, 'PS256'],
    [{ kind: 'rsa', bits: 3072 }, 'PS384'],
  ] as const)('verifies a %o signing key (%s)', async (spec, alg) => {
    const keyed = await makePki(spec);
    const envelope = signJws({ pki: keyed });
    expect(
      JSON.parse(
        Buffer.from(JSON.parse(new TextDecoder().decode(envelope)).protected, 'base64url').toString(),
      ).alg,
    ).toBe(alg);
    expect(await verify(envelope, [keyed.trust])).toEqual({
      format: 'notation-jws',
      status: 'verified',
      signer: LEAF_SUBJECT,
    });
  });

  it('rejects a tampered payload', async () => {
    const envelope = JSON.parse(new TextDecoder().decode(signJws({ pki })));
    envelope.payload = Buffer.from(payloadFor({ ...SUBJECT, size: SUBJECT.size + 1 })).toString('base64url');
    const result = await verify(new TextEncoder().encode(JSON.stringify(envelope)), [pki.trust]);
    expect(result).toMatchObject({
      status: 'invalid',
      signer: LEAF_SUBJECT,
      reason: expect.stringContaining('does not match'),
    });
  });

  it('rejects a tampered protected header and a signature by another key', async () => {
    const envelope = JSON.parse(new TextDecoder().decode(signJws({ pki })));
    const header = JSON.parse(Buffer.from(envelope.protected, 'base64url').toString());
    header[SIGNING_TIME] = rfc3339(new Date(Date.now() - 2 * DAY));
    envelope.protected = Buffer.from(JSON.stringify(header)).toString('base64url');
    expect((await verify(new TextEncoder().encode(JSON.stringify(envelope)), [pki.trust])).status).toBe(
      'invalid',
    );
    const other = await testKey({ kind: 'ec', curve: 'P-256' }, 'intruder');
    expect((await verify(signJws({ pki, signingKey: other.privateKey }), [pki.trust])).status).toBe(
      'invalid',
    );
  });

  it('rejects a payload for another digest, size or media type', async () => {
    const cases = [
      [{ ...SUBJECT, digest: `sha256:${'0'.repeat(64)}` }, 'sha256:000'],
      [{ ...SUBJECT, size: 1 }, '1 bytes'],
      [{ ...SUBJECT, mediaType: 'application/vnd.oci.image.index.v1+json' }, 'media type'],
    ] as const;
    for (const [target, words] of cases) {
      const result = await verify(signJws({ pki, payload: payloadFor(target) }), [pki.trust]);
      expect(result).toMatchObject({ status: 'invalid', reason: expect.stringContaining(words) });
    }
    const noTarget = await verify(signJws({ pki, payload: new TextEncoder().encode('{"subject":{}}') }), [
      pki.trust,
    ]);
    expect(noTarget).toMatchObject({ status: 'invalid', reason: expect.stringContaining('targetArtifact') });
  });

  it('accepts payload annotations (user-defined metadata)', async () => {
    const envelope = signJws({ pki, payload: payloadFor(SUBJECT, { 'io.wabbit-networks.buildId': '123' }) });
    expect((await verify(envelope, [pki.trust])).status).toBe('verified');
  });

  it('is untrusted when the chain leads to no configured trust store', async () => {
    const other = await makePki(undefined, {}, 'other');
    const result = await verify(signJws({ pki }), [{ ...other.trust, name: 'wabbit-networks' }]);
    expect(result).toMatchObject({
      status: 'untrusted',
      signer: LEAF_SUBJECT,
      reason: expect.stringContaining('wabbit-networks'),
    });
    expect((await verify(signJws({ pki }), [])).status).toBe('untrusted');
    // A store with another root and one with ours: the second one verifies it.
    expect((await verify(signJws({ pki }), [other.trust, pki.trust])).status).toBe('verified');
  });

  it('ignores a broken PEM in a trust store', async () => {
    const trust = {
      ...pki.trust,
      rootCertificatesPem: ['-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----', pki.root.pem],
    };
    expect((await verify(signJws({ pki }), [trust])).status).toBe('verified');
  });

  it('matches trusted identities by subject attributes, or "*"', async () => {
    const envelope = signJws({ pki });
    const withIdentities = (trustedIdentities: string[]) =>
      verify(envelope, [{ ...pki.trust, trustedIdentities }]);
    expect((await withIdentities(['*'])).status).toBe('verified');
    expect((await withIdentities([`x509.subject: ${LEAF_SUBJECT}`])).status).toBe('verified');
    expect((await withIdentities(['x509.subject: C=US, ST=WA, O=acme-rockets.io'])).status).toBe('verified');
    expect(
      (await withIdentities(['x509.subject: C=US,ST=WA,O=acme-rockets.io,CN=SecureBuilder'])).status,
    ).toBe('verified');
    const wrong = await withIdentities(['x509.subject: C=US, ST=WA, O=acme-rockets.io, CN=Someone Else']);
    expect(wrong).toMatchObject({
      status: 'untrusted',
      reason: expect.stringContaining(`x509.subject: ${LEAF_SUBJECT}`),
    });
    expect((await withIdentities([])).status).toBe('untrusted');
    // Malformed identities (no C/ST/O, unknown prefix) trust nobody, and the reason says why.
    expect(await withIdentities(['x509.subject: C=US, O=acme-rockets.io, CN=SecureBuilder'])).toMatchObject({
      status: 'untrusted',
      reason: expect.stringContaining('ST is missing'),
    });
    expect((await withIdentities(['CN=SecureBuilder'])).status).toBe('untrusted');
  });

  it('matches escaped identity values', async () => {
    const escaped = await makePki(undefined, { subject: 'C=US, ST=WA, O=Acme\\, Inc., CN=ci' }, 'escaped');
    const envelope = signJws({ pki: escaped });
    const trust = (identity: string) => [{ ...escaped.trust, trustedIdentities: [identity] }];
    expect((await verify(envelope, trust('x509.subject: C=US, ST=WA, O=Acme\\, Inc.'))).status).toBe(
      'verified',
    );
    expect((await verify(envelope, trust('x509.subject: C=US, ST=WA, O=Acme'))).status).toBe('untrusted');
  });

  it('rejects a certificate that had expired, or was not yet valid, when it signed', async () => {
    const expired = await makePki(
      undefined,
      { notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - 30 * DAY) },
      'expired',
    );
    const result = await verify(signJws({ pki: expired }), [expired.trust]);
    expect(result).toMatchObject({ status: 'invalid', reason: expect.stringContaining('was not valid') });
    // Signed while valid, verified after it expired: without a trusted timestamp that is invalid too.
    const old = await verify(signJws({ pki: expired, signingTime: new Date(Date.now() - 100 * DAY) }), [
      expired.trust,
    ]);
    expect(old).toMatchObject({ status: 'invalid', reason: expect.stringContaining('has expired') });
    const early = await verify(signJws({ pki, signingTime: new Date(Date.now() - 3 * DAY) }), [pki.trust]);
    expect(early).toMatchObject({ status: 'invalid', reason: expect.stringContaining('was not valid') });
  });

  it('honours io.cncf.notary.expiry', async () => {
    const past = signJws({
      pki,
      protectedHeaders: { [EXPIRY]: rfc3339(new Date(Date.now() - 1000)) },
      crit: [SIGNING_SCHEME, EXPIRY],
    });
    expect(await verify(past, [pki.trust])).toMatchObject({
      status: 'invalid',
      reason: expect.stringContaining('io.cncf.notary.expiry'),
    });
    const future = signJws({
      pki,
      protectedHeaders: { [EXPIRY]: rfc3339(new Date(Date.now() + DAY)) },
      crit: [SIGNING_SCHEME, EXPIRY],
    });
    expect((await verify(future, [pki.trust])).status).toBe('verified');
    expect((await verify(future, [pki.trust], { now: new Date(Date.now() + 2 * DAY) })).status).toBe(
      'invalid',
    );
    // The expiry is critical: an envelope that does not mark it so is invalid.
    const notCritical = signJws({ pki, protectedHeaders: { [EXPIRY]: rfc3339(new Date(Date.now() + DAY)) } });
    expect((await verify(notCritical, [pki.trust])).status).toBe('invalid');
  });

  it('rejects unknown critical headers and a crit without the signing scheme', async () => {
    const unknown = signJws({
      pki,
      protectedHeaders: { 'com.example.unknown': 'x' },
      crit: [SIGNING_SCHEME, 'com.example.unknown'],
    });
    expect(await verify(unknown, [pki.trust])).toMatchObject({
      status: 'invalid',
      reason: expect.stringContaining('com.example.unknown'),
    });
    const plugin = signJws({
      pki,
      protectedHeaders: { 'io.cncf.notary.verificationPlugin': 'com.example.nv2plugin' },
      crit: [SIGNING_SCHEME, 'io.cncf.notary.verificationPlugin'],
    });
    expect(await verify(plugin, [pki.trust])).toMatchObject({
      status: 'invalid',
      reason: expect.stringContaining('plugin'),
    });
    expect((await verify(signJws({ pki, crit: [] }), [pki.trust])).status).toBe('invalid');
    expect((await verify(signJws({ pki, crit: ['alg', SIGNING_SCHEME] }), [pki.trust])).status).toBe(
      'invalid',
    );
    expect(
      (await verify(signJws({ pki, crit: [SIGNING_SCHEME, 'io.cncf.notary.absent'] }), [pki.trust])).status,
    ).toBe('invalid');
    // A non-critical header Berth does not know is fine.
    expect(
      (await verify(signJws({ pki, protectedHeaders: { 'com.example.note': 'hi' } }), [pki.trust])).status,
    ).toBe('verified');
  });

  it('rejects a wrong signing scheme, content type or algorithm', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ [SIGNING_SCHEME]: 'notary.default.x509' }, 'signing scheme'],
      [{ [SIGNING_SCHEME]: undefined }, SIGNING_SCHEME],
      [{ [SIGNING_TIME]: undefined }, SIGNING_TIME],
      [{ [SIGNING_TIME]: 'yesterday' }, 'RFC 3339'],
      [{ cty: 'application/json' }, 'content type'],
      // The envelope names ES384 but the P-256 key signs ES256: algorithm substitution.
      [{ alg: 'ES384' }, 'signs with ES256'],
      [{ alg: 'none' }, 'not allowed'],
      [{ alg: 'HS256' }, 'not allowed'],
    ];
    for (const [protectedHeaders, words] of cases) {
      const result = await verify(signJws({ pki, protectedHeaders }), [pki.trust]);
      expect(result).toMatchObject({ status: 'invalid', reason: expect.stringContaining(words) });
    }
  });

  it('takes the authentic signing time of notary.x509.signingAuthority', async () => {
    const authority = signJws({
      pki,
      protectedHeaders: {
        [SIGNING_SCHEME]: 'notary.x509.signingAuthority',
        [SIGNING_TIME]: undefined,
        [AUTHENTIC_SIGNING_TIME]: rfc3339(new Date(Date.now() - 60_000)),
      },
      crit: [SIGNING_SCHEME, AUTHENTIC_SIGNING_TIME],
    });
    expect((await verify(authority, [pki.trust])).status).toBe('verified');
    const missing = signJws({ pki, protectedHeaders: { [SIGNING_SCHEME]: 'notary.x509.signingAuthority' } });
    expect((await verify(missing, [pki.trust])).status).toBe('invalid');
    const beforeValidity = signJws({
      pki,
      protectedHeaders: {
        [SIGNING_SCHEME]: 'notary.x509.signingAuthority',
        [AUTHENTIC_SIGNING_TIME]: rfc3339(new Date(Date.now() - 5 * DAY)),
      },
      crit: [SIGNING_SCHEME, AUTHENTIC_SIGNING_TIME],
    });
    expect((await verify(beforeValidity, [pki.trust])).status).toBe('invalid');
  });

  it('enforces the certificate requirements of the signature specification', async () => {
    const x509 = await import('@peculiar/x509');
    const variants: [Parameters<typeof makePki>[1], string][] = [
      [{ eku: [x509.ExtendedKeyUsage.serverAuth] }, 'serverAuth'],
      [{ eku: [x509.ExtendedKeyUsage.codeSigning, x509.ExtendedKeyUsage.timeStamping] }, 'timeStamping'],
      [{ keyUsage: x509.KeyUsageFlags.keyEncipherment }, 'digitalSignature'],
      [{ keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign }, 'keyCertSign'],
      [{ ca: true }, 'CA certificate'],
    ];
    for (const [leafOptions, words] of variants) {
      const bad = await makePki(undefined, leafOptions, 'default');
      const result = await verify(signJws({ pki: bad }), [bad.trust]);
      expect(result).toMatchObject({ status: 'invalid', reason: expect.stringContaining(words) });
    }
    // No EKU at all is allowed ("The extendedKeyUsage extension is OPTIONAL").
    const noEku = await makePki(undefined, { eku: null }, 'default');
    expect((await verify(signJws({ pki: noEku }), [noEku.trust])).status).toBe('verified');
  });

  it('enforces chain order, a root at the end, and CA constraints', async () => {
    const { leaf, intermediate, root } = pki;
    const chains: [Uint8Array[], string][] = [
      [[leaf.der, intermediate.der], 'does not end with a self-signed root'],
      [[leaf.der, root.der, intermediate.der], 'is not issued by the next certificate'],
      // The signing certificate not first: the first one's key did not make the signature.
      [[intermediate.der, leaf.der, root.der], 'does not match'],
      [
        [leaf.der, intermediate.der, root.der, (await makePki(undefined, {}, 'other')).root.der],
        'is not issued by',
      ],
    ];
    for (const [chain, words] of chains) {
      const result = await verify(signJws({ pki, chain }), [pki.trust]);
      expect(result).toMatchObject({ status: 'invalid', reason: expect.stringContaining(words) });
    }
    // An intermediate without cA=true cannot issue.
    const notCa = await issue({
      subject: 'C=US, ST=WA, O=acme-rockets.io, CN=Not a CA',
      key: await testKey({ kind: 'ec', curve: 'P-256' }, 'not-ca'),
      issuer: root,
      keyUsage: (await import('@peculiar/x509')).KeyUsageFlags.keyCertSign,
      eku: null,
    });
    const underNotCa = await issue({ subject: LEAF_SUBJECT, key: leaf.key, issuer: notCa });
    const result = await verify(signJws({ pki, chain: [underNotCa.der, notCa.der, root.der] }), [pki.trust]);
    expect(result).toMatchObject({ status: 'invalid', reason: expect.stringContaining('basic constraints') });
    // pathLength 0 on the intermediate forbids another CA below it.
    const sub = await issue({
      subject: 'C=US, ST=WA, O=acme-rockets.io, CN=Sub CA',
      key: await testKey({ kind: 'ec', curve: 'P-256' }, 'sub-ca'),
      issuer: intermediate,
      ca: true,
    });
    const underSub = await issue({ subject: LEAF_SUBJECT, key: leaf.key, issuer: sub });
    const deep = await verify(signJws({ pki, chain: [underSub.der, sub.der, intermediate.der, root.der] }), [
      pki.trust,
    ]);
    expect(deep).toMatchObject({ status: 'invalid', reason: expect.stringContaining('intermediates') });
  });

  it('rejects small RSA keys and SHA-1 certificate signatures', async () => {
    const small = await makePki({ kind: 'rsa', bits: 1024 }, {}, 'small');
    expect((await verify(signJws({ pki: small, alg: 'PS256' }), [small.trust])).status).toBe('invalid');
    const sha1 = await makePki(
      undefined,
      { signingAlgorithm: { name: 'ECDSA', hash: 'SHA-1' } as CertSigningAlgorithm },
      'sha1',
    );
    expect(await verify(signJws({ pki: sha1 }), [sha1.trust])).toMatchObject({
      status: 'invalid',
      reason: expect.stringContaining('SHA-1'),
    });
  });

  it('turns malformed input into invalid, never a throw', async () => {
    const good = JSON.parse(new TextDecoder().decode(signJws({ pki })));
    const text = (value: unknown) =>
      new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
    const inputs: Uint8Array[] = [
      randomBytes(200),
      new Uint8Array(0),
      text(JSON.stringify(good).slice(0, 80)),
      text('[]'),
      text('null'),
      text({}),
      text({ ...good, extra: 1 }),
      text({ signatures: [good], payload: good.payload }),
      text({ ...good, header: undefined }),
      text({ ...good, header: { x5c: [] } }),
      text({ ...good, header: { x5c: ['not base64!'] } }),
      text({ ...good, header: { x5c: [Buffer.from('not a certificate').toString('base64')] } }),
      text({ ...good, header: { x5c: 'MIIB' } }),
      text({ ...good, header: { x5c: Array(11).fill(good.header.x5c[0]) } }), // longer than any real chain
      text({ ...good, protected: 'bm90IGpzb24' }),
      text({ ...good, protected: '' }),
      text({ ...good, signature: 'not base64url!' }),
      text({ ...good, payload: 42 }),
      text({ ...good, header: { ...good.header, alg: 'ES256' } }),
      new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]),
    ];
    for (const [index, envelope] of inputs.entries()) {
      const result = await verify(envelope, [pki.trust]);
      expect(result.status, `input ${index}`).toBe('invalid');
      expect(result.format).toBe('notation-jws');
      expect(result.reason).toBeTruthy();
    }
    const wrongType = await verifyNotationSignature({
      envelope: signJws({ pki }),
      envelopeMediaType: 'application/octet-stream',
      subject: SUBJECT,
      trust: [pki.trust],
    });
    expect(wrongType).toMatchObject({ status: 'invalid', reason: expect.stringContaining('media type') });
  });
});
