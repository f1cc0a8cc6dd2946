import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { JWK } from 'jose';
import { AuthError } from './errors.js';

/**
 * Where the token signing key lives. `save` stores the key only if none is stored yet and returns the key
 * that is stored afterwards, so two processes starting together (cluster workers) end up signing with the
 * same key instead of each overwriting the other's.
 */
export interface KeyStore {
  load(): Promise<JWK | null>;
  save(jwk: JWK): Promise<JWK>;
}

function parseKey(text: string, path: string): JWK {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as JWK;
  } catch {
    // reported below
  }
  throw new AuthError('KEY_INVALID', {
    message: `token signing key ${path} is not a JSON Web Key`,
    detail: { path },
  });
}

/** A JWK file, created with mode 0600 (the private key must be readable by Berth only). */
export function fileKeyStore(path: string): KeyStore {
  const load = async (): Promise<JWK | null> => {
    try {
      return parseKey(await readFile(path, 'utf8'), path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  };
  return {
    load,
    async save(jwk) {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      // Write a private temp file fully, then link() it into place: the key appears whole or not at all, and
      // link fails with EEXIST if another process got there first (rename would silently replace it).
      const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(jwk)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        await chmod(temp, 0o600);
        await link(temp, path);
        return jwk;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const existing = await load();
        if (!existing) throw error;
        return existing;
      } finally {
        await unlink(temp).catch(() => undefined);
      }
    },
  };
}

/** Keeps the key in memory: tests, and deployments that accept new keys (and logged-out clients) per start. */
export function memoryKeyStore(initial: JWK | null = null): KeyStore {
  let stored = initial;
  return {
    async load() {
      return stored;
    },
    async save(jwk) {
      stored ??= jwk;
      return stored;
    },
  };
}
