import cvss from 'ae-cvss-calculator';
import { BoundedLru } from '../../cache/bounded-lru.js';
import type { Severity } from '../types.js';

// The metrics a vector must give for its base score to mean anything (the calculator scores missing ones as 0).
const BASE_METRICS: Record<string, string[]> = {
  '3.0': ['AV', 'AC', 'PR', 'UI', 'S', 'C', 'I', 'A'],
  '3.1': ['AV', 'AC', 'PR', 'UI', 'S', 'C', 'I', 'A'],
  '4.0': ['AV', 'AC', 'AT', 'PR', 'UI', 'VC', 'VI', 'VA', 'SC', 'SI', 'SA'],
};

// Databases repeat a few thousand distinct vectors across all their records, and scoring one is the import's
// costliest step: remember them.
const scores = new BoundedLru<string, { score: number | undefined }>({ max: 20_000 });

/** The CVSS v3.x / v4.0 base score of a vector, or undefined when it is not a complete one. */
export function cvssBaseScore(vector: string): number | undefined {
  let known = scores.get(vector);
  if (!known) {
    known = { score: score(vector) };
    scores.set(vector, known);
  }
  return known.score;
}

function score(vector: string): number | undefined {
  const [prefix, ...parts] = vector.trim().split('/');
  const version = /^CVSS:(3\.0|3\.1|4\.0)$/.exec(prefix ?? '')?.[1];
  const required = version && BASE_METRICS[version];
  if (!required) return undefined;
  const given = new Map(
    parts.map((part): [string, string] => [part.split(':')[0] ?? '', part.split(':')[1] ?? '']),
  );
  if (required.some((metric) => !given.get(metric) || given.get(metric) === 'X')) return undefined;
  try {
    const parsed = cvss.fromVector(vector.trim());
    const scores = parsed?.calculateScores();
    const score = scores?.base;
    return typeof score === 'number' && Number.isFinite(score) ? score : undefined;
  } catch {
    return undefined;
  }
}

/** CVSS v3/v4 qualitative rating bands; 0.0 (None) has no finding severity of its own: Unknown. */
export function severityOfScore(score: number): Severity {
  if (score >= 9) return 'Critical';
  if (score >= 7) return 'High';
  if (score >= 4) return 'Medium';
  if (score >= 0.1) return 'Low';
  return 'Unknown';
}
