// A sigstore bundle (protobuf-specs, bundle v0.3 and earlier) attached to an image as an OCI 1.1 referrer:
// a manifest whose layer is the bundle JSON, with either
//   dsseEnvelope      — an in-toto statement whose subject names the image digest (how cosign v3 signs images;
//                       predicate https://sigstore.dev/cosign/sign/v1), signed over DSSE's PAE encoding; or
//   messageSignature  — a signature over the message itself, here the image manifest's bytes (cosign sign-blob).
// verificationMaterial holds the signer: a public-key hint (the key is known out of band: the project's trusted
// keys), or an X.509 certificate (keyless). Transparency-log entries and RFC 3161 timestamps are not checked.
import { createHash } from 'node:crypto';
import { tryParseDigest } from '../../registry/index.js';
import type { SignatureArtifact } from '../signature-source.js';
import type { SignatureResult } from '../types.js';
import { findLayer, readDescribedBlob } from './described-blob.js';
import { decodeBase64, isJsonObject, type JsonObject, parseJsonObject } from './json-bytes.js';
import { invalid, type Judgement, judge } from './judgement.js';
import { readCertificate, type SigningCertificate } from './public-keys.js';
import type { CosignVerification } from './signature-manifest.js';
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  IN_TOTO_PAYLOAD_TYPE,
  IN_TOTO_STATEMENT_TYPES,
  isSigstoreBundleMediaType,
  MAX_ENVELOPE_BYTES,
} from './wire-format.js';

/** DSSE signatures examined per envelope. */
const MAX_DSSE_SIGNATURES = 16;

/**
 * The result for one bundle referrer, or undefined when the bundle is an attestation (an in-toto predicate other
 * than cosign's signature predicate: an SBOM or provenance is not a signature of the image). Never throws.
 */
export async function verifySigstoreBundleArtifact(
  artifact: SignatureArtifact,
  context: CosignVerification,
): Promise<SignatureResult | undefined> {
  const judgement = await judgeBundleArtifact(artifact, context);
  return judgement && { format: 'sigstore-bundle', signatureDigest: artifact.digest, ...judgement };
}

async function judgeBundleArtifact(
  artifact: SignatureArtifact,
  context: CosignVerification,
): Promise<Judgement | undefined> {
  const layer = findLayer(artifact.content, isSigstoreBundleMediaType);
  if (!layer) return invalid('the bundle artifact has no sigstore bundle layer');
  const bytes = await readDescribedBlob(
    context.source,
    context.repository,
    layer,
    MAX_ENVELOPE_BYTES,
    'bundle',
  );
  if (typeof bytes === 'string') return invalid(bytes);
  const bundle = parseJsonObject(bytes);
  if (!bundle) return invalid('the sigstore bundle is not a JSON object');
  if (typeof bundle.mediaType !== 'string' || !isSigstoreBundleMediaType(bundle.mediaType)) {
    return invalid(`unsupported sigstore bundle media type ${JSON.stringify(bundle.mediaType ?? null)}`);
  }
  const material = bundle.verificationMaterial;
  if (!isJsonObject(material)) return invalid('the sigstore bundle has no verificationMaterial');
  const certificate = bundleCertificate(material);
  if (certificate === null) return invalid('the bundle’s certificate is not an X.509 certificate');

  const hasDsse = bundle.dsseEnvelope !== undefined;
  const hasMessage = bundle.messageSignature !== undefined;
  if (hasDsse === hasMessage)
    return invalid('a sigstore bundle holds exactly one of dsseEnvelope and messageSignature');
  return hasDsse
    ? judgeDsse(bundle.dsseEnvelope, certificate, context)
    : judgeMessageSignature(bundle.messageSignature, certificate, context);
}

/** v0.3 has `certificate`; v0.1/v0.2 an `x509CertificateChain` whose first entry is the leaf. Null: malformed. */
function bundleCertificate(material: JsonObject): SigningCertificate | undefined | null {
  let raw: unknown;
  if (isJsonObject(material.certificate)) raw = material.certificate.rawBytes;
  else if (isJsonObject(material.x509CertificateChain)) {
    const chain = material.x509CertificateChain.certificates;
    raw = Array.isArray(chain) && isJsonObject(chain[0]) ? chain[0].rawBytes : null;
  } else return undefined;
  const der = decodeBase64(raw);
  return (der && readCertificate(der)) ?? null;
}

