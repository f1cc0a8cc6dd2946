// SPDX 2.3 output: valid against the official schema for real package data (every Debian package of this
// machine, every npm package of this checkout), identifiers and references consistent, licenses only as SPDX
// expressions, and the same bytes for the same inventory whatever order it came in.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PackageURL } from 'packageurl-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ImageIdentity,
  SbomInputError,
  type SpdxDocument,
  writeSpdx,
} from '../../../../src/scanning/sbom/index.js';
import type { Package } from '../../../../src/scanning/types.js';
import { dpkgPackages, IMAGE_DIGEST, inventoryOf, npmPackages } from './real-inventory.js';
import { spdxValidator, type Validate } from './sbom-schemas.js';

const identity: ImageIdentity = {
  repository: 'library/debian',
  digest: IMAGE_DIGEST,
  registry: 'registry.example:5000',
  tool: { name: 'berth', version: '0.1.0' },
  created: new Date('2025-03-04T05:06:07.890Z'),
};

function pkg(overrides: Partial<Package> & Pick<Package, 'name'>): Package {
  const version = overrides.version ?? '1.0.0';
  return {
    type: 'npm',
    version,
    purl: new PackageURL(
      'npm',
      overrides.namespace,
      overrides.name,
      version,
      undefined,
      undefined,
    ).toString(),
    location: `/app/node_modules/${overrides.name}/package.json`,
    ...overrides,
  };
}

const ID_PATTERN = /^SPDXRef-[a-zA-Z0-9.-]+$/;

