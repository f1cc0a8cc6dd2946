import { createHash, type Hash } from 'node:crypto';
import { RegistryError } from './errors.js';

/** Digest algorithms Berth accepts, with the length of their lowercase hex encoding (image-spec descriptor.md). */
const ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof ALGORITHMS;

export interface Digest {
  algorithm: DigestAlgorithm;
  hex: string;
  /** `algorithm:hex`, the canonical string form. */
  value: string;
}

const DIGEST_SHAPE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

/** Parses and validates a digest string; returns null when it is not one Berth can verify. */
export function tryParseDigest(input: string): Digest | null {
  const match = DIGEST_SHAPE.exec(input);
  if (!match) return null;
  const [, algorithm, hex] = match as unknown as [string, string, string];
  if (!Object.hasOwn(ALGORITHMS, algorithm)) return null;
  const algo = algorithm as DigestAlgorithm;
  if (hex.length !== ALGORITHMS[algo] || !/^[a-f0-9]+$/.test(hex)) return null;
  return { algorithm: algo, hex, value: input };
}

/** Like tryParseDigest, but throws DIGEST_INVALID naming the bad value. */
export function parseDigest(input: string | undefined): Digest {
  const digest = input === undefined ? null : tryParseDigest(input);
  if (!digest) {
    throw new RegistryError('DIGEST_INVALID', {
      message:
        input === undefined
          ? 'digest is required'
          : 'invalid digest: expected sha256:<64 hex> or sha512:<128 hex>',
      detail: { digest: input ?? null },
    });
  }
  return digest;
}

export function isDigest(input: string): boolean {
  return tryParseDigest(input) !== null;
}

export function createDigester(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm);
}

export function digestOf(data: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}
