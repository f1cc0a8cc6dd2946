import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  needsRehash,
  verifyAgainstDummy,
  verifyPassword,
} from '../../../src/auth/index.js';

// Cheap parameters keep the suite fast; one test covers the defaults.
const CHEAP = { N: 2 ** 10, r: 8, p: 1 };

describe('hashPassword', () => {
  it('produces a self-describing scrypt$N$r$p$salt$hash string with the default parameters', async () => {
    const stored = await hashPassword('correct horse');
    expect(stored).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await verifyPassword('correct horse', stored)).toBe(true);
    expect(DEFAULT_SCRYPT_PARAMS).toEqual({ N: 32768, r: 8, p: 1 });
  });

  it('salts: the same password hashes differently each time', async () => {
    const [a, b] = await Promise.all([hashPassword('same', CHEAP), hashPassword('same', CHEAP)]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same', a)).toBe(true);
    expect(await verifyPassword('same', b)).toBe(true);
  });

  it.each([
    { N: 1000, r: 8, p: 1 },
    { N: 1, r: 8, p: 1 },
    { N: 2 ** 21, r: 8, p: 1 },
    { N: 1024, r: 0, p: 1 },
    { N: 1024, r: 8, p: 0 },
    { N: 1024, r: 8.5, p: 1 },
  ])('refuses invalid parameters %j', async (params) => {
    await expect(hashPassword('x', params)).rejects.toThrow(RangeError);
  });
});

describe('verifyPassword', () => {
  it('rejects a wrong password, and one differing only in case or trailing space', async () => {
    const stored = await hashPassword('Secret', CHEAP);
    expect(await verifyPassword('secret', stored)).toBe(false);
    expect(await verifyPassword('Secret ', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
    expect(await verifyPassword('Secret', stored)).toBe(true);
  });

  it('matches composed and decomposed Unicode forms of the same password (NFC)', async () => {
    const stored = await hashPassword('caf\u00e9', CHEAP);
    expect(await verifyPassword('cafe\u0301', stored)).toBe(true);
  });

  it('handles passwords with $, : and non-ASCII characters', async () => {
    const password = 'p$a:s$$w\u00f6rd\u{1f510}';
    expect(await verifyPassword(password, await hashPassword(password, CHEAP))).toBe(true);
  });

  it.each([
    '',
    'plaintext',
    'scrypt$1024$8$1$c2FsdHNhbHRzYWx0$',
    'scrypt$1000$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g',
    'scrypt$4194304$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g',
    'bcrypt$1024$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g',
    'scrypt$1024$8$1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g',
  ])('returns false (never throws) for the malformed stored value %j', async (stored) => {
    expect(await verifyPassword('anything', stored)).toBe(false);
  });

  it('detects a tampered hash', async () => {
    const stored = await hashPassword('pw', CHEAP);
    const parts = stored.split('$');
    const hash = Buffer.from(parts[5] as string, 'base64');
    hash[0] = (hash[0] as number) ^ 1;
    parts[5] = hash.toString('base64').replace(/=+$/, '');
    expect(await verifyPassword('pw', parts.join('$'))).toBe(false);
  });

  it('verifyAgainstDummy always answers false', async () => {
    expect(await verifyAgainstDummy('anything', CHEAP)).toBe(false);
    expect(await verifyAgainstDummy('', CHEAP)).toBe(false);
  });
});

describe('needsRehash', () => {
  it('is false for a hash made with the wanted parameters, true otherwise', async () => {
    const cheap = await hashPassword('pw', CHEAP);
    expect(needsRehash(cheap, CHEAP)).toBe(false);
    expect(needsRehash(cheap)).toBe(true);
    expect(needsRehash(cheap, { ...CHEAP, r: 16 })).toBe(true);
    expect(needsRehash(cheap, { ...CHEAP, p: 2 })).toBe(true);
  });

  it('is true for anything that is not an scrypt hash', () => {
    expect(needsRehash('')).toBe(true);
    expect(needsRehash('$2b$10$abcdefghijklmnopqrstuu')).toBe(true);
  });
});
