import { createPublicKey, X509Certificate } from 'node:crypto';
import { REPOSITORY_PATTERN } from '../../lifecycle/index.js';
import { RegistryError } from '../../registry/index.js';
import { checkTrustedIdentity } from '../notation/index.js';
import { pemCertificateBlocks } from './pem-blocks.js';

/** The modes of `signatures.required`. */
export const SIGNATURE_MODES = ['off', 'warn', 'enforce'] as const;
export type SignatureMode = (typeof SIGNATURE_MODES)[number];

/** Names of keys and trust stores: what refusals and signature status print. */
export const TRUST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Upper bounds, so that one project's trust cannot make every verification slow. */
export const MAX_KEYS = 50;
export const MAX_CERTIFICATES = 20;
export const MAX_IDENTITIES = 50;
export const MAX_REPOSITORY_GLOBS = 50;

function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError('INVALID_REQUEST', { message, ...(detail !== undefined && { detail }) });
}

export function checkTrustName(name: string): string {
  if (!TRUST_NAME.test(name)) {
    throw invalid(`a name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`, {
      name,
    });
  }
  return name;
}

/**
 * A public key as a project may trust it: PEM SubjectPublicKeyInfo of an EC (P-256, P-384, P-521), Ed25519 or
 * RSA (2048 bits or more) key, the algorithms cosign, skopeo and the sigstore libraries sign with. Returns it
 * re-encoded (canonical SPKI PEM). A private key is refused rather than reduced to its public half: it should
 * never have been sent.
 */
export function normalizePublicKey(pem: string): string {
  if (/PRIVATE KEY/.test(pem)) {
    throw invalid('that is a private key: give the public key (cosign.pub, key.pub), never the private one');
  }
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (error) {
    throw invalid(`not a PEM public key: ${(error as Error).message}`);
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec') {
    if (!['prime256v1', 'secp384r1', 'secp521r1'].includes(details.namedCurve ?? '')) {
      throw invalid(`unsupported EC curve ${details.namedCurve}: use P-256, P-384 or P-521`);
    }
  } else if (type === 'rsa' || type === 'rsa-pss') {
    if ((details.modulusLength ?? 0) < 2048) throw invalid('RSA keys need at least 2048 bits');
  } else if (type !== 'ed25519') {
    throw invalid(`unsupported key type ${type}: use ECDSA, Ed25519 or RSA`);
  }
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

/** Every PEM certificate in `texts` (each may hold several), validated and re-encoded one per entry. */
export function normalizeCertificates(texts: readonly string[]): string[] {
  const blocks = texts.flatMap(pemCertificateBlocks);
  if (blocks.length === 0) throw invalid('give at least one PEM certificate (-----BEGIN CERTIFICATE-----)');
  if (blocks.length > MAX_CERTIFICATES) throw invalid(`at most ${MAX_CERTIFICATES} certificates`);
  return blocks.map((block, i) => {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(block);
    } catch (error) {
      throw invalid(`certificate ${i + 1} is not a valid X.509 certificate: ${(error as Error).message}`);
    }
    if (!certificate.ca) {
      throw invalid(
        `certificate ${i + 1} (${certificate.subject.replace(/\n/g, ', ')}) is not a CA certificate`,
      );
    }
    return certificate.toString();
  });
}

/**
 * Notary Project trust policy `trustedIdentities`: `*` (any identity the trust store vouches for) or
 * `x509.subject: <distinguished name>`.
 */
export function checkTrustedIdentities(identities: readonly string[]): string[] {
  if (identities.length === 0) throw invalid('give at least one trusted identity (`*` or `x509.subject: …`)');
  if (identities.length > MAX_IDENTITIES) throw invalid(`at most ${MAX_IDENTITIES} trusted identities`);
  return identities.map((identity) => {
    const trimmed = identity.trim();
    if (trimmed === '*') return trimmed;
    // The verifier's own parser decides: what it could not match is refused now, not ignored at pull time.
    const problem = /^x509\.subject:/.test(trimmed) ? checkTrustedIdentity(trimmed) : 'not x509.subject: …';
    if (problem !== undefined) {
      throw invalid(
        `trusted identity ${JSON.stringify(identity)}: ${problem}; use "*" or "x509.subject: C=US, ST=WA, O=Acme, CN=ci"`,
      );
    }
    return trimmed;
  });
}

/** Repository globs of a policy's scope (lifecycle/glob.ts), over the whole repository name. */
export function checkRepositoryGlobs(globs: readonly string[]): string[] {
  if (globs.length === 0)
    throw invalid('give at least one repository glob, or none at all for every repository');
  if (globs.length > MAX_REPOSITORY_GLOBS) throw invalid(`at most ${MAX_REPOSITORY_GLOBS} repository globs`);
  for (const glob of globs) {
    if (!REPOSITORY_PATTERN.test(glob)) {
      throw invalid('repository globs are name characters with *, ** and ?', { repository: glob });
    }
  }
  return [...new Set(globs)];
}

export function isSignatureMode(value: unknown): value is SignatureMode {
  return typeof value === 'string' && (SIGNATURE_MODES as readonly string[]).includes(value);
}
