// cosign / sigstore signatures made in the tests with node:crypto, in the wire formats the published documents
// give — spelled out here field by field from those documents, not from Berth's parser:
//   cosign specs/SIGNATURE_SPEC.md: a `.sig` manifest's layers have mediaType
//     application/vnd.dev.cosign.simplesigning.v1+json, the payload as the blob, and the base64 signature in the
//     `dev.cosignproject.cosign/signature` annotation (keyless: the PEM in `dev.sigstore.cosign/certificate`);
//   containers-signature.5.md: the payload {"critical":{"identity":{"docker-reference"},"image":
//     {"docker-manifest-digest"},"type"},"optional"}, cosign's type being "cosign container image signature";
//   sigstore protobuf-specs, bundle v0.3: {"mediaType","verificationMaterial":{"publicKey":{"hint"}} or
//     {"certificate":{"rawBytes"}}, "messageSignature":{"messageDigest":{"algorithm","digest"},"signature"} or
//     "dsseEnvelope":{"payload","payloadType","signatures":[{"sig","keyid"}]}}, DSSE signing over its PAE.
import { execFileSync } from 'node:child_process';
import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SignatureArtifact, SignatureSource } from '../../../src/signatures/index.js';

export const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_REFERRER = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A registry's repository as verification sees it: blobs, manifests by digest, `.sig` tags and referrers. */
export class MemorySource implements SignatureSource {
  readonly blobs = new Map<string, Uint8Array>();
  readonly tags = new Map<string, SignatureArtifact>();
  readonly referring = new Map<string, SignatureArtifact[]>();
  readonly reads: string[] = [];

  async taggedSignature(_repository: string, digest: string): Promise<SignatureArtifact | undefined> {
    return this.tags.get(digest);
  }
  async referrers(_repository: string, digest: string): Promise<SignatureArtifact[]> {
    return this.referring.get(digest) ?? [];
  }
  async readBlob(_repository: string, digest: string, maxBytes: number): Promise<Uint8Array> {
    this.reads.push(digest);
    const blob = this.blobs.get(digest);
    if (!blob) throw new Error(`blob ${digest} unknown`);
    if (blob.length > maxBytes) throw new Error(`blob ${digest} is larger than ${maxBytes} bytes`);
    return blob;
  }

  /** Stores a blob; returns its OCI descriptor. */
  put(mediaType: string, data: Uint8Array | string): { mediaType: string; digest: string; size: number } {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const digest = sha256(bytes);
    this.blobs.set(digest, bytes);
    return { mediaType, digest, size: bytes.length };
  }
}

/** An image manifest to sign (its bytes are stored too, as a registry would serve them). */
export function pushImage(source: MemorySource): { digest: string; mediaType: string; size: number } {
  const config = source.put(
    'application/vnd.oci.image.config.v1+json',
    `{"nonce":"${randomBytes(8).toString('hex')}"}`,
  );
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] });
  const { digest, size } = source.put(OCI_MANIFEST, manifest);
  return { digest, mediaType: OCI_MANIFEST, size };
}

export type Algorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | 'rsa-pkcs1' | 'rsa-pss';

export interface Signer {
  algorithm: Algorithm;
  privateKey: KeyObject;
  publicKeyPem: string;
  sign(data: Uint8Array): Uint8Array;
}

export function makeSigner(algorithm: Algorithm): Signer {
  const pair =
    algorithm === 'ecdsa-p256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : algorithm === 'ecdsa-p384'
        ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : algorithm === 'ed25519'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return signerFor(
    algorithm,
    pair.privateKey,
    pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  );
}

function signerFor(algorithm: Algorithm, privateKey: KeyObject, publicKeyPem: string): Signer {
  return {
    algorithm,
    privateKey,
    publicKeyPem,
    sign(data) {
      switch (algorithm) {
        case 'ecdsa-p256': // ASN.1 DER, as Go's ecdsa.SignASN1 (cosign) writes it
          return sign('sha256', data, { key: privateKey, dsaEncoding: 'der' });
        case 'ecdsa-p384':
          return sign('sha384', data, { key: privateKey, dsaEncoding: 'der' });
        case 'ed25519':
          return sign(null, data, privateKey);
        case 'rsa-pkcs1':
          return sign('sha256', data, privateKey);
        case 'rsa-pss':
          return sign('sha256', data, {
            key: privateKey,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: 32,
          });
      }
    },
  };
}

