// One rule for every cosign / sigstore signature, whatever carried it: which key made it, and whether what it
// signed names the artifact, decide 'verified', 'untrusted' or 'invalid'.
import type { SignatureResult } from '../types.js';
import { findTrustedSigner, type LoadedKey, type SigningCertificate, verifiesWith } from './public-keys.js';

export type Judgement = Pick<SignatureResult, 'status' | 'signer' | 'reason'>;

export interface SignedClaim {
  /** The exact bytes the signature covers. */
  signed: Uint8Array;
  /** Candidate signatures over `signed` (a DSSE envelope may hold several; cosign layers hold one). */
  signatures: readonly Uint8Array[];
  /** The keyless certificate that came with it, if any. */
  certificate?: SigningCertificate;
  /** Why what was signed does not name this artifact (wrong digest, malformed payload), or undefined when it does. */
  bindingProblem: string | undefined;
}

export function invalid(reason: string): Judgement {
  return { status: 'invalid', reason };
}

/**
 * The trusted keys are tried first, so a keyless certificate whose key the project trusts verifies like that key.
 * Without Fulcio roots and Rekor (not configured in Berth), a certificate alone earns 'untrusted'.
 */
export function judge(claim: SignedClaim, keys: readonly LoadedKey[]): Judgement {
  const trusted = findTrustedSigner(keys, claim.signed, claim.signatures);
  if (claim.bindingProblem !== undefined) {
    return { ...invalid(claim.bindingProblem), ...(trusted ? { signer: trusted.trusted.name } : {}) };
  }
  if (trusted) return { status: 'verified', signer: trusted.trusted.name };
  const certificate = claim.certificate;
  if (certificate) {
    if (!claim.signatures.some((signature) => verifiesWith(certificate.key, claim.signed, signature))) {
      return invalid(
        `the signature does not verify with the certificate it carries (${certificate.identity}): ` +
          'the payload or the signature was altered',
      );
    }
    return {
      status: 'untrusted',
      signer: certificate.identity,
      reason:
        'keyless signature by a certificate whose key the project does not trust; Berth does not check ' +
        'Fulcio certificate chains or the Rekor transparency log: add the signer’s public key to trust it',
    };
  }
  return {
    status: 'untrusted',
    reason:
      keys.length === 0
        ? 'the project trusts no public keys'
        : `not made by any of the project’s ${keys.length} trusted key${keys.length === 1 ? '' : 's'} ` +
          '(an unknown key, or the payload was altered after signing)',
  };
}
