// planCollection, the mark phase of garbage collection, over small metadata graphs built by hand: which
// manifests go (and in which round), which blob links and which blobs, with the grace cutoff and the
// `untagged` option. The sweep's re-checks and the real storage are test/integration/gc.test.ts's.
import { describe, expect, it } from 'vitest';
import { planCollection } from '../../../src/lifecycle/index.js';
import type { CollectionGraph } from '../../../src/metadata/index.js';

const CUTOFF = 1_000_000;
/** Just before the cutoff: old enough to collect. */
const OLD = CUTOFF - 1;

/** A manifest, keyed `<repositoryId> <digest>` in a Spec. Defaults: untagged, created OLD, no subject. */
interface ManifestSpec {
  tagged?: boolean;
  created?: number;
  subject?: string;
  /** Child manifests (an index's), in the same repository. */
  children?: string[];
  /** Blobs it references (config, layers), in the same repository. */
  blobs?: string[];
}

interface Spec {
  manifests?: Record<string, ManifestSpec>;
  /**
   * Links `<repositoryId> <digest>`, created OLD unless given as [key, createdAt]. Every blob a manifest
   * references is linked (OLD) in its repository unless listed here.
   */
  links?: (string | [string, number])[];
  /** Blobs, touched OLD unless given as [digest, touchedAt]. Every linked digest has one unless listed. */
  blobs?: (string | [string, number])[];
}

function split(key: string): { repositoryId: number; digest: string } {
  const [repository, digest] = key.split(' ') as [string, string];
  return { repositoryId: Number(repository), digest };
}

function graphOf(spec: Spec): CollectionGraph {
  const graph: CollectionGraph = {
    repositories: new Map([
      [1, 'team/a'],
      [2, 'team/b'],
    ]),
    manifests: [],
    tagged: new Set(),
    references: [],
    links: [],
    blobs: [],
  };
  const links = new Map<string, number>();
  for (const link of spec.links ?? []) {
    const [key, createdAt] = typeof link === 'string' ? [link, OLD] : link;
    links.set(key, createdAt);
  }
  for (const [key, m] of Object.entries(spec.manifests ?? {})) {
    const { repositoryId, digest } = split(key);
    graph.manifests.push({ repositoryId, digest, subject: m.subject ?? null, createdAt: m.created ?? OLD });
    if (m.tagged) graph.tagged.add(key);
    for (const child of m.children ?? []) {
      graph.references.push({ repositoryId, manifest: digest, child, kind: 'manifest' });
    }
    for (const blob of m.blobs ?? []) {
      graph.references.push({ repositoryId, manifest: digest, child: blob, kind: 'blob' });
      if (!links.has(`${repositoryId} ${blob}`)) links.set(`${repositoryId} ${blob}`, OLD);
    }
  }
  for (const [key, createdAt] of links) graph.links.push({ ...split(key), createdAt });
  const blobs = new Map<string, number>();
  for (const blob of spec.blobs ?? []) {
    const [digest, touchedAt] = typeof blob === 'string' ? [blob, OLD] : blob;
    blobs.set(digest, touchedAt);
  }
  for (const link of graph.links) if (!blobs.has(link.digest)) blobs.set(link.digest, OLD);
  for (const [digest, touchedAt] of blobs) graph.blobs.push({ digest, size: 100, touchedAt });
  return graph;
}

interface Expected {
  /** Manifests by round, each `<repositoryId> <digest>` (order within a round does not matter). */
  rounds: string[][];
  links: string[];
  blobs: string[];
}

function plan(spec: Spec, options: { untagged?: boolean } = {}): Expected {
  const result = planCollection(graphOf(spec), { cutoff: CUTOFF, ...options });
  const keyOf = (item: { repositoryId: number; digest: string }) => `${item.repositoryId} ${item.digest}`;
  return {
    rounds: result.manifestRounds.map((round) => round.map(keyOf).sort()),
    links: result.links.map(keyOf).sort(),
    blobs: result.blobs.map((blob) => blob.digest).sort(),
  };
}

const NOTHING: Expected = { rounds: [], links: [], blobs: [] };

interface Case {
  name: string;
  spec: Spec;
  options?: { untagged?: boolean };
  expect: Expected;
}

