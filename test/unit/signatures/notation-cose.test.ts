import { randomBytes } from 'node:crypto';
import { decode, encode, Tag } from 'cbor2';
import { beforeAll, describe, expect, it } from 'vitest';
import { NOTATION_COSE_MEDIA_TYPE, verifyNotationSignature } from '../../../src/signatures/notation/index.js';
import type { NotationTrust } from '../../../src/signatures/types.js';
import {
  AUTHENTIC_SIGNING_TIME,
  COSE_ALG,
  COSE_LABEL,
  EXPIRY,
  epoch,
  issue,
  LEAF_SUBJECT,
  makePki,
  type Pki,
  payloadFor,
  SIGNING_SCHEME,
  SIGNING_TIME,
  SUBJECT,
  signCose,
  testKey,
} from './notation-test-signer.js';

const DAY = 86_400_000;

function verify(envelope: Uint8Array, trust: readonly NotationTrust[], extra: { now?: Date } = {}) {
  return verifyNotationSignature({
    envelope,
    envelopeMediaType: NOTATION_COSE_MEDIA_TYPE,
    subject: SUBJECT,
    trust,
    ...(extra.now ? { now: extra.now } : {}),
  });
}

/** Decodes a COSE_Sign1_Tagged message into its four parts, to re-encode it altered. */
function parts(envelope: Uint8Array): [Uint8Array, Map<unknown, unknown>, Uint8Array, Uint8Array] {
  const message = decode(envelope, { preferMap: true, ignoreGlobalTags: true }) as Tag;
  return message.contents as [Uint8Array, Map<unknown, unknown>, Uint8Array, Uint8Array];
}

function reencode(...contents: unknown[]): Uint8Array {
  return encode(new Tag(18, contents));
}

