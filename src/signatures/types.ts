// The shared vocabulary of signature verification: what a project trusts, and what was found for an artifact.
// The format verifiers (cosign/, notation/) and the pull-time policy (policy/) all speak these types.

/** A public key a project trusts for cosign / sigstore / skopeo signatures (PEM SubjectPublicKeyInfo). */
export interface TrustedKey {
  id: number;
  /** The name the owner gave it ("ci-key"): refusals and signature status name the key by it. */
  name: string;
  publicKeyPem: string;
}

/**
 * A Notary Project trust store (root CA certificates, PEM) with the identities trusted to sign through it
 * (Notary Project trust policy: `trustedIdentities`, e.g. "x509.subject: C=US, ST=WA, O=Acme, CN=ci" or "*").
 */
export interface NotationTrust {
  id: number;
  name: string;
  rootCertificatesPem: string[];
  trustedIdentities: string[];
}

/** Everything a project trusts; `version` changes whenever any of it does (verification caches key on it). */
export interface TrustConfig {
  version: number;
  keys: TrustedKey[];
  notation: NotationTrust[];
}

export type SignatureFormat = 'cosign' | 'sigstore-bundle' | 'notation-jws' | 'notation-cose';

/**
 * One signature found for an artifact. `verified`: good cryptography over a payload naming this artifact's
 * digest, by something the project trusts; `untrusted`: good but by an unknown key or identity (or no trust
 * configured); `invalid`: broken (bad signature, payload for another digest, expired certificate, malformed).
 */
export interface SignatureResult {
  format: SignatureFormat;
  /** The digest of the signature artifact's manifest (the `.sig` tag's manifest or the referrer). */
  signatureDigest: string;
  status: 'verified' | 'untrusted' | 'invalid';
  /** Who signed, when known: the trusted key's name, or the certificate subject. */
  signer?: string;
  /** Why it is not `verified`, in words a user can act on. */
  reason?: string;
}

/** Every signature found for one artifact digest, and whether at least one is `verified`. */
export interface SignatureVerdict {
  digest: string;
  verified: boolean;
  signatures: SignatureResult[];
}