describe('SPDX 2.3 writer', () => {
  let validate: Validate;
  let realPackages: Package[];

  beforeAll(() => {
    validate = spdxValidator();
    realPackages = [...dpkgPackages(2000), ...npmPackages(join(process.cwd(), 'node_modules'))];
  });

  it('writes every real Debian and npm package into a document the SPDX 2.3 schema accepts', () => {
    expect(realPackages.filter((p) => p.type === 'deb').length).toBeGreaterThan(100);
    expect(realPackages.filter((p) => p.type === 'npm').length).toBeGreaterThan(100);
    const { document, bytes, mediaType } = writeSpdx(inventoryOf(realPackages), identity);

    expect(mediaType).toBe('application/spdx+json');
    expect(validate(JSON.parse(bytes.toString('utf8')))).toEqual([]);
    expect(document.packages).toHaveLength(realPackages.length + 2); // + the image + the distribution

    const ids = document.packages.map((p) => p.SPDXID);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(ID_PATTERN);

    // Every package names its purl, and the purl is the inventory's.
    const purls = new Set(realPackages.map((p) => p.purl));
    for (const spdx of document.packages.slice(2)) {
      const [ref] = spdx.externalRefs ?? [];
      expect(ref).toMatchObject({ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl' });
      expect(purls.has(ref?.referenceLocator as string)).toBe(true);
      expect(spdx.downloadLocation).toBe('NOASSERTION');
    }
  });

  it('describes the image and says it contains the distribution and every package', () => {
    const { document } = writeSpdx(inventoryOf(realPackages.slice(0, 50)), identity);
    const image = document.packages[0];
    expect(image).toMatchObject({
      SPDXID: 'SPDXRef-Image',
      name: 'library/debian',
      versionInfo: IMAGE_DIGEST,
      primaryPackagePurpose: 'CONTAINER',
    });
    const purl = PackageURL.fromString(image?.externalRefs?.[0]?.referenceLocator as string);
    expect(purl).toMatchObject({ type: 'oci', name: 'debian', version: IMAGE_DIGEST });
    expect(purl.qualifiers).toEqual({
      arch: 'amd64',
      repository_url: 'registry.example:5000/library/debian',
    });
    expect(image?.externalRefs?.[0]?.referenceLocator).toBe(
      `pkg:oci/debian@sha256%3A${'ab'.repeat(32)}?arch=amd64&repository_url=registry.example:5000/library/debian`,
    );
    expect(document.packages[1]).toMatchObject({
      SPDXID: 'SPDXRef-OperatingSystem',
      name: 'debian',
      versionInfo: '12',
      primaryPackagePurpose: 'OPERATING-SYSTEM',
    });

    const describes = document.relationships.filter((r) => r.relationshipType === 'DESCRIBES');
    expect(describes).toEqual([
      {
        spdxElementId: 'SPDXRef-DOCUMENT',
        relationshipType: 'DESCRIBES',
        relatedSpdxElement: 'SPDXRef-Image',
      },
    ]);
    const contained = document.relationships
      .filter((r) => r.relationshipType === 'CONTAINS' && r.spdxElementId === 'SPDXRef-Image')
      .map((r) => r.relatedSpdxElement);
    expect(contained.sort()).toEqual(
      document.packages
        .slice(1)
        .map((p) => p.SPDXID)
        .sort(),
    );
  });

  it('fills the document header: version, data license, namespace, creator, a timestamp to the second', () => {
    const { document } = writeSpdx(inventoryOf(realPackages.slice(0, 5)), identity);
    expect(document).toMatchObject({
      spdxVersion: 'SPDX-2.3',
      dataLicense: 'CC0-1.0',
      SPDXID: 'SPDXRef-DOCUMENT',
      name: `library/debian@${IMAGE_DIGEST}`,
      creationInfo: { created: '2025-03-04T05:06:07Z', creators: ['Tool: berth-0.1.0'] },
    });
    expect(document.documentNamespace).toMatch(
      new RegExp(`^https://berth\\.local/spdx/library/debian/${IMAGE_DIGEST}/[0-9a-f]{32}$`),
    );
    expect(document.creationInfo.comment).toBeUndefined();
    const incomplete = writeSpdx(inventoryOf(realPackages.slice(0, 5), false), identity).document;
    expect(incomplete.creationInfo.comment).toContain('rpm Berkeley DB database is not supported');
  });

  it('gives the same bytes for the same inventory in any order, and a new namespace when it changes', () => {
    const packages = realPackages.slice(0, 300);
    const first = writeSpdx(inventoryOf(packages), identity).bytes;
    const shuffled = [...packages].reverse();
    shuffled.push(packages[7] as Package); // an analyzer reporting the same package twice
    const second = writeSpdx(inventoryOf(shuffled), identity).bytes;
    expect(second.equals(first)).toBe(true);

    const more = writeSpdx(inventoryOf([...packages, pkg({ name: 'left-pad' })]), identity).document;
    const before = JSON.parse(first.toString()) as SpdxDocument;
    expect(more.documentNamespace).not.toBe(before.documentNamespace);
  });

  it('writes declared licenses only as SPDX expressions, keeping free text as a LicenseRef with its text', () => {
    const packages = [
      pkg({ name: 'a', license: 'mit' }),
      pkg({ name: 'b', license: '(MIT OR Apache-2.0)' }),
      pkg({ name: 'c', license: 'MIT License' }),
      pkg({ name: 'd', license: 'GPL-2.0+ WITH Classpath-exception-2.0' }),
      pkg({ name: 'e', license: 'BSD' }),
      pkg({ name: 'f', license: 'MIT-License' }), // sanitises to the same LicenseRef as `MIT License`
      pkg({ name: 'g', license: 'LicenseRef-Proprietary' }),
      pkg({ name: 'h' }),
      pkg({ name: 'i', license: '   ' }),
      pkg({ name: 'j', license: 'MIT License' }),
    ];
    const { document, bytes } = writeSpdx(inventoryOf(packages), identity);
    expect(validate(JSON.parse(bytes.toString()))).toEqual([]);
    const declared = Object.fromEntries(document.packages.slice(2).map((p) => [p.name, p.licenseDeclared]));
    expect(declared).toEqual({
      a: 'MIT',
      b: 'MIT OR Apache-2.0',
      c: 'LicenseRef-MIT-License',
      d: 'GPL-2.0+ WITH Classpath-exception-2.0',
      e: 'LicenseRef-BSD',
      f: expect.stringMatching(/^LicenseRef-MIT-License-[0-9a-f]{8}$/),
      g: 'LicenseRef-Proprietary',
      h: 'NOASSERTION',
      i: 'NOASSERTION',
      j: 'LicenseRef-MIT-License',
    });
    for (const p of document.packages) expect(p.licenseConcluded).toBe('NOASSERTION');
    expect(document.hasExtractedLicensingInfos).toEqual([
      { licenseId: 'LicenseRef-BSD', extractedText: 'BSD', name: 'BSD' },
      { licenseId: 'LicenseRef-MIT-License', extractedText: 'MIT License', name: 'MIT License' },
      { licenseId: declared.f, extractedText: 'MIT-License', name: 'MIT-License' },
    ]);
  });

  it('makes valid, distinct ids for awkward names and for one package found in two places', () => {
    const twice = pkg({ name: 'lodash', version: '4.17.21' });
    const packages = [
      pkg({ namespace: '@types', name: 'node', version: '20.1.0' }),
      { ...pkg({ name: 'g++', version: '4:12.2.0-3' }), type: 'deb' as const, namespace: 'debian' },
      pkg({ name: 'ünïcødé_pkg', version: '1' }),
      twice,
      { ...twice, location: '/other/node_modules/lodash/package.json' },
    ];
    const { document, bytes } = writeSpdx(inventoryOf(packages), identity);
    expect(validate(JSON.parse(bytes.toString()))).toEqual([]);
    const ids = document.packages.map((p) => p.SPDXID);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(ID_PATTERN);
    const byName = document.packages.filter((p) => p.name === '@types/node');
    expect(byName).toHaveLength(1);
    const gpp = document.packages.find((p) => p.name === 'g++');
    expect(gpp).toMatchObject({ supplier: 'Organization: debian', versionInfo: '4:12.2.0-3' });
    expect(gpp?.primaryPackagePurpose).toBeUndefined();
    expect(document.packages.filter((p) => p.name === 'lodash')).toHaveLength(2);
  });

  it('names the source package and where the package was found', () => {
    const packages = dpkgPackages(2000).filter((p) => p.source);
    expect(packages.length).toBeGreaterThan(0);
    const [first] = writeSpdx(inventoryOf(packages), identity).document.packages.slice(2);
    const source = packages.find((p) => p.name === first?.name)?.source;
    expect(first?.sourceInfo).toContain(`built from source package ${source?.name}`);
    expect(first?.sourceInfo).toContain('acquired package info from /var/lib/dpkg/status (layer sha256:');
  });

  it('refuses an identity that does not name the inventoried image', () => {
    const inventory = inventoryOf([]);
    expect(() => writeSpdx(inventory, { ...identity, repository: 'Bad Name' })).toThrow(SbomInputError);
    expect(() => writeSpdx(inventory, { ...identity, digest: 'sha256:xyz' })).toThrow(/invalid image digest/);
    expect(() => writeSpdx(inventory, { ...identity, digest: `sha256:${'ef'.repeat(32)}` })).toThrow(
      /the inventory is of/,
    );
    expect(() => writeSpdx(inventory, { ...identity, created: new Date('nope') })).toThrow(/creation time/);
  });

  it('has a validator that does reject what the schema forbids', () => {
    const { document } = writeSpdx(inventoryOf(realPackages.slice(0, 3)), identity);
    const broken = structuredClone(document) as unknown as { packages: { SPDXID: string }[] };
    (broken.packages[2] as { SPDXID: string }).SPDXID = 'SPDXRef-has_underscore';
    expect(validate(broken).join('\n')).toContain('pattern');
    expect(
      validate({
        ...document,
        creationInfo: { ...document.creationInfo, created: '2025-03-04T05:06:07.890Z' },
      }),
    ).not.toEqual([]);
  });

  describe('checked by pyspdxtools (the SPDX project’s own validator)', () => {
    const pyspdxtools = (() => {
      try {
        execFileSync('pyspdxtools', ['--help'], { stdio: 'ignore', timeout: 30_000 });
        return true;
      } catch {
        console.warn(
          '\n!!! SKIPPING the pyspdxtools check: pyspdxtools is not installed (pip install spdx-tools) !!!\n',
        );
        return false;
      }
    })();
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'berth-spdx-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it.skipIf(!pyspdxtools)('finds no problem in a document of real packages', () => {
      const file = join(dir, 'image.spdx.json');
      writeFileSync(file, writeSpdx(inventoryOf(realPackages), identity).bytes);
      // pyspdxtools -i validates (spec 2.3) and exits non-zero, printing the problems, when it finds any.
      const out = execFileSync('pyspdxtools', ['-i', file], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(out).not.toMatch(/invalid|error/i);
    });
  });
});
