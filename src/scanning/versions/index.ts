import { compareApk } from './apk.js';
import { compareDpkg } from './dpkg.js';
import { compareGo } from './go.js';
import type { Ordering } from './invalid-version.js';
import { compareMaven } from './maven.js';
import { comparePep440 } from './pep440.js';
import { compareRpm } from './rpm.js';
import { compareSemver } from './semver.js';

export { InvalidVersion, type Ordering } from './invalid-version.js';
export { type AffectedVersions, evaluateAffected, type OsvEvent, type OsvRange } from './osv-range.js';

/** How an ecosystem orders its versions. */
export type VersionScheme = 'dpkg' | 'apk' | 'rpm' | 'semver' | 'go' | 'pep440' | 'maven';

const COMPARATORS: Record<VersionScheme, (a: string, b: string) => Ordering> = {
  dpkg: compareDpkg,
  apk: compareApk,
  rpm: compareRpm,
  semver: compareSemver,
  go: compareGo,
  pep440: comparePep440,
  maven: compareMaven,
};

/** -1, 0 or 1 as `a` is older than, the same as, or newer than `b`; throws InvalidVersion on unreadable text. */
export function compareVersions(scheme: VersionScheme, a: string, b: string): Ordering {
  return COMPARATORS[scheme](a, b);
}

export function comparator(scheme: VersionScheme): (a: string, b: string) => Ordering {
  return COMPARATORS[scheme];
}