function judgeDsse(
  envelope: unknown,
  certificate: SigningCertificate | undefined,
  context: CosignVerification,
): Judgement | undefined {
  if (!isJsonObject(envelope)) return invalid('dsseEnvelope is not an object');
  const payload = decodeBase64(envelope.payload);
  if (!payload) return invalid('the DSSE payload is not base64');
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    return invalid(
      `the DSSE payload is not an in-toto statement (${JSON.stringify(envelope.payloadType ?? null)})`,
    );
  }
  const statement = parseJsonObject(payload);
  if (!statement || typeof statement._type !== 'string' || !IN_TOTO_STATEMENT_TYPES.has(statement._type)) {
    return invalid('the DSSE payload is not an in-toto statement');
  }
  if (statement.predicateType !== COSIGN_SIGN_PREDICATE_TYPE) return undefined; // an attestation
  const signatures = Array.isArray(envelope.signatures)
    ? envelope.signatures.slice(0, MAX_DSSE_SIGNATURES)
    : [];
  const decoded = signatures.map((entry) => (isJsonObject(entry) ? decodeBase64(entry.sig) : undefined));
  if (decoded.length === 0 || decoded.some((signature) => signature === undefined)) {
    return invalid('the DSSE envelope has no signatures, or one that is not base64');
  }
  return judge(
    {
      signed: preAuthenticationEncoding(IN_TOTO_PAYLOAD_TYPE, payload),
      signatures: decoded as Uint8Array[],
      ...(certificate ? { certificate } : {}),
      bindingProblem: statementBindingProblem(statement, context.subjectDigest),
    },
    context.keys,
  );
}

/** DSSE v1 PAE: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in bytes as ASCII decimal. */
function preAuthenticationEncoding(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = Buffer.from(payloadType, 'utf8');
  const header = Buffer.from(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `, 'utf8');
  return Buffer.concat([header, payload]);
}

function statementBindingProblem(statement: JsonObject, subjectDigest: string): string | undefined {
  const digest = tryParseDigest(subjectDigest);
  if (!digest) return `the artifact digest ${subjectDigest} is not one Berth can match`;
  const subjects = Array.isArray(statement.subject) ? statement.subject : [];
  const names = subjects.some(
    (subject) =>
      isJsonObject(subject) &&
      isJsonObject(subject.digest) &&
      subject.digest[digest.algorithm] === digest.hex,
  );
  return names
    ? undefined
    : `the signed statement’s subjects do not include this artifact (${subjectDigest})`;
}

const MESSAGE_DIGEST_ALGORITHMS: Record<string, string> = {
  SHA2_256: 'sha256',
  SHA2_384: 'sha384',
  SHA2_512: 'sha512',
};

/**
 * The signature covers the message itself — for an image, its manifest's bytes — so those are read back through
 * the source by the subject digest (and re-hashed). `messageDigest` only identifies the message; protobuf-specs
 * forbids verifying the signature against it, and it must name this artifact.
 */
async function judgeMessageSignature(
  messageSignature: unknown,
  certificate: SigningCertificate | undefined,
  context: CosignVerification,
): Promise<Judgement> {
  if (!isJsonObject(messageSignature)) return invalid('messageSignature is not an object');
  const signature = decodeBase64(messageSignature.signature);
  if (!signature) return invalid('the messageSignature signature is not base64');
  const subject = tryParseDigest(context.subjectDigest);
  if (!subject) return invalid(`the artifact digest ${context.subjectDigest} is not one Berth can match`);

  let bindingProblem: string | undefined;
  const named = messageSignature.messageDigest;
  if (named !== undefined) {
    const algorithm = isJsonObject(named) ? MESSAGE_DIGEST_ALGORITHMS[String(named.algorithm)] : undefined;
    const value = isJsonObject(named) ? decodeBase64(named.digest) : undefined;
    if (!algorithm || !value) return invalid('the messageSignature’s messageDigest is malformed');
    if (algorithm !== subject.algorithm || Buffer.from(value).toString('hex') !== subject.hex) {
      bindingProblem = `the bundle signs another message (${algorithm}:${Buffer.from(value).toString('hex')}), not this artifact (${context.subjectDigest})`;
    }
  }

  let message: Uint8Array;
  try {
    message = await context.source.readBlob(context.repository, subject.value, MAX_ENVELOPE_BYTES);
  } catch (error) {
    return invalid(
      `a messageSignature bundle signs the manifest bytes themselves, which could not be read back (${(error as Error).message})`,
    );
  }
  if (createHash(subject.algorithm).update(message).digest('hex') !== subject.hex) {
    return invalid('the manifest bytes read back do not match the artifact digest');
  }
  return judge(
    { signed: message, signatures: [signature], ...(certificate ? { certificate } : {}), bindingProblem },
    context.keys,
  );
}