const MANIFESTS: Case[] = [
  {
    name: 'an untagged manifest goes with its links and blobs; a tagged one stays with its own',
    spec: {
      manifests: {
        '1 kept': { tagged: true, blobs: ['kept-config', 'kept-layer'] },
        '1 dropped': { blobs: ['dropped-config', 'dropped-layer'] },
      },
    },
    expect: {
      rounds: [['1 dropped']],
      links: ['1 dropped-config', '1 dropped-layer'],
      blobs: ['dropped-config', 'dropped-layer'],
    },
  },
  {
    name: 'a layer shared by a dropped and a kept manifest stays',
    spec: {
      manifests: {
        '1 kept': { tagged: true, blobs: ['shared'] },
        '1 dropped': { blobs: ['shared', 'own'] },
      },
    },
    expect: { rounds: [['1 dropped']], links: ['1 own'], blobs: ['own'] },
  },
  {
    name: 'the same manifest tagged in one repository is still garbage in another',
    spec: {
      manifests: {
        '1 m': { tagged: true, blobs: ['layer'] },
        '2 m': { blobs: ['layer'] },
      },
    },
    // B's link goes; A's keeps the blob.
    expect: { rounds: [['2 m']], links: ['2 layer'], blobs: [] },
  },
  {
    name: 'the grace window: a manifest created at the cutoff stays, with what it references',
    spec: {
      manifests: {
        '1 young': { created: CUTOFF, blobs: ['young-layer'] },
        '1 old': { created: OLD, blobs: ['old-layer'] },
      },
    },
    expect: { rounds: [['1 old']], links: ['1 old-layer'], blobs: ['old-layer'] },
  },
  {
    name: 'the children of a tagged index stay; those of an untagged one go a round after it',
    spec: {
      manifests: {
        '1 tagged-index': { tagged: true, children: ['a', 'shared'] },
        '1 untagged-index': { children: ['b', 'shared'] },
        '1 a': { blobs: ['a-layer'] },
        '1 b': { blobs: ['b-layer'] },
        '1 shared': { blobs: ['shared-layer'] },
      },
    },
    expect: { rounds: [['1 untagged-index'], ['1 b']], links: ['1 b-layer'], blobs: ['b-layer'] },
  },
  {
    name: 'nested indexes go parent first, one level per round; a child within the window stays',
    spec: {
      manifests: {
        '1 outer': { children: ['inner', 'young'] },
        '1 inner': { children: ['leaf'] },
        '1 leaf': { blobs: ['leaf-layer'] },
        '1 young': { created: CUTOFF, blobs: ['young-layer'] },
      },
    },
    expect: {
      rounds: [['1 outer'], ['1 inner'], ['1 leaf']],
      links: ['1 leaf-layer'],
      blobs: ['leaf-layer'],
    },
  },
  {
    name: 'an index within the grace window keeps its old children',
    spec: {
      manifests: {
        '1 index': { created: CUTOFF, children: ['child'] },
        '1 child': {},
      },
    },
    expect: NOTHING,
  },
  {
    name: 'the referrer of a live subject stays',
    spec: {
      manifests: {
        '1 subject': { tagged: true },
        '1 signature': { subject: 'subject', blobs: ['signature-layer'] },
      },
    },
    expect: NOTHING,
  },
  {
    name: 'an untagged subject and its referrer keep each other',
    spec: {
      manifests: {
        '1 subject': { blobs: ['subject-layer'] },
        '1 sbom': { subject: 'subject', blobs: ['sbom-layer'] },
      },
    },
    expect: NOTHING,
  },
  {
    name: 'the referrer of a missing subject goes',
    spec: {
      manifests: {
        '1 orphan': { subject: 'gone', blobs: ['orphan-layer'] },
      },
    },
    expect: { rounds: [['1 orphan']], links: ['1 orphan-layer'], blobs: ['orphan-layer'] },
  },
  {
    name: 'a chain of referrers of a missing subject goes link by link (a signature on an SBOM)',
    spec: {
      manifests: {
        '1 sbom': { subject: 'gone', blobs: ['sbom-layer'] },
        '1 signature': { subject: 'sbom', blobs: ['signature-layer'] },
      },
    },
    expect: {
      rounds: [['1 sbom'], ['1 signature']],
      links: ['1 sbom-layer', '1 signature-layer'],
      blobs: ['sbom-layer', 'signature-layer'],
    },
  },
  {
    name: 'a referrer names its subject in its own repository only',
    spec: {
      manifests: {
        '1 subject': { tagged: true },
        '2 orphan': { subject: 'subject' },
      },
    },
    expect: { rounds: [['2 orphan']], links: [], blobs: [] },
  },
  {
    name: 'a tagged referrer of a missing subject stays',
    spec: {
      manifests: {
        '1 orphan': { tagged: true, subject: 'gone', blobs: ['orphan-layer'] },
      },
    },
    expect: NOTHING,
  },
  {
    name: 'an orphaned referrer listed by an untagged index goes a round after the index',
    spec: {
      manifests: {
        '1 index': { children: ['orphan'] },
        '1 orphan': { subject: 'gone' },
      },
    },
    expect: { rounds: [['1 index'], ['1 orphan']], links: [], blobs: [] },
  },
  {
    name: 'untagged: false collects no manifests, but still unreferenced links and blobs',
    spec: {
      manifests: {
        '1 untagged': { blobs: ['layer'] },
        '1 orphan': { subject: 'gone' },
      },
      links: ['1 abandoned'],
      blobs: ['unlinked'],
    },
    options: { untagged: false },
    expect: { rounds: [], links: ['1 abandoned'], blobs: ['abandoned', 'unlinked'] },
  },
  {
    name: 'the same graph with untagged manifests collected (the default)',
    spec: {
      manifests: {
        '1 untagged': { blobs: ['layer'] },
        '1 orphan': { subject: 'gone' },
      },
      links: ['1 abandoned'],
      blobs: ['unlinked'],
    },
    expect: {
      rounds: [['1 orphan', '1 untagged']],
      links: ['1 abandoned', '1 layer'],
      blobs: ['abandoned', 'layer', 'unlinked'],
    },
  },
];