/** A self-signed certificate (openssl) for a P-256 key, standing in for a keyless signer's Fulcio certificate. */
export function makeCertificateSigner(commonName: string): Signer & { certificatePem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cosign-cert-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certificatePath = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'].concat(
        ['-subj', `/CN=${commonName}`, '-keyout', keyPath, '-out', certificatePath],
      ),
      { stdio: 'pipe' },
    );
    const privateKey = createPrivateKey(readFileSync(keyPath));
    const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
    return {
      ...signerFor('ecdsa-p256', privateKey, publicKeyPem),
      certificatePem: readFileSync(certificatePath, 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The simple-signing payload `cosign sign` writes (it emits "optional": null without annotations). */
export function simpleSigningPayload(
  manifestDigest: string,
  reference = 'registry.example/library/app',
  optional: Record<string, unknown> | null = null,
): string {
  return JSON.stringify({
    critical: {
      identity: { 'docker-reference': reference },
      image: { 'docker-manifest-digest': manifestDigest },
      type: 'cosign container image signature',
    },
    optional,
  });
}

export interface SignatureLayerInput {
  payload: Uint8Array | string;
  /** base64 signature for the annotation; a Uint8Array is encoded here. */
  signature: Uint8Array | string;
  certificatePem?: string;
  chainPem?: string;
}

/** One `.sig` layer: the payload blob's descriptor with the signature (and certificate) annotations. */
export function signatureLayer(source: MemorySource, input: SignatureLayerInput): Record<string, unknown> {
  const descriptor = source.put(SIMPLE_SIGNING, input.payload);
  const annotations: Record<string, string> = {
    'dev.cosignproject.cosign/signature':
      typeof input.signature === 'string' ? input.signature : Buffer.from(input.signature).toString('base64'),
  };
  if (input.certificatePem !== undefined)
    annotations['dev.sigstore.cosign/certificate'] = input.certificatePem;
  if (input.chainPem !== undefined) annotations['dev.sigstore.cosign/chain'] = input.chainPem;
  return { ...descriptor, annotations };
}

/** A signer's layer over the standard payload for `digest`. */
export function signedLayer(source: MemorySource, signer: Signer, digest: string): Record<string, unknown> {
  const payload = simpleSigningPayload(digest);
  return signatureLayer(source, { payload, signature: signer.sign(new TextEncoder().encode(payload)) });
}

function artifact(
  source: MemorySource,
  document: Record<string, unknown>,
  artifactType?: string,
): SignatureArtifact {
  const content = new TextEncoder().encode(JSON.stringify(document));
  const { digest } = source.put(OCI_MANIFEST, content);
  return { digest, mediaType: OCI_MANIFEST, ...(artifactType ? { artifactType } : {}), content };
}

/** cosign's tag scheme: the manifest tagged `sha256-<hex>.sig`, an ordinary image manifest of signature layers. */
export function tagSignature(
  source: MemorySource,
  subjectDigest: string,
  layers: unknown[],
): SignatureArtifact {
  const config = source.put(
    'application/vnd.oci.image.config.v1+json',
    '{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}',
  );
  const sig = artifact(source, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers });
  source.tags.set(subjectDigest, sig);
  return sig;
}

function addReferrer(
  source: MemorySource,
  subjectDigest: string,
  referrer: SignatureArtifact,
): SignatureArtifact {
  source.referring.set(subjectDigest, [...(source.referring.get(subjectDigest) ?? []), referrer]);
  return referrer;
}

const EMPTY_CONFIG = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
};

/** cosign's OCI 1.1 referrer signature: the same layers, artifactType application/vnd.dev.cosign.artifact.sig.v1+json. */
export function referrerSignature(
  source: MemorySource,
  subject: { digest: string; mediaType: string; size: number },
  layers: unknown[],
): SignatureArtifact {
  const document = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: COSIGN_REFERRER,
    config: EMPTY_CONFIG,
    layers,
    subject,
  };
  return addReferrer(source, subject.digest, artifact(source, document, COSIGN_REFERRER));
}

/** A sigstore bundle attached as a referrer (artifactType and layer media type the bundle's). */
export function bundleReferrer(
  source: MemorySource,
  subject: { digest: string; mediaType: string; size: number },
  bundle: Record<string, unknown> | string,
): SignatureArtifact {
  const layer = source.put(BUNDLE_V03, typeof bundle === 'string' ? bundle : JSON.stringify(bundle));
  const document = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: BUNDLE_V03,
    config: EMPTY_CONFIG,
    layers: [layer],
    subject,
  };
  return addReferrer(source, subject.digest, artifact(source, document, BUNDLE_V03));
}

/** The public-key hint cosign writes: base64 of the SHA-256 of the key's DER SubjectPublicKeyInfo. */
function keyHint(signer: Signer): string {
  const der = createPublicKey(signer.publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

function material(signer: Signer, certificatePem?: string): Record<string, unknown> {
  if (certificatePem === undefined) return { publicKey: { hint: keyHint(signer) } };
  const der = Buffer.from(certificatePem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  return { certificate: { rawBytes: der.toString('base64') } };
}

/** A messageSignature bundle over `message` (cosign sign-blob --new-bundle-format). */
export function messageSignatureBundle(
  signer: Signer,
  message: Uint8Array,
  certificatePem?: string,
): Record<string, unknown> {
  return {
    mediaType: BUNDLE_V03,
    verificationMaterial: material(signer, certificatePem),
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(message).digest('base64') },
      signature: Buffer.from(signer.sign(message)).toString('base64'),
    },
  };
}

/** An in-toto statement naming `subjectDigest`, with cosign's signature predicate unless told otherwise. */
export function statement(
  subjectDigest: string,
  predicateType = 'https://sigstore.dev/cosign/sign/v1',
): string {
  const [algorithm, hex] = subjectDigest.split(':') as [string, string];
  return JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'registry.example/library/app', digest: { [algorithm]: hex } }],
    predicateType,
    predicate: {},
  });
}

/** DSSE v1 pre-authentication encoding, written from the DSSE protocol document. */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const header = `DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${payload.length} `;
  return Buffer.concat([Buffer.from(header), payload]);
}

/** A DSSE bundle over an in-toto statement (how cosign v3 signs images). */
export function dsseBundle(
  signers: Signer[],
  statementJson: string,
  certificatePem?: string,
): Record<string, unknown> {
  const payload = new TextEncoder().encode(statementJson);
  const payloadType = 'application/vnd.in-toto+json';
  return {
    mediaType: BUNDLE_V03,
    verificationMaterial: material(signers[0] as Signer, certificatePem),
    dsseEnvelope: {
      payload: Buffer.from(payload).toString('base64'),
      payloadType,
      signatures: signers.map((signer) => ({
        sig: Buffer.from(signer.sign(pae(payloadType, payload))).toString('base64'),
        keyid: '',
      })),
    },
  };
}

export function trustOf(...keys: { name: string; signer: Signer }[]) {
  return {
    version: 1,
    keys: keys.map(({ name, signer }, index) => ({ id: index + 1, name, publicKeyPem: signer.publicKeyPem })),
    notation: [],
  };
}
