import { describe, expect, it } from 'vitest';
import type { ManifestRow } from '../../src/metadata/index.js';
import { ManifestCache } from '../../src/registry/manifest-cache.js';

function row(digest: string): ManifestRow {
  return {
    digest,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    size: 10,
    content: Buffer.alloc(10),
  };
}

describe('ManifestCache', () => {
  it('remembers manifests and tags read while nothing was written', () => {
    const cache = new ManifestCache(1024 * 1024);
    const snapshot = cache.snapshot;
    cache.rememberManifest('a/b', row('sha256:1'), snapshot);
    cache.rememberTag('a/b', 'latest', 'sha256:1', snapshot);
    expect(cache.manifest('a/b', 'sha256:1')?.digest).toBe('sha256:1');
    expect(cache.tag('a/b', 'latest')).toBe('sha256:1');
    expect(cache.manifest('other', 'sha256:1')).toBeUndefined();
  });

  it('does not cache a read that raced a tag write (it may hold the old digest)', () => {
    const cache = new ManifestCache(1024 * 1024);
    const snapshot = cache.snapshot; // reader starts
    cache.tagChanged('a/b', 'latest'); // writer commits a new digest
    cache.rememberTag('a/b', 'latest', 'sha256:old', snapshot); // reader finishes with what it read
    expect(cache.tag('a/b', 'latest')).toBeUndefined();
  });

  it('forgets a moved or deleted tag', () => {
    const cache = new ManifestCache(1024 * 1024);
    cache.rememberTag('a/b', 'latest', 'sha256:1', cache.snapshot);
    cache.tagChanged('a/b', 'latest');
    expect(cache.tag('a/b', 'latest')).toBeUndefined();
  });

  it('forgets a deleted manifest and every tag of its repository, not of others', () => {
    const cache = new ManifestCache(1024 * 1024);
    const s = cache.snapshot;
    cache.rememberManifest('a/b', row('sha256:1'), s);
    cache.rememberTag('a/b', 'v1', 'sha256:1', s);
    cache.rememberTag('a/b', 'v2', 'sha256:2', s);
    cache.rememberTag('a/bc', 'v1', 'sha256:1', s);
    cache.manifestDeleted('a/b', 'sha256:1');
    expect(cache.manifest('a/b', 'sha256:1')).toBeUndefined();
    expect(cache.tag('a/b', 'v1')).toBeUndefined();
    expect(cache.tag('a/b', 'v2')).toBeUndefined();
    expect(cache.tag('a/bc', 'v1')).toBe('sha256:1');
  });

  it("forgets a repository's tags on a manifest delete after they were moved, re-read, evicted and read again", () => {
    const cache = new ManifestCache(1024 * 1024, { maxTags: 3 });
    let s = cache.snapshot;
    cache.rememberTag('a/b', 'v1', 'sha256:1', s);
    cache.rememberTag('a/b', 'v1', 'sha256:1', s); // read again: overwritten, still indexed
    cache.tagChanged('a/b', 'v1');
    s = cache.snapshot;
    cache.rememberTag('a/b', 'v1', 'sha256:2', s);
    cache.rememberTag('a/b', 'v2', 'sha256:2', s);
    cache.rememberTag('x/y', 'v1', 'sha256:9', s);
    cache.rememberTag('x/z', 'v1', 'sha256:9', s); // evicts a/b:v1 (least recently used)
    expect(cache.tag('a/b', 'v1')).toBeUndefined();
    cache.rememberTag('a/b', 'v1', 'sha256:2', s); // evicts a/b:v2
    cache.manifestDeleted('a/b', 'sha256:2');
    expect(cache.tag('a/b', 'v1')).toBeUndefined();
    expect(cache.tag('a/b', 'v2')).toBeUndefined();
    expect(cache.tag('x/y', 'v1')).toBe('sha256:9');
    expect(cache.tag('x/z', 'v1')).toBe('sha256:9');
    // And from scratch after a clear.
    cache.clear();
    s = cache.snapshot;
    cache.rememberTag('a/b', 'v3', 'sha256:3', s);
    cache.manifestDeleted('a/b', 'sha256:3');
    expect(cache.tag('a/b', 'v3')).toBeUndefined();
  });

  it('keeps a whole tag list until a tag of that repository changes or a manifest is deleted', () => {
    const cache = new ManifestCache(1024 * 1024);
    cache.rememberTagList('a/b', ['v1', 'v2'], cache.snapshot);
    cache.rememberTagList('a/c', ['x'], cache.snapshot);
    expect(cache.tagList('a/b')).toEqual(['v1', 'v2']);
    cache.tagChanged('a/b', 'v3');
    expect(cache.tagList('a/b')).toBeUndefined();
    expect(cache.tagList('a/c')).toEqual(['x']);
    cache.manifestDeleted('a/c', 'sha256:1');
    expect(cache.tagList('a/c')).toBeUndefined();
  });

  it('does not cache a tag list read that raced a tag write', () => {
    const cache = new ManifestCache(1024 * 1024);
    const snapshot = cache.snapshot;
    cache.tagChanged('a/b', 'new');
    cache.rememberTagList('a/b', ['old'], snapshot);
    expect(cache.tagList('a/b')).toBeUndefined();
  });

  it('stays within its byte budget and can be turned off', () => {
    const cache = new ManifestCache(1000);
    for (let i = 0; i < 50; i++) cache.rememberManifest('r', row(`sha256:${i}`), cache.snapshot);
    let kept = 0;
    for (let i = 0; i < 50; i++) if (cache.manifest('r', `sha256:${i}`)) kept++;
    expect(kept).toBeGreaterThan(0);
    expect(kept * 210).toBeLessThanOrEqual(1000);
    const off = new ManifestCache(0);
    off.rememberManifest('r', row('sha256:1'), off.snapshot);
    expect(off.manifest('r', 'sha256:1')).toBeUndefined();
  });

  describe('shared with other processes', () => {
    it('with noTags (workers on an embedded database), caches manifests by digest but never tags or tag lists', () => {
      const cache = new ManifestCache(1024 * 1024, { noTags: true });
      const snapshot = cache.snapshot;
      cache.rememberManifest('a/b', row('sha256:1'), snapshot);
      cache.rememberTag('a/b', 'latest', 'sha256:1', snapshot);
      cache.rememberTagList('a/b', ['latest'], snapshot);
      expect(cache.manifest('a/b', 'sha256:1')?.digest).toBe('sha256:1');
      expect(cache.tag('a/b', 'latest')).toBeUndefined();
      expect(cache.tagList('a/b')).toBeUndefined();
    });

    it('while the change feed is down, serves no tags and keeps nothing new; manifests by digest still serve', () => {
      let live = true;
      const cache = new ManifestCache(1024 * 1024, { live: () => live });
      cache.rememberTag('a/b', 'latest', 'sha256:1', cache.snapshot);
      cache.rememberTagList('a/b', ['latest'], cache.snapshot);
      cache.rememberManifest('a/b', row('sha256:1'), cache.snapshot);
      live = false;
      expect(cache.tag('a/b', 'latest')).toBeUndefined();
      expect(cache.tagList('a/b')).toBeUndefined();
      expect(cache.manifest('a/b', 'sha256:1')?.digest).toBe('sha256:1');
      cache.rememberManifest('a/b', row('sha256:2'), cache.snapshot);
      cache.rememberTag('a/b', 'v2', 'sha256:2', cache.snapshot);
      live = true;
      expect(cache.manifest('a/b', 'sha256:2')).toBeUndefined();
      expect(cache.tag('a/b', 'v2')).toBeUndefined();
      expect(cache.tag('a/b', 'latest')).toBe('sha256:1');
    });

    it('keeps entries at most maxStaleMs (a change whose announcement was lost)', async () => {
      const cache = new ManifestCache(1024 * 1024, { maxStaleMs: 30 });
      cache.rememberTag('a/b', 'latest', 'sha256:1', cache.snapshot);
      expect(cache.tag('a/b', 'latest')).toBe('sha256:1');
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect(cache.tag('a/b', 'latest')).toBeUndefined();
    });

    it('applies invalidations from other processes', () => {
      const cache = new ManifestCache(1024 * 1024, { maxStaleMs: 30_000 });
      cache.rememberManifest('a/b', row('sha256:1'), cache.snapshot);
      cache.rememberManifest('a/b', row('sha256:2'), cache.snapshot);
      cache.apply({ kind: 'manifest-deleted', repository: 'a/b', digest: 'sha256:1' });
      expect(cache.manifest('a/b', 'sha256:1')).toBeUndefined();
      expect(cache.manifest('a/b', 'sha256:2')).toBeDefined();
      const snapshot = cache.snapshot;
      cache.apply({ kind: 'all' });
      expect(cache.manifest('a/b', 'sha256:2')).toBeUndefined();
      // A read that started before the 'all' must not be cached either.
      cache.rememberManifest('a/b', row('sha256:3'), snapshot);
      expect(cache.manifest('a/b', 'sha256:3')).toBeUndefined();
    });
  });

  it('applies a tag-changed invalidation like a local tag write', () => {
    const cache = new ManifestCache(1024 * 1024);
    cache.rememberTag('a/b', 'latest', 'sha256:1', cache.snapshot);
    cache.rememberTagList('a/b', ['latest'], cache.snapshot);
    cache.apply({ kind: 'tag-changed', repository: 'a/b', tag: 'latest' });
    expect(cache.tag('a/b', 'latest')).toBeUndefined();
    expect(cache.tagList('a/b')).toBeUndefined();
  });
});
