import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthError, fileKeyStore, memoryKeyStore } from '../../../src/auth/index.js';

const KEY_A: JWK = { kty: 'EC', crv: 'P-256', x: 'a', y: 'a', d: 'a' };
const KEY_B: JWK = { kty: 'EC', crv: 'P-256', x: 'b', y: 'b', d: 'b' };

describe('fileKeyStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-keystore-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads null when there is no file yet', async () => {
    expect(await fileKeyStore(join(dir, 'token-key.json')).load()).toBeNull();
  });

  it('saves a JWK readable by its owner only (mode 0600), creating the directory', async () => {
    const path = join(dir, 'keys', 'token-key.json');
    const store = fileKeyStore(path);
    expect(await store.save(KEY_A)).toEqual(KEY_A);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(KEY_A);
    expect(await fileKeyStore(path).load()).toEqual(KEY_A);
  });

  it('never replaces a stored key: a second save returns the first key', async () => {
    const path = join(dir, 'token-key.json');
    await fileKeyStore(path).save(KEY_A);
    expect(await fileKeyStore(path).save(KEY_B)).toEqual(KEY_A);
    expect(await fileKeyStore(path).load()).toEqual(KEY_A);
  });

  it('lets exactly one of many concurrent saves win, and all agree on it', async () => {
    const path = join(dir, 'token-key.json');
    const keys = Array.from({ length: 8 }, (_, i): JWK => ({ ...KEY_A, x: `x${i}` }));
    const results = await Promise.all(keys.map((key) => fileKeyStore(path).save(key)));
    const stored = await fileKeyStore(path).load();
    expect(results.every((result) => result.x === stored?.x)).toBe(true);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(dir)).toEqual(['token-key.json']); // no temp files left behind
  });

  it('throws KEY_INVALID for a file that is not a JWK object', async () => {
    for (const content of ['not json', '[1,2]', 'null']) {
      const path = join(dir, 'bad.json');
      await writeFile(path, content);
      const error = await fileKeyStore(path)
        .load()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthError);
      expect((error as AuthError).code).toBe('KEY_INVALID');
    }
  });
});

describe('memoryKeyStore', () => {
  it('keeps the first saved key', async () => {
    const store = memoryKeyStore();
    expect(await store.load()).toBeNull();
    expect(await store.save(KEY_A)).toEqual(KEY_A);
    expect(await store.save(KEY_B)).toEqual(KEY_A);
    expect(await memoryKeyStore(KEY_B).load()).toEqual(KEY_B);
  });
});
