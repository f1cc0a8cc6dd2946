// npm: package-lock.json (versions 1, 2, 3) and installed node_modules/**/package.json, checked against this
// repository's own lockfile and installed tree and against what `npm ls` makes of them.
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FoundPackage } from '../../../../src/scanning/inventory/analyzer.js';
import { npmInstalledPackage } from '../../../../src/scanning/inventory/analyzers/language/npm-installed-package.js';
import { npmPackageLock } from '../../../../src/scanning/inventory/analyzers/language/npm-package-lock.js';
import { analyzeContent, fileEntry } from './analyze-file.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url)).replace(/\/$/, '');

/** This repository as if it were copied to /app in an image. */
const inImage = (hostPath: string) => `/app/${relative(REPO, hostPath)}`;

const key = (pkg: FoundPackage) =>
  `${pkg.location} ${pkg.namespace ? `${pkg.namespace}/` : ''}${pkg.name}@${pkg.version}`;

describe('package-lock.json of this repository (lockfileVersion 3)', () => {
  it('lists what `npm ls --package-lock-only --omit=dev` lists, at the same install paths', async () => {
    const lock = await readFile(join(REPO, 'package-lock.json'));
    expect(JSON.parse(lock.toString()).lockfileVersion).toBe(3);
    const findings = await analyzeContent(npmPackageLock, '/app/package-lock.json', lock);
    expect(findings.problems).toBeUndefined();

    const npmLs = execFileSync(
      'npm',
      ['ls', '--package-lock-only', '--all', '--omit=dev', '--parseable', '--long'],
      { cwd: REPO, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    const expected = npmLs
      .trim()
      .split('\n')
      .filter((line) => line.includes('/node_modules/'))
      .map((line) => {
        const [, dir = '', name = '', version = ''] =
          /^([^:]+):((?:@[^@/]+\/)?[^@]+)@([^:]+)/.exec(line) ?? [];
        return `${inImage(dir)}/package.json ${name}@${version}`;
      });
    expect(expected.length).toBeGreaterThan(100);
    expect(findings.packages?.map(key).sort()).toEqual([...new Set(expected)].sort());

    const scoped = findings.packages?.find(
      (pkg) => pkg.location === '/app/node_modules/@aws-sdk/client-s3/package.json',
    );
    expect(scoped).toMatchObject({
      type: 'npm',
      namespace: '@aws-sdk',
      name: 'client-s3',
      license: 'Apache-2.0',
    });
    const dev = findings.packages?.find((pkg) => pkg.name === 'vitest');
    expect(dev).toBeUndefined();
  });

  it('reports an installed package at the location its package.json has, so the two count once', async () => {
    const lock = await readFile(join(REPO, 'package-lock.json'));
    const locked = (await analyzeContent(npmPackageLock, '/app/package-lock.json', lock)).packages ?? [];
    const installed: FoundPackage[] = [];
    let matched = 0;
    for (const hostPath of await packageJsonFiles(join(REPO, 'node_modules'))) {
      const path = inImage(hostPath);
      if (!npmInstalledPackage.match(fileEntry(path, 1000))) continue;
      matched++;
      const findings = await analyzeContent(npmInstalledPackage, path, await readFile(hostPath));
      expect(findings.problems).toBeUndefined();
      installed.push(...(findings.packages ?? []));
    }
    const installedKeys = new Set(installed.map(key));
    // Every production package of the lockfile is installed here (this machine's platform-specific optional
    // packages aside), and reported with the same identity and location.
    const missing = locked.filter((pkg) => !installedKeys.has(key(pkg)));
    expect(missing.map(key).filter((k) => !/cloudflare|darwin|win32|arm64|musl/.test(k))).toEqual([]);
    expect(locked.length - missing.length).toBeGreaterThan(100);
    // Installed packages the lockfile leaves out are its dev dependencies (vitest, biome, typescript…).
    expect(installed.some((pkg) => pkg.name === 'vitest')).toBe(true);
    expect(matched).toBe(installed.length);
  });
});

async function packageJsonFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const item of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (item.isFile() && item.name === 'package.json') found.push(join(item.parentPath, item.name));
  }
  return found;
}

