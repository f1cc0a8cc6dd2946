import type { OsRelease, Package } from '../types.js';
import type { VersionScheme } from '../versions/index.js';

// OSV names ecosystems `Debian:12`, `Ubuntu:22.04:LTS`, `Alpine:v3.19`, `Red Hat:enterprise_linux:9::appstream`,
// `npm`, `PyPI`… Records are indexed under a normalised key that the matcher can compute from a package and
// the image's OS: `Debian:12`, `Ubuntu:22.04`, `Alpine:v3.19`, `Red Hat:9`, `Rocky Linux:9`, `npm`.

const SCHEMES: Record<string, VersionScheme> = {
  Debian: 'dpkg',
  Ubuntu: 'dpkg',
  Alpine: 'apk',
  'Red Hat': 'rpm',
  'Rocky Linux': 'rpm',
  AlmaLinux: 'rpm',
  openSUSE: 'rpm',
  SUSE: 'rpm',
  npm: 'semver',
  'crates.io': 'semver',
  Go: 'go',
  PyPI: 'pep440',
  Maven: 'maven',
};

/** The version scheme of an indexed ecosystem key (`Debian:12` → dpkg); undefined for ecosystems Berth does not scan. */
export function schemeOf(ecosystemKey: string): VersionScheme | undefined {
  return SCHEMES[ecosystemKey.split(':')[0] as string];
}

/**
 * The index key of an OSV ecosystem, or undefined when Berth never matches it (RubyGems, Ubuntu Pro, …).
 * Ubuntu's `:LTS` suffix is dropped (`Ubuntu:22.04:LTS` and `Ubuntu:22.04` are one release), Red Hat keeps
 * only the major release (its CPE-like streams all apply to the same RPMs).
 */
export function ecosystemKey(osvEcosystem: string): string | undefined {
  const parts = osvEcosystem.split(':');
  const base = parts[0] as string;
  if (!(base in SCHEMES)) return undefined;
  if (base === 'Ubuntu') {
    if (parts[1] === 'Pro') return undefined;
    return parts[1] ? `Ubuntu:${parts[1]}` : 'Ubuntu';
  }
  if (base === 'Red Hat') {
    const release = /^enterprise_linux:(\d+)/.exec(parts.slice(1).join(':'))?.[1];
    return release ? `Red Hat:${release}` : 'Red Hat';
  }
  return osvEcosystem;
}

/** The name a package is indexed under: PyPI names per PEP 503, others as written. */
export function normaliseName(ecosystemKey: string, name: string): string {
  return ecosystemKey === 'PyPI' ? name.toLowerCase().replace(/[-_.]+/g, '-') : name;
}

/** Where to look a package up: the ecosystem keys (most specific first), the name, and the version to compare. */
export interface PackageLookup {
  ecosystems: string[];
  name: string;
  version: string;
}

/** How an installed package is found in OSV data; undefined when nothing can be said (a deb without an OS). */
export function lookupOf(pkg: Package, os?: OsRelease): PackageLookup | undefined {
  switch (pkg.type) {
    case 'deb':
    case 'apk': {
      const ecosystems = distroEcosystems(pkg.type, os);
      if (!ecosystems) return undefined;
      // Debian and Alpine advisories name source packages (OSV does too), fixed in source versions.
      return {
        ecosystems,
        name: pkg.source?.name ?? pkg.name,
        version: pkg.source?.version ?? pkg.version,
      };
    }
    case 'rpm': {
      const ecosystems = distroEcosystems('rpm', os);
      return ecosystems && { ecosystems, name: pkg.source?.name ?? pkg.name, version: pkg.version };
    }
    case 'npm':
      return { ecosystems: ['npm'], name: joined(pkg, '/'), version: pkg.version };
    case 'cargo':
      return { ecosystems: ['crates.io'], name: pkg.name, version: pkg.version };
    case 'golang':
      return { ecosystems: ['Go'], name: joined(pkg, '/'), version: pkg.version };
    case 'maven':
      return { ecosystems: ['Maven'], name: joined(pkg, ':'), version: pkg.version };
    case 'pypi':
      return { ecosystems: ['PyPI'], name: normaliseName('PyPI', pkg.name), version: pkg.version };
  }
}

/** `@scope` + `name`, `group` + `artifact`; a name that already carries its namespace stays as it is. */
function joined(pkg: Package, separator: string): string {
  if (!pkg.namespace || pkg.name.startsWith(`${pkg.namespace}${separator}`)) return pkg.name;
  return `${pkg.namespace}${separator}${pkg.name}`;
}

const RPM_DISTROS: Record<string, string> = {
  rhel: 'Red Hat',
  rocky: 'Rocky Linux',
  almalinux: 'AlmaLinux',
  'opensuse-leap': 'openSUSE',
  opensuse: 'openSUSE',
};

function distroEcosystems(type: 'deb' | 'apk' | 'rpm', os?: OsRelease): string[] | undefined {
  if (!os) return undefined;
  const version = os.versionId ?? '';
  if (type === 'deb' && os.id === 'debian') {
    // Debian's OSV data is per release (`Debian:12`); plain `Debian` records cover every release.
    const major = /^\d+/.exec(version)?.[0];
    return major ? [`Debian:${major}`, 'Debian'] : ['Debian'];
  }
  if (type === 'deb' && os.id === 'ubuntu') return version ? [`Ubuntu:${version}`] : undefined;
  if (type === 'apk' && os.id === 'alpine') {
    const release = /^(\d+)\.(\d+)/.exec(version);
    return release ? [`Alpine:v${release[1]}.${release[2]}`] : undefined;
  }
  if (type === 'rpm') {
    const distro = RPM_DISTROS[os.id];
    if (!distro) return undefined;
    const release = distro === 'openSUSE' ? version && `Leap ${version}` : /^\d+/.exec(version)?.[0];
    return release ? [`${distro}:${release}`] : undefined;
  }
  return undefined;
}
