import { PackageURL } from 'packageurl-js';
import type { OsRelease } from '../types.js';
import type { FoundPackage } from './analyzer.js';

/** The namespace of an OS package: the distribution's id, with the package manager's home as the fallback. */
export function osNamespace(type: FoundPackage['type'], os: OsRelease | undefined): string | undefined {
  if (os?.id) return os.id;
  return type === 'deb' ? 'debian' : type === 'apk' ? 'alpine' : undefined;
}

/**
 * The package URL (purl-spec PURL-TYPES.rst): OS packages carry arch and the `distro` qualifier
 * (`debian-12`); rpm moves the epoch to its qualifier; npm scopes and Go module paths become the namespace.
 * packageurl-js applies each type's normalisation (pypi names lower-cased, `_` → `-`).
 */
export function purlOf(found: FoundPackage, os: OsRelease | undefined): string {
  let { namespace, name, version } = found;
  const qualifiers: Record<string, string> = {};
  switch (found.type) {
    case 'deb':
    case 'apk':
    case 'rpm':
      namespace ??= osNamespace(found.type, os);
      if (found.arch) qualifiers.arch = found.arch;
      if (found.type === 'rpm') {
        const epoch = /^(\d+):(.*)$/.exec(version);
        if (epoch) {
          qualifiers.epoch = epoch[1] as string;
          version = epoch[2] as string;
        }
      }
      if (os?.id && os.versionId) qualifiers.distro = `${os.id}-${os.versionId}`;
      break;
    case 'npm':
    case 'golang':
      if (!namespace && name.includes('/')) {
        const slash = name.lastIndexOf('/');
        namespace = name.slice(0, slash);
        name = name.slice(slash + 1);
      }
      break;
    case 'maven':
      if (!namespace && name.includes(':')) [namespace, name] = name.split(':', 2) as [string, string];
      break;
  }
  const hasQualifiers = Object.keys(qualifiers).length > 0;
  return new PackageURL(
    found.type,
    namespace,
    name,
    version,
    hasQualifiers ? qualifiers : undefined,
    undefined,
  ).toString();
}
