// `berth import-distribution`: a storage tree written by CNCF Distribution 2.8.2 (Debian's docker-registry),
// filled by skopeo with an OCI image, a Docker schema 2 image under many tags and a multi-arch index, is
// registered in Berth; then Berth serves every tag with the same manifest bytes and blobs, and skopeo pulls it.
import { cp, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxLayout, buildMultiArchLayout, requireTool } from '../fixtures/image.js';
import { type ChildBerth, startChildBerth } from '../helpers/child-server.js';
import { runCli } from '../helpers/cli.js';
import {
  catalog,
  contentOf,
  DISTRIBUTION,
  type DistributionPeer,
  getBlobDigest,
  getManifest,
  listTags,
  pullWithSkopeo,
  skopeoCopy,
  startDistributionIn,
} from './support.js';

const missing = [
  ...(DISTRIBUTION ? [] : ['docker-registry (apt-get install docker-registry)']),
  ...['skopeo', 'umoci'].filter((tool) => !requireTool(tool)),
];
if (missing.length > 0)
  console.warn(`\n!!! SKIPPING import-distribution tests: missing ${missing.join(', ')} !!!\n`);

const TIMEOUT = 240_000;
const MANY_TAGS = 30;
const ENV = { BERTH_AUTH_ENABLED: 'false' };

interface Expected {
  catalog: string[];
  tags: Map<string, string[]>;
  /** repository:tag → the manifests (by digest, exact bytes) and blobs it reaches. */
  content: Map<string, Awaited<ReturnType<typeof contentOf>>>;
}

