import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryImage } from '../../../../src/scanning/inventory/index.js';
import { imageOf, layer } from '../../../fixtures/scanning/layers.js';
import { buildRpmDatabase, hasRpmTools, type RpmDatabase } from '../../../fixtures/scanning/rpm-database.js';

const rpmTools = await hasRpmTools();
if (!rpmTools)
  console.warn(
    '\n!!! SKIPPING the rpmdb.sqlite tests: rpm/rpmbuild are missing (Debian package `rpm`) !!!\n',
  );

const FEDORA_39 = 'NAME="Fedora Linux"\nVERSION="39 (Container Image)"\nID=fedora\nVERSION_ID=39\n';

describe.skipIf(!rpmTools)('rpm: a real rpmdb.sqlite', () => {
  let database: RpmDatabase;
  beforeAll(async () => {
    database = await buildRpmDatabase();
  }, 120_000);
  afterAll(async () => {
    if (database) await rm(database.dir, { recursive: true, force: true });
  });

  it.each(['var/lib/rpm', 'usr/lib/sysimage/rpm'])(
    'reads every package header from %s/rpmdb.sqlite',
    async (dir) => {
      const built = await layer([
        { name: 'etc/os-release', content: FEDORA_39 },
        { name: `${dir}/rpmdb.sqlite`, content: await readFile(database.sqlitePath) },
      ]);
      const inventory = await inventoryImage(imageOf([built]));
      expect(inventory.problems).toEqual([]);
      // the same facts as rpm's own query of the database, field for field
      const asQueried = inventory.packages.map((p) => {
        const [, epoch = '0', version, release] = /^(?:(\d+):)?(.+)-([^-]+)$/.exec(p.version) ?? [];
        const source = `${p.source?.name}-${p.source?.version}.src.rpm`;
        return [p.name, epoch, version, release, p.arch, p.license, source].join('\t');
      });
      expect(asQueried.sort()).toEqual(database.rpmQuery);
      expect(inventory.packages.map((p) => [p.name, p.version, p.purl, p.location])).toEqual([
        [
          'berth-hello',
          '2:1.2.3-4.fc39',
          'pkg:rpm/fedora/berth-hello@1.2.3-4.fc39?arch=noarch&distro=fedora-39&epoch=2',
          `/${dir}/rpmdb.sqlite`,
        ],
        [
          'berth-tools-extra',
          '0.9-1.fc39',
          'pkg:rpm/fedora/berth-tools-extra@0.9-1.fc39?arch=noarch&distro=fedora-39',
          `/${dir}/rpmdb.sqlite`,
        ],
      ]);
      expect(inventory.packages[1]?.source).toEqual({ name: 'berth-tools-extra', version: '0.9-1.fc39' });
      expect(
        (await readdir(tmpdir())).filter(
          (name) => name.startsWith('berth-rpmdb-') && !name.includes('fixture'),
        ),
      ).toEqual([]);
    },
  );

  it('a database that is not SQLite is a problem', async () => {
    const built = await layer([
      { name: 'var/lib/rpm/rpmdb.sqlite', content: Buffer.alloc(8192, 'not sqlite') },
    ]);
    const inventory = await inventoryImage(imageOf([built]));
    expect(inventory.complete).toBe(false);
    expect(inventory.problems).toEqual([
      'could not analyze /var/lib/rpm/rpmdb.sqlite (rpm): file is not a database',
    ]);
  });
});

describe('rpm: databases Berth cannot read', () => {
  it.each([
    ['var/lib/rpm/Packages', 'rpm Berkeley DB database is not supported'],
    ['usr/lib/sysimage/rpm/Packages.db', 'rpm NDB database is not supported'],
  ])('%s is reported, so the inventory is incomplete', async (path, problem) => {
    // A Berkeley DB hash file begins with its metadata page; the content does not matter to the refusal.
    const built = await layer([{ name: path, content: Buffer.alloc(16384, 0x61) }]);
    const inventory = await inventoryImage(imageOf([built]));
    expect(inventory.problems).toEqual([`/${path}: ${problem}`]);
    expect(inventory.complete).toBe(false);
  });
});

describe('apk: the installed database', () => {
  it('reads packages, origins and licenses from a real Alpine 3.19 installed database', async () => {
    const installed = await readFile(
      new URL('../../../fixtures/scanning/alpine-3.19-installed', import.meta.url),
    );
    const built = await layer([
      {
        name: 'etc/os-release',
        content: await readFile(
          new URL('../../../fixtures/scanning/alpine-3.19-os-release', import.meta.url),
        ),
      },
      { name: 'lib/apk/db/installed', content: installed },
    ]);
    const inventory = await inventoryImage(imageOf([built], { config: { User: 'root:root' } }));
    expect(inventory.problems).toEqual([]);
    expect(inventory.facts.os).toMatchObject({ id: 'alpine', versionId: '3.19.1' });
    expect(inventory.facts.runsAsRoot).toBe(true);
    expect(
      inventory.packages.map((p) => [p.name, p.version, p.arch, p.source?.name, p.license, p.purl]),
    ).toEqual([
      [
        'busybox',
        '1.36.1-r15',
        'x86_64',
        'busybox',
        'GPL-2.0-only',
        'pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1',
      ],
      [
        'busybox-binsh',
        '1.36.1-r15',
        'x86_64',
        'busybox',
        'GPL-2.0-only',
        'pkg:apk/alpine/busybox-binsh@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1',
      ],
      [
        'musl',
        '1.2.4_git20230717-r4',
        'x86_64',
        'musl',
        'MIT',
        'pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1',
      ],
      [
        'openssh-server',
        '9.6_p1-r0',
        'x86_64',
        'openssh',
        'SSH-OpenSSH',
        'pkg:apk/alpine/openssh-server@9.6_p1-r0?arch=x86_64&distro=alpine-3.19.1',
      ],
    ]);
    expect(inventory.facts.sshServer).toEqual({ installed: true, evidence: 'package openssh-server' });
  });
});
