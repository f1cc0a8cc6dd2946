import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tryParseDigest } from '../registry/index.js';

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
export class DistributionTree {
  readonly v2: string;

  constructor(root: string) {
    this.v2 = join(root, 'docker', 'registry', 'v2');
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
