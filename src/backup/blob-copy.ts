import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { hashingReader } from '../migration/index.js';
import { blobKey, parseDigest } from '../registry/index.js';
import type { BlobStore } from '../storage/index.js';

/**
 * Copies a blob from one store to another, hashing it on the way: written under `temp`, then committed
 * (made durable and renamed into place, atomically) only when the bytes hash to `digest`. Throws naming the
 * blob and where its bytes were wrong otherwise, leaving nothing under the blob's key.
 */
export async function copyBlob(
  from: { store: BlobStore; name: string },
  to: BlobStore,
  digest: string,
  temp: string,
): Promise<void> {
  const parsed = parseDigest(digest);
  let source: AsyncIterable<Uint8Array>;
  try {
    source = await from.store.read(blobKey(parsed));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`blob ${digest}: missing from ${from.name}`);
    throw error;
  }
  const reader = hashingReader(source, parsed.algorithm);
  await to.write(temp, reader, 0);
  if (reader.digest() !== digest) {
    await to.delete(temp);
    throw new Error(`blob ${digest}: the bytes in ${from.name} hash to ${reader.digest()}`);
  }
  await to.commit(temp, blobKey(parsed));
}

/** Hashes a stored blob; its digest. */
export async function storedDigest(store: BlobStore, digest: string): Promise<string> {
  const parsed = parseDigest(digest);
  const reader = hashingReader(await store.read(blobKey(parsed)), parsed.algorithm);
  for await (const _ of reader);
  return reader.digest();
}

/** Writes bytes under a key, whole or not at all. */
export async function putObject(store: BlobStore, key: string, bytes: Buffer | AsyncIterable<Uint8Array>) {
  const temp = `tmp/${randomUUID()}`;
  await store.write(temp, Buffer.isBuffer(bytes) ? [bytes] : bytes, 0);
  await store.commit(temp, key);
}

export async function getText(store: BlobStore, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.read(key)) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString('utf8');
}

export async function getFile(store: BlobStore, key: string, path: string): Promise<void> {
  await pipeline(await store.read(key), createWriteStream(path));
}

/** Runs `work` on every item, `limit` at a time; rejects with the first error once all have ended. */
export async function eachConcurrently<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const index = next++;
      try {
        await work(items[index] as T, index);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
}
