import { projectOf } from '../auth/index.js';
import type { ManifestRow } from '../metadata/index.js';
import type { Assessment } from './policy/pull-policy.js';
import { decidePull } from './policy/pull-policy.js';
import type { ProjectSignaturePolicy } from './trust/trust-service.js';
import type { SignatureResult, SignatureVerdict } from './types.js';

/**
 * An artifact's signature status, as the artifact view shows it:
 * - `verified`: a signature from a trusted key or identity (`verifiedBy` names them);
 * - `untrusted`: signed, but by nothing the project trusts;
 * - `invalid`: signatures present, none of them sound (each result says why);
 * - `unsigned`: no signature at all.
 */
export type SignatureStatus = 'verified' | 'untrusted' | 'invalid' | 'unsigned';

export interface ArtifactSignatureView {
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  signature: {
    status: SignatureStatus;
    verifiedBy: string[];
    signatures: SignatureResult[];
  };
  /** What the project's pull policy makes of it. */
  policy: {
    mode: 'off' | 'warn' | 'enforce';
    /** Whether the policy covers the repository. */
    covers: boolean;
    /** Whether an ordinary reader may pull it (under warn: served, with an audit event). */
    pullable: boolean;
    /** Why it is pullable without a signature of its own, or why not. */
    reason: string;
  };
}

export function signatureStatus(verdict: SignatureVerdict): ArtifactSignatureView['signature'] {
  const verifiedBy = verdict.signatures
    .filter((result) => result.status === 'verified')
    .map((result) => result.signer ?? result.format);
  const status: SignatureStatus = verdict.verified
    ? 'verified'
    : verdict.signatures.length === 0
      ? 'unsigned'
      : verdict.signatures.some((result) => result.status === 'untrusted')
        ? 'untrusted'
        : 'invalid';
  return { status, verifiedBy, signatures: verdict.signatures };
}

function reasonOf(assessment: Assessment, policy: ProjectSignaturePolicy): string {
  if (assessment.kind === 'exempt') {
    return assessment.why === 'signature'
      ? 'a signature: always pullable'
      : assessment.why === 'referrer'
        ? 'a referrer (signature, SBOM or attestation): always pullable'
        : 'an attachment (attestation or SBOM): always pullable';
  }
  if (assessment.kind === 'verified') {
    return assessment.via
      ? `listed by the signed index ${assessment.via} (signed by ${assessment.signer})`
      : `signed by ${assessment.signer}`;
  }
  const decision = decidePull(assessment, policy, { mayBypass: false });
  return decision.outcome === 'allow' ? 'no signature needed' : decision.message;
}

/** The view of one manifest: its verdict, and the policy's answer for an ordinary reader. */
export function artifactView(
  repository: string,
  manifest: ManifestRow,
  verdict: SignatureVerdict,
  assessment: Assessment,
  policy: ProjectSignaturePolicy,
): ArtifactSignatureView {
  const covers = policy.covers(repository);
  const decision = covers ? decidePull(assessment, policy, { mayBypass: false }) : { outcome: 'allow' };
  return {
    repository,
    digest: manifest.digest,
    mediaType: manifest.mediaType,
    size: manifest.size,
    signature: signatureStatus(verdict),
    policy: {
      mode: policy.mode,
      covers,
      pullable: decision.outcome !== 'refuse',
      reason: covers
        ? reasonOf(assessment, policy)
        : `project ${projectOf(repository)} requires no signature here`,
    },
  };
}
