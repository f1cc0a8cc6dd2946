import { tryParseDigest } from '../registry/index.js';

/**
 * An air-gap bundle is one tar holding an OCI image layout (image-spec image-layout.md), readable as it is by
 * `skopeo … oci-archive:FILE.tar:REPO:TAG` and umoci, plus Berth's digest manifest. Entries come in this order,
 * so that an importer knows everything it will read before the first blob:
 *
 *     oci-layout            {"imageLayoutVersion":"1.0.0"}
 *     berth-bundle.json     BundleManifest: every entry's digest, size and repositories; the tags
 *     index.json            the tagged manifests, `org.opencontainers.image.ref.name` = `REPO:TAG`
 *     blobs/sha256/<hex>    manifests first (children before their index), then configs and layers
 */
export const LAYOUT_ENTRY = 'oci-layout';
export const MANIFEST_ENTRY = 'berth-bundle.json';
export const INDEX_ENTRY = 'index.json';
export const REF_NAME = 'org.opencontainers.image.ref.name';
export const BUNDLE_VERSION = 1;

export interface BundleEntry {
  digest: string;
  size: number;
  /** Manifests are put by digest once every blob is in; blobs are uploaded as they stream past. */
  kind: 'manifest' | 'blob';
  /** A manifest's media type, for its Content-Type when it is put. */
  mediaType?: string;
  /** The repositories it goes into (a layer shared by several images in several repositories is stored once). */
  repositories: string[];
}

export interface BundleTag {
  repository: string;
  tag: string;
  digest: string;
}

export interface BundleManifest {
  version: number;
  created: string;
  /** Where it was exported from (printable URL, no credentials). */
  source: string;
  tags: BundleTag[];
  /** In tar order. */
  entries: BundleEntry[];
}

export function blobEntryName(digest: string): string {
  const [algorithm, hex] = digest.split(':') as [string, string];
  return `blobs/${algorithm}/${hex}`;
}

/** The digest a `blobs/<algorithm>/<hex>` entry name stands for, or undefined. */
export function digestOfEntryName(name: string): string | undefined {
  const match = /^(?:\.\/)?blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(name);
  return match ? tryParseDigest(`${match[1]}:${match[2]}`)?.value : undefined;
}

/** A bundle that cannot be imported, naming the entry at fault. */
export class BundleError extends Error {
  override name = 'BundleError';
  constructor(
    readonly entry: string,
    reason: string,
  ) {
    super(`${entry}: ${reason}`);
  }
}

/** Checks the shape of a berth-bundle.json; throws BundleError naming what is wrong. */
export function parseBundleManifest(bytes: Buffer): BundleManifest {
  let json: BundleManifest;
  try {
    json = JSON.parse(bytes.toString('utf8')) as BundleManifest;
  } catch {
    throw new BundleError(MANIFEST_ENTRY, 'not valid JSON');
  }
  const bad = (why: string) => new BundleError(MANIFEST_ENTRY, why);
  if (typeof json !== 'object' || json === null) throw bad('not an object');
  if (json.version !== BUNDLE_VERSION) throw bad(`unknown version ${String(json.version)}`);
  if (!Array.isArray(json.entries) || !Array.isArray(json.tags)) throw bad('entries and tags must be lists');
  for (const entry of json.entries) {
    if (
      !tryParseDigest(String(entry?.digest)) ||
      !Number.isSafeInteger(entry.size) ||
      entry.size < 0 ||
      (entry.kind !== 'manifest' && entry.kind !== 'blob') ||
      !Array.isArray(entry.repositories) ||
      entry.repositories.length === 0 ||
      (entry.kind === 'manifest' && typeof entry.mediaType !== 'string')
    ) {
      throw bad(`malformed entry ${JSON.stringify(entry)}`);
    }
  }
  for (const tag of json.tags) {
    if (
      typeof tag?.repository !== 'string' ||
      typeof tag.tag !== 'string' ||
      !tryParseDigest(String(tag.digest))
    ) {
      throw bad(`malformed tag ${JSON.stringify(tag)}`);
    }
  }
  return json;
}
