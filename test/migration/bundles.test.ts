// Air-gap bundles: `berth bundle export` from one Berth (images, a multi-arch index, an SBOM and a signature of
// it as referrers), read by skopeo and umoci as an OCI archive; `berth bundle import` into another Berth, pulled
// byte-identical; a truncated and a tampered bundle refused naming the entry, with no tag or manifest visible,
// and the good bundle then resuming over the blobs the refused run left.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxLayout, buildMultiArchLayout, requireTool, run } from '../fixtures/image.js';
import { type ChildBerth, startChildBerth } from '../helpers/child-server.js';
import { runCli } from '../helpers/cli.js';
import {
  contentOf,
  getBlobDigest,
  getManifest,
  listTags,
  pullWithSkopeo,
  pushReferrer,
  referrers,
  sha256,
  skopeo,
  skopeoCopy,
} from './support.js';

const missing = ['skopeo', 'umoci', 'tar'].filter((tool) => !requireTool(tool));
if (missing.length > 0) console.warn(`\n!!! SKIPPING bundle tests: missing ${missing.join(', ')} !!!\n`);

const TIMEOUT = 240_000;
const REFS = ['library/busybox:1.0', 'team/multi:multi', 'team/multi:latest'];

async function tarFile(tar: string, name: string): Promise<string> {
  return (await run('tar', ['-xOf', tar, name])).stdout;
}

