// Reading a blob a signature manifest's layer describes, bounded and checked against its digest.
import { digestOf, tryParseDigest } from '../../registry/index.js';
import type { SignatureSource } from '../signature-source.js';
import { isJsonObject, type JsonObject, parseJsonObject } from './json-bytes.js';

/**
 * The first layer of the manifest in `manifestBytes` whose mediaType `accepts`; undefined when there is none (or
 * the bytes are not a manifest with layers).
 */
export function findLayer(
  manifestBytes: Uint8Array,
  accepts: (mediaType: string) => boolean,
): JsonObject | undefined {
  const manifest = parseJsonObject(manifestBytes);
  const layers = manifest && Array.isArray(manifest.layers) ? manifest.layers : [];
  return layers.find(
    (candidate): candidate is JsonObject =>
      isJsonObject(candidate) && typeof candidate.mediaType === 'string' && accepts(candidate.mediaType),
  );
}

/**
 * The bytes of the blob `descriptor` names, or a string saying why they could not be had: no valid digest, a
 * declared or actual size over `maxBytes`, unreadable, or content that does not match the digest.
 */
export async function readDescribedBlob(
  source: SignatureSource,
  repository: string,
  descriptor: unknown,
  maxBytes: number,
  what: string,
): Promise<Uint8Array | string> {
  const digest =
    isJsonObject(descriptor) && typeof descriptor.digest === 'string'
      ? tryParseDigest(descriptor.digest)
      : null;
  if (!digest || !isJsonObject(descriptor)) return `the ${what} layer has no valid digest`;
  if (typeof descriptor.size === 'number' && descriptor.size > maxBytes) {
    return `the ${what} is ${descriptor.size} bytes, over the ${maxBytes}-byte limit`;
  }
  let bytes: Uint8Array;
  try {
    bytes = await source.readBlob(repository, digest.value, maxBytes);
  } catch (error) {
    return `the ${what} blob ${digest.value} could not be read: ${(error as Error).message}`;
  }
  if (bytes.length > maxBytes) return `the ${what} blob is over the ${maxBytes}-byte limit`;
  if (digestOf(bytes, digest.algorithm) !== digest.value)
    return `the ${what} blob does not match its digest ${digest.value}`;
  return bytes;
}
