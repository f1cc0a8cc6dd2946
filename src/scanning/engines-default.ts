import type { ScanEngines, VulnerabilitySource } from './engines.js';
import { inventoryImage } from './inventory/index.js';
import { buildSbomReferrer, type SbomMediaType, writeCycloneDx, writeSpdx } from './sbom/index.js';
import { BERTH_VERSION } from './version.js';

/** The built-in scanner: Berth's own layer walk and analyzers, SPDX and CycloneDX SBOMs, the given database. */
export function builtinEngines(vulnerabilities: VulnerabilitySource): ScanEngines {
  const tool = { name: 'berth' as const, version: BERTH_VERSION };
  return {
    inventory: (input) => inventoryImage(input),
    vulnerabilities,
    sboms(inventory, image) {
      const identity = { ...image, tool };
      return [writeSpdx(inventory, identity), writeCycloneDx(inventory, identity)].map((document) => ({
        mediaType: document.mediaType,
        bytes: document.bytes,
      }));
    },
    referrer(attachment, subject, created) {
      const artifact = buildSbomReferrer({
        sbom: attachment.bytes,
        mediaType: attachment.mediaType as SbomMediaType,
        subject,
        created,
        generator: `berth-${BERTH_VERSION}`,
      });
      return { manifest: artifact.manifest, blobs: artifact.blobs };
    },
  };
}
