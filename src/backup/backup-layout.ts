import { join } from 'node:path';

/**
 * A backup directory holds any number of snapshots sharing one content-addressed blob tree, so that a repeated
 * backup copies only the blobs that are new:
 *
 *     <dest>/blobs/sha256/<xx>/<hex>                   a blob's bytes, verified when copied
 *     <dest>/snapshots/<id>/metadata.sqlite            the metadata database at the snapshot point
 *     <dest>/snapshots/<id>/blobs.txt                  `<digest> <size>` of every blob that database links
 *     <dest>/snapshots/<id>/snapshot.json              written last: a snapshot without it is incomplete
 *
 * Snapshot ids are UTC times (`20250301T020000Z`), so they sort in time order.
 */
export const SNAPSHOT_FILE = 'snapshot.json';
export const BLOB_LIST_FILE = 'blobs.txt';
export const SQLITE_FILE = 'metadata.sqlite';

export interface SnapshotInfo {
  id: string;
  created: string;
  dialect: 'sqlite';
  blobs: number;
  bytes: number;
  /** How long the snapshot and the blob copy took. */
  durationMs: number;
}

export function snapshotDir(dest: string, id: string): string {
  return join(dest, 'snapshots', id);
}

export function backupBlobPath(dest: string, digest: string): string {
  const [algorithm, hex] = digest.split(':') as [string, string];
  return join(dest, 'blobs', algorithm, hex.slice(0, 2), hex);
}

export function snapshotId(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}
