// A throwaway PKI and a Notary Project signer for the notation tests. Every field name, header label and
// algorithm value below is written from the published specifications (notaryproject/specifications:
// signature-specification.md, signature-envelope-jws.md, signature-envelope-cose.md), not from Berth's parser.
import 'reflect-metadata';
import { constants, createHash, generateKeyPairSync, type KeyObject, sign, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { encode, Tag } from 'cbor2';
import type { NotationTrust } from '../../../src/signatures/types.js';

const subtle = webcrypto.subtle;
type CryptoKey = webcrypto.CryptoKey;
export type CertSigningAlgorithm = webcrypto.Algorithm | webcrypto.EcdsaParams;

// signature-specification.md "Payload" and "Signed Attributes".
export const PAYLOAD_MEDIA_TYPE = 'application/vnd.cncf.notary.payload.v1+json';
export const SIGNING_SCHEME = 'io.cncf.notary.signingScheme';
export const SIGNING_TIME = 'io.cncf.notary.signingTime';
export const AUTHENTIC_SIGNING_TIME = 'io.cncf.notary.authenticSigningTime';
export const EXPIRY = 'io.cncf.notary.expiry';
export const SIGNING_AGENT = 'io.cncf.notary.signingAgent';
// signature-envelope-cose.md "Protected Header" / "Unprotected Headers" / "Supported alg header values".
export const COSE_LABEL = { alg: 1, crit: 2, contentType: 3, x5chain: 33 } as const;
export const COSE_ALG = { PS256: -37, PS384: -38, PS512: -39, ES256: -7, ES384: -35, ES512: -36 } as const;
export const COSE_SIGN1_TAG = 18;
const HASH = {
  PS256: 'sha256',
  PS384: 'sha384',
  PS512: 'sha512',
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
} as const;
const HASH_BYTES = { sha256: 32, sha384: 48, sha512: 64 } as const;

export type Alg = keyof typeof COSE_ALG;
export type KeySpec = { kind: 'ec'; curve: 'P-256' | 'P-384' | 'P-521' } | { kind: 'rsa'; bits: number };

export interface TestKey {
  spec: KeySpec;
  privateKey: KeyObject;
  webPublic: CryptoKey;
  webPrivate: CryptoKey;
  certSigningAlgorithm: CertSigningAlgorithm;
}

export interface Issued {
  cert: x509.X509Certificate;
  der: Uint8Array;
  pem: string;
  key: TestKey;
}

const keyCache = new Map<string, TestKey>();

/** A fresh key pair (cached per label, so a test file generates each RSA size once). */
export async function testKey(spec: KeySpec, label = 'default'): Promise<TestKey> {
  const cacheKey = `${JSON.stringify(spec)}:${label}`;
  const cached = keyCache.get(cacheKey);
  if (cached) return cached;
  const pair =
    spec.kind === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: spec.curve })
      : generateKeyPairSync('rsa', { modulusLength: spec.bits });
  const importAlgorithm =
    spec.kind === 'ec'
      ? { name: 'ECDSA', namedCurve: spec.curve }
      : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const key: TestKey = {
    spec,
    privateKey: pair.privateKey,
    webPublic: await subtle.importKey(
      'spki',
      pair.publicKey.export({ type: 'spki', format: 'der' }),
      importAlgorithm,
      true,
      ['verify'],
    ),
    webPrivate: await subtle.importKey(
      'pkcs8',
      pair.privateKey.export({ type: 'pkcs8', format: 'der' }),
      importAlgorithm,
      false,
      ['sign'],
    ),
    certSigningAlgorithm:
      spec.kind === 'ec'
        ? { name: 'ECDSA', hash: 'SHA-256' }
        : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  };
  keyCache.set(cacheKey, key);
  return key;
}

const DAY = 86_400_000;

export interface IssueOptions {
  subject: string;
  key: TestKey;
  /** Absent: self-signed. */
  issuer?: Issued;
  ca?: boolean;
  pathLength?: number;
  /** Key usage flags; default keyCertSign|cRLSign for CAs, digitalSignature for leaves. */
  keyUsage?: number;
  /** Extended key usages of a leaf; default code signing. `null`: no EKU extension. */
  eku?: string[] | null;
  /** Omit the basic constraints extension. */
  noBasicConstraints?: boolean;
  notBefore?: Date;
  notAfter?: Date;
  signingAlgorithm?: CertSigningAlgorithm;
}

