import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FilesystemBlobStore } from '../../src/storage/filesystem.js';
import { bytesOf, describeBlobStore, listKeys, readAll } from './blob-store-contract.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'berth-fs-store-'));
}

describeBlobStore('FilesystemBlobStore', async () => {
  const dir = await tempDir();
  return {
    store: new FilesystemBlobStore(join(dir, 'root')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('FilesystemBlobStore', () => {
  let dir: string;
  let root: string;
  let store: FilesystemBlobStore;

  beforeEach(async () => {
    dir = await tempDir();
    root = join(dir, 'root');
    store = new FilesystemBlobStore(root);
    await store.ping();
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves its root to an absolute path', () => {
    const relative = new FilesystemBlobStore('some/relative/dir');
    expect(relative.root).toBe(resolve('some/relative/dir'));
  });

  it('creates a missing root on ping', async () => {
    const nested = new FilesystemBlobStore(join(dir, 'a', 'b', 'c'));
    await nested.ping();
    expect((await stat(join(dir, 'a', 'b', 'c'))).isDirectory()).toBe(true);
  });

  it('keeps objects as files under the root', async () => {
    await store.write('blobs/sha256/ab/abcd', [bytesOf('data')], 0);
    expect(await readFile(join(root, 'blobs', 'sha256', 'ab', 'abcd'), 'utf8')).toBe('data');
  });

  it.each(['a..b', '...', '.hidden', 'v1.0_final-2', 'A-Z.a-z_0-9'])(
    'accepts the unusual but safe key %j',
    async (key) => {
      await store.write(key, [bytesOf('ok')], 0);
      expect(await readAll(await store.read(key))).toBe('ok');
      expect(existsSync(join(root, key))).toBe(true);
    },
  );

  const BAD_KEYS: [string, string][] = [
    ['empty', ''],
    ['dot-dot', '..'],
    ['parent traversal', '../escape'],
    ['deep traversal', 'uploads/../../escape'],
    ['trailing dot-dot', 'uploads/..'],
    ['dot', '.'],
    ['leading dot segment', './uploads/x'],
    ['inner dot segment', 'uploads/./x'],
    ['absolute path', '/etc/passwd'],
    ['absolute path into the temp dir', join(tmpdir(), 'berth-escape')],
    ['empty segment', 'uploads//x'],
    ['leading slash', '/uploads/x'],
    ['backslash', 'uploads\\..\\..\\escape'],
    ['space', 'uploads/a b'],
    ['NUL byte', 'uploads/a\u0000b'],
    ['newline', 'uploads/a\nb'],
    ['colon', 'C:/x'],
    ['percent-encoding', 'uploads/%2e%2e'],
    ['tilde', '~/x'],
    ['glob', 'uploads/*'],
    ['non-ASCII', 'uploads/caf\u00e9'],
  ];

  describe('deleteAll (garbage collection, on the disk threads)', () => {
    it('removes every object, absent ones being fine, and leaves the rest', async () => {
      const keys = Array.from({ length: 300 }, (_, i) => `blobs/sha256/${(i % 16).toString(16)}0/k${i}`);
      for (const key of keys) await store.write(key, [bytesOf(key)], 0);
      await store.write('blobs/sha256/00/kept', [bytesOf('kept')], 0);
      const failed = await store.deleteAll([...keys, 'blobs/sha256/00/never-there']);
      expect(failed).toEqual([]);
      for (const key of keys) expect(await store.stat(key)).toBeNull();
      expect(await readAll(await store.read('blobs/sha256/00/kept'))).toBe('kept');
      // A second batch on the same threads, then another.
      await store.write('blobs/x', [bytesOf('x')], 0);
      expect(await store.deleteAll(['blobs/x'])).toEqual([]);
      await store.write('blobs/y', [bytesOf('y')], 0);
      expect(await store.deleteAll(['blobs/y'])).toEqual([]);
      expect(await store.stat('blobs/x')).toBeNull();
      expect(await store.stat('blobs/y')).toBeNull();
    });

    it('reports what it could not remove, with why, and removes the others', async () => {
      await store.write('blobs/a', [bytesOf('a')], 0);
      await store.write('blobs/dir/inner', [bytesOf('inner')], 0);
      const failed = await store.deleteAll(['blobs/dir', 'blobs/a']);
      expect(failed.map((f) => f.key)).toEqual(['blobs/dir']);
      expect((failed[0]?.error as NodeJS.ErrnoException | undefined)?.code).toMatch(/^(EISDIR|EPERM)$/);
      expect(await store.stat('blobs/a')).toBeNull();
      expect(await readAll(await store.read('blobs/dir/inner'))).toBe('inner');
    });
  });

  describe.each(BAD_KEYS)('refuses the %s key %j', (_label, key) => {
    it.each<[string, (s: FilesystemBlobStore) => Promise<unknown>]>([
      ['stat', (s) => s.stat(key)],
      ['read', (s) => s.read(key)],
      ['read with a range', (s) => s.read(key, { start: 0, end: 0 })],
      ['write', (s) => s.write(key, [bytesOf('x')], 0)],
      ['delete', (s) => s.delete(key)],
      ['deleteAll', (s) => s.deleteAll(['uploads/source', key])],
      ['commit from', (s) => s.commit(key, 'blobs/target')],
      ['commit to', (s) => s.commit('uploads/source', key)],
      ['list', (s) => listKeys(s, key)],
    ])('in %s', async (_op, run) => {
      await store.write('uploads/source', [bytesOf('source')], 0);
      await expect(run(store)).rejects.toThrow(/storage key/);
      // Nothing moved and nothing escaped.
      expect(await readAll(await store.read('uploads/source'))).toBe('source');
      expect(existsSync(join(dir, 'escape'))).toBe(false);
      expect(existsSync(join(tmpdir(), 'berth-escape'))).toBe(false);
      expect(await store.stat('blobs/target')).toBeNull();
    });
  });
});
