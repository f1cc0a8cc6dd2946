import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryImage } from '../../../../src/scanning/inventory/index.js';
import {
  buildDebianLayer,
  type DebianLayer,
  hasDebianTools,
} from '../../../fixtures/scanning/debian-layer.js';
import { layer, MEDIA } from '../../../fixtures/scanning/layers.js';

const tools = await hasDebianTools();
if (!tools)
  console.warn('\n!!! SKIPPING the real Debian layer tests: dpkg-deb, apt-get or tar is missing !!!\n');

const PACKAGES = ['openssh-server', 'openssh-client', 'busybox-static'];

async function inventoryOf(
  built: DebianLayer,
  config: object,
  extraLayers: Awaited<ReturnType<typeof layer>>[] = [],
) {
  const bytes = await readFile(built.layerPath);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const layers = [{ digest, mediaType: MEDIA.gzip, size: bytes.length }, ...extraLayers];
  return {
    digest,
    inventory: await inventoryImage({
      subject: `sha256:${'1'.repeat(64)}`,
      config: Buffer.from(JSON.stringify(config)),
      layers,
      async openLayer(wanted) {
        if (wanted === digest) return createReadStream(built.layerPath, { highWaterMark: 64 * 1024 });
        const extra = extraLayers.find((candidate) => candidate.digest === wanted);
        if (!extra) throw new Error(`no layer ${wanted}`);
        return (await import('node:stream')).Readable.from([extra.bytes]);
      },
    }),
  };
}

describe.skipIf(!tools)('a real Debian 12 layer built from real packages', () => {
  let built: DebianLayer;
  let distroless: DebianLayer;
  beforeAll(async () => {
    built = await buildDebianLayer({ installed: PACKAGES, configOnly: ['openssh-sftp-server'] });
    distroless = await buildDebianLayer({ installed: ['busybox-static'], statusDir: true });
  }, 300_000);
  afterAll(async () => {
    await Promise.all(
      [built, distroless].filter(Boolean).map((b) => rm(b.dir, { recursive: true, force: true })),
    );
  });

  it('lists the installed packages with versions, sources, arch and purls; not the config-files one', async () => {
    const { inventory, digest } = await inventoryOf(built, {
      os: 'linux',
      architecture: 'amd64',
      config: {},
    });
    expect(inventory.problems).toEqual([]);
    expect(inventory.complete).toBe(true);
    expect(inventory.facts.os?.id).toBe('debian');
    expect(inventory.facts.os?.versionId).toBe('12');
    const expected = built.installed
      .map((deb) => ({
        type: 'deb',
        namespace: 'debian',
        name: deb.name,
        version: deb.version,
        arch: deb.arch,
        location: '/var/lib/dpkg/status',
        layer: digest,
        // packageurl-js leaves `:` and `+` as they are (purl-spec: only characters outside the allowed set are escaped)
        purl: `pkg:deb/debian/${deb.name}@${deb.version}?arch=${deb.arch}&distro=debian-12`,
        // dpkg's own reading of Source: the version only when it differs from the binary's
        source:
          deb.sourceVersion === deb.version
            ? { name: deb.sourceName }
            : { name: deb.sourceName, version: deb.sourceVersion },
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
    expect(inventory.packages).toEqual(expected);
    expect(inventory.packages.map((p) => p.name)).toEqual([
      'busybox-static',
      'openssh-client',
      'openssh-server',
    ]);
    expect(inventory.packages.find((p) => p.name === 'openssh-server')?.source).toEqual({ name: 'openssh' });
    // busybox-static is a binNMU (+b1): its Source line carries the source version in parentheses
    expect(inventory.packages.find((p) => p.name === 'busybox-static')?.source?.version).toMatch(/^1:1\.\d+/);
  });

  it('says an SSH server is installed (the package), and still does from the file when the database is gone', async () => {
    const { inventory } = await inventoryOf(built, {
      config: { User: 'app', ExposedPorts: { '22/tcp': {} } },
    });
    expect(inventory.facts.sshServer).toEqual({ installed: true, evidence: 'package openssh-server' });
    expect(inventory.facts.runsAsRoot).toBe(false);
    expect(inventory.facts.exposedPorts).toEqual(['22/tcp']);

    const noDatabase = await layer([{ name: 'var/lib/dpkg/.wh.status', content: '' }]);
    const without = await inventoryOf(built, {}, [noDatabase]);
    expect(without.inventory.packages).toEqual([]);
    expect(without.inventory.facts.sshServer).toEqual({ installed: true, evidence: 'file /usr/sbin/sshd' });

    const noSshd = await layer([
      { name: 'var/lib/dpkg/.wh.status', content: '' },
      { name: 'usr/sbin/.wh.sshd', content: '' },
    ]);
    expect((await inventoryOf(built, {}, [noSshd])).inventory.facts.sshServer).toEqual({ installed: false });
  });

  it('reads distroless status.d files', async () => {
    const { inventory } = await inventoryOf(distroless, {});
    expect(inventory.problems).toEqual([]);
    expect(inventory.packages.map((p) => [p.name, p.version, p.location])).toEqual([
      ['busybox-static', distroless.installed[0]?.version, '/var/lib/dpkg/status.d/busybox-static'],
    ]);
  });
});
