// Inventories from real package data on this machine: the Debian packages dpkg knows (names with `+` and `.`,
// epochs, source packages with their own versions) and the npm packages in node_modules (scoped names, the
// license fields their authors wrote, valid or not). What an image's analyzers would report for the same files.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PackageURL } from 'packageurl-js';
import type { Inventory, Package } from '../../../../src/scanning/types.js';

export const IMAGE_DIGEST = `sha256:${'ab'.repeat(32)}`;
const LAYER = `sha256:${'cd'.repeat(32)}`;

const DPKG_FIELDS = ['Package', 'Version', 'Architecture', 'source:Package', 'source:Version'];
/** dpkg-query's own placeholders (`${Package}`), tab-separated, one package a line. */
const DPKG_FORMAT = `${DPKG_FIELDS.map((field) => `$\{${field}}`).join('\t')}\n`;

/** Up to `limit` installed Debian packages, as a dpkg analyzer reads /var/lib/dpkg/status. */
export function dpkgPackages(limit: number): Package[] {
  const out = execFileSync('dpkg-query', ['-W', '-f', DPKG_FORMAT], {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  return out
    .trim()
    .split('\n')
    .slice(0, limit)
    .map((line) => {
      const [name = '', version = '', arch = '', sourceName = '', sourceVersion = ''] = line.split('\t');
      const qualifiers = { arch, distro: 'debian-12' };
      return {
        type: 'deb' as const,
        namespace: 'debian',
        name,
        version,
        arch,
        ...(sourceName !== name || sourceVersion !== version
          ? { source: { name: sourceName, ...(sourceVersion !== version ? { version: sourceVersion } : {}) } }
          : {}),
        purl: new PackageURL('deb', 'debian', name, version, qualifiers, undefined).toString(),
        location: '/var/lib/dpkg/status',
        layer: LAYER,
      };
    });
}

/** The npm packages installed in this checkout, with the license field each declares. */
export function npmPackages(nodeModules: string): Package[] {
  const found: Package[] = [];
  const add = (dir: string) => {
    let manifest: { name?: unknown; version?: unknown; license?: unknown };
    try {
      manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    } catch {
      return;
    }
    if (typeof manifest.name !== 'string' || typeof manifest.version !== 'string') return;
    const slash = manifest.name.startsWith('@') ? manifest.name.indexOf('/') : -1;
    const namespace = slash > 0 ? manifest.name.slice(0, slash) : undefined;
    const name = slash > 0 ? manifest.name.slice(slash + 1) : manifest.name;
    found.push({
      type: 'npm',
      ...(namespace ? { namespace } : {}),
      name,
      version: manifest.version,
      ...(typeof manifest.license === 'string' ? { license: manifest.license } : {}),
      purl: new PackageURL('npm', namespace, name, manifest.version, undefined, undefined).toString(),
      location: `/app/${join('node_modules', dir.slice(nodeModules.length + 1), 'package.json')}`,
      layer: LAYER,
    });
  };
  for (const entry of readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      for (const scoped of readdirSync(join(nodeModules, entry))) add(join(nodeModules, entry, scoped));
    } else {
      add(join(nodeModules, entry));
    }
  }
  return found;
}

export function inventoryOf(packages: Package[], complete = true): Inventory {
  return {
    subject: IMAGE_DIGEST,
    packages,
    facts: {
      user: '',
      runsAsRoot: true,
      exposedPorts: [],
      sshServer: { installed: false },
      os: {
        id: 'debian',
        versionId: '12',
        codename: 'bookworm',
        prettyName: 'Debian GNU/Linux 12 (bookworm)',
      },
      platform: 'linux/amd64',
    },
    problems: complete ? [] : ['layer sha256:ef… : rpm Berkeley DB database is not supported'],
    complete,
  };
}
