import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

// Remote registry credentials at rest: AES-256-GCM with a random 96-bit IV per secret. Keys are named
// (`<id>:<base64 of 32 bytes>`), the id travels with each secret, and a keyring holds the current key (which
// encrypts) and older ones (which still decrypt), so a key can be rotated without re-encrypting everything at
// once. Proposed config: `replication.secretKey` (the current key) and `replication.previousSecretKeys`.

const PREFIX = 'berth-secret:v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export class SecretKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretKeyError';
  }
}

export interface SecretKeyring {
  current: { id: string; key: Buffer };
  all: ReadonlyMap<string, Buffer>;
}

/**
 * A keyring from the configured keys, current first. Each is `<id>:<base64 of 32 random bytes>`
 * (`openssl rand -base64 32`); a missing or malformed key is a SecretKeyError naming what is wrong.
 */
export function secretKeyring(current: string | undefined, previous: string[] = []): SecretKeyring {
  if (!current) {
    throw new SecretKeyError(
      'replication.secretKey is not set: registry credentials cannot be stored; set it to <id>:<base64 of 32 bytes>, e.g. k1:$(openssl rand -base64 32)',
    );
  }
  const all = new Map<string, Buffer>();
  const parsed = [current, ...previous].map((value, i) => {
    const name = i === 0 ? 'replication.secretKey' : `replication.previousSecretKeys[${i - 1}]`;
    const colon = value.indexOf(':');
    const id = value.slice(0, colon);
    if (colon < 0 || !KEY_ID.test(id)) {
      throw new SecretKeyError(`${name} must be <id>:<base64 key> with an id of letters, digits, . _ -`);
    }
    const encoded = value.slice(colon + 1);
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) {
      throw new SecretKeyError(`${name} (key ${id}) must be 32 bytes in base64, got ${key.length} bytes`);
    }
    if (all.has(id)) throw new SecretKeyError(`${name}: key id ${id} is used twice`);
    all.set(id, key);
    return { id, key };
  });
  return { current: parsed[0] as { id: string; key: Buffer }, all };
}

/**
 * Encrypts a secret with the current key. `context` (e.g. the remote registry's id) is authenticated, not
 * stored: the secret then decrypts only for the same context, so rows cannot swap secrets.
 */
export function encryptSecret(keyring: SecretKeyring, plaintext: string, context = ''): string {
  const { id, key } = keyring.current;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(additionalData(id, context));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const sealed = Buffer.concat([iv, body, cipher.getAuthTag()]);
  return `${PREFIX}:${id}:${sealed.toString('base64url')}`;
}

/** The plaintext of encryptSecret's output; a wrong key, unknown key id or altered text is a SecretKeyError. */
export function decryptSecret(keyring: SecretKeyring, sealed: string, context = ''): string {
  const match = /^berth-secret:v1:([^:]+):([A-Za-z0-9_-]+)$/.exec(sealed);
  if (!match) throw new SecretKeyError('not an encrypted secret (expected berth-secret:v1:<key id>:<data>)');
  const id = match[1] as string;
  const key = keyring.all.get(id);
  if (!key) {
    throw new SecretKeyError(
      `secret encrypted with key ${id}, which is not configured (replication.secretKey or previousSecretKeys)`,
    );
  }
  const data = Buffer.from(match[2] as string, 'base64url');
  if (data.length < IV_BYTES + TAG_BYTES) throw new SecretKeyError('encrypted secret is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
  decipher.setAAD(additionalData(id, context));
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
  try {
    return Buffer.concat([
      decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    throw new SecretKeyError(
      `cannot decrypt secret with key ${id}: it was altered, or key ${id} is not the key that encrypted it`,
    );
  }
}

function additionalData(id: string, context: string): Buffer {
  return Buffer.from(`${PREFIX}\0${id}\0${context}`, 'utf8');
}
