import type { Readable } from 'node:stream';
import type { Inventory, OsRelease, Package } from '../types.js';
import type { FileAnalyzer } from './analyzer.js';
import { languageAnalyzers } from './analyzers/language/index.js';
import { osAnalyzers } from './analyzers/os/index.js';
import { OS_RELEASE_PATHS } from './analyzers/os/os-release.js';
import { imageFacts } from './image-facts.js';
import { type FinalRecord, type LayerRef, walkLayers } from './layer-walker.js';
import { DEFAULT_LIMITS, type InventoryLimits } from './limits.js';
import { osNamespace, purlOf } from './purl.js';

const OS_PACKAGE_TYPES = new Set(['deb', 'apk', 'rpm']);

export type { FileAnalyzer, FileEntry, FileFindings, FoundPackage, ReadMode } from './analyzer.js';
export { osAnalyzers } from './analyzers/os/index.js';
export type { LayerRef } from './layer-walker.js';
export { DEFAULT_LIMITS, type InventoryLimits } from './limits.js';

export interface InventoryInput {
  /** The image manifest's digest. */
  subject: string;
  /** The image config blob's bytes. */
  config: Buffer;
  /** Bottom layer first, as the manifest lists them. */
  layers: LayerRef[];
  /** The layer blob as stored (compressed); it is read once, to its end or until the walk gives up on it. */
  openLayer(digest: string): Promise<Readable>;
  limits?: Partial<InventoryLimits>;
  /** Defaults to the OS analyzers and the language ones. */
  analyzers?: FileAnalyzer[];
}

/** What the image holds, from its own files: the packages, the OS, and the facts policies judge. */
export async function inventoryImage(input: InventoryInput): Promise<Inventory> {
  const analyzers = input.analyzers ?? [...osAnalyzers, ...languageAnalyzers];
  const limits = { ...DEFAULT_LIMITS, ...input.limits };
  const { records, problems } = await walkLayers({
    layers: input.layers,
    openLayer: input.openLayer,
    analyzers,
    limits,
  });

  const os = osOf(records);
  const packages: Package[] = [];
  const notes: string[] = [];
  // A package-lock.json entry and the installed package.json it describes name the same package at the same
  // place (the npm analyzers report both at the package.json's path): kept once.
  const seen = new Set<string>();
  for (const record of records) {
    const { findings } = record;
    for (const found of findings.packages ?? []) {
      const namespace =
        found.namespace ?? (OS_PACKAGE_TYPES.has(found.type) ? osNamespace(found.type, os) : undefined);
      const purl = purlOf(found, os);
      const key = `${purl}\u0000${found.location}`;
      if (seen.has(key)) continue;
      seen.add(key);
      packages.push({
        ...found,
        ...(namespace && { namespace }),
        purl,
        layer: record.layer,
      });
    }
    notes.push(...(findings.notes ?? []));
    problems.push(...(findings.problems ?? []));
  }
  packages.sort((a, b) => a.location.localeCompare(b.location) || a.name.localeCompare(b.name));

  const facts = { ...imageFacts(input.config, packages, notes, problems), ...(os && { os }) };
  return { subject: input.subject, packages, facts, problems, complete: problems.length === 0 };
}

/** The OS of the final filesystem: `/etc/os-release` wins over `/usr/lib/os-release` (os-release(5)). */
function osOf(records: FinalRecord[]): OsRelease | undefined {
  for (const path of OS_RELEASE_PATHS) {
    const found = records.find((record) => record.matchedPath === path && record.findings.os);
    if (found) return found.findings.os;
  }
  return records.find((record) => record.findings.os)?.findings.os;
}
