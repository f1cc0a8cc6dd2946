// The JWS envelope (signature-envelope-jws.md): JWS JSON Serialization, flattened, one signature:
// { payload, protected, header: { x5c, io.cncf.notary.signingAgent, … }, signature }.
import { invalid, type ParsedEnvelope } from './envelope.js';
import { parseRfc3339, readSignedAttributes } from './signed-attributes.js';

const TOP_LEVEL = new Set(['payload', 'protected', 'header', 'signature']);
/** Header parameters RFC 7515 §4.1 registers: `crit` may not name them (signature-envelope-jws.md, `crit`). */
const REGISTERED = new Set([
  'alg',
  'jku',
  'jwk',
  'kid',
  'x5u',
  'x5c',
  'x5t',
  'x5t#S256',
  'typ',
  'cty',
  'crit',
]);
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function parseJwsEnvelope(bytes: Uint8Array): ParsedEnvelope {
  let envelope: unknown;
  try {
    envelope = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    invalid('The JWS envelope is not valid UTF-8 JSON.');
  }
  if (!isObject(envelope)) invalid('The JWS envelope is not a JSON object.');
  if ('signatures' in envelope) {
    invalid('The JWS envelope uses the general JSON serialization; Notary Project signatures are flattened.');
  }
  for (const key of Object.keys(envelope)) {
    if (!TOP_LEVEL.has(key))
      invalid(`The JWS envelope has an unsupported top-level field ${JSON.stringify(key)}.`);
  }
  const { payload, protected: protectedB64, header, signature } = envelope;
  if (typeof payload !== 'string' || !BASE64URL.test(payload)) invalid('The JWS payload is not base64url.');
  if (typeof protectedB64 !== 'string' || protectedB64 === '' || !BASE64URL.test(protectedB64)) {
    invalid('The JWS protected header is missing or not base64url.');
  }
  if (typeof signature !== 'string' || signature === '' || !BASE64URL.test(signature)) {
    invalid('The JWS signature is missing or not base64url.');
  }
  if (!isObject(header))
    invalid('The JWS envelope has no unprotected header (it carries the certificate chain).');

  let protectedHeader: unknown;
  try {
    protectedHeader = JSON.parse(Buffer.from(protectedB64, 'base64url').toString('utf8'));
  } catch {
    invalid('The JWS protected header is not JSON.');
  }
  if (!isObject(protectedHeader)) invalid('The JWS protected header is not a JSON object.');
  for (const key of Object.keys(header)) {
    // RFC 7515 §7.2.1: the protected and unprotected header parameter names must be disjoint.
    if (Object.hasOwn(protectedHeader, key))
      invalid(`The JWS header ${key} is both protected and unprotected.`);
  }

  const attributes = readSignedAttributes({
    alg: protectedHeader.alg,
    cty: protectedHeader.cty,
    crit: protectedHeader.crit,
    named: new Map(Object.entries(protectedHeader)),
    isRegistered: (entry) => typeof entry === 'string' && REGISTERED.has(entry),
    readTime: parseRfc3339,
  });

  const x5c = header.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0)
    invalid('The JWS header x5c (the certificate chain) is missing.');
  const certificates = x5c.map((entry) => {
    if (typeof entry !== 'string' || entry === '' || !BASE64.test(entry)) {
      invalid('An x5c entry is not a base64 DER certificate.');
    }
    return new Uint8Array(Buffer.from(entry, 'base64'));
  });

  return {
    attributes,
    certificates,
    payload: new Uint8Array(Buffer.from(payload, 'base64url')),
    // signature-envelope-jws.md "Create the JWS Signing Input": ASCII(protected '.' payload), as transmitted.
    signedBytes: new Uint8Array(Buffer.from(`${protectedB64}.${payload}`, 'ascii')),
    signature: new Uint8Array(Buffer.from(signature, 'base64url')),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
