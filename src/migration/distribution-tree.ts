import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tryParseDigest } from '../registry/index.js';
import type { BlobStore } from '../storage/index.js';

/** A CNCF Distribution storage tree to import, on a disk (DistributionTree) or in a bucket (S3DistributionTree). */
export interface DistributionSource {
  /** The root, for messages. */
  readonly location: string;
  /** Throws a clear error when the location holds no Distribution tree. */
  check(): Promise<void>;
  /** Repository names, sorted. */
  repositories(): Promise<string[]>;
  /** Digests of the blobs linked into the repository (layers and configs). */
  layers(repository: string): Promise<string[]>;
  /** Digests of the repository's manifests (revisions), tagged or not. */
  manifests(repository: string): Promise<string[]>;
  /** Tag → manifest digest; a tag whose link is missing or malformed is reported in `broken`. */
  tags(repository: string): Promise<{ tags: Map<string, string>; broken: string[] }>;
  /** Size of a blob's bytes, undefined when they are missing. */
  blobSize(digest: string): Promise<number | undefined>;
  readBlob(digest: string): Promise<AsyncIterable<Uint8Array>>;
  /** On a disk: the path of a blob's bytes (to hard-link them). */
  blobPath?(digest: string): string;
  /**
   * In the bucket of `store`: copies a blob's bytes to `key` server-side (no byte through Berth); false when
   * `store` is elsewhere.
   */
  copyBlobTo?(digest: string, size: number, store: BlobStore, key: string): Promise<boolean>;
}

/**
 * A CNCF Distribution filesystem storage tree, read-only (Distribution's registry/storage/paths.go):
 *
 *     <root>/docker/registry/v2/blobs/sha256/<xx>/<hex>/data                       the bytes, once
 *     <root>/docker/registry/v2/repositories/<name>/_layers/sha256/<hex>/link     blobs linked into <name>
 *     <root>/docker/registry/v2/repositories/<name>/_manifests/revisions/sha256/<hex>/link
 *     <root>/docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link
 *
 * Each link file holds `sha256:<hex>`. A repository name may span several directories (`team/app`); a
 * directory is a repository when it holds `_manifests` or `_layers`.
 */
export class DistributionTree implements DistributionSource {
  readonly v2: string;
  readonly location: string;

  constructor(root: string) {
    this.location = root;
    this.v2 = join(root, 'docker', 'registry', 'v2');
  }

  async blobSize(digest: string): Promise<number | undefined> {
    const info = await stat(this.blobPath(digest)).catch(() => null);
    return info?.isFile() ? info.size : undefined;
  }

  async readBlob(digest: string): Promise<AsyncIterable<Uint8Array>> {
    return createReadStream(this.blobPath(digest));
  }

  /** Throws a clear error when `root` does not hold a Distribution tree. */
  async check(): Promise<void> {
    const info = await stat(join(this.v2, 'repositories')).catch(() => null);
    if (!info?.isDirectory()) {
      throw new Error(
        `${this.v2}/repositories: not found; give the Distribution storage root (its rootdirectory)`,
      );
    }
  }

  /** Repository names, sorted. */
  async repositories(): Promise<string[]> {
    const found: string[] = [];
    const visit = async (relative: string[]): Promise<void> => {
      const entries = await readdir(join(this.v2, 'repositories', ...relative), { withFileTypes: true });
      if (entries.some((e) => e.isDirectory() && (e.name === '_manifests' || e.name === '_layers'))) {
        found.push(relative.join('/'));
      }
      for (const entry of entries) {
        if (entry.isDirectory() && !entry.name.startsWith('_')) await visit([...relative, entry.name]);
      }
    };
    await visit([]);
    return found.sort();
  }

  /** Path of a blob's bytes. */
  blobPath(digest: string): string {
    const [algorithm, hex] = digest.split(':') as [string, string];
    return join(this.v2, 'blobs', algorithm, hex.slice(0, 2), hex, 'data');
  }

  /** Digests of the blobs linked into the repository (layers and configs). */
  layers(repository: string): Promise<string[]> {
    return this.linkedDigests(join(this.repositoryDir(repository), '_layers'));
  }

  /** Digests of the repository's manifests (revisions), tagged or not. */
  manifests(repository: string): Promise<string[]> {
    return this.linkedDigests(join(this.repositoryDir(repository), '_manifests', 'revisions'));
  }

  /** Tag → manifest digest; a tag whose link is missing or malformed is reported in `broken`. */
  async tags(repository: string): Promise<{ tags: Map<string, string>; broken: string[] }> {
    const dir = join(this.repositoryDir(repository), '_manifests', 'tags');
    const tags = new Map<string, string>();
    const broken: string[] = [];
    for (const name of (await listDir(dir)).sort()) {
      const digest = await readLink(join(dir, name, 'current', 'link'));
      if (digest) tags.set(name, digest);
      else broken.push(name);
    }
    return { tags, broken };
  }

  private repositoryDir(repository: string): string {
    return join(this.v2, 'repositories', ...repository.split('/'));
  }

  /** `<dir>/<algorithm>/<hex>/link` files whose content names the same digest as their path. */
  private async linkedDigests(dir: string): Promise<string[]> {
    const digests: string[] = [];
    for (const algorithm of await listDir(dir)) {
      for (const hex of await listDir(join(dir, algorithm))) {
        const digest = await readLink(join(dir, algorithm, hex, 'link'));
        if (digest === `${algorithm}:${hex}`) digests.push(digest);
      }
    }
    return digests.sort();
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** The digest a link file names, or undefined when it is missing or holds something else. */
async function readLink(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return tryParseDigest(text.trim())?.value;
}
