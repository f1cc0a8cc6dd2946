// The S3 driver against a real S3-compatible server (OpenStack Swift with s3api), plus its pure planning code.
import { Buffer } from 'node:buffer';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { CreateMultipartUploadCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore, type S3StoreOptions } from '../../src/storage/s3.js';
import {
  MiB,
  type Part,
  type PartLimits,
  type Piece,
  planParts,
  resolveChain,
  type Segment,
} from '../../src/storage/s3-segments.js';
import {
  createBucket,
  deleteBucket,
  emptyPrefix,
  ensureSwift,
  objectNames,
  openUploads,
  s3Client,
} from '../helpers/swift.js';
import { bytesOf, describeBlobStore, listKeys, readAll } from './blob-store-contract.js';

const swift = await ensureSwift();

async function bytesOfStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** `data` as a stream of 64 KiB chunks, as a request body would arrive. */
function* chunked(data: Uint8Array, size = 64 * 1024): Iterable<Uint8Array> {
  for (let at = 0; at < data.byteLength; at += size) yield data.subarray(at, at + size);
}

describe.skipIf(!swift)('S3BlobStore on Swift s3api', () => {
  const endpoint = swift ?? {
    endpoint: '',
    region: '',
    accessKeyId: '',
    secretAccessKey: '',
    forcePathStyle: true,
  };
  let client: S3Client;
  let bucket: string;
  const stores: S3BlobStore[] = [];

  /** A store on the shared bucket, under its own prefix so tests do not see each other. */
  const open = (prefix = `t-${randomUUID().slice(0, 8)}/`, options: Partial<S3StoreOptions> = {}) => {
    const store = new S3BlobStore({ ...endpoint, bucket, prefix, ...options });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    client = s3Client(endpoint);
    bucket = await createBucket(client);
  });

  afterAll(async () => {
    for (const store of stores) store.destroy();
    if (bucket) await deleteBucket(client, bucket);
    client?.destroy();
  });

  describeBlobStore('S3BlobStore', async () => {
    const store = open();
    return { store, cleanup: () => emptyPrefix(client, bucket, store.prefix) };
  });

  /** Writes `parts` one after the other, as successive PATCHes would; returns the whole content. */
  async function writeInParts(store: S3BlobStore, key: string, sizes: number[]): Promise<Buffer> {
    const data = randomBytes(sizes.reduce((a, b) => a + b, 0));
    let offset = 0;
    for (const size of sizes) {
      expect(await store.write(key, chunked(data.subarray(offset, offset + size)), offset)).toBe(size);
      offset += size;
    }
    return data;
  }

  const names = (store: S3BlobStore) =>
    objectNames(client, bucket, store.prefix).then((all) => all.map((n) => n.slice(store.prefix.length)));

  describe('uploads in several writes', () => {
    it.each<[string, number[]]>([
      ['small, big and tiny writes', [1024, 3 * MiB, 7 * MiB, 10]],
      ['only small writes', [1, 2 * MiB, 100, 1024]],
      ['writes of at least a part each', [6 * MiB, 5 * MiB, 9 * MiB]],
      ['one empty write among others', [100, 0, 5 * MiB]],
    ])('commits %s byte for byte into one plain object', async (_label, sizes) => {
      const store = open();
      const data = await writeInParts(store, 'uploads/u', sizes);
      expect(await store.stat('uploads/u')).toMatchObject({ size: data.length });
      expect(sha256(await bytesOfStream(await store.read('uploads/u')))).toBe(sha256(data));

      await store.commit('uploads/u', 'blobs/b');
      expect(await names(store)).toEqual(['blobs/b']);
      expect(await store.stat('blobs/b')).toMatchObject({ size: data.length });
      expect(sha256(await bytesOfStream(await store.read('blobs/b')))).toBe(sha256(data));
      expect(await openUploads(client, bucket, store.prefix)).toEqual([]);
    });

    it('keeps one segment per write, named by offset', async () => {
      const store = open();
      await writeInParts(store, 'uploads/u', [3, 4, 5]);
      expect(await names(store)).toEqual([
        'uploads/u!0000000000000000',
        'uploads/u!0000000000000003',
        'uploads/u!0000000000000007',
      ]);
    });

    it('streams a write bigger than one part as a multipart upload, then commits it', async () => {
      const store = open();
      const data = randomBytes(21 * MiB + 7);
      expect(await store.write('uploads/big', chunked(data), 0)).toBe(data.length);
      expect(await names(store)).toEqual(['uploads/big!0000000000000000']);
      expect(sha256(await bytesOfStream(await store.read('uploads/big')))).toBe(sha256(data));
      await store.commit('uploads/big', 'blobs/big');
      expect(sha256(await bytesOfStream(await store.read('blobs/big')))).toBe(sha256(data));
    });

    it('takes a single chunk much larger than a part', async () => {
      const store = open();
      const data = randomBytes(17 * MiB);
      expect(await store.write('uploads/one', [data], 0)).toBe(data.length);
      expect(sha256(await bytesOfStream(await store.read('uploads/one')))).toBe(sha256(data));
    });
  });

  describe('concurrent writes sharing a part memory budget of one part', () => {
    it('all complete and commit byte for byte', async () => {
      const store = open(undefined, { partMemoryBytes: 5 * MiB });
      const sources = Array.from({ length: 8 }, (_, i) => randomBytes(11 * MiB + i * 333_333));
      await Promise.all(
        sources.map(async (data, i) => {
          expect(await store.write(`uploads/u${i}`, chunked(data), 0)).toBe(data.length);
          await store.commit(`uploads/u${i}`, `blobs/b${i}`);
        }),
      );
      for (const [i, data] of sources.entries()) {
        expect(sha256(await bytesOfStream(await store.read(`blobs/b${i}`)))).toBe(sha256(data));
      }
      expect(await openUploads(client, bucket, store.prefix)).toEqual([]);
    });
  });

  describe('a write whose source fails', () => {
    it.each<[string, number]>([
      ['within the first part', 1000],
      ['after several parts', 20 * MiB],
    ])('%s leaves nothing of it behind', async (_label, failAfter) => {
      const store = open();
      await store.write('uploads/u', [bytesOf('kept')], 0);
      async function* failing(): AsyncIterable<Uint8Array> {
        yield* chunked(randomBytes(failAfter));
        throw new Error('client went away');
      }
      await expect(store.write('uploads/u', failing(), 4)).rejects.toThrow('client went away');
      expect(await readAll(await store.read('uploads/u'))).toBe('kept');
      expect(await names(store)).toEqual(['uploads/u!0000000000000000']);
      expect(await openUploads(client, bucket, store.prefix)).toEqual([]);
    });
  });

  describe('read with a range', () => {
    // Segments of 5, 3 MiB and 6 MiB + 1: ranges inside, across and at the edges of them.
    const sizes = [5, 3 * MiB, 6 * MiB + 1];
    const total = sizes.reduce((a, b) => a + b, 0);
    const ranges: [string, number, number][] = [
      ['the first byte', 0, 0],
      ['inside the first segment', 1, 3],
      ['the first segment exactly', 0, 4],
      ['across the first boundary', 3, 10],
      ['across every segment', 2, total - 2],
      ['the last byte', total - 1, total - 1],
      ['the whole object', 0, total - 1],
    ];
    let store: S3BlobStore;
    let data: Buffer;

    beforeAll(async () => {
      store = open();
      data = await writeInParts(store, 'uploads/r', sizes);
    });

    it.each(ranges)('streams %s of a segmented object', async (_label, start, end) => {
      const got = await bytesOfStream(await store.read('uploads/r', { start, end }));
      expect(got.equals(data.subarray(start, end + 1))).toBe(true);
    });

    it.each(ranges)('streams %s of a committed object', async (_label, start, end) => {
      if (!(await store.stat('blobs/r'))) await store.commit('uploads/r', 'blobs/r');
      const got = await bytesOfStream(await store.read('blobs/r', { start, end }));
      expect(got.equals(data.subarray(start, end + 1))).toBe(true);
    });
  });

  describe('write at an offset inside what is stored', () => {
    it.each<[string, number]>([
      ['at a segment boundary', 3],
      ['inside a segment', 4],
      ['inside the first segment', 1],
      ['at zero', 0],
    ])('truncates %s for an empty source, then appends there', async (_label, offset) => {
      const store = open();
      await store.write('uploads/t', [bytesOf('abc')], 0);
      await store.write('uploads/t', [bytesOf('def')], 3);
      await store.write('uploads/t', [bytesOf('ghi')], 6);
      expect(await store.write('uploads/t', [], offset)).toBe(0);
      expect(await store.stat('uploads/t')).toMatchObject({ size: offset });
      expect(await readAll(await store.read('uploads/t'))).toBe('abcdefghi'.slice(0, offset));
      await store.write('uploads/t', [bytesOf('XY')], offset);
      expect(await readAll(await store.read('uploads/t'))).toBe(`${'abcdefghi'.slice(0, offset)}XY`);
      await store.commit('uploads/t', 'blobs/t');
      expect(await readAll(await store.read('blobs/t'))).toBe(`${'abcdefghi'.slice(0, offset)}XY`);
      expect(await names(store)).toEqual(['blobs/t']);
    });

    it('names a trimmed segment by its new size and drops the original', async () => {
      const store = open();
      await writeInParts(store, 'uploads/t', [3, 6]);
      await store.write('uploads/t', [], 5);
      expect(await names(store)).toEqual([
        'uploads/t!0000000000000000',
        'uploads/t!0000000000000003.0000000000000002',
      ]);
    });

    it('trims a segment bigger than a part server-side, byte for byte', async () => {
      const store = open();
      const data = await writeInParts(store, 'uploads/t', [1000, 12 * MiB]);
      const cut = 1000 + 6 * MiB + 3;
      await store.write('uploads/t', [], cut);
      expect(await store.stat('uploads/t')).toMatchObject({ size: cut });
      expect(sha256(await bytesOfStream(await store.read('uploads/t')))).toBe(sha256(data.subarray(0, cut)));
    });

    it('turns a committed object back into a segment when written inside or after it', async () => {
      const store = open();
      await store.write('uploads/u', [bytesOf('committed')], 0);
      await store.commit('uploads/u', 'blobs/c');
      await store.write('blobs/c', [bytesOf('ITTED!')], 3);
      expect(await readAll(await store.read('blobs/c'))).toBe('comITTED!');
      await store.write('blobs/c', [bytesOf('?')], 9);
      expect(await readAll(await store.read('blobs/c'))).toBe('comITTED!?');
      expect((await names(store)).every((name) => name.startsWith('blobs/c!'))).toBe(true);
    });

    it('refuses to write past the end, which would leave a hole', async () => {
      const store = open();
      await store.write('uploads/u', [bytesOf('abc')], 0);
      await expect(store.write('uploads/u', [bytesOf('x')], 4)).rejects.toThrow(/past the end/);
      await expect(store.write('uploads/none', [bytesOf('x')], 1)).rejects.toThrow(/past the end/);
      expect(await readAll(await store.read('uploads/u'))).toBe('abc');
    });
  });

  describe('list', () => {
    it('yields each upload once, however many segments, with the time stat gives', async () => {
      const store = open();
      await writeInParts(store, 'uploads/many', [1, 2, 3, 4]);
      await writeInParts(store, 'uploads/one', [6 * MiB]);
      await store.write('uploads/empty', [], 0);
      await writeInParts(store, 'uploads/trimmed', [4, 4]);
      await store.write('uploads/trimmed', [], 6);
      await store.write('uploads/plain', [bytesOf('p')], 0);
      await store.commit('uploads/plain', 'uploads/committed');
      await store.write('uploads/deeper/x', [bytesOf('x')], 0);
      await store.write('uploads-not/y', [bytesOf('y')], 0);

      const entries: { key: string; modified: Date }[] = [];
      for await (const entry of store.list('uploads/')) entries.push(entry);
      expect(entries.map((entry) => entry.key).sort()).toEqual([
        'uploads/committed',
        'uploads/empty',
        'uploads/many',
        'uploads/one',
        'uploads/trimmed',
      ]);
      for (const { key, modified } of entries) {
        expect(modified.getTime()).toBe((await store.stat(key))?.modified.getTime());
      }
    });

    it('does not see other prefixes in the same bucket', async () => {
      const a = open();
      const b = open();
      await a.write('uploads/a', [bytesOf('a')], 0);
      await b.write('uploads/b', [bytesOf('b')], 0);
      expect(await listKeys(a, 'uploads/')).toEqual(['uploads/a']);
      expect(await b.stat('uploads/a')).toBeNull();
    });
  });

  describe('presignGet', () => {
    it('gives a URL that plain fetch() downloads the committed bytes from', async () => {
      const store = open();
      const data = await writeInParts(store, 'uploads/u', [2 * MiB, 6 * MiB]);
      await store.commit('uploads/u', 'blobs/sha256/ab/abc');
      const url = await store.presignGet('blobs/sha256/ab/abc', 60);
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(sha256(data));
    });

    it('gives a URL for a range request too', async () => {
      const store = open();
      await store.write('uploads/u', [bytesOf('0123456789')], 0);
      await store.commit('uploads/u', 'blobs/x');
      const response = await fetch(await store.presignGet('blobs/x', 60), {
        headers: { range: 'bytes=2-4' },
      });
      expect(response.status).toBe(206);
      expect(await response.text()).toBe('234');
    });
  });

  describe('across processes', () => {
    it('lets a second store continue an upload the first began, and the first read the result', async () => {
      const first = open();
      const second = open(first.prefix);
      const part1 = randomBytes(3 * MiB);
      const part2 = randomBytes(6 * MiB);
      const part3 = randomBytes(100);
      await first.write('uploads/u', chunked(part1), 0);
      expect(await second.stat('uploads/u')).toMatchObject({ size: part1.length });
      await second.write('uploads/u', chunked(part2), part1.length);
      await first.write('uploads/u', [part3], part1.length + part2.length);
      await second.commit('uploads/u', 'blobs/u');
      const all = Buffer.concat([part1, part2, part3]);
      expect(sha256(await bytesOfStream(await first.read('blobs/u')))).toBe(sha256(all));
      expect(await first.stat('uploads/u')).toBeNull();
    });
  });

  describe('abortStaleMultipartUploads', () => {
    it('aborts the multipart uploads begun before the cutoff under its prefix only', async () => {
      const store = open();
      const other = open();
      const begin = (key: string) =>
        client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      await begin(`${store.prefix}uploads/crashed!0000000000000000`);
      await begin(`${other.prefix}uploads/elsewhere!0000000000000000`);
      expect(await store.abortStaleMultipartUploads(new Date(0))).toBe(0);
      // Swift rounds times up to the second.
      expect(await store.abortStaleMultipartUploads(new Date(Date.now() + 5_000))).toBe(1);
      expect(await openUploads(client, bucket, store.prefix)).toEqual([]);
      expect(await openUploads(client, bucket, other.prefix)).toHaveLength(1);
    });
  });

  describe('errors and the bucket', () => {
    it('rejects reads of an absent key with code ENOENT, as the registry expects', async () => {
      const store = open();
      await expect(store.read('blobs/absent')).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(store.read('blobs/absent', { start: 0, end: 1 })).rejects.toMatchObject({
        code: 'ENOENT',
      });
      await expect(store.commit('uploads/absent', 'blobs/x')).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('creates a missing bucket, idempotently, and pings it', async () => {
      const name = `berth-test-${randomUUID().slice(0, 13)}`;
      const missing = new S3BlobStore({ ...endpoint, bucket: name });
      stores.push(missing);
      await expect(missing.ping()).rejects.toThrow();
      const store = await S3BlobStore.create({ ...endpoint, bucket: name });
      stores.push(store);
      await store.ensureBucket();
      await expect(store.ping()).resolves.toBeUndefined();
      await deleteBucket(client, name);
    });

    it('refuses keys outside the key grammar', async () => {
      const store = open();
      for (const key of ['', '../x', 'a//b', 'uploads/a!0000000000000000', 'a b']) {
        await expect(store.stat(key)).rejects.toThrow(/storage key/);
      }
    });
  });
});

describe('S3 segment chains', () => {
  const seg = (offset: number, size: number, name = `k!${offset}`): Segment => ({
    name,
    offset,
    size,
    modified: new Date(1000 + offset),
  });

  it.each<[string, Segment[], number | undefined, string[]]>([
    ['no segments', [], undefined, []],
    ['no segment at zero', [seg(5, 5)], undefined, []],
    ['a contiguous chain', [seg(0, 5), seg(5, 3), seg(8, 1)], 9, ['k!0', 'k!5', 'k!8']],
    ['a chain up to a gap', [seg(0, 5), seg(6, 3)], 5, ['k!0']],
    [
      'the shorter of two at one offset',
      [seg(0, 5), seg(5, 9), seg(5, 2, 'k!5.2'), seg(7, 1)],
      8,
      ['k!0', 'k!5.2', 'k!7'],
    ],
    ['an empty object', [seg(0, 0)], 0, ['k!0']],
  ])('resolves %s', (_label, candidates, size, chosen) => {
    const chain = resolveChain(candidates);
    expect(chain?.size).toBe(size);
    expect(chain?.segments.map((s) => s.name) ?? []).toEqual(chosen);
    if (chain)
      expect(chain.modified.getTime()).toBe(Math.max(...chain.segments.map((s) => s.modified.getTime())));
  });
});

describe('S3 multipart planning', () => {
  const limits: PartLimits = { minPart: 5, maxPart: 100, maxParts: 1000 };
  const piece = (name: string, size: number): Piece => ({ name, start: 0, size });

  /** The byte ranges the parts cover, expanded, so any plan can be compared with its pieces. */
  const expand = (pieces: Piece[]) =>
    pieces.flatMap((p) => Array.from({ length: p.size }, (_, i) => `${p.name}${p.start + i}`));
  const partPieces = (part: Part) => ('copy' in part ? [part.copy] : part.upload);
  const kinds = (parts: Part[]) =>
    parts.map((part) => ('copy' in part ? `c${part.copy.size}` : `u${part.size}`));

  it.each<[string, Piece[], string[]]>([
    ['one big piece as a copy', [piece('a', 50)], ['c50']],
    ['small pieces as one upload', [piece('a', 1), piece('b', 2)], ['u3']],
    ['big pieces as copies', [piece('a', 6), piece('b', 7)], ['c6', 'c7']],
    [
      'a short run topped up from the next big piece',
      [piece('a', 2), piece('b', 20), piece('c', 1)],
      ['u5', 'c17', 'u1'],
    ],
    ['a big piece left small after topping up', [piece('a', 3), piece('b', 6)], ['u5', 'u4']],
    ['a run long enough on its own', [piece('a', 3), piece('b', 3), piece('c', 10)], ['u6', 'c10']],
    ['a piece over the part limit split evenly', [piece('a', 250)], ['c83', 'c84', 'c83']],
    ['empty pieces skipped', [piece('a', 0), piece('b', 8), piece('c', 0)], ['c8']],
  ])('plans %s', (_label, pieces, expected) => {
    const parts = planParts(pieces, limits);
    expect(kinds(parts)).toEqual(expected);
    expect(expand(parts.flatMap(partPieces))).toEqual(expand(pieces));
    for (const part of parts.slice(0, -1)) {
      const size = 'copy' in part ? part.copy.size : part.size;
      expect(size).toBeGreaterThanOrEqual(limits.minPart);
      expect(size).toBeLessThanOrEqual(limits.maxPart);
    }
  });

  it('grows its parts to stay within the part count limit', () => {
    const pieces = Array.from({ length: 40 }, (_, i) => piece(`p${i}`, 6));
    const parts = planParts(pieces, { ...limits, maxParts: 10 });
    expect(parts.length).toBeLessThanOrEqual(10);
    expect(expand(parts.flatMap(partPieces))).toEqual(expand(pieces));
  });
});
