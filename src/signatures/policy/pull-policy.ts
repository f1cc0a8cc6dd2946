import type { SignatureResult, SignatureVerdict } from '../types.js';

/** The policy's name, as refusals, audit events and metrics name it. */
export const SIGNATURES_REQUIRED = 'signatures.required';

/** What the pull-time policy knows of one artifact (a manifest) once its signatures were looked at. */
export type Assessment =
  /** Signatures, SBOMs and other attachments: always pullable, so that clients can fetch and verify them. */
  | { kind: 'exempt'; why: 'signature' | 'referrer' | 'attachment' }
  /** A signature from a trusted key or identity covers it (directly, or through an index listing it). */
  | { kind: 'verified'; signer: string; via?: string }
  | { kind: 'unverified'; verdict: SignatureVerdict };

/** A blob: pullable when it is part of a pullable artifact of the repository. */
export type BlobAssessment = { kind: 'covered'; manifest: string } | { kind: 'uncovered'; manifests: number };

export interface PolicyInForce {
  project: string;
  mode: 'off' | 'warn' | 'enforce';
  /** The repository globs the policy is scoped to; null: every repository of the project. */
  repositories: readonly string[] | null;
}

export type PullDecision =
  | { outcome: 'allow' }
  /** Served; the message says what the policy would have refused (audited). */
  | { outcome: 'warn'; policy: string; message: string }
  /** Served because the reader may bypass policies (audited). */
  | { outcome: 'bypass'; policy: string; message: string }
  | { outcome: 'refuse'; policy: string; message: string };

/** `project team requires signatures (policy signatures.required=enforce for repositories team/**)` */
export function ruleText(policy: PolicyInForce): string {
  const scope = policy.repositories === null ? '' : ` for repositories ${policy.repositories.join(', ')}`;
  return `project ${policy.project} requires signatures (policy ${SIGNATURES_REQUIRED}=${policy.mode}${scope})`;
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

function describeResult(result: SignatureResult): string {
  if (result.status === 'untrusted') return 'made by an unknown key';
  if (result.status === 'invalid') return `invalid${result.reason ? ` (${result.reason})` : ''}`;
  return `verified${result.signer ? ` (${result.signer})` : ''}`;
}

/**
 * What was missing, in words: `no signature from a trusted key; 1 signature present, made by an unknown key`,
 * or `…; 2 signatures present: 1 made by an unknown key, 1 invalid (payload names another digest)`.
 */
export function missingText(verdict: SignatureVerdict): string {
  const found = verdict.signatures;
  const head = 'no signature from a trusted key';
  if (found.length === 0) return `${head}; the artifact is not signed`;
  if (found.length === 1)
    return `${head}; 1 signature present, ${describeResult(found[0] as SignatureResult)}`;
  const counts = new Map<string, number>();
  for (const result of found) {
    const text = describeResult(result);
    counts.set(text, (counts.get(text) ?? 0) + 1);
  }
  const parts = [...counts].map(([text, count]) => `${count} ${text}`);
  return `${head}; ${plural(found.length, 'signature')} present: ${parts.join(', ')}`;
}

/**
 * The pull-time decision, in one place: a pure function of what is known about the artifact (or blob), the
 * project's policy and whether the reader may bypass policies.
 */
export function decidePull(
  assessment: Assessment | BlobAssessment,
  policy: PolicyInForce,
  reader: { mayBypass: boolean },
): PullDecision {
  if (policy.mode === 'off') return { outcome: 'allow' };
  if (assessment.kind === 'exempt' || assessment.kind === 'verified' || assessment.kind === 'covered') {
    return { outcome: 'allow' };
  }
  const missing =
    assessment.kind === 'unverified'
      ? missingText(assessment.verdict)
      : `it is part of no signed image in the repository${
          assessment.manifests === 0 ? '' : ` (${plural(assessment.manifests, 'image')} use it, none signed)`
        }`;
  const message = `${ruleText(policy)}: ${missing}`;
  if (policy.mode === 'warn') return { outcome: 'warn', policy: SIGNATURES_REQUIRED, message };
  if (reader.mayBypass) return { outcome: 'bypass', policy: SIGNATURES_REQUIRED, message };
  return { outcome: 'refuse', policy: SIGNATURES_REQUIRED, message };
}
