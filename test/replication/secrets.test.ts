import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptSecret, encryptSecret, SecretKeyError, secretKeyring } from '../../src/replication/index.js';

const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

describe('secrets at rest (AES-256-GCM)', () => {
  const k1 = key('k1');
  const ring = secretKeyring(k1);

  it('round-trips, with a fresh IV each time, and never shows the plaintext', () => {
    const a = encryptSecret(ring, 'hunter2 ✓', 'registry-7');
    const b = encryptSecret(ring, 'hunter2 ✓', 'registry-7');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^berth-secret:v1:k1:[A-Za-z0-9_-]+$/);
    expect(a).not.toContain('hunter2');
    expect(decryptSecret(ring, a, 'registry-7')).toBe('hunter2 ✓');
  });

  it('refuses any altered byte, another context, or another key', () => {
    const sealed = encryptSecret(ring, 'password', 'r1');
    const data = Buffer.from(sealed.split(':')[3] as string, 'base64url');
    for (const at of [0, 12, data.length - 1]) {
      const tampered = Buffer.from(data);
      tampered[at] = (tampered[at] as number) ^ 1;
      expect(() => decryptSecret(ring, `berth-secret:v1:k1:${tampered.toString('base64url')}`, 'r1')).toThrow(
        /altered/,
      );
    }
    expect(() => decryptSecret(ring, sealed, 'r2')).toThrow(SecretKeyError);
    const impostor = secretKeyring(key('k1'));
    expect(() => decryptSecret(impostor, sealed, 'r1')).toThrow(/key k1 is not the key/);
    expect(() => decryptSecret(ring, `${sealed.slice(0, 30)}`, 'r1')).toThrow(SecretKeyError);
  });

  it('rotates: the current key encrypts, older ones still decrypt, an unknown id is named', () => {
    const old = encryptSecret(ring, 'old secret');
    const rotated = secretKeyring(key('k2'), [k1]);
    expect(encryptSecret(rotated, 'new').startsWith('berth-secret:v1:k2:')).toBe(true);
    expect(decryptSecret(rotated, old)).toBe('old secret');
    expect(() => decryptSecret(secretKeyring(key('k3')), old)).toThrow(/key k1, which is not configured/);
  });

  it('says clearly when the key is missing or malformed', () => {
    expect(() => secretKeyring(undefined)).toThrow(/replication.secretKey is not set/);
    expect(() => secretKeyring(randomBytes(32).toString('base64'))).toThrow(/<id>:<base64 key>/);
    expect(() => secretKeyring(`k1:${randomBytes(16).toString('base64')}`)).toThrow(
      /32 bytes in base64, got 16/,
    );
    expect(() => secretKeyring('k1:not base64 at all!')).toThrow(/32 bytes/);
    expect(() => secretKeyring(k1, [k1])).toThrow(/used twice/);
  });
});
