// An image's inventory as an SPDX 2.3 JSON document (spdx-spec v2.3, clauses 6 "Document creation
// information", 7 "Package information", 10 "Other licensing information", 11 "Relationships").
import type { Inventory, OsRelease, Package } from '../types.js';
import {
  assertIdentity,
  contentFingerprint,
  displayName,
  type ImageIdentity,
  imagePurl,
  orderedPackages,
  packageKey,
  sha256Hex,
  timestamp,
} from './image-identity.js';
import { normalizeLicenseExpression } from './license-expression.js';
import { type SbomDocument, SbomMediaType } from './media-types.js';
import { SPDX_LIST_VERSION } from './spdx-license-list.js';

/**
 * Where Berth's SPDX documents live in name only (clause 6.5 asks for a unique URI, not a reachable one):
 * `https://berth.local/spdx/<repository>/<digest>/<fingerprint>`. The fingerprint covers what the document
 * says, so writing the same inventory again gives the same namespace and a different inventory a new one.
 */
export const SPDX_NAMESPACE_BASE = 'https://berth.local/spdx';

export interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo?: string;
  supplier?: string;
  downloadLocation: 'NOASSERTION';
  filesAnalyzed: false;
  sourceInfo?: string;
  licenseConcluded: 'NOASSERTION';
  licenseDeclared: string;
  externalRefs?: { referenceCategory: 'PACKAGE-MANAGER'; referenceType: 'purl'; referenceLocator: string }[];
  primaryPackagePurpose?: 'CONTAINER' | 'OPERATING-SYSTEM' | 'LIBRARY' | 'APPLICATION';
}

export interface SpdxDocument {
  spdxVersion: 'SPDX-2.3';
  dataLicense: 'CC0-1.0';
  SPDXID: 'SPDXRef-DOCUMENT';
  name: string;
  documentNamespace: string;
  creationInfo: { created: string; creators: string[]; licenseListVersion: string; comment?: string };
  packages: SpdxPackage[];
  hasExtractedLicensingInfos?: { licenseId: string; extractedText: string; name: string }[];
  relationships: {
    spdxElementId: string;
    relationshipType: 'DESCRIBES' | 'CONTAINS';
    relatedSpdxElement: string;
  }[];
}

const IMAGE_ID = 'SPDXRef-Image';
const OS_ID = 'SPDXRef-OperatingSystem';

