import semver from 'semver';
import { InvalidVersion, type Ordering } from './invalid-version.js';

/**
 * Go module versions are SemVer with a `v` prefix (pseudo-versions `v0.0.0-20230101000000-abcdef123456` are
 * pre-releases and compare as such; `+incompatible` is build metadata). Toolchain versions (`go1.21.3`,
 * `1.21`, `1.21rc2`) name the stdlib: OSV writes them as SemVer (`1.21.0-rc.2`).
 */
export function compareGo(a: string, b: string): Ordering {
  return semver.compare(parse(a), parse(b));
}

function parse(version: string): semver.SemVer {
  const text = version.trim().replace(/^(go|v)/, '');
  const parsed = semver.parse(text) ?? semver.parse(toolchain(text));
  if (!parsed) throw new InvalidVersion('go', version);
  return parsed;
}

function toolchain(text: string): string {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?$/.exec(text);
  if (!match) return text;
  const [, major, minor, patch = '0', kind, number] = match;
  return `${major}.${minor}.${patch}${kind ? `-${kind}.${number}` : ''}`;
}
