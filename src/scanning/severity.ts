import type { Finding, Severity } from './types.js';

/** Lowest to highest. */
export const SEVERITIES: readonly Severity[] = ['Unknown', 'Low', 'Medium', 'High', 'Critical'];

export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

export function isSeverity(value: unknown): value is Severity {
  return typeof value === 'string' && (SEVERITIES as readonly string[]).includes(value);
}

/** Counts per severity, what a table or a policy shows first. */
export interface SeveritySummary {
  total: number;
  critical: number;
  high: number;
  medium: number;
  low: number;
  unknown: number;
  /** Findings with a fixed version to upgrade to. */
  fixable: number;
}

export function summarize(findings: readonly Finding[]): SeveritySummary {
  const summary: SeveritySummary = {
    total: findings.length,
    critical: 0,
    high: 0,
    medium: 0,
    low: 0,
    unknown: 0,
    fixable: 0,
  };
  for (const finding of findings) {
    const key = finding.severity.toLowerCase() as Lowercase<Severity>;
    summary[key] += 1;
    if (finding.fixedVersion !== undefined) summary.fixable += 1;
  }
  return summary;
}

/** Most severe first, then highest score, then by id: the order reports and refusals list findings in. */
export function bySeverity(a: Finding, b: Finding): number {
  return (
    severityRank(b.severity) - severityRank(a.severity) ||
    (b.score ?? -1) - (a.score ?? -1) ||
    a.id.localeCompare(b.id) ||
    a.package.name.localeCompare(b.package.name)
  );
}
