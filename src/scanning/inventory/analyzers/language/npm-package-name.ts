// What npm's lockfiles and package.json files share: scoped names, declared licenses, install locations.

/** `@types/node` → namespace `@types`, name `node`; an unscoped name has no namespace. */
export function splitNpmName(fullName: string): { namespace?: string; name: string } {
  const slash = fullName.indexOf('/');
  if (fullName.startsWith('@') && slash > 1) {
    return { namespace: fullName.slice(0, slash), name: fullName.slice(slash + 1) };
  }
  return { name: fullName };
}

/** A package name npm could have installed: a non-empty unscoped name, or `@scope/name`. */
export function isNpmName(name: unknown): name is string {
  return typeof name === 'string' && /^(@[^/@\s]+\/)?[^/@\s][^/\s]*$/.test(name) && name.length <= 214;
}

/** `license: "MIT"`, the older `license: {type}` and `licenses: [{type}]` forms, or undefined. */
export function npmLicense(manifest: Record<string, unknown>): string | undefined {
  const { license, licenses } = manifest;
  if (typeof license === 'string' && license !== '') return license;
  if (isRecord(license) && typeof license.type === 'string') return license.type;
  if (Array.isArray(licenses)) {
    const types = licenses
      .filter(isRecord)
      .flatMap((item) => (typeof item.type === 'string' ? [item.type] : []));
    if (types.length > 0) return types.length === 1 ? types[0] : `(${types.join(' OR ')})`;
  }
  return undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The package.json path of a package installed at `installDir` (`/app/node_modules/a/node_modules/b`). Both npm
 * analyzers report this one location for the same installed package, see npm-package-lock.ts.
 */
export function installedManifestPath(installDir: string): string {
  return `${installDir}/package.json`;
}
