// CycloneDX 1.5 output: valid against the official schema for real package data, the image as a container
// component with its purl, the distribution as an operating system, packages as libraries with unique bom-refs,
// and the same bytes (and serial number) for the same inventory.
import { join } from 'node:path';
import { PackageURL } from 'packageurl-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ImageIdentity, SbomInputError, writeCycloneDx } from '../../../../src/scanning/sbom/index.js';
import type { Package } from '../../../../src/scanning/types.js';
import { dpkgPackages, IMAGE_DIGEST, inventoryOf, npmPackages } from './real-inventory.js';
import { cycloneDxValidator, type Validate } from './sbom-schemas.js';

const identity: ImageIdentity = {
  repository: 'team/app',
  digest: IMAGE_DIGEST,
  tool: { name: 'berth', version: '0.1.0' },
  created: new Date('2025-03-04T05:06:07.890Z'),
};

describe('CycloneDX 1.5 writer', () => {
  let validate: Validate;
  let realPackages: Package[];

  beforeAll(() => {
    validate = cycloneDxValidator();
    realPackages = [...dpkgPackages(2000), ...npmPackages(join(process.cwd(), 'node_modules'))];
  });

  it('writes every real Debian and npm package into a BOM the CycloneDX 1.5 schema accepts', () => {
    const { bytes, document, mediaType } = writeCycloneDx(inventoryOf(realPackages), identity);
    expect(mediaType).toBe('application/vnd.cyclonedx+json');
    expect(validate(JSON.parse(bytes.toString('utf8')))).toEqual([]);
    expect(document.components).toHaveLength(realPackages.length + 1);
    const refs = [document.metadata.component['bom-ref'], ...document.components.map((c) => c['bom-ref'])];
    expect(new Set(refs).size).toBe(refs.length);
  });

  it('fills the header: format, version 1, a v5 urn:uuid serial, the 1.5 tools form, the image as container', () => {
    const { document } = writeCycloneDx(inventoryOf(realPackages.slice(0, 20)), identity);
    expect(document).toMatchObject({
      bomFormat: 'CycloneDX',
      specVersion: '1.5',
      version: 1,
      metadata: {
        timestamp: '2025-03-04T05:06:07Z',
        tools: { components: [{ type: 'application', name: 'berth', version: '0.1.0' }] },
        component: { type: 'container', name: 'team/app', version: IMAGE_DIGEST },
      },
    });
    expect(document.serialNumber).toMatch(
      /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const purl = PackageURL.fromString(document.metadata.component.purl as string);
    expect(purl).toMatchObject({ type: 'oci', name: 'app', version: IMAGE_DIGEST });
    expect(purl.qualifiers).toEqual({ arch: 'amd64', repository_url: 'team/app' });
    expect(document.components[0]).toEqual({
      type: 'operating-system',
      'bom-ref': 'os:debian@12',
      name: 'debian',
      version: '12',
      description: 'Debian GNU/Linux 12 (bookworm)',
    });
  });

  it('splits npm scopes and maven groups into group, and keeps where each package was found', () => {
    const packages: Package[] = [
      {
        type: 'npm',
        namespace: '@types',
        name: 'node',
        version: '20.1.0',
        license: 'MIT',
        purl: 'pkg:npm/%40types/node@20.1.0',
        location: '/app/node_modules/@types/node/package.json',
        layer: `sha256:${'11'.repeat(32)}`,
      },
      {
        type: 'maven',
        namespace: 'org.apache.commons',
        name: 'commons-text',
        version: '1.10.0',
        license: 'Apache License, Version 2.0',
        purl: 'pkg:maven/org.apache.commons/commons-text@1.10.0',
        location: '/app/lib/commons-text-1.10.0.jar',
      },
      {
        type: 'deb',
        namespace: 'debian',
        name: 'libssl3',
        version: '3.0.11-1~deb12u2',
        source: { name: 'openssl' },
        arch: 'amd64',
        license: 'apache-2.0 OR mit',
        purl: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12',
        location: '/var/lib/dpkg/status',
      },
      {
        type: 'npm',
        name: 'gpl-thing',
        version: '1.0.0',
        license: 'GPL-2.0+',
        purl: 'pkg:npm/gpl-thing@1.0.0',
        location: '/app/node_modules/gpl-thing/package.json',
      },
    ];
    const { document, bytes } = writeCycloneDx(inventoryOf(packages), identity);
    expect(validate(JSON.parse(bytes.toString()))).toEqual([]);
    const byPurl = Object.fromEntries(document.components.map((c) => [c.purl, c]));
    expect(byPurl['pkg:npm/%40types/node@20.1.0']).toEqual({
      type: 'library',
      'bom-ref': 'pkg:npm/%40types/node@20.1.0',
      group: '@types',
      name: 'node',
      version: '20.1.0',
      purl: 'pkg:npm/%40types/node@20.1.0',
      licenses: [{ license: { id: 'MIT' } }],
      properties: [
        { name: 'berth:location', value: '/app/node_modules/@types/node/package.json' },
        { name: 'berth:layer', value: `sha256:${'11'.repeat(32)}` },
      ],
    });
    expect(byPurl['pkg:maven/org.apache.commons/commons-text@1.10.0']).toMatchObject({
      group: 'org.apache.commons',
      name: 'commons-text',
      licenses: [{ license: { name: 'Apache License, Version 2.0' } }],
    });
    const libssl = byPurl['pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12'];
    expect(libssl).toMatchObject({ name: 'libssl3', licenses: [{ expression: 'Apache-2.0 OR MIT' }] });
    expect(libssl?.group).toBeUndefined();
    expect(libssl?.properties).toContainEqual({ name: 'berth:source-package', value: 'openssl' });
    expect(byPurl['pkg:npm/gpl-thing@1.0.0']?.licenses).toEqual([{ expression: 'GPL-2.0+' }]);
  });

  it('gives one package found in two places two bom-refs, and the same bytes for any input order', () => {
    const [one] = npmPackages(join(process.cwd(), 'node_modules'));
    const copy = { ...(one as Package), location: '/elsewhere/package.json' };
    const packages = [...realPackages.slice(0, 200), one as Package, copy];
    const first = writeCycloneDx(inventoryOf(packages), identity);
    expect(validate(JSON.parse(first.bytes.toString()))).toEqual([]);
    const refs = first.document.components.filter((c) => c.purl === one?.purl).map((c) => c['bom-ref']);
    expect(refs).toHaveLength(2);
    expect(new Set(refs).size).toBe(2);

    const again = writeCycloneDx(inventoryOf([...packages].reverse()), identity);
    expect(again.bytes.equals(first.bytes)).toBe(true);
    const changed = writeCycloneDx(inventoryOf(packages.slice(1)), identity);
    expect(changed.document.serialNumber).not.toBe(first.document.serialNumber);
  });

  it('records why an inventory is incomplete', () => {
    const { document, bytes } = writeCycloneDx(inventoryOf([], false), identity);
    expect(validate(JSON.parse(bytes.toString()))).toEqual([]);
    expect(document.metadata.properties).toEqual([
      {
        name: 'berth:inventory-problem',
        value: 'layer sha256:ef… : rpm Berkeley DB database is not supported',
      },
    ]);
  });

  it('refuses a bad identity, and its validator rejects what the schema forbids', () => {
    expect(() => writeCycloneDx(inventoryOf([]), { ...identity, repository: '' })).toThrow(SbomInputError);
    const { document } = writeCycloneDx(inventoryOf(realPackages.slice(0, 3)), identity);
    expect(validate({ ...document, serialNumber: 'not-a-urn' })).not.toEqual([]);
    const badLicense = structuredClone(document);
    (badLicense.components[1] as { licenses?: unknown }).licenses = [{ license: { id: 'Not-A-License' } }];
    expect(validate(badLicense).join('\n')).toContain(
      '/components/1/licenses/0/license/id must be equal to one of the allowed values',
    );
  });
});