describe('npm lockfile formats', () => {
  it('reads a version 1 dependency tree: nesting, aliases, dev and git dependencies', async () => {
    const lock = {
      name: 'app',
      version: '1.0.0',
      lockfileVersion: 1,
      requires: true,
      dependencies: {
        '@babel/code-frame': { version: '7.0.0', dev: true },
        debug: {
          version: '2.6.9',
          requires: { ms: '2.0.0' },
          dependencies: { ms: { version: '2.0.0' } },
        },
        ms: { version: '2.1.3' },
        'left-pad': { version: 'npm:@alias/left-pad@1.3.0' },
        'from-git': { version: 'git+https://github.com/x/y.git#4f0a0e2c1d1b2c3d4e5f60718293a4b5c6d7e8f9' },
        '@types/node': { version: '20.1.0' },
      },
    };
    const findings = await analyzeContent(npmPackageLock, '/srv/app/package-lock.json', JSON.stringify(lock));
    expect(findings.problems).toBeUndefined();
    expect(findings.packages?.map(key).sort()).toEqual([
      '/srv/app/node_modules/@types/node/package.json @types/node@20.1.0',
      '/srv/app/node_modules/debug/node_modules/ms/package.json ms@2.0.0',
      '/srv/app/node_modules/debug/package.json debug@2.6.9',
      '/srv/app/node_modules/left-pad/package.json @alias/left-pad@1.3.0',
      '/srv/app/node_modules/ms/package.json ms@2.1.3',
    ]);
  });

  it('reads version 2 from `packages`: links, workspaces, aliases and the root skipped or resolved', async () => {
    const lock = {
      name: 'mono',
      lockfileVersion: 2,
      packages: {
        '': { name: 'mono', version: '1.0.0', workspaces: ['packages/*'] },
        'packages/web': { name: 'web', version: '0.1.0' },
        'node_modules/web': { resolved: 'packages/web', link: true },
        'node_modules/lodash': { version: '4.17.21', license: 'MIT' },
        'node_modules/old': { version: '1.0.0', license: { type: 'BSD' } },
        'node_modules/react17': { name: 'react', version: '17.0.2' },
        'packages/web/node_modules/lodash': { version: '3.10.1' },
        'node_modules/typescript': { version: '5.0.0', dev: true },
      },
      // npm 7/8 write the v1 tree too; `packages` wins.
      dependencies: { lodash: { version: '0.0.1' } },
    };
    const findings = await analyzeContent(npmPackageLock, '/package-lock.json', JSON.stringify(lock));
    expect(findings.problems).toBeUndefined();
    expect(findings.packages).toEqual([
      {
        type: 'npm',
        name: 'lodash',
        version: '4.17.21',
        license: 'MIT',
        location: '/node_modules/lodash/package.json',
      },
      {
        type: 'npm',
        name: 'old',
        version: '1.0.0',
        license: 'BSD',
        location: '/node_modules/old/package.json',
      },
      { type: 'npm', name: 'react', version: '17.0.2', location: '/node_modules/react17/package.json' },
      {
        type: 'npm',
        name: 'lodash',
        version: '3.10.1',
        location: '/packages/web/node_modules/lodash/package.json',
      },
    ]);
  });

  it.each([
    ['not JSON', '{"lockfileVersion": 3, "packages": {', /package-lock\.json: not valid JSON/],
    ['not an object', '[1, 2]', /not a JSON object/],
    ['no lockfile at all', '{"hello": "world"}', /no packages, dependencies or lockfileVersion/],
    [
      'entries that would escape the project, or lack a version',
      JSON.stringify({
        lockfileVersion: 3,
        packages: {
          'node_modules/../../../etc/node_modules/x': { version: '1.0.0' },
          'node_modules/noversion': {},
          'node_modules/ok': { version: '1.0.0' },
          'node_modules/bad': 42,
        },
      }),
      /3 entries without a usable name, install path or version were skipped/,
    ],
  ])('reports a lockfile with %s as a problem naming the file', async (_, text, problem) => {
    const findings = await analyzeContent(npmPackageLock, '/app/package-lock.json', text);
    expect(findings.problems).toHaveLength(1);
    expect(findings.problems?.[0]).toMatch(/^\/app\/package-lock\.json: /);
    expect(findings.problems?.[0]).toMatch(problem);
  });

  it('walks a version 1 tree nested 20 000 deep without overflowing the stack', async () => {
    const depth = 20_000;
    let text = '{"version":"1.0.0"}';
    for (let level = 1; level < depth; level++)
      text = `{"version":"1.0.${level}","dependencies":{"d":${text}}}`;
    const lock = `{"lockfileVersion":1,"dependencies":{"d":${text}}}`;
    const findings = await analyzeContent(npmPackageLock, '/app/package-lock.json', lock);
    expect(findings.packages).toHaveLength(depth);
    expect(findings.packages?.at(-1)?.location).toBe(`/app${'/node_modules/d'.repeat(depth)}/package.json`);
  });

  it('does not match the hidden lockfile npm keeps inside node_modules', () => {
    expect(npmPackageLock.match(fileEntry('/app/node_modules/.package-lock.json', 10))).toBe(false);
    expect(npmPackageLock.match(fileEntry('/app/package-lock.json', 10))).not.toBe(false);
  });
});

