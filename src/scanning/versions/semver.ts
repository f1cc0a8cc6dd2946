import semver from 'semver';
import { InvalidVersion, type Ordering } from './invalid-version.js';

/** SemVer 2.0.0 precedence (npm, crates.io, OSV `SEMVER` ranges); build metadata is ignored. */
export function compareSemver(a: string, b: string): Ordering {
  return semver.compare(parse(a), parse(b));
}

function parse(version: string): semver.SemVer {
  const parsed = semver.parse(version.trim());
  if (!parsed) throw new InvalidVersion('semver', version);
  return parsed;
}
