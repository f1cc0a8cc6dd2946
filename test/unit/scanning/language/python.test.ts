// Python: core metadata of installed distributions (dist-info, egg-info directory and single-file egg-info),
// checked against what Python's own importlib.metadata reads from this machine's dist-packages.
import { execFileSync } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pythonMetadata } from '../../../../src/scanning/inventory/analyzers/language/python-metadata.js';
import { findExecutable } from '../../../fixtures/image.js';
import { analyzeContent, fileEntry } from './analyze-file.js';

const DIST_PACKAGES = '/usr/lib/python3/dist-packages';
const FIXTURES = new URL('./fixtures/', import.meta.url);

async function hasDistributions(): Promise<boolean> {
  const python = findExecutable('python3');
  const names = await readdir(DIST_PACKAGES).catch(() => [] as string[]);
  if (python && names.some((name) => name.endsWith('-info'))) return true;
  const reason = 'python3 and the Debian python3-* packages (swift pulls in many) are needed';
  if (process.env.CI === 'true') throw new Error(`the Python metadata tests must run in CI: ${reason}`);
  console.warn(`\n!!! SKIPPING the Python metadata tests on ${DIST_PACKAGES}: ${reason} !!!\n`);
  return false;
}

describe.skipIf(!(await hasDistributions()))(`the distributions in ${DIST_PACKAGES}`, () => {
  it('are the ones importlib.metadata finds, with the same names and versions', async () => {
    const script = `
import importlib.metadata, json
print(json.dumps(sorted(f"{d.metadata['Name']}@{d.version}" for d in importlib.metadata.distributions(path=['${DIST_PACKAGES}']))))`;
    const expected = JSON.parse(execFileSync('python3', ['-c', script], { encoding: 'utf8' })) as string[];
    const found: string[] = [];
    let matched = 0;
    for (const name of await readdir(DIST_PACKAGES)) {
      const candidates = [
        join(DIST_PACKAGES, name),
        join(DIST_PACKAGES, name, 'METADATA'),
        join(DIST_PACKAGES, name, 'PKG-INFO'),
      ];
      for (const hostPath of candidates) {
        const info = await stat(hostPath).catch(() => undefined);
        if (!info?.isFile() || !pythonMetadata.match(fileEntry(hostPath, info.size))) continue;
        matched++;
        const findings = await analyzeContent(pythonMetadata, hostPath, await readFile(hostPath));
        expect(findings.problems).toBeUndefined();
        for (const pkg of findings.packages ?? []) {
          expect(pkg).toMatchObject({ type: 'pypi', location: hostPath });
          found.push(`${pkg.name}@${pkg.version}`);
        }
      }
    }
    expect(expected.length).toBeGreaterThan(10);
    expect(matched).toBe(expected.length);
    expect(found.sort()).toEqual(expected);
  });
});

describe('core metadata', () => {
  it('reads a real METADATA (PyYAML 6.0 from Debian 12) with its name as written', async () => {
    const text = await readFile(new URL('PyYAML-6.0.METADATA', FIXTURES));
    const path = '/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA';
    expect(await analyzeContent(pythonMetadata, path, text)).toEqual({
      packages: [{ type: 'pypi', name: 'PyYAML', version: '6.0', license: 'MIT', location: path }],
    });
  });

  it.each([
    [
      'License-Expression over License',
      'Name: a\nVersion: 1\nLicense: MIT License\nLicense-Expression: MIT OR Apache-2.0\n',
      'MIT OR Apache-2.0',
    ],
    ['no license for UNKNOWN', 'Name: a\nVersion: 1\nLicense: UNKNOWN\n', undefined],
    [
      'the first line of a pasted license text',
      'Name: a\nVersion: 1\nLicense: Copyright (c) 2020 Someone\n        Permission is hereby granted\n        free of charge\nSummary: x\n',
      'Copyright (c) 2020 Someone',
    ],
    [
      'headers only, not the description after the blank line',
      'Name: a\nVersion: 1\n\nLicense: GPL\n',
      undefined,
    ],
    [
      'the first of repeated headers, CRLF line ends',
      'Name: a\r\nVersion: 1\r\nLicense: BSD\r\nLicense: GPL\r\n',
      'BSD',
    ],
  ])('keeps %s', async (_, text, license) => {
    const findings = await analyzeContent(pythonMetadata, '/x/a-1.dist-info/METADATA', text);
    expect(findings.packages?.[0]?.license).toBe(license);
    expect(findings.packages?.[0]).toMatchObject({ name: 'a', version: '1' });
  });

  it.each([
    ['/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA', true],
    ['/usr/lib/python3/dist-packages/pycparser-2.21.egg-info', true],
    ['/usr/lib/python3/dist-packages/Mako-1.2.4.dev0.egg-info/PKG-INFO', true],
    ['/usr/lib/python3/dist-packages/six-1.16.0.dist-info/RECORD', false],
    ['/src/project/PKG-INFO', false],
  ])('match(%s) is %s', (path, matches) => {
    expect(pythonMetadata.match(fileEntry(path, 100)) !== false).toBe(matches);
  });

  it.each([
    ['no Version', 'Metadata-Version: 2.1\nName: a\n'],
    ['binary garbage', Buffer.from([0, 1, 2, 255, 254, 10, 13, 0])],
    ['nothing', ''],
  ])('reports metadata with %s as a problem naming the file', async (_, text) => {
    const findings = await analyzeContent(pythonMetadata, '/x/a-1.dist-info/METADATA', text);
    expect(findings).toEqual({
      problems: ['/x/a-1.dist-info/METADATA: core metadata without a Name and a Version header'],
    });
  });
});