describe('installed package.json', () => {
  it.each([
    ['/app/node_modules/express/package.json', true],
    ['/app/node_modules/@types/node/package.json', true],
    ['/usr/lib/node_modules/npm/node_modules/semver/package.json', true],
    ['/app/package.json', false],
    ['/app/node_modules/express/lib/package.json', false],
    ['/app/node_modules/@types/node/ts5.6/package.json', false],
    ['/app/node_modules/@types/package.json', false],
    ['/app/node_modules/.bin/package.json', false],
    ['/app/node_modules/express/package.json.bak', false],
  ])('match(%s) is %s', (path, matches) => {
    expect(npmInstalledPackage.match(fileEntry(path, 100)) !== false).toBe(matches);
  });

  it.each([
    ['a scoped package', { name: '@types/node', version: '20.0.0', license: 'MIT' }, '@types', 'node', 'MIT'],
    [
      'an old licenses array',
      { name: 'x', version: '1.0.0', licenses: [{ type: 'MIT' }, { type: 'GPL-2.0' }] },
      undefined,
      'x',
      '(MIT OR GPL-2.0)',
    ],
  ])('reads %s', async (_, manifest, namespace, name, license) => {
    const findings = await analyzeContent(
      npmInstalledPackage,
      '/app/node_modules/x/package.json',
      JSON.stringify(manifest),
    );
    expect(findings.packages).toEqual([
      {
        type: 'npm',
        ...(namespace ? { namespace } : {}),
        name,
        version: manifest.version,
        license,
        location: '/app/node_modules/x/package.json',
      },
    ]);
  });

  it.each([
    ['no name', '{"version": "1.0.0"}'],
    ['no version', '{"name": "x"}'],
    ['a non-string version', '{"name": "x", "version": 1}'],
    ['an impossible name', '{"name": "a b/c/d", "version": "1.0.0"}'],
  ])('finds no package in a package.json with %s', async (_, text) => {
    const findings = await analyzeContent(npmInstalledPackage, '/app/node_modules/x/package.json', text);
    expect(findings).toEqual({});
  });

  it('reports a package.json that is not JSON', async () => {
    const findings = await analyzeContent(
      npmInstalledPackage,
      '/app/node_modules/x/package.json',
      '{"name": ',
    );
    expect(findings.problems?.[0]).toMatch(/^\/app\/node_modules\/x\/package\.json: not valid JSON/);
  });
});
