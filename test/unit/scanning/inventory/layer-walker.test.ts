import type { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { inventoryImage } from '../../../../src/scanning/inventory/index.js';
import {
  type Compression,
  compress,
  imageOf,
  layer,
  layerOf,
  MEDIA,
  tarOf,
} from '../../../fixtures/scanning/layers.js';
import { markerAnalyzer, walk } from '../../../fixtures/scanning/marker-analyzer.js';

const file = (name: string, content: string) => ({ name, content });

describe('layer walker: whiteouts and overwrites', () => {
  it('a later layer replaces a file and the earlier copy says nothing', async () => {
    const lower = await layer([file('data/a', 'old'), file('data/b', 'kept')]);
    const upper = await layer([file('./data/a', 'new')]);
    expect((await walk([lower, upper])).notes).toEqual(['/data/a=new', '/data/b=kept']);
  });

  it('.wh.<name> deletes a file and a whole directory of lower layers', async () => {
    const lower = await layer([
      file('data/a', '1'),
      file('data/dir/x', '2'),
      file('data/dir/sub/y', '3'),
      file('data/dirx', '4'),
    ]);
    const upper = await layer([file('data/.wh.a', ''), file('data/.wh.dir', '')]);
    expect((await walk([lower, upper])).notes).toEqual(['/data/dirx=4']);
  });

  it('an opaque directory hides what lower layers put there but not what its own layer adds', async () => {
    const lower = await layer([file('data/d/old', 'old'), file('data/other', 'other')]);
    const upper = await layer([
      { name: 'data/d/', type: 'directory' },
      file('data/d/.wh..wh..opq', ''),
      file('data/d/new', 'new'),
    ]);
    expect((await walk([lower, upper])).notes).toEqual(['/data/d/new=new', '/data/other=other']);
  });

  it('the opaque marker after its sibling (any order in the tar) still keeps the sibling', async () => {
    const lower = await layer([file('data/d/old', 'old')]);
    const upper = await layer([file('data/d/new', 'new'), file('data/d/.wh..wh..opq', '')]);
    expect((await walk([lower, upper])).notes).toEqual(['/data/d/new=new']);
  });

  it('across three layers: deleted in the second, re-added in the third; opaque in the third', async () => {
    const one = await layer([file('data/a', 'one'), file('data/keep/k', 'one'), file('data/o/x', 'one')]);
    const two = await layer([file('data/.wh.a', ''), file('data/o/y', 'two')]);
    const three = await layer([
      file('data/a', 'three'),
      file('data/o/.wh..wh..opq', ''),
      file('data/o/z', 'three'),
    ]);
    expect((await walk([one, two])).notes).toEqual(['/data/keep/k=one', '/data/o/x=one', '/data/o/y=two']);
    expect((await walk([one, two, three])).notes).toEqual([
      '/data/a=three',
      '/data/keep/k=one',
      '/data/o/z=three',
    ]);
  });

  it('a file replacing a directory removes what was under it; a directory entry merges', async () => {
    const lower = await layer([file('data/d/x', 'x'), file('data/e/y', 'y')]);
    const upper = await layer([file('data/d', 'now a file'), { name: 'data/e', type: 'directory' }]);
    expect((await walk([lower, upper])).notes).toEqual(['/data/d=now a file', '/data/e/y=y']);
  });

  it('a whiteout of a package database drops its packages from the inventory', async () => {
    const status = 'Package: a\nStatus: install ok installed\nVersion: 1\n\n';
    const lower = await layer([file('var/lib/dpkg/status', status)]);
    const upper = await layer([file('var/lib/.wh.dpkg', '')]);
    expect((await inventoryImage(imageOf([lower]))).packages.map((p) => p.name)).toEqual(['a']);
    expect((await inventoryImage(imageOf([lower, upper]))).packages).toEqual([]);
  });
});

describe('layer walker: symlinks and hard links', () => {
  it('finds /etc/os-release through its symlink, and prefers it over /usr/lib/os-release', async () => {
    const base = await layer([
      { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
      file('usr/lib/os-release', 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'),
    ]);
    const inventory = await inventoryImage(imageOf([base]));
    expect(inventory.facts.os).toEqual({ id: 'debian', versionId: '12', codename: 'bookworm' });
    expect(inventory.complete).toBe(true);
  });

  it('reaches a file through symlinked directories made in a lower layer (a chain of two links)', async () => {
    const base = await layer([
      { name: 'var/lib/dpkg', type: 'symlink', linkname: '../../srv/dpkg' },
      { name: 'srv', type: 'symlink', linkname: 'opt/srv' },
    ]);
    const status = 'Package: a\nStatus: install ok installed\nVersion: 1\n\n';
    const upper = await layer([file('opt/srv/dpkg/status', status)]);
    const inventory = await inventoryImage(imageOf([base, upper]));
    expect(inventory.packages.map((p) => [p.name, p.location])).toEqual([['a', '/var/lib/dpkg/status']]);
    expect(inventory.complete).toBe(true);
  });

  it('a finding made through a symlink goes when the symlink is deleted', async () => {
    const base = await layer([
      { name: 'etc/marker', type: 'symlink', linkname: '/srv/real' },
      file('srv/real', 'through the link'),
    ]);
    expect((await walk([base])).notes).toEqual(['/etc/marker=through the link']);
    expect((await walk([base, await layer([file('etc/.wh.marker', '')])])).notes).toEqual([]);
  });

  it('a hard link carries its target’s findings', async () => {
    const base = await layer([
      file('data/a', 'content'),
      { name: 'data/b', type: 'link', linkname: 'data/a' },
    ]);
    expect((await walk([base])).notes).toEqual(['/data/a=content', '/data/a=content']);
    const records = (await walk([base])).records.map((r) => r.path).sort();
    expect(records).toEqual(['/data/a', '/data/b']);
  });
});

describe('layer walker: compression', () => {
  const entries = [file('data/x', 'hello'), file('data/y', 'world')];
  it.each<Compression>(['none', 'gzip', 'zstd'])('reads a %s layer', async (compression) => {
    const result = await walk([await layer(entries, compression)]);
    expect(result.problems).toEqual([]);
    expect(result.notes).toEqual(['/data/x=hello', '/data/y=world']);
  });

  it('reads a Docker rootfs.diff.tar.gzip layer', async () => {
    const built = layerOf(gzipSync(await tarOf(entries)), MEDIA.dockerGzip);
    expect((await walk([built])).notes).toEqual(['/data/x=hello', '/data/y=world']);
  });

  it('decompresses by the magic bytes when a plain-tar label hides gzip, and refuses gzip promised but absent', async () => {
    const gz = layerOf(gzipSync(await tarOf(entries)), MEDIA.tar);
    expect((await walk([gz])).notes).toEqual(['/data/x=hello', '/data/y=world']);
    const plain = layerOf(await tarOf(entries), MEDIA.gzip);
    const result = await walk([plain]);
    expect(result.notes).toEqual([]);
    expect(result.problems).toEqual([
      `could not analyze layer ${plain.digest}: layer is not gzip-compressed as its media type says`,
    ]);
  });

  it('reads a multi-frame zstd layer with a checksum, and a large file across many blocks', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 'abcdefgh');
    const tar = await tarOf([file('data/x', 'x'), { name: 'data/big', content: big }]);
    const frames = Buffer.concat([
      await compress(tar.subarray(0, 1536), 'zstd'),
      await (await import('../../../fixtures/scanning/layers.js')).zstdCli(tar.subarray(1536), [
        '-19',
        '--check',
      ]),
    ]);
    let seen = 0;
    const counter = {
      name: 'size',
      match: (entry: { path: string }) => entry.path === '/data/big' && ({ read: 'stream' } as const),
      async analyze(_entry: unknown, { stream }: { stream?: Readable }) {
        for await (const chunk of stream as Readable) seen += (chunk as Buffer).length;
        return {};
      },
    };
    const result = await walk([layerOf(frames, MEDIA.zstd)], [markerAnalyzer, counter]);
    expect(result.problems).toEqual([]);
    expect(result.notes).toEqual(['/data/x=x']);
    expect(seen).toBe(big.length);
  });

  it('an empty plain-tar layer (no bytes) is no problem', async () => {
    expect((await walk([layerOf(Buffer.alloc(0), MEDIA.tar)])).problems).toEqual([]);
  });

  it('an open that fails is a problem of that layer; later layers are still walked', async () => {
    const good = await layer([file('data/a', 'a')]);
    const input = imageOf([good]);
    const missing = { digest: `sha256:${'f'.repeat(64)}`, mediaType: MEDIA.gzip, size: 1 };
    const inventory = await inventoryImage({
      ...input,
      layers: [missing, ...input.layers],
      analyzers: [markerAnalyzer],
    });
    expect(inventory.problems).toEqual([
      `could not analyze layer ${missing.digest}: no layer ${missing.digest}`,
    ]);
    expect(inventory.complete).toBe(false);
  });
});

describe('layer walker: several analyzers on one file', () => {
  it('content and stream readers of the same file all get it', async () => {
    const got: string[] = [];
    const streamer = (name: string) => ({
      name,
      match: (entry: { path: string }) => entry.path === '/data/x' && ({ read: 'stream' } as const),
      async analyze(_entry: unknown, { stream }: { stream?: Readable }) {
        const chunks: Buffer[] = [];
        for await (const chunk of stream as Readable) chunks.push(chunk as Buffer);
        got.push(`${name}:${Buffer.concat(chunks).length}`);
        return {};
      },
    });
    const quitter = {
      name: 'quitter',
      match: (entry: { path: string }) => entry.path === '/data/x' && ({ read: 'stream' } as const),
      async analyze() {
        return { notes: ['quit without reading'] };
      },
    };
    const body = Buffer.alloc(1024 * 1024, 7);
    const result = await walk(
      [await layer([{ name: 'data/x', content: body }])],
      [streamer('one'), quitter, streamer('two')],
    );
    expect(result.problems).toEqual([]);
    expect(got.sort()).toEqual([`one:${body.length}`, `two:${body.length}`]);
  });
});
