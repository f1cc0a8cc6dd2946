// npm's package-lock.json: lockfileVersion 2 and 3 list every installed package in `packages`, keyed by its
// install directory (`node_modules/a/node_modules/@s/b`); version 1 has only the nested `dependencies` tree.
// https://docs.npmjs.com/cli/configuring-npm/package-lock-json
//
// Counting a package once: a lockfile entry is reported at the package.json location the package installs to
// (`/app/node_modules/a/package.json`), the very location npm-installed-package.ts reports for that file, so a
// package seen both ways is one (purl, location) pair that the inventory keeps once. Dev dependencies are left
// out here: an image built with `--omit=dev` does not have them, and one built with them has their package.json
// files, which are reported. npm's hidden lockfile (node_modules/.package-lock.json) only repeats what is installed
// beside it, so it is not read at all.
import { posix } from 'node:path';
import type { FileAnalyzer, FileEntry, FileFindings, FoundPackage } from '../../analyzer.js';
import { installedManifestPath, isNpmName, isRecord, npmLicense, splitNpmName } from './npm-package-name.js';
import { problem, reason } from './problem.js';

/** Large monorepos reach tens of megabytes; more than this is not a lockfile npm wrote. */
const MAX_LOCKFILE_BYTES = 64 * 1024 * 1024;
const NODE_MODULES = 'node_modules/';

export const npmPackageLock: FileAnalyzer = {
  name: 'npm-package-lock',
  match: (entry) =>
    entry.path.endsWith('/package-lock.json') ? { read: 'content', maxBytes: MAX_LOCKFILE_BYTES } : false,
  async analyze(entry, { content }) {
    let lock: unknown;
    try {
      lock = JSON.parse(content?.toString('utf8') ?? '');
    } catch (error) {
      return problem(entry, `not valid JSON (${reason(error)})`);
    }
    if (!isRecord(lock)) return problem(entry, 'not a package-lock.json (not a JSON object)');
    const projectDir = posix.dirname(entry.path).replace(/\/$/, '');
    if (isRecord(lock.packages)) return fromPackages(entry, projectDir, lock.packages);
    if (isRecord(lock.dependencies)) return fromDependencyTree(entry, projectDir, lock.dependencies);
    if (lock.lockfileVersion !== undefined) return {}; // a project without dependencies
    return problem(entry, 'not a package-lock.json (no packages, dependencies or lockfileVersion)');
  },
};

/** lockfileVersion 2 and 3. */
function fromPackages(entry: FileEntry, projectDir: string, packages: Record<string, unknown>): FileFindings {
  const found: FoundPackage[] = [];
  let unusable = 0;
  for (const [key, value] of Object.entries(packages)) {
    // "" is the project itself; keys without node_modules/ are workspace folders, the project's own code too.
    const nameStart = key.lastIndexOf(NODE_MODULES);
    if (key === '' || nameStart < 0) continue;
    if (!isRecord(value)) {
      unusable++;
      continue;
    }
    if (value.link === true || value.dev === true) continue; // a link's target has its own entry
    // `name` is set when it differs from the directory: an alias (`"x": "npm:real-name@1"`).
    const fullName = typeof value.name === 'string' ? value.name : key.slice(nameStart + NODE_MODULES.length);
    if (!isNpmName(fullName) || !isSafeRelativePath(key) || typeof value.version !== 'string') {
      unusable++;
      continue;
    }
    found.push(lockedPackage(fullName, value.version, value, `${projectDir}/${key}`));
  }
  return withUnusable(entry, found, unusable);
}

/** lockfileVersion 1: `dependencies` nest the way node_modules directories do. Walked without recursion. */
function fromDependencyTree(
  entry: FileEntry,
  projectDir: string,
  dependencies: Record<string, unknown>,
): FileFindings {
  const found: FoundPackage[] = [];
  let unusable = 0;
  const pending: Array<{ dir: string; dependencies: Record<string, unknown> }> = [
    { dir: projectDir, dependencies },
  ];
  for (let next = pending.pop(); next; next = pending.pop()) {
    for (const [dirName, value] of Object.entries(next.dependencies)) {
      if (!isRecord(value) || !isNpmName(dirName) || typeof value.version !== 'string') {
        unusable++;
        continue;
      }
      const installDir = `${next.dir}/node_modules/${dirName}`;
      if (isRecord(value.dependencies)) pending.push({ dir: installDir, dependencies: value.dependencies });
      if (value.dev === true) continue;
      // An alias records `npm:<real name>@<version>`; a git or tarball dependency only its URL, not a version.
      const alias = /^npm:((?:@[^/@]+\/)?[^/@]+)@(.+)$/.exec(value.version);
      const [fullName, version] = alias ? [alias[1] ?? '', alias[2] ?? ''] : [dirName, value.version];
      if (/[:/]/.test(version)) continue;
      found.push(lockedPackage(fullName, version, value, installDir));
    }
  }
  return withUnusable(entry, found, unusable);
}

function lockedPackage(
  fullName: string,
  version: string,
  value: Record<string, unknown>,
  installDir: string,
): FoundPackage {
  const license = npmLicense(value);
  return {
    type: 'npm',
    ...splitNpmName(fullName),
    version,
    ...(license ? { license } : {}),
    location: installedManifestPath(installDir),
  };
}

/** `node_modules/a/node_modules/b`: no empty, `.` or `..` segment that would put the location elsewhere. */
function isSafeRelativePath(key: string): boolean {
  return key.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

function withUnusable(entry: FileEntry, packages: FoundPackage[], unusable: number): FileFindings {
  if (unusable === 0) return { packages };
  return {
    packages,
    problems: [
      `${entry.path}: ${unusable} entries without a usable name, install path or version were skipped`,
    ],
  };
}
