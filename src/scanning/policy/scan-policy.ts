import { bySeverity, severityRank } from '../severity.js';
import type { Finding, ImageFacts, Severity } from '../types.js';

/** Policy names, as refusals, audit events and metrics name them. */
export const POLICY = {
  severity: 'scanning.severity',
  root: 'scanning.root',
  ssh: 'scanning.ssh',
  unscanned: 'scanning.unscanned',
} as const;

export interface AllowlistEntry {
  /** A CVE or advisory id; matches a finding's id or any of its aliases. */
  id: string;
  /** Ms since the epoch; the entry stops counting after it. */
  expiresAt?: number;
  reason?: string;
}

/** A project's pull-time scanning policies. */
export interface ScanPolicy {
  project: string;
  /** Refuse images with a finding of this severity or above (allowlisted ones aside); null: off. */
  blockSeverity: Severity | null;
  allowlist: readonly AllowlistEntry[];
  blockRoot: boolean;
  blockSsh: boolean;
  /** Refuse images without a finished scan. */
  blockUnscanned: boolean;
}

/** What is known of an image when it is pulled. */
export type ScanState =
  | { kind: 'not-scanned' }
  | { kind: 'pending'; status: 'queued' | 'running' }
  | { kind: 'failed'; error: string }
  | { kind: 'scanned'; findings: readonly Finding[]; facts: ImageFacts | null };

export type ScanDecision = { outcome: 'allow' } | { outcome: 'refuse'; policy: string; message: string };

export function isActive(policy: ScanPolicy): boolean {
  return policy.blockSeverity !== null || policy.blockRoot || policy.blockSsh || policy.blockUnscanned;
}

function allowlisted(finding: Finding, allowlist: readonly AllowlistEntry[], now: number): boolean {
  return allowlist.some(
    (entry) =>
      (entry.expiresAt === undefined || entry.expiresAt > now) &&
      (entry.id === finding.id || finding.aliases.includes(entry.id)),
  );
}

function describe(finding: Finding): string {
  const fix = finding.fixedVersion ? `, fixed in ${finding.fixedVersion}` : ', no fix yet';
  const score = finding.score !== undefined ? ` ${finding.score.toFixed(1)}` : '';
  return `${finding.id} (${finding.severity}${score}) in ${finding.package.name} ${finding.package.version}${fix}`;
}

/** At most this many findings are named in a refusal; the rest are counted. */
const NAMED = 3;

/**
 * The pull-time decision, a pure function of what the scan found, the project's policy and the time (the
 * allowlist expires). The first policy that refuses is named: unscanned, then root, SSH, severity.
 */
export function decideScanPull(state: ScanState, policy: ScanPolicy, now: number): ScanDecision {
  if (!isActive(policy)) return { outcome: 'allow' };
  const rule = (name: string, setting: string) => `project ${policy.project} ${setting} (policy ${name})`;
  if (state.kind !== 'scanned') {
    if (!policy.blockUnscanned) return { outcome: 'allow' };
    const why =
      state.kind === 'pending'
        ? `its scan is ${state.status === 'queued' ? 'queued' : 'running'}; try again shortly`
        : state.kind === 'failed'
          ? `its scan failed (${state.error})`
          : 'it has not been scanned';
    return {
      outcome: 'refuse',
      policy: POLICY.unscanned,
      message: `${rule(POLICY.unscanned, 'refuses images that are not scanned')}: ${why}`,
    };
  }
  const facts = state.facts;
  if (policy.blockRoot && facts?.runsAsRoot) {
    const user = facts.user === '' ? 'no User set, so root' : `User "${facts.user}"`;
    return {
      outcome: 'refuse',
      policy: POLICY.root,
      message: `${rule(POLICY.root, 'refuses images that run as root')}: the image config has ${user}`,
    };
  }
  if (policy.blockSsh && facts?.sshServer.installed) {
    const evidence = facts.sshServer.evidence ? ` (${facts.sshServer.evidence})` : '';
    return {
      outcome: 'refuse',
      policy: POLICY.ssh,
      message: `${rule(POLICY.ssh, 'refuses images with an SSH server')}: one is installed${evidence}`,
    };
  }
  if (policy.blockSeverity !== null) {
    const threshold = severityRank(policy.blockSeverity);
    const blocking = state.findings
      .filter((f) => severityRank(f.severity) >= threshold && !allowlisted(f, policy.allowlist, now))
      .sort(bySeverity);
    if (blocking.length > 0) {
      const named = blocking.slice(0, NAMED).map(describe).join('; ');
      const more = blocking.length > NAMED ? `; and ${blocking.length - NAMED} more` : '';
      const setting = `refuses images with vulnerabilities of severity ${policy.blockSeverity} or above`;
      return {
        outcome: 'refuse',
        policy: POLICY.severity,
        message: `${rule(`${POLICY.severity}=${policy.blockSeverity}`, setting)}: ${named}${more}`,
      };
    }
  }
  return { outcome: 'allow' };
}
