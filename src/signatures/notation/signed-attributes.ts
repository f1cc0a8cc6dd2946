// The signed (protected) attributes both envelopes carry, checked by one set of rules:
// signature-specification.md "Signed Attributes", signature-envelope-jws.md / -cose.md "Protected Headers".
import {
  invalid,
  NOTATION_PAYLOAD_MEDIA_TYPE,
  type NotationAlgorithm,
  SIGNING_SCHEME_SIGNING_AUTHORITY,
  SIGNING_SCHEME_X509,
  type SignedAttributes,
} from './envelope.js';

export const HEADER_SIGNING_SCHEME = 'io.cncf.notary.signingScheme';
export const HEADER_SIGNING_TIME = 'io.cncf.notary.signingTime';
export const HEADER_AUTHENTIC_SIGNING_TIME = 'io.cncf.notary.authenticSigningTime';
export const HEADER_EXPIRY = 'io.cncf.notary.expiry';
const HEADER_VERIFICATION_PLUGIN = 'io.cncf.notary.verificationPlugin';
const HEADER_VERIFICATION_PLUGIN_MIN_VERSION = 'io.cncf.notary.verificationPluginMinVersion';

/** The critical headers this verifier understands and processes; any other critical header fails verification. */
const UNDERSTOOD_CRITICAL = new Set([HEADER_SIGNING_SCHEME, HEADER_AUTHENTIC_SIGNING_TIME, HEADER_EXPIRY]);

const ALGORITHMS = new Set<NotationAlgorithm>(['PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512']);

/** A protected header as each envelope format presents it to the shared rules. */
export interface ProtectedHeaderView {
  /** The algorithm, already named as in the JWS registry (COSE labels are mapped by the COSE parser). */
  alg: unknown;
  cty: unknown;
  crit: unknown;
  /** The protected parameters with string names (the `io.cncf.notary.*` ones among them). */
  named: ReadonlyMap<string, unknown>;
  /** Whether a `crit` entry names a parameter the format itself registers (JWS `alg`; COSE labels 0–8). */
  isRegistered(entry: unknown): boolean;
  /** The format's date/time encoding (RFC 3339 string in JWS, tag-1 epoch time in COSE). */
  readTime(value: unknown, name: string): Date;
}

export function readSignedAttributes(header: ProtectedHeaderView): SignedAttributes {
  const alg = header.alg;
  if (typeof alg !== 'string' || !ALGORITHMS.has(alg as NotationAlgorithm)) {
    invalid(
      `The signature algorithm ${describe(alg)} is not allowed by the Notary Project (only PS256/384/512 and ES256/384/512).`,
    );
  }
  if (header.cty !== NOTATION_PAYLOAD_MEDIA_TYPE) {
    invalid(`The payload content type ${describe(header.cty)} is not ${NOTATION_PAYLOAD_MEDIA_TYPE}.`);
  }

  const crit = readCrit(header);
  const scheme = header.named.get(HEADER_SIGNING_SCHEME);
  if (scheme === undefined) invalid(`The required protected header ${HEADER_SIGNING_SCHEME} is missing.`);
  if (scheme !== SIGNING_SCHEME_X509 && scheme !== SIGNING_SCHEME_SIGNING_AUTHORITY) {
    invalid(
      `The signing scheme ${describe(scheme)} is not supported (notary.x509, notary.x509.signingAuthority).`,
    );
  }
  if (!crit.has(HEADER_SIGNING_SCHEME))
    invalid(`The header ${HEADER_SIGNING_SCHEME} is not marked critical.`);

  const attributes: SignedAttributes = { alg: alg as NotationAlgorithm, signingScheme: scheme };
  const signingTime = header.named.get(HEADER_SIGNING_TIME);
  if (signingTime !== undefined) attributes.signingTime = header.readTime(signingTime, HEADER_SIGNING_TIME);
  const authentic = header.named.get(HEADER_AUTHENTIC_SIGNING_TIME);
  if (authentic !== undefined) {
    if (!crit.has(HEADER_AUTHENTIC_SIGNING_TIME)) {
      invalid(`The header ${HEADER_AUTHENTIC_SIGNING_TIME} is not marked critical.`);
    }
    attributes.authenticSigningTime = header.readTime(authentic, HEADER_AUTHENTIC_SIGNING_TIME);
  }
  const expiry = header.named.get(HEADER_EXPIRY);
  if (expiry !== undefined) {
    if (!crit.has(HEADER_EXPIRY)) invalid(`The header ${HEADER_EXPIRY} is not marked critical.`);
    attributes.expiry = header.readTime(expiry, HEADER_EXPIRY);
  }

  // Signing time is required and only valid with notary.x509; authentic signing time with signingAuthority.
  if (scheme === SIGNING_SCHEME_X509) {
    if (!attributes.signingTime) invalid(`The signing scheme notary.x509 requires ${HEADER_SIGNING_TIME}.`);
    if (attributes.authenticSigningTime) {
      invalid(`${HEADER_AUTHENTIC_SIGNING_TIME} is only valid with the notary.x509.signingAuthority scheme.`);
    }
  } else if (!attributes.authenticSigningTime) {
    invalid(`The signing scheme notary.x509.signingAuthority requires ${HEADER_AUTHENTIC_SIGNING_TIME}.`);
  }
  return attributes;
}

function readCrit(header: ProtectedHeaderView): Set<string> {
  const crit = header.crit;
  if (crit === undefined) invalid('The required protected header "crit" is missing.');
  if (!Array.isArray(crit) || crit.length === 0)
    invalid('The protected header "crit" is not a non-empty list.');
  const names = new Set<string>();
  for (const entry of crit) {
    if (header.isRegistered(entry))
      invalid(`The "crit" header lists the registered header ${describe(entry)}.`);
    if (typeof entry !== 'string') invalid(`The critical header ${describe(entry)} is not supported.`);
    if (names.has(entry)) invalid(`The "crit" header lists ${entry} twice.`);
    if (entry === HEADER_VERIFICATION_PLUGIN || entry === HEADER_VERIFICATION_PLUGIN_MIN_VERSION) {
      const plugin = header.named.get(HEADER_VERIFICATION_PLUGIN);
      invalid(
        `The signature requires the Notation verification plugin ${describe(plugin)}, which Berth cannot run.`,
      );
    }
    if (!UNDERSTOOD_CRITICAL.has(entry)) invalid(`The critical header ${entry} is not supported.`);
    if (!header.named.has(entry)) invalid(`The critical header ${entry} is listed in "crit" but absent.`);
    names.add(entry);
  }
  return names;
}

/** RFC 3339 date-time (signature-envelope-jws.md: `io.cncf.notary.signingTime` and friends). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export function parseRfc3339(value: unknown, name: string): Date {
  const time = typeof value === 'string' && RFC3339.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) invalid(`The header ${name} is not an RFC 3339 date-time.`);
  return new Date(time);
}

export function describe(value: unknown): string {
  if (value === undefined) return '(none)';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  return `(${typeof value})`;
}