export function writeSpdx(inventory: Inventory, identity: ImageIdentity): SbomDocument<SpdxDocument> {
  assertIdentity(identity, inventory);
  const packages = orderedPackages(inventory.packages);
  const licenses = new LicenseRefs();
  const fingerprint = contentFingerprint(identity, inventory, packages);

  const image: SpdxPackage = {
    SPDXID: IMAGE_ID,
    name: identity.repository,
    versionInfo: identity.digest,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: 'NOASSERTION',
    externalRefs: [purlRef(imagePurl(identity, inventory.facts.platform))],
    primaryPackagePurpose: 'CONTAINER',
  };
  const os = inventory.facts.os ? [osPackage(inventory.facts.os)] : [];
  const contents = packages.map((pkg) => spdxPackage(pkg, licenses));

  const document: SpdxDocument = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${identity.repository}@${identity.digest}`,
    documentNamespace: `${SPDX_NAMESPACE_BASE}/${identity.repository}/${identity.digest}/${fingerprint.slice(0, 32)}`,
    creationInfo: {
      created: timestamp(identity.created),
      creators: [`Tool: ${identity.tool.name}-${identity.tool.version}`],
      licenseListVersion: SPDX_LIST_VERSION.split('.').slice(0, 2).join('.'),
      ...(inventory.complete ? {} : { comment: `Incomplete inventory: ${inventory.problems.join('; ')}` }),
    },
    packages: [image, ...os, ...contents],
    ...(licenses.size > 0 ? { hasExtractedLicensingInfos: licenses.infos() } : {}),
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: IMAGE_ID },
      ...[...os, ...contents].map((pkg) => ({
        spdxElementId: IMAGE_ID,
        relationshipType: 'CONTAINS' as const,
        relatedSpdxElement: pkg.SPDXID,
      })),
    ],
  };
  return { mediaType: SbomMediaType.Spdx, document, bytes: Buffer.from(JSON.stringify(document)) };
}

function osPackage(os: OsRelease): SpdxPackage {
  return {
    SPDXID: OS_ID,
    name: os.id,
    ...(os.versionId ? { versionInfo: os.versionId } : {}),
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: 'NOASSERTION',
    primaryPackagePurpose: 'OPERATING-SYSTEM',
  };
}

const OS_TYPES: ReadonlySet<Package['type']> = new Set(['deb', 'apk', 'rpm']);

function spdxPackage(pkg: Package, licenses: LicenseRefs): SpdxPackage {
  const acquired = [`acquired package info from ${pkg.location}${pkg.layer ? ` (layer ${pkg.layer})` : ''}`];
  if (pkg.source) {
    acquired.push(
      `built from source package ${pkg.source.name}${pkg.source.version ? ` ${pkg.source.version}` : ''}`,
    );
  }
  return {
    // Clause 7.2: `SPDXRef-` then letters, digits, `.` and `-` only; the key keeps two installs of one name apart.
    SPDXID: `SPDXRef-Package-${pkg.type}-${idPart(displayName(pkg))}-${packageKey(pkg)}`,
    name: displayName(pkg),
    versionInfo: pkg.version,
    // Clause 7.5: the distribution (deb, apk, rpm) is the immediate supplier of its packages.
    ...(OS_TYPES.has(pkg.type) && pkg.namespace ? { supplier: `Organization: ${pkg.namespace}` } : {}),
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    sourceInfo: acquired.join('; '),
    // Berth reads what packages declare; it concludes nothing (clause 7.13).
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: pkg.license ? licenses.expressionFor(pkg.license) : 'NOASSERTION',
    externalRefs: [purlRef(pkg.purl)],
    ...(OS_TYPES.has(pkg.type) ? {} : { primaryPackagePurpose: 'LIBRARY' as const }),
  };
}

function purlRef(purl: string) {
  return {
    referenceCategory: 'PACKAGE-MANAGER' as const,
    referenceType: 'purl' as const,
    referenceLocator: purl,
  };
}

/** `@types/node` → `types-node`: an idstring part (letters, digits, `.`, `-`), bounded in length. */
function idPart(text: string): string {
  const dashed = text.replace(/[^A-Za-z0-9.-]+/g, '-');
  // Trimmed by index: `/-+$/g` retried from every dash of a long inner run of dashes (quadratic).
  let start = 0;
  let end = dashed.length;
  while (start < end && dashed[start] === '-') start++;
  while (end > start && dashed[end - 1] === '-') end--;
  const part = dashed.slice(start, end).slice(0, 64);
  return part === '' ? 'x' : part;
}

/**
 * Declared licenses that are not SPDX expressions become `LicenseRef-<text>` with the text kept in
 * hasExtractedLicensingInfos (clause 10), so nothing the package said is lost and no field holds free text.
 */
class LicenseRefs {
  private readonly byText = new Map<string, string>();
  private readonly taken = new Set<string>();

  get size(): number {
    return this.byText.size;
  }

  expressionFor(declared: string): string {
    const expression = normalizeLicenseExpression(declared);
    if (expression !== null) return expression;
    const text = declared.trim();
    if (text === '') return 'NOASSERTION';
    const known = this.byText.get(text);
    if (known) return known;
    let ref = `LicenseRef-${idPart(text)}`;
    if (this.taken.has(ref)) ref = `${ref}-${sha256Hex(text).slice(0, 8)}`;
    this.taken.add(ref);
    this.byText.set(text, ref);
    return ref;
  }

  infos(): { licenseId: string; extractedText: string; name: string }[] {
    return [...this.byText.entries()]
      .map(([text, licenseId]) => ({ licenseId, extractedText: text, name: text.slice(0, 200) }))
      .sort((a, b) => (a.licenseId < b.licenseId ? -1 : a.licenseId > b.licenseId ? 1 : 0));
  }
}