const LINKS_AND_BLOBS: Case[] = [
  {
    name: 'a link no manifest references goes once older than the cutoff; at the cutoff it stays',
    spec: { links: [['1 at-cutoff', CUTOFF], '1 before-cutoff'] },
    expect: { rounds: [], links: ['1 before-cutoff'], blobs: ['before-cutoff'] },
  },
  {
    name: 'a blob without any link goes once untouched since the cutoff; touched at the cutoff it stays',
    spec: { blobs: [['at-cutoff', CUTOFF], 'before-cutoff'] },
    expect: { rounds: [], links: [], blobs: ['before-cutoff'] },
  },
  {
    name: 'a blob touched within the window stays although its last link goes',
    spec: { links: ['1 layer'], blobs: [['layer', CUTOFF + 5]] },
    expect: { rounds: [], links: ['1 layer'], blobs: [] },
  },
  {
    name: 'a blob linked from two repositories, one link garbage: that link goes, the blob stays',
    spec: { links: [['1 layer', CUTOFF], '2 layer'] },
    expect: { rounds: [], links: ['2 layer'], blobs: [] },
  },
  {
    name: "a blob a kept manifest references in A, linked in B with nothing there: B's link goes, the blob stays",
    spec: {
      manifests: { '1 image': { tagged: true, blobs: ['layer'] } },
      links: ['2 layer'],
    },
    expect: { rounds: [], links: ['2 layer'], blobs: [] },
  },
  {
    name: 'a manifest referencing a blob keeps its link even when older than the cutoff',
    spec: {
      manifests: { '1 young': { created: CUTOFF, blobs: ['layer'] } },
      links: ['1 layer'],
    },
    expect: NOTHING,
  },
];

describe('planCollection', () => {
  describe('manifests', () => {
    for (const c of MANIFESTS) {
      it(c.name, () => expect(plan(c.spec, c.options)).toEqual(c.expect));
    }
  });

  describe('links and blobs', () => {
    for (const c of LINKS_AND_BLOBS) {
      it(c.name, () => expect(plan(c.spec, c.options)).toEqual(c.expect));
    }
  });

  it('gives each blob its size, and each item its repository', () => {
    const graph = graphOf({ manifests: { '2 image': { blobs: ['layer'] } } });
    const result = planCollection(graph, { cutoff: CUTOFF });
    expect(result).toEqual({
      manifestRounds: [[{ repositoryId: 2, digest: 'image' }]],
      links: [{ repositoryId: 2, digest: 'layer' }],
      blobs: [{ digest: 'layer', size: 100 }],
    });
  });

  it('plans nothing on an empty registry', () => {
    expect(plan({})).toEqual(NOTHING);
  });

  it('reads the graph only: planning twice gives the same plan', () => {
    const graph = graphOf({
      manifests: { '1 index': { children: ['child'] }, '1 child': { blobs: ['layer'] } },
    });
    const first = planCollection(graph, { cutoff: CUTOFF });
    expect(planCollection(graph, { cutoff: CUTOFF })).toEqual(first);
    expect(first.manifestRounds).toHaveLength(2);
  });
});
