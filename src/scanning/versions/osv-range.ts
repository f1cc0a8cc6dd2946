import type { Ordering } from './invalid-version.js';

/** One OSV range event; exactly one key is set. */
export interface OsvEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
  limit?: string;
}

/** An ECOSYSTEM or SEMVER range (GIT ranges never reach here: they name commits, not versions). */
export interface OsvRange {
  type: 'ECOSYSTEM' | 'SEMVER';
  events: OsvEvent[];
}

/** What one OSV `affected[]` entry says about a package's versions. */
export interface AffectedVersions {
  ranges: OsvRange[];
  /** Versions listed one by one (affected whatever the ranges say). */
  versions?: string[];
}

type Compare = (a: string, b: string) => Ordering;

/**
 * Whether `version` is affected, per the OSV schema's evaluation: within a range, the highest event at or
 * below the version decides (introduced: affected; fixed: not; last_affected: not once above it), which is the
 * spec's walk over the sorted events; `limit`s end the range: a version at or above every limit is outside.
 * `introduced: "0"` is below every version. Also answers the lowest `fixed` above the version.
 * Throws InvalidVersion when a version cannot be read.
 */
export function evaluateAffected(
  compare: Compare,
  version: string,
  affected: AffectedVersions,
): { affected: boolean; fixed?: string } {
  let isAffected = affected.versions?.includes(version) ?? false;
  let fixed: string | undefined;
  for (const range of affected.ranges) {
    if (!inRange(compare, version, range)) continue;
    isAffected = true;
    for (const event of range.events) {
      if (event.fixed === undefined || compare(event.fixed, version) <= 0) continue;
      if (fixed === undefined || compare(event.fixed, fixed) < 0) fixed = event.fixed;
    }
  }
  return fixed === undefined ? { affected: isAffected } : { affected: isAffected, fixed };
}

function inRange(compare: Compare, version: string, range: OsvRange): boolean {
  const limits = range.events.flatMap((e) => (e.limit === undefined ? [] : [e.limit]));
  if (limits.length > 0 && limits.every((limit) => limit !== '*' && compare(version, limit) >= 0))
    return false;
  // The deciding event: the highest one that applies to the version. At equal versions a fixed or
  // last_affected wins over an introduced (an empty range, not an endless one).
  let decider: { at: string | undefined; introduced: boolean } | undefined;
  let sawIntroduced = false;
  for (const event of range.events) {
    let at: string | undefined;
    let introduced = false;
    if (event.introduced !== undefined) {
      sawIntroduced = true;
      introduced = true;
      at = event.introduced === '0' ? undefined : event.introduced;
      if (at !== undefined && compare(version, at) < 0) continue;
    } else if (event.fixed !== undefined) {
      at = event.fixed;
      if (compare(version, at) < 0) continue;
    } else if (event.last_affected !== undefined) {
      at = event.last_affected;
      if (compare(version, at) <= 0) continue;
    } else {
      continue;
    }
    if (decider === undefined) {
      decider = { at, introduced };
      continue;
    }
    const order =
      at === undefined
        ? decider.at === undefined
          ? 0
          : -1
        : decider.at === undefined
          ? 1
          : compare(at, decider.at);
    if (order > 0 || (order === 0 && !introduced)) decider = { at, introduced };
  }
  // A range without any `introduced` (invalid, but seen) is read as introduced at 0: never a silent miss.
  if (!sawIntroduced) return decider === undefined;
  return decider?.introduced ?? false;
}