describe.skipIf(missing.length > 0)('berth import-distribution', () => {
  let tmp: string;
  let distribution: DistributionPeer;
  const expected: Expected = { catalog: [], tags: new Map(), content: new Map() };
  let layerDigest: string;

  beforeAll(async () => {
    const [busybox, multi] = await Promise.all([buildBusyboxLayout(), buildMultiArchLayout()]);
    tmp = await mkdtemp(join(tmpdir(), 'berth-import-'));
    distribution = await startDistributionIn(join(tmp, 'distribution'));
    const to = (ref: string) => `docker://${distribution.host}/${ref}`;
    await skopeoCopy(`oci:${busybox.dir}:${busybox.tag}`, to('library/busybox:1.0'));
    await skopeoCopy(`oci:${busybox.dir}:${busybox.tag}`, to('team/app/docker:v1'), '--format', 'v2s2');
    await skopeoCopy(`oci:${multi.dir}:${multi.tag}`, to('team/multi:multi'), '--all');
    await skopeoCopy(`oci:${multi.dir}:${multi.tag}`, to('team/multi:latest'), '--all');
    // Many tags on one image: the same manifest bytes PUT again under other names, as `docker tag; push` does.
    const v1 = await getManifest(distribution.url, 'team/app/docker', 'v1');
    for (let i = 2; i <= MANY_TAGS; i++) {
      const res = await fetch(`${distribution.url}/v2/team/app/docker/manifests/v${i}`, {
        method: 'PUT',
        headers: { 'content-type': v1.type },
        body: v1.bytes,
      });
      expect(res.status).toBe(201);
    }
    expected.catalog = await catalog(distribution.url);
    for (const repository of expected.catalog) {
      const tags = await listTags(distribution.url, repository);
      expected.tags.set(repository, tags);
      for (const tag of tags) {
        expected.content.set(`${repository}:${tag}`, await contentOf(distribution.url, repository, tag));
      }
    }
    // busybox's one layer, which the multi-arch images share.
    const multiBlobs = expected.content.get('team/multi:multi')?.blobs ?? new Set<string>();
    layerDigest = [...(expected.content.get('library/busybox:1.0')?.blobs ?? [])].find((d) =>
      multiBlobs.has(d),
    ) as string;
    await distribution.stop();
  }, TIMEOUT);

  afterAll(async () => {
    await distribution?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it(
    'registers every repository, tag, manifest and blob, hard-linking the bytes; Berth then serves them byte-identical',
    async () => {
      expect(expected.catalog).toEqual(['library/busybox', 'team/app/docker', 'team/multi']);
      expect(expected.tags.get('team/app/docker')).toHaveLength(MANY_TAGS);
      const dataDir = join(tmp, 'berth-linked');
      const imported = await runCli(['import-distribution', distribution.root, '-d', dataDir, '--json'], {
        env: ENV,
      });
      expect(imported.stderr).toContain('[3/3] team/multi');
      expect(imported.code, imported.stderr).toBe(0);
      const summary = JSON.parse(imported.stdout);
      expect(summary.problems).toEqual([]);
      expect(summary.tags).toBe(1 + MANY_TAGS + 2);
      expect(summary.blobs.copied).toBe(0);
      expect(summary.blobs.linked).toBeGreaterThan(0);
      // Same disk: Berth's blob is the Distribution file itself (one inode), not a copy.
      const hex = layerDigest.slice('sha256:'.length);
      const [ours, theirs] = await Promise.all([
        stat(join(dataDir, 'blobs', 'sha256', hex.slice(0, 2), hex)),
        stat(join(distribution.root, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data')),
      ]);
      expect(ours.ino).toBe(theirs.ino);
      expect(await readdir(join(dataDir, 'uploads'))).toEqual([]);

      // Importing again changes nothing and finds everything in place.
      const again = JSON.parse(
        (await runCli(['import-distribution', distribution.root, '-d', dataDir, '--json'], { env: ENV }))
          .stdout,
      );
      expect(again.problems).toEqual([]);
      expect(again.blobs.linked + again.blobs.copied).toBe(0);

      let berth: ChildBerth | undefined;
      try {
        berth = await startChildBerth(dataDir);
        await expectServedLikeDistribution(berth.url, expected);
        const host = new URL(berth.url).host;
        for (const [repository, tag] of [
          ['library/busybox', '1.0'],
          ['team/app/docker', `v${MANY_TAGS}`],
          ['team/multi', 'multi'],
        ] as const) {
          const pulled = await pullWithSkopeo(
            host,
            repository,
            tag,
            join(tmp, `pull-${repository.replaceAll('/', '-')}`),
          );
          const content = expected.content.get(`${repository}:${tag}`);
          // The pulled top manifest is the one Distribution held, and every blob and child manifest came along.
          expect(content?.manifests.has(pulled.get('manifest.json') as string)).toBe(true);
          const pulledDigests = new Set(
            [...pulled.entries()].filter(([n]) => n !== 'manifest.json').map(([, d]) => d),
          );
          for (const blob of content?.blobs ?? []) expect(pulledDigests.has(blob)).toBe(true);
        }
      } finally {
        await berth?.kill('SIGTERM');
      }
    },
    TIMEOUT,
  );

  it(
    'copies when asked, verifying every digest: a corrupt blob is named, and what needs it is not imported',
    async () => {
      const tree = join(tmp, 'corrupt-tree');
      await cp(distribution.root, tree, { recursive: true });
      const hex = layerDigest.slice('sha256:'.length);
      const file = await open(
        join(tree, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data'),
        'r+',
      );
      const byte = Buffer.alloc(1);
      await file.read(byte, 0, 1, 1000);
      byte[0] = (byte[0] as number) ^ 0xff;
      await file.write(byte, 0, 1, 1000);
      await file.close();

      const dataDir = join(tmp, 'berth-copied');
      const imported = await runCli(['import-distribution', tree, '-d', dataDir, '--copy', '--json'], {
        env: ENV,
      });
      expect(imported.code).toBe(1);
      const summary = JSON.parse(imported.stdout);
      expect(summary.blobs.linked).toBe(0);
      expect(summary.blobs.copied).toBeGreaterThan(0);
      const items = summary.problems.map(
        (p: { repository: string; item: string }) => `${p.repository} ${p.item}`,
      );
      // busybox's layer is in every repository: each names it, and none of its images or tags got in.
      expect(items).toContain(`library/busybox blob ${layerDigest}`);
      expect(items).toContain('library/busybox tag 1.0');
      expect(items).toContain(`team/app/docker tag v${MANY_TAGS}`);
      expect(items).toContain('team/multi tag multi');
      expect(summary.problems[0].reason).toMatch(/hash to sha256:[0-9a-f]{64}: the tree is corrupt/);
      expect(summary.tags).toBe(0);
      expect(await readdir(join(dataDir, 'uploads'))).toEqual([]);
      const hex2 = hex.slice(0, 2);
      await expect(stat(join(dataDir, 'blobs', 'sha256', hex2, hex))).rejects.toThrow(/ENOENT/);
    },
    TIMEOUT,
  );
});

/** Catalog, tag lists, and for every tag the same manifest bytes and blobs as Distribution served. */
async function expectServedLikeDistribution(url: string, expected: Expected): Promise<void> {
  expect(await catalog(url)).toEqual(expected.catalog);
  for (const [repository, tags] of expected.tags) {
    expect(await listTags(url, repository)).toEqual(tags);
    for (const tag of tags) {
      const want = expected.content.get(`${repository}:${tag}`);
      const got = await contentOf(url, repository, tag);
      expect([...got.manifests.keys()].sort()).toEqual([...(want?.manifests.keys() ?? [])].sort());
      for (const [digest, bytes] of got.manifests)
        expect(bytes.equals(want?.manifests.get(digest) as Buffer)).toBe(true);
      expect([...got.blobs].sort()).toEqual([...(want?.blobs ?? [])].sort());
    }
    for (const blob of new Set(
      [...expected.content].filter(([k]) => k.startsWith(`${repository}:`)).flatMap(([, c]) => [...c.blobs]),
    )) {
      expect(await getBlobDigest(url, repository, blob)).toBe(blob);
    }
  }
}
