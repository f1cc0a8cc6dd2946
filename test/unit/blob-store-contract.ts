// A reusable behavioural suite for BlobStore drivers: call describeBlobStore from a driver's test file.
import { Buffer } from 'node:buffer';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../src/storage/blob-store.js';

export interface BlobStoreFixture {
  store: BlobStore;
  /** Removes whatever the fixture created; called after each test. */
  cleanup(): Promise<void>;
}

const encoder = new TextEncoder();
export const bytesOf = (text: string): Uint8Array => encoder.encode(text);

export async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString('utf8');
}

export async function listKeys(store: BlobStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of store.list(prefix)) keys.push(entry.key);
  return keys.sort();
}

async function* asyncChunks(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const part of parts) {
    await Promise.resolve();
    yield bytesOf(part);
  }
}

/** Runs the BlobStore contract against a fresh store from `factory` for every test. */
export function describeBlobStore(name: string, factory: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let fixture: BlobStoreFixture;
    let store: BlobStore;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    const put = async (key: string, text: string) => {
      expect(await store.write(key, [bytesOf(text)], 0)).toBe(bytesOf(text).byteLength);
    };

    describe('stat', () => {
      it('returns null for an absent key', async () => {
        expect(await store.stat('blobs/sha256/00/absent')).toBeNull();
      });

      it('returns the size and a recent modification time', async () => {
        const before = Date.now();
        await put('blobs/sha256/ab/abc', 'hello world');
        const info = await store.stat('blobs/sha256/ab/abc');
        expect(info?.size).toBe(11);
        expect(info?.modified).toBeInstanceOf(Date);
        expect(info?.modified.getTime()).toBeGreaterThanOrEqual(before - 5_000);
        expect(info?.modified.getTime()).toBeLessThanOrEqual(Date.now() + 5_000);
      });

      it('returns null for a prefix that only has keys below it', async () => {
        await put('blobs/sha256/ab/abc', 'x');
        expect(await store.stat('blobs/sha256/ab')).toBeNull();
      });
    });

    describe('write', () => {
      it.each<[string, () => Iterable<Uint8Array> | AsyncIterable<Uint8Array>, string]>([
        ['one chunk', () => [bytesOf('hello')], 'hello'],
        ['several chunks', () => [bytesOf('he'), bytesOf('ll'), bytesOf('o')], 'hello'],
        ['an async iterable', () => asyncChunks('hel', 'lo'), 'hello'],
        [
          'a generator',
          () =>
            (function* () {
              yield bytesOf('hel');
              yield bytesOf('lo');
            })(),
          'hello',
        ],
        ['empty chunks among others', () => [bytesOf(''), bytesOf('hello'), bytesOf('')], 'hello'],
        ['no chunks at all', () => [], ''],
      ])('creates an object from %s and returns the bytes written', async (_label, source, content) => {
        const written = await store.write('uploads/one', source(), 0);
        expect(await store.stat('uploads/one')).toMatchObject({ size: written });
        expect(await readAll(await store.read('uploads/one'))).toBe(content);
      });

      it('stores binary data byte for byte', async () => {
        const data = new Uint8Array(256).map((_, i) => 255 - i);
        expect(await store.write('blobs/bin', [data.subarray(0, 100), data.subarray(100)], 0)).toBe(256);
        const chunks: Buffer[] = [];
        for await (const chunk of await store.read('blobs/bin'))
          chunks.push(Buffer.from(chunk as Uint8Array));
        expect(new Uint8Array(Buffer.concat(chunks))).toEqual(data);
      });

      it('creates an empty object for an empty source, as a new upload session does', async () => {
        expect(await store.write('uploads/empty', [], 0)).toBe(0);
        expect(await store.stat('uploads/empty')).toMatchObject({ size: 0 });
        expect(await listKeys(store, 'uploads/')).toEqual(['uploads/empty']);
      });

      it('creates the intermediate levels of a deep key', async () => {
        await put('a/b/c/d/e', 'deep');
        expect(await readAll(await store.read('a/b/c/d/e'))).toBe('deep');
      });

      it.each<[string, string, string, number, string]>([
        ['appends at the end', 'abcde', 'fgh', 5, 'abcdefgh'],
        ['discards bytes past the offset before writing', 'abcdefghij', 'XY', 3, 'abcXY'],
        ['replaces everything from offset 0', 'abcdefghij', 'XY', 0, 'XY'],
        ['truncates to the offset for an empty source', 'abcdefghij', '', 4, 'abcd'],
        ['overwrites the tail exactly', 'abcdef', 'XYZ', 3, 'abcXYZ'],
      ])('%s', async (_label, existing, text, offset, expected) => {
        await put('uploads/u', existing);
        const written = await store.write('uploads/u', text === '' ? [] : [bytesOf(text)], offset);
        expect(written).toBe(text.length);
        expect(await store.stat('uploads/u')).toMatchObject({ size: expected.length });
        expect(await readAll(await store.read('uploads/u'))).toBe(expected);
      });

      it('resumes an interrupted chunked write', async () => {
        await put('uploads/u', 'chunk1');
        // A second chunk written partly, then retried from the last acknowledged offset.
        await store.write('uploads/u', [bytesOf('chu')], 6);
        await store.write('uploads/u', asyncChunks('chunk2'), 6);
        await store.write('uploads/u', [bytesOf('chunk3')], 12);
        expect(await readAll(await store.read('uploads/u'))).toBe('chunk1chunk2chunk3');
      });

      it('rejects when the source fails', async () => {
        async function* failing(): AsyncIterable<Uint8Array> {
          yield bytesOf('partial');
          throw new Error('client went away');
        }
        await expect(store.write('uploads/u', failing(), 0)).rejects.toThrow('client went away');
      });
    });

    describe('read', () => {
      beforeEach(async () => {
        await put('blobs/x', '0123456789');
      });

      it.each<[string, { start: number; end: number } | undefined, string]>([
        ['the whole object', undefined, '0123456789'],
        ['the whole object as a range', { start: 0, end: 9 }, '0123456789'],
        ['a middle range, end inclusive', { start: 2, end: 5 }, '2345'],
        ['the first byte', { start: 0, end: 0 }, '0'],
        ['the last byte', { start: 9, end: 9 }, '9'],
        ['a suffix', { start: 7, end: 9 }, '789'],
      ])('streams %s', async (_label, range, expected) => {
        expect(await readAll(await store.read('blobs/x', range))).toBe(expected);
      });

      it('rejects for an absent key', async () => {
        await expect(store.read('blobs/absent')).rejects.toThrow();
      });

      it('reads a large object completely', async () => {
        const chunk = 'x'.repeat(64 * 1024);
        const written = await store.write(
          'blobs/big',
          Array.from({ length: 20 }, () => bytesOf(chunk)),
          0,
        );
        expect(written).toBe(20 * chunk.length);
        expect((await readAll(await store.read('blobs/big'))).length).toBe(written);
        expect(await readAll(await store.read('blobs/big', { start: written - 3, end: written - 1 }))).toBe(
          'xxx',
        );
      });
    });

    describe('commit', () => {
      it('moves the object to its target', async () => {
        await put('uploads/u', 'content');
        await store.commit('uploads/u', 'blobs/sha256/ab/abcdef');
        expect(await store.stat('uploads/u')).toBeNull();
        expect(await readAll(await store.read('blobs/sha256/ab/abcdef'))).toBe('content');
      });

      it('replaces an existing target', async () => {
        await put('blobs/t', 'old content, longer');
        await put('uploads/u', 'new');
        await store.commit('uploads/u', 'blobs/t');
        expect(await readAll(await store.read('blobs/t'))).toBe('new');
        expect(await store.stat('blobs/t')).toMatchObject({ size: 3 });
        expect(await store.stat('uploads/u')).toBeNull();
      });

      it('commits an empty object', async () => {
        await store.write('uploads/e', [], 0);
        await store.commit('uploads/e', 'blobs/e');
        expect(await store.stat('blobs/e')).toMatchObject({ size: 0 });
      });

      it.each<[string, string, number, string]>([
        [
          'the first bytes, dropping what an interrupted write left past them',
          'content+debris',
          7,
          'content',
        ],
        ['all of it', 'content', 7, 'content'],
        ['nothing', 'debris', 0, ''],
      ])('commits %s when given a size', async (_label, stored, size, expected) => {
        await put('uploads/u', stored);
        await store.commit('uploads/u', 'blobs/s', size);
        expect(await readAll(await store.read('blobs/s'))).toBe(expected);
        expect(await store.stat('blobs/s')).toMatchObject({ size });
        expect(await store.stat('uploads/u')).toBeNull();
      });

      it('commits the first bytes of an object written in several writes', async () => {
        await put('uploads/u', 'abc');
        await store.write('uploads/u', [bytesOf('def')], 3);
        await store.write('uploads/u', [bytesOf('ghi')], 6);
        await store.commit('uploads/u', 'blobs/s', 5);
        expect(await readAll(await store.read('blobs/s'))).toBe('abcde');
      });

      it('rejects a size larger than the object, leaving the target alone', async () => {
        await put('blobs/s', 'keep');
        await put('uploads/u', 'short');
        await expect(store.commit('uploads/u', 'blobs/s', 6)).rejects.toThrow();
        expect(await readAll(await store.read('blobs/s'))).toBe('keep');
      });

      it('rejects when the source is absent, leaving the target alone', async () => {
        await put('blobs/t', 'keep');
        await expect(store.commit('uploads/absent', 'blobs/t')).rejects.toThrow();
        expect(await readAll(await store.read('blobs/t'))).toBe('keep');
      });
    });

    describe('put', () => {
      /** A seal that records what it saw: the size, and whether anything showed under the key already. */
      const recorder = (answer: boolean | Error) => {
        const seen: { size: number; visible: boolean }[] = [];
        return {
          seen,
          seal: async (size: number) => {
            seen.push({ size, visible: (await store.stat('blobs/p')) !== null });
            if (answer instanceof Error) throw answer;
            return answer;
          },
        };
      };

      it.each<[string, number | undefined]>([
        ['with its size known', 11],
        ['with its size unknown', undefined],
      ])('stores the source under the key once sealed, %s, nothing under temp', async (_label, size) => {
        const { seen, seal } = recorder(true);
        const written = await store.put('blobs/p', asyncChunks('hello', ' ', 'world'), {
          temp: 'uploads/t',
          size,
          seal,
        });
        expect(written).toBe(11);
        expect(seen).toEqual([{ size: 11, visible: false }]);
        expect(await readAll(await store.read('blobs/p'))).toBe('hello world');
        expect(await store.stat('blobs/p')).toMatchObject({ size: 11 });
        expect(await store.stat('uploads/t')).toBeNull();
        expect(await listKeys(store, 'uploads/')).toEqual([]);
      });

      it('stores an empty source', async () => {
        const { seal } = recorder(true);
        expect(await store.put('blobs/p', [], { temp: 'uploads/t', size: 0, seal })).toBe(0);
        expect(await store.stat('blobs/p')).toMatchObject({ size: 0 });
      });

      it('replaces an existing object', async () => {
        await put('blobs/p', 'old content, longer');
        await store.put('blobs/p', [bytesOf('new')], { temp: 'uploads/t', size: 3, seal: async () => true });
        expect(await readAll(await store.read('blobs/p'))).toBe('new');
        expect(await store.stat('blobs/p')).toMatchObject({ size: 3 });
      });

      it.each<[string, number | undefined]>([
        ['size known', 5],
        ['size unknown', undefined],
      ])('drops the bytes when the seal says no (%s), leaving the key as it was', async (_label, size) => {
        await put('blobs/p', 'keep');
        const { seen, seal } = recorder(false);
        expect(await store.put('blobs/p', [bytesOf('other')], { temp: 'uploads/t', size, seal })).toBe(5);
        expect(seen).toEqual([{ size: 5, visible: true }]);
        expect(await readAll(await store.read('blobs/p'))).toBe('keep');
        expect(await listKeys(store, 'uploads/')).toEqual([]);
      });

      it.each<[string, number | undefined]>([
        ['size known', 5],
        ['size unknown', undefined],
      ])('rejects with what the seal throws (%s), nothing stored', async (_label, size) => {
        const { seal } = recorder(new Error('digest mismatch'));
        await expect(
          store.put('blobs/p', [bytesOf('bytes')], { temp: 'uploads/t', size, seal }),
        ).rejects.toThrow('digest mismatch');
        expect(await store.stat('blobs/p')).toBeNull();
        expect(await listKeys(store, 'uploads/')).toEqual([]);
      });

      it('rejects when the source fails, without sealing or storing anything', async () => {
        async function* failing(): AsyncIterable<Uint8Array> {
          yield bytesOf('partial');
          throw new Error('client went away');
        }
        const { seen, seal } = recorder(true);
        await expect(store.put('blobs/p', failing(), { temp: 'uploads/t', size: 100, seal })).rejects.toThrow(
          'client went away',
        );
        expect(seen).toEqual([]);
        expect(await store.stat('blobs/p')).toBeNull();
        expect(await listKeys(store, 'uploads/')).toEqual([]);
      });
    });

    describe('delete', () => {
      it('removes the object', async () => {
        await put('blobs/d', 'x');
        await store.delete('blobs/d');
        expect(await store.stat('blobs/d')).toBeNull();
        await expect(store.read('blobs/d')).rejects.toThrow();
      });

      it.each([
        ['an absent key', 'blobs/never'],
        ['a key below an absent prefix', 'nowhere/at/all'],
      ])('is idempotent for %s', async (_label, key) => {
        await expect(store.delete(key)).resolves.toBeUndefined();
        await expect(store.delete(key)).resolves.toBeUndefined();
      });

      it('is idempotent after a delete', async () => {
        await put('blobs/d', 'x');
        await store.delete('blobs/d');
        await expect(store.delete('blobs/d')).resolves.toBeUndefined();
      });

      it('leaves other objects alone', async () => {
        await put('blobs/a', 'a');
        await put('blobs/b', 'b');
        await store.delete('blobs/a');
        expect(await readAll(await store.read('blobs/b'))).toBe('b');
      });
    });

    describe('list', () => {
      it('yields the keys directly below the prefix with their modification times', async () => {
        await put('uploads/one', '1');
        await put('uploads/two', '22');
        await put('uploads/deeper/three', '333');
        await put('other/four', '4');
        await put('uploads-not/five', '5');
        const entries: { key: string; modified: Date }[] = [];
        for await (const entry of store.list('uploads/')) entries.push(entry);
        expect(entries.map((e) => e.key).sort()).toEqual(['uploads/one', 'uploads/two']);
        for (const entry of entries) {
          expect(entry.modified).toBeInstanceOf(Date);
          expect(entry.modified.getTime()).toBe((await store.stat(entry.key))?.modified.getTime());
        }
      });

      it('yields keys that stat, read and delete accept', async () => {
        await put('uploads/abc-123', 'x');
        for await (const { key } of store.list('uploads/')) {
          expect(await store.stat(key)).toMatchObject({ size: 1 });
          await store.delete(key);
        }
        expect(await listKeys(store, 'uploads/')).toEqual([]);
      });

      it('yields nothing for an absent prefix', async () => {
        expect(await listKeys(store, 'uploads/')).toEqual([]);
      });

      it('reflects commits and deletes', async () => {
        await put('uploads/a', 'a');
        await put('uploads/b', 'b');
        await store.commit('uploads/a', 'blobs/a');
        await store.delete('uploads/b');
        await put('uploads/c', 'c');
        expect(await listKeys(store, 'uploads/')).toEqual(['uploads/c']);
        expect(await listKeys(store, 'blobs/')).toEqual(['blobs/a']);
      });
    });

    describe('ping', () => {
      it('resolves for a working store', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('resolves again once content exists', async () => {
        await put('blobs/p', 'x');
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });
  });
}