describe('notation COSE: envelopes built in the published wire format', () => {
  let pki: Pki;
  beforeAll(async () => {
    pki = await makePki();
  });

  it('writes COSE_Sign1_Tagged with the label-based protected header the spec describes', () => {
    const { envelope, protectedBytes } = signCose({ pki });
    // RFC 8949: 0xd2 = tag 18 (COSE_Sign1), 0x84 = array of 4.
    expect([envelope[0], envelope[1]]).toEqual([0xd2, 0x84]);
    const header = decode(protectedBytes, { preferMap: true, ignoreGlobalTags: true }) as Map<
      unknown,
      unknown
    >;
    expect(header.get(1)).toBe(-7); // alg: ES256
    expect(header.get(2)).toEqual(['io.cncf.notary.signingScheme']); // crit
    expect(header.get(3)).toBe('application/vnd.cncf.notary.payload.v1+json'); // content type
    expect(header.get('io.cncf.notary.signingScheme')).toBe('notary.x509');
    expect((header.get('io.cncf.notary.signingTime') as Tag).tag).toBe(1);
    const unprotected = parts(envelope)[1];
    expect(unprotected.get(33)).toHaveLength(3); // x5chain: leaf, intermediate, root
    expect(unprotected.get('io.cncf.notary.signingAgent')).toBe('berth-test/1.0');
  });

  it.each([
    [{ kind: 'ec', curve: 'P-256' }, -7],
    [{ kind: 'ec', curve: 'P-384' }, -35],
    [{ kind: 'ec', curve: 'P-521' }, -36],
    [{ kind: 'rsa', bits: 2048 }, -37],
    [{ kind: 'rsa', bits: 3072 }, -38],
  ] as const)('verifies a %o signing key (alg %i)', async (spec, alg) => {
    const keyed = await makePki(spec);
    const { envelope, protectedBytes } = signCose({ pki: keyed });
    expect((decode(protectedBytes, { preferMap: true }) as Map<unknown, unknown>).get(1)).toBe(alg);
    expect(await verify(envelope, [keyed.trust])).toEqual({
      format: 'notation-cose',
      status: 'verified',
      signer: LEAF_SUBJECT,
    });
  });

  it('rejects a tampered payload, protected header or signature', async () => {
    const [protectedBytes, unprotected, , signature] = parts(signCose({ pki }).envelope);
    const otherPayload = payloadFor({ ...SUBJECT, size: SUBJECT.size + 1 });
    const tampered = await verify(reencode(protectedBytes, unprotected, otherPayload, signature), [
      pki.trust,
    ]);
    expect(tampered).toMatchObject({ status: 'invalid', reason: expect.stringContaining('does not match') });

    const header = decode(protectedBytes, { preferMap: true, ignoreGlobalTags: true }) as Map<
      unknown,
      unknown
    >;
    header.set(SIGNING_TIME, epoch(new Date(Date.now() - 2 * 60_000)));
    const payload = parts(signCose({ pki }).envelope)[2];
    expect(
      (await verify(reencode(encode(header), unprotected, payload, signature), [pki.trust])).status,
    ).toBe('invalid');
    const flipped = new Uint8Array(signature);
    flipped[5] = (flipped[5] ?? 0) ^ 0xff;
    expect((await verify(reencode(protectedBytes, unprotected, payload, flipped), [pki.trust])).status).toBe(
      'invalid',
    );
    const intruder = await testKey({ kind: 'ec', curve: 'P-256' }, 'intruder');
    expect(
      (await verify(signCose({ pki, signingKey: intruder.privateKey }).envelope, [pki.trust])).status,
    ).toBe('invalid');
  });

  it('rejects a payload for another digest, size or media type', async () => {
    const targets = [
      [{ ...SUBJECT, digest: `sha256:${'1'.repeat(64)}` }, 'sha256:111'],
      [{ ...SUBJECT, size: 2 }, '2 bytes'],
      [{ ...SUBJECT, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' }, 'media type'],
    ] as const;
    for (const [target, words] of targets) {
      const result = await verify(signCose({ pki, payload: payloadFor(target) }).envelope, [pki.trust]);
      expect(result).toMatchObject({ status: 'invalid', reason: expect.stringContaining(words) });
    }
  });

  it('is untrusted for an unknown root or an identity not trusted, verified for "*"', async () => {
    const { envelope } = signCose({ pki });
    const other = await makePki(undefined, {}, 'other');
    expect((await verify(envelope, [other.trust])).status).toBe('untrusted');
    const identities = (trustedIdentities: string[]) =>
      verify(envelope, [{ ...pki.trust, trustedIdentities }]);
    expect((await identities(['x509.subject: C=US, ST=WA, O=wabbit-networks.io'])).status).toBe('untrusted');
    expect((await identities(['x509.subject: C=US, ST=WA, O=acme-rockets.io, OU=Finance'])).status).toBe(
      'verified',
    );
    expect((await identities(['*'])).status).toBe('verified');
  });

  it('rejects an expired certificate and a past io.cncf.notary.expiry', async () => {
    const expired = await makePki(
      undefined,
      { notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - 30 * DAY) },
      'expired',
    );
    const signedWhileValid = signCose({ pki: expired, signingTime: new Date(Date.now() - 60 * DAY) });
    expect(await verify(signedWhileValid.envelope, [expired.trust])).toMatchObject({
      status: 'invalid',
      reason: expect.stringContaining('has expired'),
    });
    const withExpiry = (at: Date) =>
      signCose({ pki, crit: [SIGNING_SCHEME, EXPIRY], coseProtected: (h) => h.set(EXPIRY, epoch(at)) })
        .envelope;
    expect(await verify(withExpiry(new Date(Date.now() - 1000)), [pki.trust])).toMatchObject({
      status: 'invalid',
      reason: expect.stringContaining('io.cncf.notary.expiry'),
    });
    expect((await verify(withExpiry(new Date(Date.now() + DAY)), [pki.trust])).status).toBe('verified');
  });

  it('rejects unknown critical headers, registered labels in crit and a wrong alg', async () => {
    const cases: [Parameters<typeof signCose>[0], string][] = [
      [
        {
          pki,
          crit: [SIGNING_SCHEME, 'com.example.unknown'],
          coseProtected: (h) => h.set('com.example.unknown', 1),
        },
        'com.example.unknown',
      ],
      [{ pki, crit: [SIGNING_SCHEME, COSE_LABEL.contentType] }, 'registered'],
      [{ pki, crit: [SIGNING_SCHEME, 99], coseProtected: (h) => h.set(99, 'x') }, 'not supported'],
      [{ pki, crit: [] }, 'crit'],
      [{ pki, coseProtected: (h) => h.delete(COSE_LABEL.crit) }, 'crit'],
      // ES384's label with a P-256 key: algorithm substitution.
      [{ pki, coseProtected: (h) => h.set(COSE_LABEL.alg, COSE_ALG.ES384) }, 'signs with ES256'],
      [{ pki, coseProtected: (h) => h.set(COSE_LABEL.alg, -8) }, 'not allowed'],
      [{ pki, coseProtected: (h) => h.set(COSE_LABEL.alg, 'ES256') }, 'not allowed'],
      [{ pki, coseProtected: (h) => h.set(COSE_LABEL.contentType, 'application/json') }, 'content type'],
      [{ pki, coseProtected: (h) => h.set(SIGNING_SCHEME, 'notary.x509.other') }, 'signing scheme'],
      // Times are epoch date/times (tag 1), not bare integers or RFC 3339 strings.
      [{ pki, coseProtected: (h) => h.set(SIGNING_TIME, Math.floor(Date.now() / 1000)) }, 'tag 1'],
      [{ pki, coseProtected: (h) => h.set(SIGNING_TIME, new Date().toISOString()) }, 'tag 1'],
      [{ pki, coseProtected: (h) => h.delete(SIGNING_TIME) }, SIGNING_TIME],
    ];
    for (const [options, words] of cases) {
      const result = await verify(signCose(options).envelope, [pki.trust]);
      expect(result).toMatchObject({ status: 'invalid', reason: expect.stringContaining(words) });
    }
  });

  it('takes the authentic signing time of notary.x509.signingAuthority', async () => {
    const { envelope } = signCose({
      pki,
      crit: [SIGNING_SCHEME, AUTHENTIC_SIGNING_TIME],
      coseProtected: (h) => {
        h.set(SIGNING_SCHEME, 'notary.x509.signingAuthority');
        h.delete(SIGNING_TIME);
        h.set(AUTHENTIC_SIGNING_TIME, epoch(new Date(Date.now() - 60_000)));
      },
    });
    expect((await verify(envelope, [pki.trust])).status).toBe('verified');
  });

  it('accepts x5chain as a single certificate or in the protected header', async () => {
    // A chain of one self-signed certificate meeting the leaf requirements (as Notation's test certificates).
    const key = await testKey({ kind: 'ec', curve: 'P-256' }, 'self-signed');
    const self = await issue({ subject: 'C=US, ST=WA, O=Notary, CN=alpine', key, noBasicConstraints: true });
    const selfPki: Pki = {
      ...pki,
      leaf: self,
      chain: [self.der],
      trust: { id: 2, name: 'self', rootCertificatesPem: [self.pem], trustedIdentities: ['*'] },
    };
    const [protectedBytes, unprotected, payload, signature] = parts(signCose({ pki: selfPki }).envelope);
    unprotected.set(COSE_LABEL.x5chain, self.der);
    expect(
      await verify(reencode(protectedBytes, unprotected, payload, signature), [selfPki.trust]),
    ).toMatchObject({
      status: 'verified',
      signer: 'C=US, ST=WA, O=Notary, CN=alpine',
    });

    const inProtected = signCose({ pki, coseProtected: (h) => h.set(COSE_LABEL.x5chain, pki.chain) });
    const [p, u, body, sig] = parts(inProtected.envelope);
    u.delete(COSE_LABEL.x5chain);
    expect((await verify(reencode(p, u, body, sig), [pki.trust])).status).toBe('verified');
    // In both buckets at once is not allowed (RFC 9052 §3).
    expect((await verify(inProtected.envelope, [pki.trust])).status).toBe('invalid');
  });

  it('turns malformed input into invalid, never a throw', async () => {
    const [protectedBytes, unprotected, payload, signature] = parts(signCose({ pki }).envelope);
    const good = signCose({ pki }).envelope;
    const inputs: Uint8Array[] = [
      randomBytes(300),
      new Uint8Array(0),
      good.subarray(0, good.length - 10),
      new Uint8Array([...good, 0x00]),
      encode([protectedBytes, unprotected, payload, signature]), // untagged COSE_Sign1
      encode(new Tag(98, [protectedBytes, unprotected, payload, [signature]])), // COSE_Sign
      encode(new Tag(17, [protectedBytes, unprotected, payload, signature])), // COSE_Mac0
      reencode(protectedBytes, unprotected, payload),
      reencode(protectedBytes, unprotected, null, signature), // detached payload
      reencode(new Uint8Array(0), unprotected, payload, signature),
      reencode(encode(['not', 'a', 'map']), unprotected, payload, signature),
      reencode(new Uint8Array([0xa1, 0x01]), unprotected, payload, signature), // truncated protected map
      reencode(protectedBytes, [], payload, signature),
      reencode(protectedBytes, new Map(), payload, signature), // no x5chain
      reencode(protectedBytes, new Map([[33, ['not bytes']]]), payload, signature),
      reencode(protectedBytes, new Map([[33, [new Uint8Array([1, 2, 3])]]]), payload, signature),
      reencode(protectedBytes, unprotected, 'payload', signature),
      reencode(protectedBytes, unprotected, payload, new Uint8Array(0)),
      new TextEncoder().encode('{"payload":"e30","protected":"e30","signature":"AA"}'),
    ];
    for (const [index, envelope] of inputs.entries()) {
      const result = await verify(envelope, [pki.trust]);
      expect(result.status, `input ${index}`).toBe('invalid');
      expect(result.format).toBe('notation-cose');
      expect(result.reason).toBeTruthy();
    }
  });
});

describe('notation COSE: the notation-core-go conformance vector', () => {
  // notaryproject/notation-core-go signature/cose/testdata/conformance.json, expectedOutput: a COSE_Sign1
  // (PS384) made by notation-core-go with an extended critical attribute "signedCritKey1" and no certificate
  // chain. Berth must parse Notation's encoding, then refuse the critical attribute it cannot process.
  const vector = Buffer.from(
    'D284590115A80138250283781C696F2E636E63662E6E6F746172792E7369676E696E67536368656D6575696F2E636E63662E6E6F746172792E6578706972796E7369676E6564437269744B65793103782B6170706C69636174696F6E2F766E642E636E63662E6E6F746172792E7061796C6F61642E76312B6A736F6E6A7369676E65644B6579316C7369676E656456616C7565316E7369676E6564437269744B657931707369676E65644372697456616C75653175696F2E636E63662E6E6F746172792E6578706972791A63071444781A696F2E636E63662E6E6F746172792E7369676E696E6754696D651A6305C2C4781C696F2E636E63662E6E6F746172792E7369676E696E67536368656D656B6E6F746172792E78353039A1781B696F2E636E63662E6E6F746172792E7369676E696E674167656E74781D4E6F746174696F6E436F6E666F726D616E6365546573742F312E302E304A68656C6C6F20434F534559018031B6CB0CD9C974B39D603465811C2AA3D96A5DFF89F80B33CB4E321DC6E68A29B4BA65C00F0F9F22EE4376ABFAEC2CBA6FD21C6881ECAAB25775E3FB9226A88CF41660B2D6FD14184540D07DED3744E19FF9DBDD081E15C8F77BB6CA3072EF57141594FAD4EA57D206C6B8DD3A6E0A0A7ED764FF08DBCC439BD722E1B3D282921A579A3D860CCEEA37D633184F9316CB6B4FA4EA550DA5AD9E5BF3C2D768A787DA76E594290CB10B5B1EAD8B7E75967DE28E9FF429FE9DB814380608A15674F9741563902A620F312213D9DCE5C264017CBCB3BB4F8CEBEE0D5EF32B364F68C11CBA5630FAC8E3165D06FDEBACA095267223C552FE605B4529F25B65F8FA47B010B9096CEC275307E82B1062F660A73E07D0B85B978B4A59B5CDE51FC9A031B488A3DEB38FC312A64EF2EC1250238AE16CFEFC00D9AA1CEB938FE6DE51F265EEBE975C29F4CFF8AB0AFB40C45E8C985D17347BF20F455851C1A46AB655F51A159CF8910A424C5A8BBDD239E49E43A73C7B5174DE29E835063E5E64B459558DE5',
    'hex',
  );

  it('is invalid, naming the unsupported critical attribute', async () => {
    expect(await verify(new Uint8Array(vector), [])).toMatchObject({
      format: 'notation-cose',
      status: 'invalid',
      reason: expect.stringContaining('signedCritKey1'),
    });
  });
});
