// The COSE envelope (signature-envelope-cose.md): COSE_Sign1_Tagged (RFC 9052 §4.2),
// 18([protected bstr, unprotected map, payload bstr, signature bstr]), x5chain (label 33) in the unprotected
// header, and the signature over Sig_structure ["Signature1", protected, external_aad h'', payload].
import { type DecodeOptions, decode, encode, Tag } from 'cbor2';
import { invalid, type NotationAlgorithm, type ParsedEnvelope } from './envelope.js';
import { describe, readSignedAttributes } from './signed-attributes.js';

const COSE_SIGN1_TAG = 18;
const EPOCH_TIME_TAG = 1;
const LABEL_ALG = 1;
const LABEL_CRIT = 2;
const LABEL_CONTENT_TYPE = 3;
const LABEL_X5CHAIN = 33;
/** signature-envelope-cose.md "Supported alg header values". */
const ALGORITHMS = new Map<number, NotationAlgorithm>([
  [-37, 'PS256'],
  [-38, 'PS384'],
  [-39, 'PS512'],
  [-7, 'ES256'],
  [-35, 'ES384'],
  [-36, 'ES512'],
]);
// Tags stay Tag objects (no Date conversion), and duplicate map keys are an error (RFC 9052 §3).
const DECODE: DecodeOptions = { ignoreGlobalTags: true, preferMap: true, rejectDuplicateKeys: true };

export function parseCoseEnvelope(bytes: Uint8Array): ParsedEnvelope {
  let message: unknown;
  try {
    message = decode(bytes, DECODE);
  } catch {
    invalid('The COSE envelope is not well-formed CBOR.');
  }
  if (!(message instanceof Tag) || Number(message.tag) !== COSE_SIGN1_TAG) {
    invalid('The COSE envelope is not a COSE_Sign1_Tagged message (CBOR tag 18).');
  }
  const parts = message.contents;
  if (!Array.isArray(parts) || parts.length !== 4)
    invalid('The COSE_Sign1 message is not a 4-element array.');
  const [protectedBytes, unprotected, payload, signature] = parts as unknown[];
  if (!(protectedBytes instanceof Uint8Array) || protectedBytes.length === 0) {
    invalid('The COSE_Sign1 protected header is missing.');
  }
  if (!(unprotected instanceof Map)) invalid('The COSE_Sign1 unprotected header is not a map.');
  if (payload === null) invalid('The COSE_Sign1 payload is detached; Notary Project signatures embed it.');
  if (!(payload instanceof Uint8Array)) invalid('The COSE_Sign1 payload is not a byte string.');
  if (!(signature instanceof Uint8Array) || signature.length === 0) {
    invalid('The COSE_Sign1 signature is not a byte string.');
  }

  let protectedHeader: unknown;
  try {
    protectedHeader = decode(protectedBytes, DECODE);
  } catch {
    invalid('The COSE_Sign1 protected header is not well-formed CBOR.');
  }
  if (!(protectedHeader instanceof Map)) invalid('The COSE_Sign1 protected header is not a map.');
  for (const label of unprotected.keys()) {
    // RFC 9052 §3: a label must not appear in both buckets.
    if (protectedHeader.has(label))
      invalid(`The COSE header ${describe(label)} is both protected and unprotected.`);
  }

  const named = new Map<string, unknown>();
  for (const [label, value] of protectedHeader) if (typeof label === 'string') named.set(label, value);
  const alg = protectedHeader.get(LABEL_ALG);
  const attributes = readSignedAttributes({
    // COSE names algorithms by integer only; a text value such as "ES256" is not a COSE algorithm.
    alg: (typeof alg === 'number' && ALGORITHMS.get(alg)) || `COSE algorithm ${describe(alg)}`,
    cty: protectedHeader.get(LABEL_CONTENT_TYPE),
    crit: protectedHeader.get(LABEL_CRIT),
    named,
    // signature-envelope-cose.md, crit: it must not list the integer labels 0 to 8.
    isRegistered: (entry) => typeof entry === 'number' && entry >= 0 && entry <= 8,
    readTime: readEpochTime,
  });

  // x5chain is an array of DER certificates, or one bstr for a single certificate (RFC 9360 §2); the spec lets
  // it sit in the protected header too.
  const x5chain = unprotected.get(LABEL_X5CHAIN) ?? protectedHeader.get(LABEL_X5CHAIN);
  const certificates = x5chain instanceof Uint8Array ? [x5chain] : x5chain;
  if (!Array.isArray(certificates) || certificates.length === 0) {
    invalid('The COSE header x5chain (label 33, the certificate chain) is missing.');
  }
  for (const certificate of certificates) {
    if (!(certificate instanceof Uint8Array))
      invalid('An x5chain entry is not a DER certificate byte string.');
  }

  return {
    attributes,
    certificates: certificates as Uint8Array[],
    payload,
    signedBytes: encode(['Signature1', plainBytes(protectedBytes), new Uint8Array(0), plainBytes(payload)]),
    signature,
  };
}

/** A plain Uint8Array view (cbor2 would encode a Node Buffer as its JSON form rather than a byte string). */
function plainBytes(value: Uint8Array): Uint8Array {
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** RFC 8949 §3.4.2 epoch-based date/time: tag 1 around an integer or float count of seconds. */
function readEpochTime(value: unknown, name: string): Date {
  if (value instanceof Tag && Number(value.tag) === EPOCH_TIME_TAG) {
    const seconds = typeof value.contents === 'bigint' ? Number(value.contents) : value.contents;
    if (typeof seconds === 'number' && Number.isFinite(seconds)) {
      const time = new Date(seconds * 1000);
      if (!Number.isNaN(time.getTime())) return time;
    }
  }
  return invalid(`The header ${name} is not an epoch date/time (CBOR tag 1).`);
}
