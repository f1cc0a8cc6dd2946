// The SBOM referrer artifact: an image manifest with the SBOM's artifactType, the empty config, the SBOM as its
// one layer and the image as subject; stable bytes; and the real `oras discover` lists it for that type.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildSbomReferrer,
  type Descriptor,
  SbomInputError,
  SbomMediaType,
  type SbomReferrer,
  writeCycloneDx,
  writeSpdx,
} from '../../../../src/scanning/sbom/index.js';
import { run } from '../../../fixtures/image.js';
import { privateHome, requireGoTools } from '../../../helpers/go-tools.js';
import { ociImageManifest } from '../../../helpers/oci-client.js';
import { dpkgPackages, inventoryOf } from './real-inventory.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A small real image: a config and one layer, and its manifest. */
function image() {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const layer = Buffer.from('not really a tarball, and no tool here reads it');
  const manifest = ociImageManifest(config, [layer]);
  const subject: Descriptor = { mediaType: OCI_MANIFEST, digest: sha256(manifest), size: manifest.length };
  return { blobs: [config, layer], manifest, subject };
}

const identity = (digest: string) => ({
  repository: 'library/debian',
  digest,
  tool: { name: 'berth' as const, version: '0.1.0' },
  created: new Date('2025-03-04T05:06:07Z'),
});

describe('SBOM referrer artifact', () => {
  const img = image();
  const spdx = writeSpdx(
    { ...inventoryOf(dpkgPackages(50)), subject: img.subject.digest },
    identity(img.subject.digest),
  );
  const input = {
    sbom: spdx.bytes,
    mediaType: spdx.mediaType,
    subject: img.subject,
    created: new Date('2025-03-04T05:06:07.123Z'),
    generator: 'berth-0.1.0',
  };

  it('is an OCI image manifest with the SBOM type, the empty config, the SBOM layer and the image as subject', () => {
    const referrer = buildSbomReferrer(input);
    expect(referrer.digest).toBe(sha256(referrer.manifest));
    expect(referrer.mediaType).toBe(OCI_MANIFEST);
    expect(JSON.parse(referrer.manifest.toString())).toEqual({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/spdx+json',
      config: {
        mediaType: 'application/vnd.oci.empty.v1+json',
        digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
        size: 2,
        data: 'e30=',
      },
      layers: [
        {
          mediaType: 'application/spdx+json',
          digest: sha256(spdx.bytes),
          size: spdx.bytes.length,
          annotations: { 'org.opencontainers.image.title': 'sbom.spdx.json' },
        },
      ],
      subject: img.subject,
      annotations: {
        'org.opencontainers.image.created': '2025-03-04T05:06:07Z',
        'dev.berth.sbom.generator': 'berth-0.1.0',
      },
    });
    // Every blob is what its digest says, the empty config included.
    for (const blob of referrer.blobs) expect(sha256(blob.bytes)).toBe(blob.digest);
    expect(referrer.blobs.map((b) => b.mediaType)).toEqual([
      'application/vnd.oci.empty.v1+json',
      'application/spdx+json',
    ]);
  });

  it('gives the same bytes each time for the same SBOM', () => {
    const again = writeSpdx(
      { ...inventoryOf(dpkgPackages(50)), subject: img.subject.digest },
      identity(img.subject.digest),
    );
    expect(
      buildSbomReferrer({ ...input, sbom: again.bytes }).manifest.equals(buildSbomReferrer(input).manifest),
    ).toBe(true);
  });

  it('refuses what cannot be a referrer of an image', () => {
    expect(() => buildSbomReferrer({ ...input, mediaType: 'text/plain' as SbomMediaType })).toThrow(
      SbomInputError,
    );
    expect(() => buildSbomReferrer({ ...input, subject: { ...img.subject, digest: 'sha256:nope' } })).toThrow(
      /invalid subject/,
    );
    expect(() =>
      buildSbomReferrer({
        ...input,
        subject: { ...img.subject, mediaType: 'application/vnd.oci.image.index.v1+json' },
      }),
    ).toThrow(/must be an image manifest/);
  });

  describe('as oras sees it', () => {
    const tools = requireGoTools(['oras'], 'oras discover of SBOM referrers');
    let dir: string;
    let env: NodeJS.ProcessEnv;

    /** An OCI image layout holding the image and its SPDX and CycloneDX referrers. */
    async function layout(referrers: SbomReferrer[]): Promise<string> {
      const root = join(dir, 'layout');
      await mkdir(join(root, 'blobs', 'sha256'), { recursive: true });
      const put = (bytes: Buffer) => writeFile(join(root, 'blobs', 'sha256', sha256(bytes).slice(7)), bytes);
      for (const blob of [...img.blobs, img.manifest]) await put(blob);
      for (const referrer of referrers) {
        for (const blob of referrer.blobs) await put(blob.bytes);
        await put(referrer.manifest);
      }
      const manifests = [
        { ...img.subject, annotations: { 'org.opencontainers.image.ref.name': 'v1' } },
        ...referrers.map((r) => ({ mediaType: r.mediaType, digest: r.digest, size: r.manifest.length })),
      ];
      await writeFile(join(root, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      await writeFile(join(root, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
      return root;
    }

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'berth-sbom-oras-'));
      env = await privateHome(join(dir, 'home'));
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it.skipIf(!tools)('lists each SBOM under its artifact type, with its annotations', async () => {
      const spdxReferrer = buildSbomReferrer(input);
      const cdx = writeCycloneDx(
        { ...inventoryOf(dpkgPackages(50)), subject: img.subject.digest },
        identity(img.subject.digest),
      );
      const cdxReferrer = buildSbomReferrer({ ...input, sbom: cdx.bytes, mediaType: cdx.mediaType });
      const root = await layout([spdxReferrer, cdxReferrer]);

      const discover = async (artifactType: string) => {
        const { stdout } = await run(
          tools?.oras as string,
          [
            'discover',
            '--oci-layout',
            `${root}@${img.subject.digest}`,
            '--artifact-type',
            artifactType,
            '--format',
            'json',
          ],
          { env, cwd: dir, timeoutMs: 60_000 },
        );
        return JSON.parse(stdout) as {
          referrers?: { digest: string; artifactType: string; annotations?: object }[];
        };
      };
      const spdxListed = await discover(SbomMediaType.Spdx);
      expect(spdxListed.referrers).toHaveLength(1);
      expect(spdxListed.referrers?.[0]).toMatchObject({
        digest: spdxReferrer.digest,
        artifactType: 'application/spdx+json',
        annotations: {
          'org.opencontainers.image.created': '2025-03-04T05:06:07Z',
          'dev.berth.sbom.generator': 'berth-0.1.0',
        },
      });
      const cdxListed = await discover(SbomMediaType.CycloneDx);
      expect(cdxListed.referrers?.map((r) => r.digest)).toEqual([cdxReferrer.digest]);
    });
  });
});
