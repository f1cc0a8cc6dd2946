// Notary Project (notation) signature verification: one signature envelope (JWS or COSE) against the subject it
// claims to sign and the project's notation trust stores. Pure: no HTTP, no database, no clock unless `now` is
// left out.
//
// What is checked, in order (trust-store-trust-policy.md "Signature Verification", strict level):
// integrity — envelope structure, protected headers (cty, crit, signing scheme, times), the signing key's
// algorithm equal to `alg`, the signature itself, the certificate requirements of signature-specification.md
// and the payload's targetArtifact equal to the subject; expiry (`io.cncf.notary.expiry`); certificate validity;
// then authenticity — a certificate of the chain is in a trust store, and the signer matches its identities.
//
// What is not: TSA countersignatures (`io.cncf.notary.timestampSignature`) are not verified, so, as the spec
// requires without an authentic timestamp, every certificate must be valid now; the claimed signing time must
// also fall within every certificate's validity. Berth's trust stores carry no type (ca / signingAuthority), so
// a notary.x509.signingAuthority signature is held to the same rule: its authentic signing time must fall within
// the chain's validity, and the chain must be valid now too. No revocation (CRL/OCSP) checks, no plugins.
import { X509Certificate } from 'node:crypto';
import type { NotationTrust, SignatureFormat, SignatureResult } from '../types.js';
import {
  type ChainCertificate,
  checkCertificateRequirements,
  invalidAt,
  name,
  parseChain,
  validity,
} from './certificate-chain.js';
import { InvalidSignatureError, invalid, type ParsedEnvelope } from './envelope.js';
import { parseCoseEnvelope } from './envelope-cose.js';
import { parseJwsEnvelope } from './envelope-jws.js';
import { algorithmForKey, verifySignature } from './signature-algorithm.js';
import { ANY_IDENTITY, checkTrustedIdentity, matchesTrustedIdentity } from './trusted-identity.js';

export { checkTrustedIdentity } from './trusted-identity.js';

export const NOTATION_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';
export const NOTATION_JWS_MEDIA_TYPE = 'application/jose+json';
export const NOTATION_COSE_MEDIA_TYPE = 'application/cose';

export interface NotationInput {
  /** The signature envelope blob (the signature manifest's single layer). */
  envelope: Uint8Array;
  /** That layer's mediaType. */
  envelopeMediaType: string;
  /** The artifact the signature claims to sign. */
  subject: { digest: string; mediaType: string; size: number };
  /** The project's notation trust stores + trusted identities. */
  trust: readonly NotationTrust[];
  now?: Date;
}

type NotationResult = Omit<SignatureResult, 'signatureDigest'>;

/**
 * Never throws on bad input: a malformed envelope is { status: 'invalid', reason }. `signer` is the signing
 * certificate's subject ("C=US, ST=WA, O=Acme, CN=ci", ready for an `x509.subject:` identity) whenever the chain
 * parsed; an envelope media type that is neither JWS nor COSE is reported as `notation-jws`, invalid.
 */
export async function verifyNotationSignature(input: NotationInput): Promise<NotationResult> {
  const format: SignatureFormat =
    input.envelopeMediaType === NOTATION_COSE_MEDIA_TYPE ? 'notation-cose' : 'notation-jws';
  let signer: string | undefined;
  try {
    if (
      input.envelopeMediaType !== NOTATION_JWS_MEDIA_TYPE &&
      input.envelopeMediaType !== NOTATION_COSE_MEDIA_TYPE
    ) {
      invalid(
        `The signature envelope media type ${JSON.stringify(input.envelopeMediaType)} is not JWS or COSE.`,
      );
    }
    const envelope =
      format === 'notation-cose' ? parseCoseEnvelope(input.envelope) : parseJwsEnvelope(input.envelope);
    const chain = parseChain(envelope.certificates);
    const leaf = chain[0] as ChainCertificate;
    signer = leaf.subject;
    checkIntegrity(envelope, leaf, input.subject);
    checkCertificateRequirements(chain);
    checkTimes(envelope, chain, input.now ?? new Date());
    return { format, signer, ...checkAuthenticity(chain, input.trust) };
  } catch (error) {
    const reason =
      error instanceof InvalidSignatureError
        ? error.message
        : 'The signature envelope could not be processed.';
    return { format, status: 'invalid', ...(signer === undefined ? {} : { signer }), reason };
  }
}

