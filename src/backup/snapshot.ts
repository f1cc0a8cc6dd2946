import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { isPostgresUrl } from '../metadata/index.js';
import { blobKey, parseDigest } from '../registry/index.js';
import type { BlobStore } from '../storage/index.js';
import {
  BLOB_LIST_FILE,
  backupBlobPath,
  SNAPSHOT_FILE,
  type SnapshotInfo,
  SQLITE_FILE,
  snapshotDir,
  snapshotId,
} from './backup-layout.js';
import { copyBlobIn, copyBlobOut, fileDigest } from './blob-copy.js';

export interface BackupSummary {
  snapshot: SnapshotInfo;
  copied: number;
  copiedBytes: number;
  /** Blobs already in the backup directory from an earlier snapshot: not copied again. */
  present: number;
  problems: string[];
}

export interface RestoreSummary {
  snapshot: SnapshotInfo;
  copied: number;
  present: number;
  durationMs: number;
}

export interface VerifySummary {
  snapshot: SnapshotInfo;
  blobs: number;
  problems: string[];
}

type Progress = (line: string) => void;

function sqlitePath(url: string): string {
  if (isPostgresUrl(url)) {
    throw new Error(
      'berth backup works on the embedded SQLite database; for PostgreSQL see docs/migration-and-backup.md',
    );
  }
  return resolve(url.replace(/^sqlite:/, ''));
}

/** `<digest> <size>` of every blob a metadata database links into some repository. */
function linkedBlobs(database: SQLite.Database): { digest: string; size: number }[] {
  return database
    .prepare(
      'select b.digest as digest, b.size as size from blobs b where exists (select 1 from repository_blobs l where l.digest = b.digest) order by b.digest',
    )
    .all() as { digest: string; size: number }[];
}

/**
 * An online, consistent backup: SQLite's online backup API copies the database as of one instant while the
 * server goes on writing, then the blobs that copy links are copied from storage, verified, skipping those an
 * earlier snapshot already holds. What is pushed after the instant is in neither: a manifest in the snapshot
 * has all its blobs, and nothing later is half there.
 */
export async function backup(
  metadataUrl: string,
  store: BlobStore,
  dest: string,
  progress: Progress = () => {},
): Promise<BackupSummary> {
  const started = Date.now();
  const path = sqlitePath(metadataUrl);
  let id = snapshotId(new Date(started));
  const existing = new Set(await listSnapshots(dest, true));
  for (let n = 2; existing.has(id); n++) id = `${snapshotId(new Date(started))}-${n}`;
  const dir = snapshotDir(dest, id);
  await mkdir(dir, { recursive: true });

  const copy = join(dir, SQLITE_FILE);
  const source = new SQLite(path, { readonly: true, fileMustExist: true });
  try {
    await source.backup(`${copy}.partial`);
  } finally {
    source.close();
  }
  await rename(`${copy}.partial`, copy);
  const snapshotDb = new SQLite(copy);
  let blobs: { digest: string; size: number }[];
  try {
    // Upload sessions name temporary objects a backup does not hold.
    snapshotDb.prepare('delete from uploads').run();
    blobs = linkedBlobs(snapshotDb);
  } finally {
    snapshotDb.close();
  }
  progress(`snapshot ${id}: metadata copied, ${blobs.length} blobs linked`);

  const summary: BackupSummary = {
    snapshot: {
      id,
      created: new Date(started).toISOString(),
      dialect: 'sqlite',
      blobs: blobs.length,
      bytes: 0,
      durationMs: 0,
    },
    copied: 0,
    copiedBytes: 0,
    present: 0,
    problems: [],
  };
  for (const [i, blob] of blobs.entries()) {
    summary.snapshot.bytes += blob.size;
    const target = backupBlobPath(dest, blob.digest);
    if ((await stat(target).catch(() => null))?.size === blob.size) {
      summary.present++;
      continue;
    }
    try {
      await copyBlobOut(store, blob.digest, target);
      summary.copied++;
      summary.copiedBytes += blob.size;
      progress(`blob ${i + 1}/${blobs.length} ${blob.digest} (${blob.size} bytes) copied`);
    } catch (error) {
      summary.problems.push((error as Error).message);
    }
  }
  await writeFile(join(dir, BLOB_LIST_FILE), blobs.map((b) => `${b.digest} ${b.size}\n`).join(''));
  summary.snapshot.durationMs = Date.now() - started;
  // A snapshot missing blobs is left without snapshot.json: restore and verify do not take it for complete.
  if (summary.problems.length === 0)
    await writeDurably(join(dir, SNAPSHOT_FILE), JSON.stringify(summary.snapshot, null, 1));
  return summary;
}

/** Snapshot ids in time order; complete ones only unless `all`. */
export async function listSnapshots(dest: string, all = false): Promise<string[]> {
  const ids = await readdir(join(dest, 'snapshots')).catch(() => [] as string[]);
  const found: string[] = [];
  for (const id of ids.sort()) {
    if (all || (await stat(join(snapshotDir(dest, id), SNAPSHOT_FILE)).catch(() => null))) found.push(id);
  }
  return found;
}

