import { describe, expect, it } from 'vitest';
import {
  createSecretToken,
  generateSecret,
  hashToken,
  parseSecretToken,
  TOKEN_PREFIX,
  verifyToken,
} from '../../../src/auth/index.js';

describe('generateSecret', () => {
  it('gives 32 random bytes as URL-safe base64 by default', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
  });

  it('never repeats', () => {
    const secrets = new Set(Array.from({ length: 1000 }, () => generateSecret()));
    expect(secrets.size).toBe(1000);
  });

  it('accepts more bytes but refuses fewer than 32', () => {
    expect(Buffer.from(generateSecret(48), 'base64url')).toHaveLength(48);
    expect(() => generateSecret(16)).toThrow(RangeError);
    expect(() => generateSecret(31.5)).toThrow(RangeError);
  });
});

describe('secret tokens', () => {
  it('creates berth_<id>_<secret> whose secret verifies against the stored hash', () => {
    const { token, id, hash } = createSecretToken();
    expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    const parsed = parseSecretToken(token);
    expect(parsed?.id).toBe(id);
    expect(verifyToken(parsed?.secret ?? '', hash)).toBe(true);
    expect(hash).not.toContain(parsed?.secret ?? '');
  });

  it('parses a token whose secret contains underscores and dashes', () => {
    const secret = `_a-${'b'.repeat(38)}_-`;
    expect(parseSecretToken(`berth_0123456789abcdef_${secret}`)).toEqual({ id: '0123456789abcdef', secret });
  });

  it.each([
    '',
    'berth_',
    'berth_0123456789abcdef_short',
    'berth_0123456789ABCDEF_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    'berth_0123456789abcde_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    'other_0123456789abcdef_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    'berth_0123456789abcdef_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa+',
    ' berth_0123456789abcdef_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    'an ordinary password',
  ])('does not take %j for a Berth token', (value) => {
    expect(parseSecretToken(value)).toBeNull();
  });

  it('rejects another secret, a one-character change, and malformed stored hashes', () => {
    const { token, hash } = createSecretToken();
    const secret = parseSecretToken(token)?.secret ?? '';
    const flipped = (secret[0] === 'A' ? 'B' : 'A') + secret.slice(1);
    expect(verifyToken(flipped, hash)).toBe(false);
    expect(verifyToken(generateSecret(), hash)).toBe(false);
    expect(verifyToken(secret, '')).toBe(false);
    expect(verifyToken(secret, hash.replace('sha256$', 'sha512$'))).toBe(false);
    expect(verifyToken(secret, hash.slice(0, -1))).toBe(false);
    expect(verifyToken(secret, hash)).toBe(true);
  });

  it('hashToken is deterministic (the stored value can be compared) and hides the secret', () => {
    expect(hashToken('abc')).toBe(hashToken('abc'));
    expect(hashToken('abc')).not.toBe(hashToken('abd'));
    // SHA-256 of "abc" (FIPS 180-2 test vector), base64url.
    expect(hashToken('abc')).toBe('sha256$ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });
});