function checkIntegrity(
  envelope: ParsedEnvelope,
  leaf: ChainCertificate,
  subject: NotationInput['subject'],
): void {
  const key = leaf.node.publicKey;
  const expected = algorithmForKey(key);
  if (envelope.attributes.alg !== expected) {
    invalid(
      `The envelope says ${envelope.attributes.alg}, but the signing certificate's key signs with ${expected}.`,
    );
  }
  if (!verifySignature(expected, key, envelope.signedBytes, envelope.signature)) {
    invalid(
      'The signature does not match the signed content: the envelope was altered or signed by another key.',
    );
  }
  // The payload is read only now that the signature over it verified (signature-specification.md).
  const target = readTargetArtifact(envelope.payload);
  if (target.digest !== subject.digest) {
    invalid(`The signature is for ${target.digest}, not for this artifact (${subject.digest}).`);
  }
  if (target.size !== subject.size) {
    invalid(`The signature is for an artifact of ${target.size} bytes, but this one has ${subject.size}.`);
  }
  if (target.mediaType !== subject.mediaType) {
    invalid(
      `The signature is for media type ${target.mediaType}, but this artifact is ${subject.mediaType}.`,
    );
  }
}

function readTargetArtifact(payload: Uint8Array): { digest: string; mediaType: string; size: number } {
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    invalid('The signed payload is not JSON.');
  }
  const target = (document as { targetArtifact?: unknown } | null)?.targetArtifact as
    | { digest?: unknown; mediaType?: unknown; size?: unknown }
    | undefined;
  if (
    typeof target !== 'object' ||
    target === null ||
    typeof target.digest !== 'string' ||
    typeof target.mediaType !== 'string' ||
    typeof target.size !== 'number'
  ) {
    invalid('The signed payload has no targetArtifact descriptor with mediaType, digest and size.');
  }
  return { digest: target.digest, mediaType: target.mediaType, size: target.size };
}

function checkTimes(envelope: ParsedEnvelope, chain: readonly ChainCertificate[], now: Date): void {
  const { expiry, signingTime, authenticSigningTime } = envelope.attributes;
  if (expiry && now >= expiry) {
    invalid(
      `The signature expired on ${expiry.toISOString()} (io.cncf.notary.expiry); the artifact needs a new signature.`,
    );
  }
  const signedAt = authenticSigningTime ?? signingTime;
  if (signedAt) {
    const notValid = invalidAt(chain, signedAt);
    if (notValid) {
      invalid(
        `The signature was made at ${signedAt.toISOString()}, when certificate ${name(notValid)} was not valid (${validity(notValid)}).`,
      );
    }
  }
  const notValidNow = invalidAt(chain, now);
  if (notValidNow) {
    const state = now < notValidNow.parsed.notBefore ? 'is not yet valid' : 'has expired';
    invalid(
      `Certificate ${name(notValidNow)} ${state} (${validity(notValidNow)}); without a trusted timestamp every certificate must be valid now.`,
    );
  }
}

function checkAuthenticity(
  chain: readonly ChainCertificate[],
  trust: readonly NotationTrust[],
): Pick<NotationResult, 'status' | 'reason'> {
  const signer = chain[0] as ChainCertificate;
  if (trust.length === 0) {
    return {
      status: 'untrusted',
      reason: "The project has no Notary Project trust store; add the signer's root CA certificate.",
    };
  }
  const reachedStores: NotationTrust[] = [];
  for (const store of trust) {
    if (!chainReaches(chain, store)) continue;
    if (
      store.trustedIdentities.some((identity) => matchesTrustedIdentity(identity, signer.parsed.subjectName))
    ) {
      return { status: 'verified' };
    }
    reachedStores.push(store);
  }
  const root = chain[chain.length - 1] as ChainCertificate;
  if (reachedStores.length === 0) {
    return {
      status: 'untrusted',
      reason: `The certificate chain (root ${name(root)}) leads to none of the project's notation trust stores (${trust.map((store) => store.name).join(', ')}).`,
    };
  }
  const names = reachedStores.map((store) => `"${store.name}"`).join(', ');
  // An identity the spec does not allow (e.g. without ST) matches nothing: say so, or the refusal is a riddle.
  const malformed = reachedStores
    .flatMap((store) => store.trustedIdentities)
    .map((identity) => [identity, checkTrustedIdentity(identity)] as const)
    .find(([, problem]) => problem !== undefined);
  const hint = malformed
    ? ` (the trusted identity ${JSON.stringify(malformed[0])} is ignored: ${malformed[1]})`
    : '';
  return {
    status: 'untrusted',
    reason: `The signer ${name(signer)} is not a trusted identity of trust store ${names}${hint}; add "x509.subject: ${signer.subject}" or "${ANY_IDENTITY}".`,
  };
}

/** Whether a certificate of the envelope's chain is one of the store's certificates (normally its root). */
function chainReaches(chain: readonly ChainCertificate[], store: NotationTrust): boolean {
  for (const pem of store.rootCertificatesPem) {
    let trusted: Buffer;
    try {
      trusted = new X509Certificate(pem).raw;
    } catch {
      continue; // a broken PEM trusts nothing; the trust API validates certificates when they are added
    }
    if (chain.some((cert) => trusted.equals(cert.der))) return true;
  }
  return false;
}
