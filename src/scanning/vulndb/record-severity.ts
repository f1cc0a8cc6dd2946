import type { Severity } from '../types.js';
import { cvssBaseScore, severityOfScore } from './cvss.js';

/** What a record says about its severity: a CVSS vector (scored), else the database's own rating, else nothing. */
export interface RecordSeverity {
  severity: Severity;
  score?: number;
  vector?: string;
}

/** An OSV `severity[]` entry. */
export interface SeverityEntry {
  type: string;
  score: string;
}

// v3 first: the version most advisories (NVD, GHSA) rate with, so scores line up with what users see elsewhere.
const VECTOR_TYPES = ['CVSS_V3', 'CVSS_V4'];

const RATINGS: Record<string, Severity> = {
  critical: 'Critical',
  high: 'High',
  important: 'High',
  moderate: 'Medium',
  medium: 'Medium',
  low: 'Low',
  negligible: 'Low',
  unimportant: 'Low',
};

const RANK: Severity[] = ['Unknown', 'Low', 'Medium', 'High', 'Critical'];

/**
 * `entries`: the record's and its affected entries' `severity[]`; `ratings`: the words databases use instead
 * (GHSA `database_specific.severity`, Debian's `urgency`, Ubuntu's priority…), of which the highest counts.
 */
export function recordSeverity(entries: SeverityEntry[], ratings: string[]): RecordSeverity {
  for (const type of VECTOR_TYPES) {
    for (const entry of entries) {
      if (entry.type !== type) continue;
      const score = cvssBaseScore(entry.score);
      if (score !== undefined) return { severity: severityOfScore(score), score, vector: entry.score.trim() };
    }
  }
  let severity: Severity = 'Unknown';
  for (const rating of ratings) {
    const mapped = RATINGS[rating.trim().toLowerCase()] ?? 'Unknown';
    if (RANK.indexOf(mapped) > RANK.indexOf(severity)) severity = mapped;
  }
  return { severity };
}
