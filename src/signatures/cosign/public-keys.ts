// Signature checks over a payload with a public key, for the key types cosign, sigstore and skopeo sign with.
// cosign's signatures carry no algorithm identifier (SIGNATURE_SPEC.md "Signature Schemes"): the key decides.
import { constants, createPublicKey, type KeyObject, verify, X509Certificate } from 'node:crypto';
import type { TrustedKey } from '../types.js';
import { MAX_SIGNATURE_BYTES } from './wire-format.js';

export interface LoadedKey {
  trusted: TrustedKey;
  key: KeyObject;
}

/** The project's trusted keys as key objects; a PEM that does not parse is left out (it can verify nothing). */
export function loadTrustedKeys(keys: readonly TrustedKey[]): LoadedKey[] {
  const loaded: LoadedKey[] = [];
  for (const trusted of keys) {
    try {
      const key = createPublicKey({ key: trusted.publicKeyPem, format: 'pem' });
      if (key.type === 'public') loaded.push({ trusted, key });
    } catch {
      // not a public key: the trust API validates on input; a bad row simply matches nothing
    }
  }
  return loaded;
}

/**
 * Hashes tried per ECDSA curve: the curve's own (cosign's default verifier) first, then SHA-256, which
 * containers/image (skopeo, podman) hard-codes for sigstore signatures whatever the curve.
 */
const EC_HASHES: Record<string, string[]> = {
  prime256v1: ['sha256'],
  secp384r1: ['sha384', 'sha256'],
  secp521r1: ['sha512', 'sha256'],
};

/**
 * Whether `signature` is `key`'s signature over `data`: ECDSA (P-256/P-384/P-521, ASN.1 DER as Go's
 * crypto/ecdsa writes it), Ed25519 (pure, over the data), RSA PKCS#1 v1.5 or RSA-PSS (SHA-256, as sigstore's
 * RSA verifiers default to). Never throws: a malformed signature is simply not a valid one.
 */
export function verifiesWith(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length === 0 || signature.length > MAX_SIGNATURE_BYTES) return false;
  try {
    switch (key.asymmetricKeyType) {
      case 'ec': {
        const hashes = EC_HASHES[key.asymmetricKeyDetails?.namedCurve ?? ''] ?? [];
        return hashes.some((hash) => verify(hash, data, { key, dsaEncoding: 'der' }, signature));
      }
      case 'ed25519':
        return verify(null, data, key, signature);
      case 'rsa':
        return (
          verify('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING }, signature) ||
          verify('sha256', data, pss(key), signature)
        );
      case 'rsa-pss':
        return verify(key.asymmetricKeyDetails?.hashAlgorithm ?? 'sha256', data, pss(key), signature);
      default:
        return false;
    }
  } catch {
    return false;
  }
}

function pss(key: KeyObject) {
  return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO };
}

/** The first trusted key that verifies any of `signatures` over `data`. */
export function findTrustedSigner(
  keys: readonly LoadedKey[],
  data: Uint8Array,
  signatures: readonly Uint8Array[],
): LoadedKey | undefined {
  return keys.find(({ key }) => signatures.some((signature) => verifiesWith(key, data, signature)));
}

/** A signing certificate (keyless cosign / sigstore): its key, and words naming who it was issued to. */
export interface SigningCertificate {
  key: KeyObject;
  identity: string;
}

/** Parses a PEM or DER certificate; undefined when it is not one. */
export function readCertificate(input: string | Uint8Array): SigningCertificate | undefined {
  try {
    const certificate = new X509Certificate(typeof input === 'string' ? input : Buffer.from(input));
    return { key: certificate.publicKey, identity: describeCertificate(certificate) };
  } catch {
    return undefined;
  }
}

/** Fulcio certificates have an empty subject and the identity in the SAN (an email or a workflow URI). */
function describeCertificate(certificate: X509Certificate): string {
  const san = certificate.subjectAltName?.trim();
  const subject = certificate.subject.replace(/\n/g, ', ').trim();
  const issuer = certificate.issuer.replace(/\n/g, ', ').trim();
  const who = san || subject || 'an unnamed subject';
  return issuer ? `${who} (issued by ${issuer})` : who;
}
