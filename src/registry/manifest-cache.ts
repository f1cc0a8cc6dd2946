import { LRUCache } from 'lru-cache';
import { BoundedLru } from '../cache/bounded-lru.js';
import type { Invalidation } from '../cluster/index.js';
import type { ManifestRow } from '../metadata/index.js';

/**
 * In-memory copies of hot manifests and tag → digest lookups, so a pull's manifest GET costs no query.
 *
 * Correctness against concurrent writes: every write bumps `epoch` after it commits and then forgets the keys
 * it touched; a reader notes the epoch before its database read and caches the result only if no write
 * happened meanwhile. A read that raced a write is therefore served but never cached stale.
 *
 * When other processes share the database, their writes arrive as invalidations through the bus (`apply`):
 * PostgreSQL LISTEN/NOTIFY between nodes, the cluster IPC between workers. The writer forgets before it answers
 * (read-your-writes); another process holds the old answer until the NOTIFY arrives, milliseconds after the
 * commit (docs/deployment.md, "Caches across nodes"). Two cases are not announced, and are bounded otherwise:
 * a writer that dies between its commit and its NOTIFY (entries then live at most `maxStaleMs`), and a change
 * feed that is down (`live()` false: tags are read from the database, manifests by digest, being immutable, are
 * still served, nothing new is kept, and everything is forgotten when the feed is back).
 */
export class ManifestCache {
  private epoch = 0;
  private readonly live: () => boolean;
  private readonly manifests: LRUCache<string, ManifestRow> | undefined;
  private readonly tags: LRUCache<string, string> | undefined;
  /**
   * The keys of `tags` by repository, so that a deleted manifest forgets its repository's tags without a walk
   * over every tag held (a collection deleting 100,000 manifests against 100,000 cached tags: 10^10 checks).
   */
  private readonly tagKeys = new Map<string, Set<string>>();
  /** Whole sorted tag lists of repositories, for tags/list pages without a query. */
  private readonly tagLists: LRUCache<string, string[]> | undefined;
  /**
   * Repositories found to have too many tags to hold whole: their pages come from the database, and they are
   * not read whole again to find that out. Only a hint (a repository that shrank is still listed right), so it
   * survives tag changes.
   */
  private readonly largeTagLists = new BoundedLru<string, true>({ max: 10_000 });

  constructor(
    maxBytes: number,
    options: {
      /** Whether entries may be kept now (false while the change feed may be missing events). */
      live?: () => boolean;
      /** When other processes share the database: the longest an entry is kept, in case a change goes unannounced. */
      maxStaleMs?: number;
      /** Tag lookups and lists are not cached (other processes move tags, and a lookup is cheap). */
      noTags?: boolean;
      /** How many tag lookups are held (100,000). */
      maxTags?: number;
    } = {},
  ) {
    this.live = options.live ?? (() => true);
    if (maxBytes <= 0) return;
    const ttl = options.maxStaleMs ? { ttl: options.maxStaleMs } : {};
    this.manifests = new LRUCache({ maxSize: maxBytes, sizeCalculation: (row) => row.size + 200, ...ttl });
    if (options.noTags) return;
    this.tags = new BoundedLru({
      max: options.maxTags ?? 100_000,
      ...ttl,
      // Evicted, expired or deleted (not overwritten): out of its repository's keys too.
      dispose: (_digest, key, reason) => {
        if (reason !== 'set') this.unindexTag(key);
      },
    });
    this.tagLists = new LRUCache({
      maxSize: Math.max(1, Math.floor(maxBytes / 4)),
      sizeCalculation: (list) => list.length * 64 + 64,
      ...ttl,
    });
  }

  /** The epoch to pass back to a later `remember*` call. */
  get snapshot(): number {
    return this.epoch;
  }

  /** Whether what was read at `snapshot` may be kept: no write since, and no event possibly missed. */
  private keeps(snapshot: number): boolean {
    return snapshot === this.epoch && this.live();
  }

  manifest(repository: string, digest: string): ManifestRow | undefined {
    return this.manifests?.get(`${repository}@${digest}`);
  }

  /** Tags move: while events may be missed, they are read from the database, not from what is held. */
  tag(repository: string, tag: string): string | undefined {
    return this.live() ? this.tags?.get(`${repository}:${tag}`) : undefined;
  }

  tagList(repository: string): string[] | undefined {
    return this.live() ? this.tagLists?.get(repository) : undefined;
  }

  rememberTagList(repository: string, tags: string[], snapshot: number): void {
    if (this.keeps(snapshot)) this.tagLists?.set(repository, tags);
  }

  /** Whether a whole tag list read now could be kept (else a page is read from the database alone). */
  get keepsTagLists(): boolean {
    return this.tagLists !== undefined && this.live();
  }

  tagListTooLarge(repository: string): boolean {
    return this.largeTagLists.has(repository);
  }

  rememberTagListTooLarge(repository: string): void {
    this.largeTagLists.set(repository, true);
  }

  rememberManifest(repository: string, row: ManifestRow, snapshot: number): void {
    if (this.keeps(snapshot)) this.manifests?.set(`${repository}@${row.digest}`, row);
  }

  rememberTag(repository: string, tag: string, digest: string, snapshot: number): void {
    if (!this.tags || !this.keeps(snapshot)) return;
    const key = `${repository}:${tag}`;
    this.tags.set(key, digest);
    const keys = this.tagKeys.get(repository);
    if (keys) keys.add(key);
    else this.tagKeys.set(repository, new Set([key]));
  }

  /** Names hold no ':', so a tag key's repository is what comes before its first. */
  private unindexTag(key: string): void {
    const repository = key.slice(0, key.indexOf(':'));
    const keys = this.tagKeys.get(repository);
    keys?.delete(key);
    if (keys?.size === 0) this.tagKeys.delete(repository);
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
    // A copy: each delete takes its key out of the set (dispose).
    for (const key of [...(this.tagKeys.get(repository) ?? [])]) this.tags?.delete(key);
    this.tagKeys.delete(repository);
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
    this.tagKeys.clear();
    this.tagLists?.clear();
  }
}
