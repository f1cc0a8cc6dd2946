import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt cost parameters. N must be a power of two. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** N=2^15, r=8, p=1: ~32 MiB and roughly 100–150 ms per hash here (OWASP's scrypt minimum is N=2^17 at r=8 p=1 for 128 MiB; this trades some margin for login latency on small machines). */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Refuse stored hashes that would make one verification cost more than this (a corrupted or hostile row). */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

// scrypt$N$r$p$salt$hash, salt and hash in unpadded standard base64.
const STORED_SHAPE = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

interface ParsedHash extends ScryptParams {
  salt: Buffer;
  hash: Buffer;
}

function validParams({ N, r, p }: ScryptParams): boolean {
  const powerOfTwo = Number.isInteger(N) && N > 1 && (N & (N - 1)) === 0;
  return (
    powerOfTwo &&
    N <= MAX_N &&
    Number.isInteger(r) &&
    r >= 1 &&
    r <= MAX_R &&
    Number.isInteger(p) &&
    p >= 1 &&
    p <= MAX_P
  );
}

function parseStored(stored: string): ParsedHash | null {
  const match = STORED_SHAPE.exec(stored);
  if (!match) return null;
  const [, n, r, p, salt, hash] = match as unknown as [string, string, string, string, string, string];
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  if (!validParams(params)) return null;
  const parsed = { ...params, salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
  if (parsed.salt.length < 8 || parsed.hash.length < 16) return null;
  return parsed;
}

function derive(plain: string, salt: Buffer, params: ScryptParams, length: number): Promise<Buffer> {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    // scrypt needs 128·N·r·p bytes; Node's 32 MiB default is exactly too small for N=2^15, r=8.
    maxmem: 256 * params.N * params.r * params.p,
  };
  // NFC so that the same password typed on different systems (composed vs decomposed accents) matches.
  const input = Buffer.from(plain.normalize('NFC'), 'utf8');
  return new Promise((resolve, reject) => {
    scrypt(input, salt, length, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

const b64 = (buffer: Buffer): string => buffer.toString('base64').replace(/=+$/, '');

/** Hashes a password into a self-describing `scrypt$N$r$p$salt$hash` string (base64, unpadded). */
export async function hashPassword(
  plain: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<string> {
  if (!validParams(params)) throw new RangeError(`invalid scrypt parameters ${JSON.stringify(params)}`);
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(plain, salt, params, KEY_BYTES);
  return `scrypt$${params.N}$${params.r}$${params.p}$${b64(salt)}$${b64(hash)}`;
}

/**
 * True when `plain` matches `stored`. The comparison is constant-time; an unparseable `stored` value
 * yields false (never throws), so a corrupted row cannot become a login bypass or a crash.
 */
export async function verifyPassword(plain: string, stored: string): Promise<boolean> {
  const parsed = parseStored(stored);
  if (!parsed) return false;
  const candidate = await derive(plain, parsed.salt, parsed, parsed.hash.length);
  return timingSafeEqual(candidate, parsed.hash);
}

/** True when `stored` was made with other parameters than `params` (or is not an scrypt hash at all). */
export function needsRehash(stored: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): boolean {
  const parsed = parseStored(stored);
  if (!parsed) return true;
  return (
    parsed.N !== params.N ||
    parsed.r !== params.r ||
    parsed.p !== params.p ||
    parsed.hash.length !== KEY_BYTES
  );
}

const dummyHashes = new Map<string, Promise<string>>();

/**
 * Spends the same time as a real verification and returns false. Call it when the username is unknown, so
 * that response time does not reveal which accounts exist.
 */
export async function verifyAgainstDummy(
  plain: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<false> {
  const key = `${params.N}$${params.r}$${params.p}`;
  let dummy = dummyHashes.get(key);
  if (!dummy) {
    dummy = hashPassword(randomBytes(16).toString('hex'), params);
    dummyHashes.set(key, dummy);
  }
  await verifyPassword(plain, await dummy);
  return false;
}
