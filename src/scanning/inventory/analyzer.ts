import type { Readable } from 'node:stream';
import type { OsRelease, Package } from '../types.js';

/** A package as an analyzer finds it; the purl and layer are filled in once the whole image is walked. */
export type FoundPackage = Omit<Package, 'purl' | 'layer'>;

/** A regular file of the image's final filesystem, as the layer walker meets it. */
export interface FileEntry {
  /** Absolute and normalised: `/var/lib/dpkg/status` (never `..`, never a trailing slash). */
  path: string;
  size: number;
  /** Unix mode bits from the tar header (0o755…). */
  mode: number;
  /** The digest of the layer the file comes from. */
  layer: string;
}

/** How an analyzer wants a matched file: whole (up to a cap, larger files are reported, not read) or streamed. */
export type ReadMode = { read: 'content'; maxBytes: number } | { read: 'stream' };

/** What one file told an analyzer. Kept per path: a later layer that deletes or replaces the file drops it. */
export interface FileFindings {
  packages?: FoundPackage[];
  os?: OsRelease;
  /** Evidence for image facts, e.g. `file /usr/sbin/sshd`. */
  notes?: string[];
  /** Why this file could not be analyzed (the inventory is then incomplete). */
  problems?: string[];
}

/**
 * One kind of file the scanner understands (a dpkg status file, a package.json, a Go binary…). `match` is
 * asked for every regular file of every layer and must be cheap; `analyze` runs for matched files only.
 */
export interface FileAnalyzer {
  name: string;
  match(entry: FileEntry): ReadMode | false;
  /** `content` is set for read: 'content', `stream` for read: 'stream' (which must be consumed or destroyed). */
  analyze(entry: FileEntry, file: { content?: Buffer; stream?: Readable }): Promise<FileFindings>;
}
