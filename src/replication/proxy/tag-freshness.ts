import type { LRUCache } from 'lru-cache';
import { BoundedLru } from '../../cache/bounded-lru.js';

/**
 * When each cached tag was last confirmed against the upstream (a HEAD that matched, or a fresh fetch). Within
 * the TTL the cached manifest is served without asking; per process, so each node asks once per TTL.
 */
export class TagFreshness {
  private readonly checked: LRUCache<string, { digest: string }> | undefined;

  constructor(ttlMs: number) {
    if (ttlMs > 0) this.checked = new BoundedLru({ max: 100_000, ttl: ttlMs });
  }

  /** The digest the tag had when last confirmed, while that is within the TTL. */
  fresh(repository: string, tag: string): string | undefined {
    return this.checked?.get(`${repository}:${tag}`)?.digest;
  }

  confirm(repository: string, tag: string, digest: string): void {
    this.checked?.set(`${repository}:${tag}`, { digest });
  }

  forget(repository: string, tag: string): void {
    this.checked?.delete(`${repository}:${tag}`);
  }
}
