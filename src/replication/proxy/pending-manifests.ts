import { BoundedLru } from '../../cache/bounded-lru.js';

/** A manifest fetched from the upstream whose blobs (or child manifests) the repository does not hold yet. */
export interface PendingManifest {
  repository: string;
  digest: string;
  mediaType: string;
  bytes: Buffer;
  /** Tags to point at it once it is stored. */
  tags: Set<string>;
}

/**
 * Manifests waiting for their content. The registry core stores a manifest only when everything it references
 * is in the repository, and a pull-through fetches blobs as the client asks for them; so a manifest fetched
 * from the upstream is served from here until the client's blob pulls complete it, then stored (with its tags)
 * through the core. Per process and bounded: one forgotten is fetched again at the next pull.
 */
export class PendingManifests {
  private readonly entries = new BoundedLru<string, PendingManifest>({ max: 10_000, ttl: 3600_000 });

  get(repository: string, digest: string): PendingManifest | undefined {
    return this.entries.get(`${repository}@${digest}`);
  }

  add(entry: Omit<PendingManifest, 'tags'>, tag: string | undefined): void {
    const key = `${entry.repository}@${entry.digest}`;
    const current = this.entries.get(key) ?? { ...entry, tags: new Set<string>() };
    if (tag !== undefined) current.tags.add(tag);
    this.entries.set(key, current);
  }

  delete(repository: string, digest: string): void {
    this.entries.delete(`${repository}@${digest}`);
  }

  /** The repository's waiting manifests, children (plain manifests) before indexes. */
  of(repository: string): PendingManifest[] {
    const found: PendingManifest[] = [];
    for (const entry of this.entries.values()) if (entry.repository === repository) found.push(entry);
    return found.sort((a, b) => Number(isIndex(a.mediaType)) - Number(isIndex(b.mediaType)));
  }
}

function isIndex(mediaType: string): boolean {
  return mediaType.includes('index') || mediaType.includes('manifest.list');
}
