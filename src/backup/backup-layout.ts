import { DUMP_FILE } from './portable-metadata.js';

/**
 * A backup location (a directory, or an S3 bucket and prefix) holds any number of snapshots sharing one
 * content-addressed blob tree, so that a repeated backup copies only the blobs that are new:
 *
 *     blobs/sha256/<xx>/<hex>                   a blob's bytes, verified when copied
 *     snapshots/<id>/metadata.sqlite            SQLite: the metadata database at the snapshot point
 *     snapshots/<id>/metadata.jsonl.gz          PostgreSQL: a portable dump of it (portable-metadata.ts)
 *     snapshots/<id>/blobs.txt                  `<digest> <size>` of every blob that database links
 *     snapshots/<id>/snapshot.json              written last: a snapshot without it is incomplete
 *
 * Snapshot ids are UTC times (`20250301T020000Z`), so they sort in time order.
 */
export const SNAPSHOT_FILE = 'snapshot.json';
export const BLOB_LIST_FILE = 'blobs.txt';
export const SQLITE_FILE = 'metadata.sqlite';

export interface SnapshotInfo {
  id: string;
  created: string;
  /** The engine backed up: `sqlite` holds metadata.sqlite, `postgres` metadata.jsonl.gz. */
  dialect: 'sqlite' | 'postgres';
  blobs: number;
  bytes: number;
  /** How long the snapshot and the blob copy took. */
  durationMs: number;
}

/** The key of a snapshot's file. */
export function snapshotKey(id: string, file: string): string {
  return `snapshots/${id}/${file}`;
}

export function metadataFile(dialect: SnapshotInfo['dialect']): string {
  return dialect === 'sqlite' ? SQLITE_FILE : DUMP_FILE;
}

export function snapshotId(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}
