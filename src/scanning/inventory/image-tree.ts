import type { FileFindings } from './analyzer.js';
import { isWithin, parentOf } from './image-path.js';

/** What one analyzer said about one file, kept under the file's real path. */
export interface PathRecord {
  analyzer: string;
  /** The path the analyzer matched: the real path, or a path that reaches it through symlinks. */
  matchedPath: string;
  layer: string;
  findings: FileFindings;
}

interface Tracked {
  /** Index of the layer that put it there: whiteouts only hide what lower layers put. */
  layerIndex: number;
}

interface Symlink extends Tracked {
  /** Absolute and lexically normalised. */
  target: string;
}

interface Records extends Tracked {
  items: PathRecord[];
}

/**
 * The part of the image's merged filesystem that the inventory needs: symlinks (to reach analyzer targets
 * through them) and, per real path, what analyzers found there. Everything else is walked past, never kept.
 * Layers are applied in order, with OCI whiteout semantics (image-spec layer.md, "Whiteouts").
 */
export class ImageTree {
  private readonly symlinks = new Map<string, Symlink>();
  /** Lexical target → the symlinks that point at it: files are matched under the paths that reach them. */
  private readonly pointedAt = new Map<string, Set<string>>();
  private readonly records = new Map<string, Records>();
  /** Directory → how many tracked paths lie below it, so replacing a plain file costs no scan. */
  private readonly below = new Map<string, number>();

  /** A non-directory entry at `path` replaces whatever was there, including a whole directory. */
  replace(path: string): void {
    this.removeWithin(path, Number.POSITIVE_INFINITY);
  }

  /** A directory entry replaces a file or symlink at `path` but merges with a directory. */
  directory(path: string): void {
    this.removeExact(path);
  }

  /** `.wh.<name>`: the path and everything under it from lower layers is gone. */
  whiteout(path: string, layerIndex: number): void {
    this.removeWithin(path, layerIndex);
  }

  /** `.wh..wh..opq`: what lower layers put in the directory is hidden; the directory itself stays. */
  opaque(dir: string, layerIndex: number): void {
    if (!this.below.has(dir)) return;
    for (const path of this.trackedPaths()) {
      if (path !== dir && isWithin(path, dir)) this.removeExact(path, layerIndex);
    }
  }

  symlink(path: string, target: string, layerIndex: number): void {
    this.replace(path);
    this.symlinks.set(path, { target, layerIndex });
    const links = this.pointedAt.get(target);
    if (links) links.add(path);
    else this.pointedAt.set(target, new Set([path]));
    this.count(path, 1);
  }

  symlinkAt(path: string): string | undefined {
    return this.symlinks.get(path)?.target;
  }

  /** Adds what an analyzer found in the file now at `path` (which `replace` has cleared). */
  record(path: string, record: PathRecord, layerIndex: number): void {
    const existing = this.records.get(path);
    if (existing) existing.items.push(record);
    else {
      this.records.set(path, { layerIndex, items: [record] });
      this.count(path, 1);
    }
  }

  recordsAt(path: string): PathRecord[] {
    return this.records.get(path)?.items ?? [];
  }

  allRecords(): IterableIterator<[string, Records]> {
    return this.records.entries();
  }

  allSymlinks(): IterableIterator<[string, Symlink]> {
    return this.symlinks.entries();
  }

  /**
   * Other paths that reach `path` through the symlinks known so far (`/etc/os-release` for
   * `/usr/lib/os-release` when the former links to the latter; `/lib/apk/db/installed` for
   * `/usr/lib/apk/db/installed` under `/lib → usr/lib`), breadth first, at most `maxHops` links deep.
   */
  aliases(path: string, maxHops: number, maxAliases = 32): string[] {
    if (this.pointedAt.size === 0) return [];
    const found: string[] = [];
    const seen = new Set([path]);
    let frontier = [path];
    for (let hop = 0; hop < maxHops && frontier.length > 0 && found.length < maxAliases; hop++) {
      const next: string[] = [];
      for (const current of frontier) {
        for (let prefix = current; prefix !== '/'; prefix = parentOf(prefix)) {
          const links = this.pointedAt.get(prefix);
          if (!links) continue;
          for (const link of links) {
            const alias = link + current.slice(prefix.length);
            if (seen.has(alias) || found.length >= maxAliases) continue;
            seen.add(alias);
            found.push(alias);
            next.push(alias);
          }
        }
      }
      frontier = next;
    }
    return found;
  }

  /**
   * Where `path` leads in the tree as it stands, following symlinks in every component; undefined when more
   * than `maxHops` links are followed (a loop).
   */
  resolve(path: string, maxHops: number): string | undefined {
    let hops = 0;
    let rest = path.split('/').filter(Boolean);
    let resolved = '';
    for (let i = 0; i < rest.length; ) {
      const candidate = `${resolved}/${rest[i]}`;
      const link = this.symlinks.get(candidate);
      if (link) {
        if (++hops > maxHops) return undefined;
        rest = [...link.target.split('/').filter(Boolean), ...rest.slice(i + 1)];
        resolved = '';
        i = 0;
        continue;
      }
      resolved = candidate;
      i++;
    }
    return resolved || '/';
  }

  private *trackedPaths(): Generator<string> {
    yield* [...this.symlinks.keys(), ...this.records.keys()];
  }

  private removeWithin(path: string, belowLayer: number): void {
    this.removeExact(path, belowLayer);
    if (!this.below.has(path)) return;
    for (const tracked of this.trackedPaths()) {
      if (isWithin(tracked, path)) this.removeExact(tracked, belowLayer);
    }
  }

  private removeExact(path: string, belowLayer = Number.POSITIVE_INFINITY): void {
    const link = this.symlinks.get(path);
    if (link && link.layerIndex < belowLayer) {
      this.symlinks.delete(path);
      const links = this.pointedAt.get(link.target);
      links?.delete(path);
      if (links?.size === 0) this.pointedAt.delete(link.target);
      this.count(path, -1);
    }
    const records = this.records.get(path);
    if (records && records.layerIndex < belowLayer) {
      this.records.delete(path);
      this.count(path, -1);
    }
  }

  private count(path: string, delta: number): void {
    for (let dir = parentOf(path); ; dir = parentOf(dir)) {
      const n = (this.below.get(dir) ?? 0) + delta;
      if (n > 0) this.below.set(dir, n);
      else this.below.delete(dir);
      if (dir === '/') break;
    }
  }
}
