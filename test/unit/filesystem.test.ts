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

  describe.each(BAD_KEYS)('refuses the %s key %j', (_label, key) => {
    it.each<[string, (s: FilesystemBlobStore) => Promise<unknown>]>([
      ['stat', (s) => s.stat(key)],
      ['read', (s) => s.read(key)],
      ['read with a range', (s) => s.read(key, { start: 0, end: 0 })],
      ['write', (s) => s.write(key, [bytesOf('x')], 0)],
      ['delete', (s) => s.delete(key)],
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
