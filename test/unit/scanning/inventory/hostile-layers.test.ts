import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { inventoryImage } from '../../../../src/scanning/inventory/index.js';
import { compress, imageOf, layer, layerOf, MEDIA, tarOf } from '../../../fixtures/scanning/layers.js';
import { markerAnalyzer, walk } from '../../../fixtures/scanning/marker-analyzer.js';

const file = (name: string, content: string | Buffer) => ({ name, content });
const problemOf = (digest: string, text: string) => `could not analyze layer ${digest}: ${text}`;

/** Rewrites the size field of the first tar header in base-256 (GNU), fixing the header checksum. */
function withDeclaredSize(tar: Buffer, size: bigint): Buffer {
  const out = Buffer.from(tar);
  const field = out.subarray(124, 136);
  field.fill(0);
  field[0] = 0x80;
  for (let i = 11, rest = size; i >= 1; i--, rest >>= 8n) field[i] = Number(rest & 0xffn);
  out.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += out[i] as number;
  out.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return out;
}

describe('hostile layers: the inventory comes back incomplete, with the reason, never a crash', () => {
  it('an entry that climbs out of the root is not applied, and the rest of the layer is read', async () => {
    const built = await layer([
      file('../../etc/marker', 'escaped'),
      file('/data/../../../data/x', 'also escaped'),
      file('data/ok', 'fine'),
    ]);
    const result = await walk([built]);
    expect(result.notes).toEqual(['/data/ok=fine']);
    expect(result.problems).toEqual([
      problemOf(built.digest, 'path escapes the root (../../etc/marker)'),
      problemOf(built.digest, 'path escapes the root (/data/../../../data/x)'),
    ]);
  });

  it('a hard link out of the root is refused', async () => {
    const built = await layer([{ name: 'data/l', type: 'link', linkname: '../../etc/shadow' }]);
    expect((await walk([built])).problems).toEqual([
      problemOf(built.digest, 'hard link /data/l points outside the root (../../etc/shadow)'),
    ]);
  });

  it('a symlink loop on an analyzer’s path is a problem, not a hang', async () => {
    const built = await layer([
      { name: 'etc/os-release', type: 'symlink', linkname: 'os-release2' },
      { name: 'etc/os-release2', type: 'symlink', linkname: '/etc/os-release' },
      { name: 'usr/bin/X11', type: 'symlink', linkname: '.' }, // Debian's own: a link to its directory
      file('usr/bin/sshd', 'binary'),
    ]);
    const inventory = await inventoryImage(imageOf([built]));
    expect(inventory.problems).toEqual([
      '/etc/os-release was not analyzed: too many levels of symbolic links (a loop)',
    ]);
    expect(inventory.complete).toBe(false);
  });

  it('a symlink to its own directory (usr/bin/X11 → .) costs nothing and is no problem', async () => {
    const built = await layer([
      { name: 'usr/bin/X11', type: 'symlink', linkname: '.' },
      { name: 'usr/sbin', type: 'symlink', linkname: 'local/sbin' },
      file('usr/local/sbin/sshd', 'binary'),
    ]);
    const inventory = await inventoryImage(imageOf([built]));
    expect(inventory.problems).toEqual([]);
    expect(inventory.facts.sshServer).toEqual({ installed: true, evidence: 'file /usr/sbin/sshd' });
  });

  it('a layer that expands past the byte cap stops the walk (a 64 MiB file of zeros in 64 KiB of gzip)', async () => {
    const bomb = await layer([{ name: 'data/zeros', content: Buffer.alloc(64 * 1024 * 1024) }]);
    expect(bomb.size).toBeLessThan(128 * 1024);
    const after = await layer([file('data/after', 'never read')]);
    const result = await walk([bomb, after], [markerAnalyzer], { maxExpandedBytes: 16 * 1024 * 1024 });
    expect(result.problems).toEqual([
      problemOf(bomb.digest, 'data/zeros declares 67108864 bytes, past the 16777216-byte limit'),
    ]);
    expect(result.notes).toEqual([]);
  });

  it('zero padding after the archive counts against the cap too', async () => {
    const padded = layerOf(
      gzipSync(Buffer.concat([await tarOf([file('data/a', 'a')]), Buffer.alloc(32 * 1024 * 1024)])),
      MEDIA.gzip,
    );
    const result = await walk([padded], [markerAnalyzer], { maxExpandedBytes: 8 * 1024 * 1024 });
    expect(result.problems).toEqual([
      problemOf(padded.digest, 'the layers expand to more than 8388608 bytes'),
    ]);
  });

  it('more entries than the cap stop the walk', async () => {
    const many = await layer(Array.from({ length: 150 }, (_, i) => file(`data/f${i}`, '')));
    const result = await walk([many], [markerAnalyzer], { maxEntries: 100 });
    expect(result.problems).toEqual([problemOf(many.digest, 'the layers hold more than 100 entries')]);
  });

  it('an absurd size in a tar header (2^60 bytes) is refused before anything is read', async () => {
    const tar = withDeclaredSize(await tarOf([file('data/a', 'a')]), 2n ** 60n);
    const built = layerOf(gzipSync(tar), MEDIA.gzip);
    expect((await walk([built])).problems).toEqual([
      problemOf(built.digest, `data/a declares ${2 ** 60} bytes, past the ${8 * 1024 ** 3}-byte limit`),
    ]);
  });

  it('a file over the analyzer’s cap is reported and skipped; the next file is still read', async () => {
    const built = await layer([file('data/big', Buffer.alloc(2000, 'x')), file('data/small', 'ok')]);
    const result = await walk([built]);
    expect(result.notes).toEqual(['/data/small=ok']);
    expect(result.problems).toEqual([]);
    const problems = result.records.flatMap((record) => record.findings.problems ?? []);
    expect(problems).toEqual(['/data/big (marker) was not analyzed: 2000 bytes is over its 1024-byte limit']);
    const inventory = await inventoryImage({ ...imageOf([built]), analyzers: [markerAnalyzer] });
    expect(inventory.complete).toBe(false);
    expect(inventory.problems).toEqual(problems);
  });

  it('a truncated gzip layer', async () => {
    const whole = await layer([file('data/a', 'a'), file('data/b', Buffer.alloc(100_000, 'b'))]);
    const cut = layerOf(whole.bytes.subarray(0, whole.bytes.length - 20), MEDIA.gzip);
    const result = await walk([cut]);
    expect(result.problems).toEqual([problemOf(cut.digest, 'gzip stream is truncated')]);
    expect(result.notes).toEqual(['/data/a=a']);
  });

  it('a corrupt gzip layer', async () => {
    const whole = await layer(Array.from({ length: 50 }, (_, i) => file(`data/f${i}`, `${i}`.repeat(500))));
    const corrupt = Buffer.from(whole.bytes);
    for (let i = 40; i < corrupt.length - 40; i += 7) corrupt[i] = (corrupt[i] as number) ^ 0x5a;
    const built = layerOf(corrupt, MEDIA.gzip);
    const [problem, ...rest] = (await walk([built])).problems;
    expect(problem).toMatch(
      new RegExp(`^could not analyze layer ${built.digest}: gzip stream is (corrupt|truncated)`),
    );
    expect(rest).toEqual([]);
  });

  it('a truncated tar, cut inside a file an analyzer reads and inside one nobody reads', async () => {
    const tar = await tarOf([
      file('data/a', 'a'),
      file('data/b', Buffer.alloc(800, 'b')),
      file('x/c', Buffer.alloc(5000, 'c')),
    ]);
    for (const cutAt of [512 * 4 + 300, tar.length - 3000]) {
      const built = layerOf(tar.subarray(0, cutAt), MEDIA.tar);
      const result = await walk([built]);
      expect(result.problems).toEqual([problemOf(built.digest, 'tar archive is truncated')]);
      expect(result.notes).toContain('/data/a=a');
    }
  });

  it('bytes that are not a tar at all', async () => {
    const built = layerOf(Buffer.alloc(4096, 'garbage!'), MEDIA.tar);
    const [problem] = (await walk([built])).problems;
    expect(problem).toMatch(new RegExp(`^could not analyze layer ${built.digest}: tar archive is corrupt`));
  });

  it('a zstd frame asking for a 2 GiB window is refused before fzstd allocates it', async () => {
    // magic, descriptor (no single segment, no checksum), window descriptor 2^(10+21), then a last raw block of 1 byte
    const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3, 0x09, 0x00, 0x00, 0x41]);
    const built = layerOf(frame, MEDIA.zstd);
    expect((await walk([built])).problems).toEqual([
      problemOf(built.digest, 'zstd window of 2147483648 bytes is over the 134217728-byte limit'),
    ]);
  });

  it('a truncated zstd layer', async () => {
    const whole = await compress(
      await tarOf([file('data/a', 'a'), file('data/b', Buffer.alloc(300_000, 'b'))]),
      'zstd',
    );
    const built = layerOf(whole.subarray(0, whole.length - 10), MEDIA.zstd);
    const [problem] = (await walk([built])).problems;
    expect(problem).toMatch(
      new RegExp(
        `^could not analyze layer ${built.digest}: (zstd stream ends|unexpected EOF|tar archive is truncated)`,
      ),
    );
  });

  it('a media type that is no filesystem layer', async () => {
    const built = layerOf(Buffer.from('{}'), 'application/vnd.oci.image.config.v1+json');
    expect((await walk([built])).problems).toEqual([
      problemOf(
        built.digest,
        'media type application/vnd.oci.image.config.v1+json is not a filesystem layer',
      ),
    ]);
  });
});
