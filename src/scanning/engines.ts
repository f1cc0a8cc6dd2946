import type { Readable } from 'node:stream';
import type { Finding, Inventory, OsRelease, Package } from './types.js';

/** What the inventory walk needs of an image: its config's bytes, its layers, and a way to read them. */
export interface InventoryInput {
  subject: string;
  config: Buffer;
  layers: { digest: string; mediaType: string; size: number }[];
  openLayer(digest: string): Promise<Readable>;
}

/** The vulnerability database as the scan service sees it (vulndb/). */
export interface VulnerabilitySource {
  /** Undefined until a database was imported. */
  info(): Promise<DatabaseInfo | undefined>;
  match(packages: Package[], os?: OsRelease): Promise<Finding[]>;
}

export interface DatabaseInfo {
  /** Moves forward on every import: reports matched against an older one are re-matched. */
  version: number;
  /** The data's own date (the newest record's `modified`), ms since the epoch; null when unknown. */
  dataDate: number | null;
  importedAt: number;
  records: number;
}

/** A document to store as an OCI referrer of the image (an SBOM). */
export interface Attachment {
  mediaType: string;
  bytes: Buffer;
}

/** A referrer artifact ready to push: the manifest and the blobs it needs. */
export interface ReferrerArtifact {
  manifest: Buffer;
  blobs: { digest: string; bytes: Buffer }[];
}

/**
 * The parts of the built-in scanner, handed to the scan service (engines-default.ts wires the real ones; tests
 * may hand others). Keeps the service free of any one analyzer, database or SBOM format.
 */
export interface ScanEngines {
  inventory(input: InventoryInput): Promise<Inventory>;
  vulnerabilities: VulnerabilitySource;
  /** The SBOM documents of an inventory (SPDX, CycloneDX). */
  sboms(inventory: Inventory, image: { repository: string; digest: string; created: Date }): Attachment[];
  /** The referrer artifact carrying one SBOM, its subject the image. */
  referrer(
    attachment: Attachment,
    subject: { mediaType: string; digest: string; size: number },
    created: Date,
  ): ReferrerArtifact;
}