export async function issue(options: IssueOptions): Promise<Issued> {
  const ca = options.ca ?? false;
  const extensions: x509.Extension[] = [];
  if (!options.noBasicConstraints) {
    extensions.push(new x509.BasicConstraintsExtension(ca, options.pathLength, ca));
  }
  const keyUsage =
    options.keyUsage ??
    (ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature);
  extensions.push(new x509.KeyUsagesExtension(keyUsage, true));
  const eku = options.eku === undefined ? (ca ? null : [x509.ExtendedKeyUsage.codeSigning]) : options.eku;
  if (eku) extensions.push(new x509.ExtendedKeyUsageExtension(eku, false));
  const notBefore = options.notBefore ?? new Date(Date.now() - DAY);
  const notAfter = options.notAfter ?? new Date(Date.now() + 365 * DAY);
  const issuer = options.issuer;
  const cert = await x509.X509CertificateGenerator.create({
    subject: options.subject,
    issuer: issuer ? issuer.cert.subjectName : options.subject,
    publicKey: options.key.webPublic,
    signingKey: issuer ? issuer.key.webPrivate : options.key.webPrivate,
    signingAlgorithm:
      options.signingAlgorithm ??
      (issuer ? issuer.key.certSigningAlgorithm : options.key.certSigningAlgorithm),
    notBefore,
    notAfter,
    extensions,
  });
  return { cert, der: new Uint8Array(cert.rawData), pem: cert.toString('pem'), key: options.key };
}

export interface Pki {
  root: Issued;
  intermediate: Issued;
  leaf: Issued;
  /** x5c / x5chain order: signing certificate, intermediate, root. */
  chain: Uint8Array[];
  trust: NotationTrust;
}

export const LEAF_SUBJECT = 'C=US, ST=WA, L=Seattle, O=acme-rockets.io, OU=Finance, CN=SecureBuilder';

export async function makePki(
  leafKey: KeySpec = { kind: 'ec', curve: 'P-256' },
  leafOptions: Partial<IssueOptions> = {},
  label = 'default',
): Promise<Pki> {
  const root = await issue({
    subject: `C=US, ST=WA, O=acme-rockets.io, CN=Acme Root CA ${label}`,
    key: await testKey({ kind: 'ec', curve: 'P-384' }, `root-${label}`),
    ca: true,
    notAfter: new Date(Date.now() + 3650 * DAY),
    notBefore: new Date(Date.now() - 3650 * DAY),
  });
  const intermediate = await issue({
    subject: `C=US, ST=WA, O=acme-rockets.io, CN=Acme Signing CA ${label}`,
    key: await testKey({ kind: 'ec', curve: 'P-256' }, `intermediate-${label}`),
    issuer: root,
    ca: true,
    pathLength: 0,
    notAfter: new Date(Date.now() + 3650 * DAY),
    notBefore: new Date(Date.now() - 3650 * DAY),
  });
  const leaf = await issue({
    subject: LEAF_SUBJECT,
    key: await testKey(leafKey, `leaf-${label}`),
    issuer: intermediate,
    ...leafOptions,
  });
  return {
    root,
    intermediate,
    leaf,
    chain: [leaf.der, intermediate.der, root.der],
    trust: { id: 1, name: 'acme', rootCertificatesPem: [root.pem], trustedIdentities: ['*'] },
  };
}

