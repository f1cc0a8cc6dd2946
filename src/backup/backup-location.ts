import { readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type BlobStore, FilesystemBlobStore, S3BlobStore, type S3StoreOptions } from '../storage/index.js';

/** How to reach the object store of an `s3://bucket/prefix` location (config backup.s3, or storage.s3). */
export type S3Connection = Omit<S3StoreOptions, 'bucket' | 'prefix'>;

/**
 * Where backups live: a directory, or `s3://bucket/prefix`. Either way the same keys (backup-layout.ts) in a
 * BlobStore, whose write + commit makes each object appear whole or not at all.
 */
export interface BackupLocation {
  store: BlobStore;
  /** For messages: the directory or s3:// URL. */
  name: string;
  /** Every snapshot id present, complete or not, sorted. */
  snapshotIds(): Promise<string[]>;
  close(): Promise<void>;
}

/** `s3://bucket/some/prefix` → bucket and prefix; undefined for anything else (a directory). */
export function parseS3Url(location: string): { bucket: string; prefix: string } | undefined {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(location);
  if (!match) return undefined;
  const [, bucket, prefix] = match as unknown as [string, string, string];
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    throw new Error(`${location}: "${bucket}" is not a valid S3 bucket name`);
  const clean = prefix.replace(/\/+$/, '');
  if (clean !== '' && !/^[a-zA-Z0-9._-]+(?:\/[a-zA-Z0-9._-]+)*$/.test(clean))
    throw new Error(`${location}: the prefix may hold letters, digits, '.', '_', '-' and '/' only`);
  return { bucket, prefix: clean === '' ? '' : `${clean}/` };
}

const SNAPSHOT_ID = /^\d{8}T\d{6}Z(?:-\d+)?$/;

export async function openBackupLocation(
  location: string,
  s3: S3Connection,
  options: { create: boolean },
): Promise<BackupLocation> {
  const url = parseS3Url(location);
  if (!url) {
    const root = resolve(location);
    const store = new FilesystemBlobStore(root);
    return {
      store,
      name: root,
      async snapshotIds() {
        const ids = await readdir(resolve(root, 'snapshots')).catch(() => [] as string[]);
        return ids.filter((id) => SNAPSHOT_ID.test(id)).sort();
      },
      async close() {},
    };
  }
  const options3 = { ...s3, bucket: url.bucket, prefix: url.prefix };
  const store = options.create ? await S3BlobStore.create(options3) : new S3BlobStore(options3);
  if (!options.create) await store.ping();
  return {
    store,
    name: location,
    async snapshotIds() {
      const ids = new Set<string>();
      for await (const { key } of store.walk('snapshots/')) {
        const id = key.split('/')[1];
        if (id && SNAPSHOT_ID.test(id)) ids.add(id);
      }
      return [...ids].sort();
    },
    close: () => store.close(),
  };
}
