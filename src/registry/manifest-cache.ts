import { LRUCache } from 'lru-cache';
import type { Invalidation } from '../cluster/index.js';
import type { ManifestRow } from '../metadata/index.js';

/**
 * In-memory copies of hot manifests and tag → digest lookups, so a pull's manifest GET costs no query.
 *
 * Correctness against concurrent writes: every write bumps `epoch` after it commits and then forgets the keys
 * it touched; a reader notes the epoch before its database read and caches the result only if no write
 * happened meanwhile. A read that raced a write is therefore served but never cached stale.
 *
 * When other processes share the database (`shared`), they can move a tag at any moment and a broadcast
 * would arrive a little late; so then only manifests by digest are cached (content-addressed, they never
 * change) and tag lookups always ask the database. Deletes reach other processes through `apply`.
 */
export class ManifestCache {
  private epoch = 0;
  private readonly manifests: LRUCache<string, ManifestRow> | undefined;
  private readonly tags: LRUCache<string, string> | undefined;
  /** Whole sorted tag lists of repositories, for tags/list pages without a query. */
  private readonly tagLists: LRUCache<string, string[]> | undefined;

  constructor(maxBytes: number, shared = false) {
    if (maxBytes <= 0) return;
    this.manifests = new LRUCache({ maxSize: maxBytes, sizeCalculation: (row) => row.size + 200 });
    if (shared) return;
    this.tags = new LRUCache({ max: 100_000 });
    this.tagLists = new LRUCache({
      maxSize: Math.max(1, Math.floor(maxBytes / 4)),
      sizeCalculation: (list) => list.length * 64 + 64,
    });
  }

  /** The epoch to pass back to a later `remember*` call. */
  get snapshot(): number {
    return this.epoch;
  }

  manifest(repository: string, digest: string): ManifestRow | undefined {
    return this.manifests?.get(`${repository}@${digest}`);
  }

  tag(repository: string, tag: string): string | undefined {
    return this.tags?.get(`${repository}:${tag}`);
  }

  tagList(repository: string): string[] | undefined {
    return this.tagLists?.get(repository);
  }

  rememberTagList(repository: string, tags: string[], snapshot: number): void {
    if (snapshot === this.epoch) this.tagLists?.set(repository, tags);
  }

  rememberManifest(repository: string, row: ManifestRow, snapshot: number): void {
    if (snapshot === this.epoch) this.manifests?.set(`${repository}@${row.digest}`, row);
  }

  rememberTag(repository: string, tag: string, digest: string, snapshot: number): void {
    if (snapshot === this.epoch) this.tags?.set(`${repository}:${tag}`, digest);
  }

  /** After a tag was written or deleted. */
  tagChanged(repository: string, tag: string): void {
    this.epoch++;
    this.tags?.delete(`${repository}:${tag}`);
    this.tagLists?.delete(repository);
  }

  /** After a manifest was deleted: it and every tag of the repository (its tags went with it). */
  manifestDeleted(repository: string, digest: string): void {
    this.epoch++;
    this.manifests?.delete(`${repository}@${digest}`);
    this.tagLists?.delete(repository);
    const prefix = `${repository}:`;
    for (const key of this.tags?.keys() ?? []) if (key.startsWith(prefix)) this.tags?.delete(key);
  }

  /** An invalidation from another process. */
  apply(event: Invalidation): void {
    if (event.kind === 'manifest-deleted') this.manifestDeleted(event.repository, event.digest);
    else if (event.kind === 'tag-changed') this.tagChanged(event.repository, event.tag);
    else if (event.kind === 'all') this.clear();
  }

  clear(): void {
    this.epoch++;
    this.manifests?.clear();
    this.tags?.clear();
    this.tagLists?.clear();
  }
}