export function algFor(spec: KeySpec): Alg {
  if (spec.kind === 'ec')
    return ({ 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' } as const)[spec.curve];
  return spec.bits === 2048 ? 'PS256' : spec.bits === 3072 ? 'PS384' : 'PS512';
}

/** The primitive signature: RSASSA-PSS (salt = hash length) or ECDSA as r‖s (RFC 7518 §3.4/3.5, RFC 8230). */
export function primitiveSign(alg: Alg, key: KeyObject, data: Uint8Array): Uint8Array {
  const hash = HASH[alg];
  const signature = alg.startsWith('PS')
    ? sign(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASH_BYTES[hash] })
    : sign(hash, data, { key, dsaEncoding: 'ieee-p1363' });
  // A plain Uint8Array: CBOR encoders write a Node Buffer as its JSON form, not as a byte string.
  return new Uint8Array(signature);
}

export interface Subject {
  digest: string;
  mediaType: string;
  size: number;
}

export const SUBJECT: Subject = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${createHash('sha256').update('berth test image').digest('hex')}`,
  size: 16724,
};

/** The Notary Project payload: { targetArtifact: descriptor } (signature-specification.md "Payload"). */
export function payloadFor(subject: Subject, annotations?: Record<string, string>): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({ targetArtifact: { ...subject, ...(annotations ? { annotations } : {}) } }),
  );
}

/** RFC 3339 without fractional seconds ("the optional fractional second SHOULD NOT be used"). */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface EnvelopeOptions {
  pki: Pki;
  alg?: Alg;
  payload?: Uint8Array;
  signingTime?: Date;
  /** Extra or replaced protected headers (JWS names / COSE labels); `undefined` removes one. */
  protectedHeaders?: Record<string, unknown>;
  crit?: unknown[];
  /** Replace the certificate chain. */
  chain?: Uint8Array[];
  /** Sign with another key than the leaf's. */
  signingKey?: KeyObject;
}

function baseHeaders(options: EnvelopeOptions, time: (date: Date) => unknown): Map<string, unknown> {
  const headers = new Map<string, unknown>([
    [SIGNING_SCHEME, 'notary.x509'],
    [SIGNING_TIME, time(options.signingTime ?? new Date(Date.now() - 60_000))],
  ]);
  for (const [name, value] of Object.entries(options.protectedHeaders ?? {})) {
    if (value === undefined) headers.delete(name);
    else headers.set(name, value);
  }
  return headers;
}

/** Flattened JWS JSON serialization (signature-envelope-jws.md "Signature Envelope"). */
export function signJws(options: EnvelopeOptions): Uint8Array {
  const alg = options.alg ?? algFor(options.pki.leaf.key.spec);
  const header: Record<string, unknown> = {
    alg,
    cty: PAYLOAD_MEDIA_TYPE,
    crit: options.crit ?? [SIGNING_SCHEME],
  };
  for (const [name, value] of baseHeaders(options, rfc3339)) header[name] = value;
  for (const [name, value] of Object.entries(options.protectedHeaders ?? {})) {
    if (value === undefined) delete header[name];
  }
  const protectedB64 = Buffer.from(JSON.stringify(header)).toString('base64url');
  const payloadB64 = Buffer.from(options.payload ?? payloadFor(SUBJECT)).toString('base64url');
  const signingInput = Buffer.from(`${protectedB64}.${payloadB64}`, 'ascii');
  const signature = primitiveSign(alg, options.signingKey ?? options.pki.leaf.key.privateKey, signingInput);
  const envelope = {
    payload: payloadB64,
    protected: protectedB64,
    header: {
      x5c: (options.chain ?? options.pki.chain).map((der) => Buffer.from(der).toString('base64')),
      [SIGNING_AGENT]: 'berth-test/1.0',
    },
    signature: Buffer.from(signature).toString('base64url'),
  };
  return new TextEncoder().encode(JSON.stringify(envelope));
}

/** Epoch-based date/time, CBOR tag 1 (RFC 8949 §3.4.2). */
export function epoch(date: Date): Tag {
  return new Tag(1, Math.floor(date.getTime() / 1000));
}

/** COSE_Sign1_Tagged (signature-envelope-cose.md "Signature Envelope"). */
export function signCose(
  options: EnvelopeOptions & { coseProtected?: (header: Map<unknown, unknown>) => void },
): {
  envelope: Uint8Array;
  protectedBytes: Uint8Array;
} {
  const alg = options.alg ?? algFor(options.pki.leaf.key.spec);
  const header = new Map<unknown, unknown>([
    [COSE_LABEL.alg, COSE_ALG[alg]],
    [COSE_LABEL.crit, options.crit ?? [SIGNING_SCHEME]],
    [COSE_LABEL.contentType, PAYLOAD_MEDIA_TYPE],
  ]);
  for (const [name, value] of baseHeaders(options, epoch)) header.set(name, value);
  options.coseProtected?.(header);
  const protectedBytes = encode(header);
  const payload = options.payload ?? payloadFor(SUBJECT);
  // Sig_structure = ["Signature1", body_protected, external_aad h'', payload] (RFC 9052 §4.4).
  const toBeSigned = encode(['Signature1', protectedBytes, new Uint8Array(0), payload]);
  const signature = primitiveSign(alg, options.signingKey ?? options.pki.leaf.key.privateKey, toBeSigned);
  const unprotected = new Map<unknown, unknown>([
    [COSE_LABEL.x5chain, options.chain ?? options.pki.chain],
    [SIGNING_AGENT, 'berth-test/1.0'],
  ]);
  return {
    envelope: encode(new Tag(COSE_SIGN1_TAG, [protectedBytes, unprotected, payload, signature])),
    protectedBytes,
  };
}