describe.skipIf(missing.length > 0)('berth bundle export / import', () => {
  let tmp: string;
  let source: ChildBerth;
  let target: ChildBerth;
  let damaged: ChildBerth;
  let bundle: string;
  let sbom: string;
  let signature: string;
  let layer: string;

  beforeAll(async () => {
    const [busybox, multi] = await Promise.all([buildBusyboxLayout(), buildMultiArchLayout()]);
    tmp = await mkdtemp(join(tmpdir(), 'berth-bundles-'));
    const started = await Promise.all(
      ['source', 'target', 'damaged'].map((name) => startChildBerth(join(tmp, name))),
    );
    [source, target, damaged] = started as [ChildBerth, ChildBerth, ChildBerth];
    const host = new URL(source.url).host;
    await skopeoCopy(`oci:${busybox.dir}:${busybox.tag}`, `docker://${host}/library/busybox:1.0`);
    await skopeoCopy(`oci:${multi.dir}:${multi.tag}`, `docker://${host}/team/multi:multi`, '--all');
    await skopeoCopy(`oci:${multi.dir}:${multi.tag}`, `docker://${host}/team/multi:latest`, '--all');
    // Not exported: another tag of the same repository.
    await skopeoCopy(`oci:${busybox.dir}:${busybox.tag}`, `docker://${host}/library/busybox:other`);
    const image = await getManifest(source.url, 'library/busybox', '1.0');
    const subject = { digest: sha256(image.bytes), size: image.bytes.length, mediaType: image.type };
    sbom = await pushReferrer(
      source.url,
      'library/busybox',
      subject,
      'application/spdx+json',
      '{"spdxVersion":"SPDX-2.3"}',
    );
    const sbomBytes = await getManifest(source.url, 'library/busybox', sbom);
    signature = await pushReferrer(
      source.url,
      'library/busybox',
      { digest: sbom, size: sbomBytes.bytes.length, mediaType: sbomBytes.type },
      'application/vnd.dev.cosign.artifact.sig.v1+json',
      'signature of the SBOM',
    );
    layer = (JSON.parse(image.bytes.toString()) as { layers: { digest: string }[] }).layers[0]
      ?.digest as string;

    bundle = join(tmp, 'bundle.tar');
    const exported = await runCli(['--server', source.url, 'bundle', 'export', '--out', bundle, ...REFS]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/wrote .*bundle\.tar: 3 tags, \d+ manifests/);
    expect(exported.stderr).toMatch(/blob \d+\/\d+ sha256:/);
  }, TIMEOUT);

  afterAll(async () => {
    await Promise.all([source, target, damaged].map((berth) => berth?.kill('SIGTERM')));
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('is an OCI layout archive that skopeo and umoci read', async () => {
    for (const ref of REFS) {
      const { stdout } = await skopeo('inspect', '--raw', `oci-archive:${bundle}:${ref}`);
      const [repository, tag] = ref.split(':') as [string, string];
      expect(sha256(Buffer.from(stdout))).toBe(
        sha256((await getManifest(source.url, repository, tag)).bytes),
      );
    }
    const layout = join(tmp, 'layout');
    await mkdir(layout);
    await run('tar', ['-xf', bundle, '-C', layout]);
    const { stdout } = await run('umoci', ['ls', '--layout', layout]);
    expect(stdout.trim().split('\n').sort()).toEqual([...REFS].sort());
    // The digest manifest lists every entry with its digest and size; every blob file matches it.
    const listing = JSON.parse(await readFile(join(layout, 'berth-bundle.json'), 'utf8')) as {
      entries: { digest: string; size: number }[];
    };
    expect(listing.entries.map((e) => e.digest)).toContain(signature);
    for (const entry of listing.entries) {
      const bytes = await readFile(join(layout, 'blobs', 'sha256', entry.digest.slice(7)));
      expect([sha256(bytes), bytes.length]).toEqual([entry.digest, entry.size]);
    }
  });

  it(
    'imports into another Berth: same tags, manifest bytes, blobs and referrers, and skopeo pulls them',
    async () => {
      const imported = await runCli(['--server', target.url, 'bundle', 'import', bundle]);
      expect(imported.code, imported.stderr).toBe(0);
      expect(imported.stdout).toMatch(/3 tags, \d+ manifests, \d+ blobs uploaded/);
      await expectSameContent(source.url, target.url);
      expect(await listTags(target.url, 'library/busybox')).toEqual(['1.0']);
      const pulled = await pullWithSkopeo(new URL(target.url).host, 'team/multi', 'multi', join(tmp, 'pull'));
      expect(pulled.get('manifest.json')).toBe(
        sha256((await getManifest(source.url, 'team/multi', 'multi')).bytes),
      );
    },
    TIMEOUT,
  );

  it(
    'refuses a truncated and a tampered bundle naming the entry, leaves no tag or manifest, then resumes',
    async () => {
      const whole = await readFile(bundle);
      const layerEntry = `blobs/sha256/${layer.slice(7)}`;
      const header = whole.indexOf(Buffer.from(layerEntry));
      expect(header).toBeGreaterThan(0);

      const truncated = join(tmp, 'truncated.tar');
      await writeFile(truncated, whole.subarray(0, header + 512 + 4096));
      const cut = await runCli(['--server', damaged.url, 'bundle', 'import', truncated]);
      expect(cut.code).toBe(1);
      expect(cut.stderr).toContain(`bundle refused, nothing imported is visible: ${layerEntry}: `);
      expect(cut.stderr).toMatch(/truncated/);
      await expectNothingVisible(damaged.url);

      const tampered = join(tmp, 'tampered.tar');
      const copy = Buffer.from(whole);
      const at = header + 512 + 1000; // a byte inside the layer's data
      copy[at] = (copy[at] as number) ^ 0x01;
      await writeFile(tampered, copy);
      const altered = await runCli(['--server', damaged.url, 'bundle', 'import', tampered]);
      expect(altered.code).toBe(1);
      expect(altered.stderr).toMatch(
        new RegExp(
          `bundle refused, nothing imported is visible: ${layerEntry}: the bytes hash to sha256:[0-9a-f]{64}, not ${layer}`,
        ),
      );
      await expectNothingVisible(damaged.url);

      // The good bundle: what the refused runs uploaded is found and skipped.
      const resumed = await runCli(['--server', damaged.url, 'bundle', 'import', bundle]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stdout).toMatch(/[1-9]\d* already there/);
      await expectSameContent(source.url, damaged.url);
    },
    TIMEOUT,
  );

  /** Every exported tag: same manifest bytes, blobs (by content) and referrers (SBOM, then its signature). */
  async function expectSameContent(from: string, to: string): Promise<void> {
    for (const ref of REFS) {
      const [repository, tag] = ref.split(':') as [string, string];
      const want = await contentOf(from, repository, tag);
      const got = await contentOf(to, repository, tag);
      expect([...got.manifests.keys()].sort()).toEqual([...want.manifests.keys()].sort());
      for (const [digest, bytes] of got.manifests)
        expect(bytes.equals(want.manifests.get(digest) as Buffer)).toBe(true);
      for (const blob of want.blobs) expect(await getBlobDigest(to, repository, blob)).toBe(blob);
    }
    // Referrers: the SBOM of the image, and the signature of the SBOM. (Berth's own scanner may add SBOMs of its
    // own on either side, in its own time; those are not compared.)
    const image = sha256((await getManifest(from, 'library/busybox', '1.0')).bytes);
    expect(await referrers(to, 'library/busybox', image)).toContain(sbom);
    expect(await referrers(to, 'library/busybox', sbom)).toEqual([signature]);
    // Every entry of the bundle, in every repository it was listed for, byte for byte.
    const listing = JSON.parse(await tarFile(bundle, 'berth-bundle.json')) as {
      entries: { digest: string; kind: string; repositories: string[] }[];
    };
    for (const entry of listing.entries) {
      for (const repository of entry.repositories) {
        if (entry.kind === 'blob')
          expect(await getBlobDigest(to, repository, entry.digest)).toBe(entry.digest);
        else expect(sha256((await getManifest(to, repository, entry.digest)).bytes)).toBe(entry.digest);
      }
    }
  }

  async function expectNothingVisible(url: string): Promise<void> {
    for (const repository of ['library/busybox', 'team/multi'])
      expect(await listTags(url, repository)).toEqual([]);
    const image = await getManifest(source.url, 'library/busybox', '1.0');
    for (const digest of [sha256(image.bytes), sbom, signature]) {
      expect((await getManifest(url, 'library/busybox', digest)).status).toBe(404);
    }
    expect((await getManifest(url, 'team/multi', 'multi')).status).toBe(404);
  }
});
