// An image's inventory as a CycloneDX 1.5 JSON BOM (cyclonedx.org/docs/1.5/json): the image is
// metadata.component (type container), the distribution an operating-system component, each package a library.
import type { Inventory, OsRelease, Package } from '../types.js';
import {
  assertIdentity,
  contentFingerprint,
  displayName,
  type ImageIdentity,
  imagePurl,
  orderedPackages,
  timestamp,
  uuidFromFingerprint,
} from './image-identity.js';
import { normalizeLicenseExpression, parseLicenseExpression } from './license-expression.js';
import { type SbomDocument, SbomMediaType } from './media-types.js';

type License = { license: { id: string } | { name: string } } | { expression: string };

export interface CycloneDxComponent {
  type: 'library' | 'operating-system' | 'container';
  'bom-ref': string;
  group?: string;
  name: string;
  version?: string;
  description?: string;
  purl?: string;
  licenses?: License[];
  properties?: { name: string; value: string }[];
}

export interface CycloneDxBom {
  $schema: string;
  bomFormat: 'CycloneDX';
  specVersion: '1.5';
  serialNumber: string;
  version: 1;
  metadata: {
    timestamp: string;
    tools: { components: { type: 'application'; name: string; version: string }[] };
    component: CycloneDxComponent;
    properties?: { name: string; value: string }[];
  };
  components: CycloneDxComponent[];
}

/**
 * The serial number is a UUID (version 5 layout) of a fingerprint of what the BOM says, not a random one:
 * writing the same inventory again gives the same bytes and so the same referrer digest, and a changed
 * inventory a new serial number.
 */
export function writeCycloneDx(inventory: Inventory, identity: ImageIdentity): SbomDocument<CycloneDxBom> {
  assertIdentity(identity, inventory);
  const packages = orderedPackages(inventory.packages);
  const purl = imagePurl(identity, inventory.facts.platform);
  const refs = bomRefs(packages);

  const bom: CycloneDxBom = {
    $schema: 'http://cyclonedx.org/schema/bom-1.5.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${uuidFromFingerprint(contentFingerprint(identity, inventory, packages))}`,
    version: 1,
    metadata: {
      timestamp: timestamp(identity.created),
      tools: {
        components: [{ type: 'application', name: identity.tool.name, version: identity.tool.version }],
      },
      component: {
        type: 'container',
        'bom-ref': purl,
        name: identity.repository,
        version: identity.digest,
        purl,
      },
      ...(inventory.complete
        ? {}
        : { properties: inventory.problems.map((value) => ({ name: 'berth:inventory-problem', value })) }),
    },
    components: [
      ...(inventory.facts.os ? [osComponent(inventory.facts.os)] : []),
      ...packages.map((pkg, index) => component(pkg, refs[index] as string)),
    ],
  };
  return { mediaType: SbomMediaType.CycloneDx, document: bom, bytes: Buffer.from(JSON.stringify(bom)) };
}

function osComponent(os: OsRelease): CycloneDxComponent {
  return {
    type: 'operating-system',
    'bom-ref': `os:${os.id}${os.versionId ? `@${os.versionId}` : ''}`,
    name: os.id,
    ...(os.versionId ? { version: os.versionId } : {}),
    ...(os.prettyName ? { description: os.prettyName } : {}),
  };
}

function component(pkg: Package, bomRef: string): CycloneDxComponent {
  const grouped = (pkg.type === 'npm' || pkg.type === 'maven') && pkg.namespace;
  const properties = [{ name: 'berth:location', value: pkg.location }];
  if (pkg.layer) properties.push({ name: 'berth:layer', value: pkg.layer });
  if (pkg.source) {
    properties.push({ name: 'berth:source-package', value: pkg.source.name });
    if (pkg.source.version) properties.push({ name: 'berth:source-version', value: pkg.source.version });
  }
  if (pkg.arch) properties.push({ name: 'berth:arch', value: pkg.arch });
  const licenses = pkg.license ? cycloneDxLicenses(pkg.license) : undefined;
  return {
    type: 'library',
    'bom-ref': bomRef,
    ...(grouped ? { group: pkg.namespace } : {}),
    name: grouped ? pkg.name : displayName(pkg),
    version: pkg.version,
    purl: pkg.purl,
    ...(licenses ? { licenses } : {}),
    properties,
  };
}

/**
 * One SPDX id as `license.id` (the schema's enum), a compound or `+`/WITH expression as `expression`, and a
 * declaration that is no SPDX expression as `license.name`, kept as written.
 */
function cycloneDxLicenses(declared: string): License[] | undefined {
  const text = declared.trim();
  if (text === '') return undefined;
  const node = parseLicenseExpression(text);
  if (node?.kind === 'license' && !node.orLater && !node.exception) return [{ license: { id: node.id } }];
  if (node) return [{ expression: normalizeLicenseExpression(text) as string }];
  return [{ license: { name: text } }];
}

/** The purl where it is unique in the BOM, else the purl and the location it was found at. */
function bomRefs(packages: Package[]): string[] {
  const count = new Map<string, number>();
  for (const pkg of packages) count.set(pkg.purl, (count.get(pkg.purl) ?? 0) + 1);
  return packages.map((pkg) => ((count.get(pkg.purl) ?? 0) > 1 ? `${pkg.purl}#${pkg.location}` : pkg.purl));
}
