import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Machine credentials: robot secrets and personal access tokens.
 *
 * A token is `berth_<id>_<secret>`: `id` (16 hex) is stored in clear and finds the row in one indexed lookup;
 * `secret` (32 random bytes, base64url) is stored only as `hashToken(secret)`. The `berth_` prefix lets secret
 * scanners and log filters recognise a leaked token.
 *
 * The secret is hashed with SHA-256, not scrypt: it carries 256 bits of entropy, so a stolen hash cannot be
 * brute-forced whatever the hash speed, and a fast hash keeps token checks (one per `docker login`/token
 * request) cheap. Passwords, chosen by people, go through password.ts instead.
 */
export const TOKEN_PREFIX = 'berth_';
const SECRET_BYTES = 32;
const ID_BYTES = 8;
// id is hex (no '_'); the secret is base64url, which may itself contain '_' and '-'.
const TOKEN_SHAPE = /^berth_([0-9a-f]{16})_([A-Za-z0-9_-]{43,})$/;
const HASH_SHAPE = /^sha256\$([A-Za-z0-9_-]{43})$/;

/** A URL-safe random secret of `bytes` bytes (default 32, the minimum accepted): robot secrets, generated admin passwords. */
export function generateSecret(bytes = SECRET_BYTES): string {
  if (!Number.isInteger(bytes) || bytes < SECRET_BYTES) {
    throw new RangeError(`a secret needs at least ${SECRET_BYTES} random bytes`);
  }
  return randomBytes(bytes).toString('base64url');
}

export interface NewSecretToken {
  /** Shown to the user once, never stored. */
  token: string;
  /** Stored in clear, unique: the lookup key. */
  id: string;
  /** Stored: `hashToken(secret)`. */
  hash: string;
}

/** Makes a fresh `berth_<id>_<secret>` token with what to store for it. */
export function createSecretToken(): NewSecretToken {
  const id = randomBytes(ID_BYTES).toString('hex');
  const secret = generateSecret();
  return { token: `${TOKEN_PREFIX}${id}_${secret}`, id, hash: hashToken(secret) };
}

/** Splits a presented token into its id and secret; null when it is not a Berth token at all. */
export function parseSecretToken(token: string): { id: string; secret: string } | null {
  const match = TOKEN_SHAPE.exec(token);
  if (!match) return null;
  return { id: match[1] as string, secret: match[2] as string };
}

/** `sha256$<base64url>` of a high-entropy secret. Not for passwords. */
export function hashToken(secret: string): string {
  return `sha256$${createHash('sha256').update(secret, 'utf8').digest('base64url')}`;
}

/** Constant-time check of a secret against `hashToken` output; false for a malformed stored value. */
export function verifyToken(secret: string, stored: string): boolean {
  const match = HASH_SHAPE.exec(stored);
  if (!match) return false;
  const expected = Buffer.from(match[1] as string, 'base64url');
  const actual = createHash('sha256').update(secret, 'utf8').digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
