import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hashingReader } from '../migration/index.js';
import { blobKey, parseDigest } from '../registry/index.js';
import type { BlobStore } from '../storage/index.js';

/**
 * Copies a blob out of the store into `path`, hashing it on the way: written as `path.partial`, made durable,
 * and renamed into place only when the bytes hash to `digest`. Throws naming the blob otherwise.
 */
export async function copyBlobOut(store: BlobStore, digest: string, path: string): Promise<void> {
  const parsed = parseDigest(digest);
  let source: AsyncIterable<Uint8Array>;
  try {
    source = await store.read(blobKey(parsed));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`blob ${digest}: missing from storage`);
    throw error;
  }
  const reader = hashingReader(source, parsed.algorithm);
  const partial = `${path}.partial`;
  await mkdir(dirname(path), { recursive: true });
  const file = await open(partial, 'w');
  try {
    for await (const chunk of reader) await file.write(chunk);
    await file.sync();
  } finally {
    await file.close();
  }
  if (reader.digest() !== digest) {
    await rm(partial, { force: true });
    throw new Error(`blob ${digest}: the stored bytes hash to ${reader.digest()}`);
  }
  await rename(partial, path);
}

/** Copies a backed-up blob into the store, verified the same way (BlobStore.commit makes it durable in place). */
export async function copyBlobIn(
  store: BlobStore,
  path: string,
  digest: string,
  temp: string,
): Promise<void> {
  const parsed = parseDigest(digest);
  const reader = hashingReader(createReadStream(path), parsed.algorithm);
  await store.write(temp, reader, 0);
  if (reader.digest() !== digest) {
    await store.delete(temp);
    throw new Error(`${path}: the backed-up bytes hash to ${reader.digest()}, not ${digest}`);
  }
  await store.commit(temp, blobKey(parsed));
}

/** Hashes a file; its digest. */
export async function fileDigest(path: string, algorithm: 'sha256' | 'sha512' = 'sha256'): Promise<string> {
  const reader = hashingReader(createReadStream(path), algorithm);
  for await (const _ of reader);
  return reader.digest();
}
