import type { Digest } from './digest.js';

/** Where content lives in the BlobStore. Built only from validated digests and server-made upload ids. */
export function blobKey(digest: Digest): string {
  return `blobs/${digest.algorithm}/${digest.hex.slice(0, 2)}/${digest.hex}`;
}

export const UPLOADS_PREFIX = 'uploads';

export function uploadKey(id: string): string {
  return `${UPLOADS_PREFIX}/${id}`;
}
