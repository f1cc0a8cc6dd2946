import type { CollectionGraph, RepositoryItem } from '../../metadata/index.js';

/** What a garbage collection run would delete, decided from the metadata alone (the mark phase). */
export interface CollectionPlan {
  /**
   * Manifests to delete, in rounds: a manifest of round k+1 becomes garbage only once round k is gone (the
   * children of a deleted index, the referrers of a deleted subject). Each round is deleted before the next.
   */
  manifestRounds: RepositoryItem[][];
  /** Blob links no remaining manifest of their repository references. */
  links: RepositoryItem[];
  /** Blobs that no remaining link keeps, with their sizes. */
  blobs: { digest: string; size: number }[];
}

export interface PlanOptions {
  /** Anything created or relied upon at or after this time is spared (the grace window). */
  cutoff: number;
  /** Delete manifests that no tag, index or referrer keeps (default true). */
  untagged?: boolean;
}

const key = (repositoryId: number, digest: string) => `${repositoryId} ${digest}`;

/**
 * Marks garbage in the metadata graph:
 * - a manifest is garbage when it is older than the cutoff, has no tag and no remaining index lists it, and
 *   then: a referrer (it has a subject) when its subject is gone, any other manifest when no remaining
 *   referrer names it as subject;
 * - a link is garbage when it is older than the cutoff and no remaining manifest of its repository
 *   references the blob;
 * - a blob is garbage when no link remains and no push relied on it since the cutoff.
 * The sweep re-checks every one of these at delete time, so a push that races this plan is never undone.
 */
export function planCollection(graph: CollectionGraph, options: PlanOptions): CollectionPlan {
  const { cutoff } = options;
  const manifests = new Map(graph.manifests.map((m) => [key(m.repositoryId, m.digest), m]));
  const parents = new Map<string, number>();
  const children = new Map<string, string[]>();
  const referrers = new Map<string, Set<string>>();
  for (const ref of graph.references) {
    if (ref.kind !== 'manifest') continue;
    const child = key(ref.repositoryId, ref.child);
    parents.set(child, (parents.get(child) ?? 0) + 1);
    const parent = key(ref.repositoryId, ref.manifest);
    const list = children.get(parent);
    if (list) list.push(child);
    else children.set(parent, [child]);
  }
  for (const [id, m] of manifests) {
    if (m.subject === null) continue;
    const subject = key(m.repositoryId, m.subject);
    const set = referrers.get(subject) ?? new Set<string>();
    referrers.set(subject, set);
    set.add(id);
  }

  const removed = new Set<string>();
  const isGarbage = (id: string): boolean => {
    const m = manifests.get(id);
    if (!m || removed.has(id) || m.createdAt >= cutoff || graph.tagged.has(id)) return false;
    if ((parents.get(id) ?? 0) > 0) return false;
    if (m.subject !== null) {
      // A referrer lives and dies with its subject, whatever refers to it in turn (a signature on an SBOM).
      const subject = key(m.repositoryId, m.subject);
      return !manifests.has(subject) || removed.has(subject);
    }
    for (const referrer of referrers.get(id) ?? []) if (!removed.has(referrer)) return false;
    return true;
  };

  const manifestRounds: RepositoryItem[][] = [];
  if (options.untagged !== false) {
    let round = [...manifests.keys()].filter(isGarbage);
    while (round.length > 0) {
      for (const id of round) removed.add(id);
      const freed = round.flatMap((id) => manifests.get(id) ?? []);
      manifestRounds.push(freed.map(toItem));
      // Whoever this round freed: children of removed indexes, subjects and referrers of removed manifests.
      const next = new Set<string>();
      for (const m of freed) {
        const id = key(m.repositoryId, m.digest);
        for (const child of children.get(id) ?? []) {
          parents.set(child, (parents.get(child) ?? 1) - 1);
          next.add(child);
        }
        if (m.subject !== null) next.add(key(m.repositoryId, m.subject));
        for (const referrer of referrers.get(id) ?? []) next.add(referrer);
      }
      round = [...next].filter(isGarbage);
    }
  }

  const referenced = new Set<string>();
  for (const ref of graph.references) {
    if (ref.kind === 'blob' && !removed.has(key(ref.repositoryId, ref.manifest))) {
      referenced.add(key(ref.repositoryId, ref.child));
    }
  }
  const links: RepositoryItem[] = [];
  const linked = new Set<string>();
  for (const link of graph.links) {
    if (link.createdAt < cutoff && !referenced.has(key(link.repositoryId, link.digest))) {
      links.push({ repositoryId: link.repositoryId, digest: link.digest });
    } else {
      linked.add(link.digest);
    }
  }
  const blobs = graph.blobs
    .filter((blob) => blob.touchedAt < cutoff && !linked.has(blob.digest))
    .map((blob) => ({ digest: blob.digest, size: blob.size }));
  return { manifestRounds, links, blobs };
}

function toItem(m: { repositoryId: number; digest: string }): RepositoryItem {
  return { repositoryId: m.repositoryId, digest: m.digest };
}