async function readSnapshot(
  src: string,
  id: string | undefined,
): Promise<{ info: SnapshotInfo; blobs: { digest: string; size: number }[] }> {
  const ids = await listSnapshots(src);
  const chosen = id ?? ids.at(-1);
  if (!chosen) throw new Error(`${src}: no complete snapshot (snapshots/<id>/${SNAPSHOT_FILE})`);
  if (!ids.includes(chosen))
    throw new Error(`${src}: no complete snapshot ${chosen} (have: ${ids.join(', ') || 'none'})`);
  const dir = snapshotDir(src, chosen);
  const info = JSON.parse(await readFile(join(dir, SNAPSHOT_FILE), 'utf8')) as SnapshotInfo;
  const blobs = (await readFile(join(dir, BLOB_LIST_FILE), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [digest, size] = line.split(' ') as [string, string];
      return { digest: parseDigest(digest).value, size: Number(size) };
    });
  return { info, blobs };
}

/** Checks a snapshot: the database copy's integrity, and every blob it needs present with the right bytes. */
export async function verifyBackup(
  src: string,
  id: string | undefined,
  progress: Progress = () => {},
): Promise<VerifySummary> {
  const { info, blobs } = await readSnapshot(src, id);
  const problems: string[] = [];
  const database = new SQLite(join(snapshotDir(src, info.id), SQLITE_FILE), {
    readonly: true,
    fileMustExist: true,
  });
  try {
    const check = database.pragma('integrity_check', { simple: true });
    if (check !== 'ok') problems.push(`${SQLITE_FILE}: integrity check: ${String(check)}`);
    const listed = new Set(blobs.map((b) => b.digest));
    for (const { digest } of linkedBlobs(database))
      if (!listed.has(digest)) problems.push(`blob ${digest}: linked but not in ${BLOB_LIST_FILE}`);
  } finally {
    database.close();
  }
  for (const [i, blob] of blobs.entries()) {
    const path = backupBlobPath(src, blob.digest);
    const found = await stat(path).catch(() => null);
    if (!found) problems.push(`blob ${blob.digest}: missing (${path})`);
    else if (found.size !== blob.size)
      problems.push(`blob ${blob.digest}: ${found.size} bytes, not ${blob.size}`);
    else {
      const actual = await fileDigest(path, parseDigest(blob.digest).algorithm);
      if (actual !== blob.digest) problems.push(`blob ${blob.digest}: the bytes hash to ${actual} (${path})`);
    }
    if ((i + 1) % 100 === 0) progress(`verified ${i + 1}/${blobs.length} blobs`);
  }
  return { snapshot: info, blobs: blobs.length, problems };
}

/**
 * Restores a snapshot into an empty instance: the blobs first (verified into the store), then the database,
 * renamed into place last, so an interrupted restore leaves an instance that is still empty and can be restored
 * again. Refuses a database that holds any repository.
 */
export async function restore(
  src: string,
  id: string | undefined,
  metadataUrl: string,
  store: BlobStore,
  progress: Progress = () => {},
): Promise<RestoreSummary> {
  const started = Date.now();
  const path = sqlitePath(metadataUrl);
  const { info, blobs } = await readSnapshot(src, id);
  await assertEmpty(path);
  let copied = 0;
  let present = 0;
  for (const [i, blob] of blobs.entries()) {
    if ((await store.stat(blobKey(parseDigest(blob.digest))))?.size === blob.size) {
      present++;
      continue;
    }
    await copyBlobIn(store, backupBlobPath(src, blob.digest), blob.digest, `uploads/restore-${randomUUID()}`);
    copied++;
    progress(`blob ${i + 1}/${blobs.length} ${blob.digest} restored`);
  }
  await mkdir(dirname(path), { recursive: true });
  await copyFile(join(snapshotDir(src, info.id), SQLITE_FILE), `${path}.restoring`);
  const file = await open(`${path}.restoring`, 'r+');
  await file.sync();
  await file.close();
  for (const suffix of ['', '-wal', '-shm']) await rm(`${path}${suffix}`, { force: true });
  await rename(`${path}.restoring`, path);
  progress(`metadata of snapshot ${info.id} in place`);
  return { snapshot: info, copied, present, durationMs: Date.now() - started };
}

async function assertEmpty(path: string): Promise<void> {
  if (!(await stat(path).catch(() => null))) return;
  const database = new SQLite(path, { readonly: true });
  try {
    const table = database
      .prepare("select name from sqlite_master where type = 'table' and name = 'repositories'")
      .get();
    const row = table
      ? (database.prepare('select count(*) as n from repositories').get() as { n: number })
      : { n: 0 };
    if (row.n > 0)
      throw new Error(`${path} holds ${row.n} repositories: restore only into an empty instance`);
  } finally {
    database.close();
  }
}

async function writeDurably(path: string, text: string): Promise<void> {
  await writeFile(`${path}.partial`, text);
  const file = await open(`${path}.partial`, 'r+');
  await file.sync();
  await file.close();
  await rename(`${path}.partial`, path);
}
