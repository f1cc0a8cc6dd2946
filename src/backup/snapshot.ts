import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { isPostgresUrl } from '../metadata/index.js';
import { blobKey, parseDigest } from '../registry/index.js';
import type { BlobStore } from '../storage/index.js';
import {
  BLOB_LIST_FILE,
  metadataFile,
  SNAPSHOT_FILE,
  type SnapshotInfo,
  SQLITE_FILE,
  snapshotId,
  snapshotKey,
} from './backup-layout.js';
import type { BackupLocation } from './backup-location.js';
import { copyBlob, eachConcurrently, getFile, getText, putObject, storedDigest } from './blob-copy.js';
import {
  assertPostgresRestorable,
  checkDump,
  DUMP_FILE,
  dumpPostgres,
  dumpSource,
  loadMetadata,
  sqliteSource,
} from './portable-metadata.js';

export interface BackupSummary {
  snapshot: SnapshotInfo;
  copied: number;
  copiedBytes: number;
  /** Blobs already in the backup location from an earlier snapshot: not copied again. */
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
type BlobEntry = { digest: string; size: number };

/** Blobs copied at once: object stores answer each request slowly but many in parallel. */
const PARALLEL_COPIES = 4;

function sqlitePath(url: string): string {
  return resolve(url.replace(/^sqlite:/, ''));
}

/** `<digest> <size>` of every blob a metadata database links into some repository. */
function linkedBlobs(database: SQLite.Database): BlobEntry[] {
  return database
    .prepare(
      'select b.digest as digest, b.size as size from blobs b where exists (select 1 from repository_blobs l where l.digest = b.digest) order by b.digest',
    )
    .all() as BlobEntry[];
}

/** A scratch directory for metadata files on their way to or from the backup location. */
async function withScratch<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-backup-'));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The metadata as of one instant, in `dir`, and the blobs it links. */
async function snapshotMetadata(
  metadataUrl: string,
  dir: string,
): Promise<{ dialect: SnapshotInfo['dialect']; file: string; blobs: BlobEntry[] }> {
  if (isPostgresUrl(metadataUrl)) {
    const file = join(dir, DUMP_FILE);
    const { blobs } = await dumpPostgres(metadataUrl, file);
    return { dialect: 'postgres', file, blobs };
  }
  const file = join(dir, SQLITE_FILE);
  const source = new SQLite(sqlitePath(metadataUrl), { readonly: true, fileMustExist: true });
  try {
    await source.backup(file);
  } finally {
    source.close();
  }
  const copy = new SQLite(file);
  try {
    // Upload sessions name temporary objects a backup does not hold.
    copy.prepare('delete from uploads').run();
    return { dialect: 'sqlite', file, blobs: linkedBlobs(copy) };
  } finally {
    copy.close();
  }
}

/**
 * An online, consistent backup: the metadata as of one instant (SQLite's online backup API, or one
 * REPEATABLE READ transaction on PostgreSQL that also lists the linked blobs), then the blobs it links copied
 * from storage, verified, skipping those the location already holds. What is pushed after the instant is in
 * neither: a manifest in the snapshot has all its blobs, and nothing later is half there.
 */
export async function backup(
  metadataUrl: string,
  store: BlobStore,
  location: BackupLocation,
  progress: Progress = () => {},
): Promise<BackupSummary> {
  const started = Date.now();
  let id = snapshotId(new Date(started));
  const existing = new Set(await location.snapshotIds());
  for (let n = 2; existing.has(id); n++) id = `${snapshotId(new Date(started))}-${n}`;

  return withScratch(async (scratch) => {
    const { dialect, file, blobs } = await snapshotMetadata(metadataUrl, scratch);
    await putObject(location.store, snapshotKey(id, metadataFile(dialect)), createReadStream(file));
    progress(`snapshot ${id}: ${dialect} metadata copied, ${blobs.length} blobs linked`);

    const summary: BackupSummary = {
      snapshot: {
        id,
        created: new Date(started).toISOString(),
        dialect,
        blobs: blobs.length,
        bytes: blobs.reduce((sum, blob) => sum + blob.size, 0),
        durationMs: 0,
      },
      copied: 0,
      copiedBytes: 0,
      present: 0,
      problems: [],
    };
    const from = { store, name: 'storage' };
    await eachConcurrently(blobs, PARALLEL_COPIES, async (blob, i) => {
      // Incremental: a blob the location holds with its size (HEAD on S3, stat on a disk) is not sent again.
      if ((await location.store.stat(blobKey(parseDigest(blob.digest))))?.size === blob.size) {
        summary.present++;
        return;
      }
      try {
        await copyBlob(from, location.store, blob.digest, `tmp/backup-${randomUUID()}`);
        summary.copied++;
        summary.copiedBytes += blob.size;
        progress(`blob ${i + 1}/${blobs.length} ${blob.digest} (${blob.size} bytes) copied`);
      } catch (error) {
        summary.problems.push((error as Error).message);
      }
    });
    await putObject(
      location.store,
      snapshotKey(id, BLOB_LIST_FILE),
      Buffer.from(blobs.map((b) => `${b.digest} ${b.size}\n`).join('')),
    );
    summary.snapshot.durationMs = Date.now() - started;
    // A snapshot missing blobs is left without snapshot.json: restore and verify do not take it for complete.
    if (summary.problems.length === 0) {
      await putObject(
        location.store,
        snapshotKey(id, SNAPSHOT_FILE),
        Buffer.from(JSON.stringify(summary.snapshot, null, 1)),
      );
    }
    return summary;
  });
}

/** Snapshot ids in time order; complete ones only unless `all`. */
export async function listSnapshots(location: BackupLocation, all = false): Promise<string[]> {
  const found: string[] = [];
  for (const id of await location.snapshotIds()) {
    if (all || (await location.store.stat(snapshotKey(id, SNAPSHOT_FILE)))) found.push(id);
  }
  return found;
}

async function readSnapshot(
  location: BackupLocation,
  id: string | undefined,
): Promise<{ info: SnapshotInfo; blobs: BlobEntry[] }> {
  const ids = await listSnapshots(location);
  const chosen = id ?? ids.at(-1);
  if (!chosen) throw new Error(`${location.name}: no complete snapshot (snapshots/<id>/${SNAPSHOT_FILE})`);
  if (!ids.includes(chosen))
    throw new Error(`${location.name}: no complete snapshot ${chosen} (have: ${ids.join(', ') || 'none'})`);
  const info = JSON.parse(await getText(location.store, snapshotKey(chosen, SNAPSHOT_FILE))) as SnapshotInfo;
  info.dialect ??= 'sqlite';
  const blobs = (await getText(location.store, snapshotKey(chosen, BLOB_LIST_FILE)))
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [digest, size] = line.split(' ') as [string, string];
      return { digest: parseDigest(digest).value, size: Number(size) };
    });
  return { info, blobs };
}

/** Downloads a snapshot's metadata file into `dir`; its path. */
async function fetchMetadata(location: BackupLocation, info: SnapshotInfo, dir: string): Promise<string> {
  const name = metadataFile(info.dialect);
  const path = join(dir, name);
  await getFile(location.store, snapshotKey(info.id, name), path);
  return path;
}

/**
 * Checks a snapshot: the metadata copy (SQLite's integrity check, or a dump read to its end with every
 * table's row count), that every blob it links is listed, and every blob present with the right bytes.
 */
export async function verifyBackup(
  location: BackupLocation,
  id: string | undefined,
  progress: Progress = () => {},
): Promise<VerifySummary> {
  const { info, blobs } = await readSnapshot(location, id);
  const problems: string[] = [];
  const listed = new Set(blobs.map((b) => b.digest));
  await withScratch(async (scratch) => {
    const file = await fetchMetadata(location, info, scratch);
    let linked: Iterable<string>;
    if (info.dialect === 'sqlite') {
      const database = new SQLite(file, { readonly: true, fileMustExist: true });
      try {
        const check = database.pragma('integrity_check', { simple: true });
        if (check !== 'ok') problems.push(`${SQLITE_FILE}: integrity check: ${String(check)}`);
        linked = linkedBlobs(database).map((b) => b.digest);
      } finally {
        database.close();
      }
    } else {
      try {
        linked = (await checkDump(file)).linked;
      } catch (error) {
        problems.push(`${DUMP_FILE}: ${(error as Error).message}`);
        linked = [];
      }
    }
    for (const digest of linked)
      if (!listed.has(digest)) problems.push(`blob ${digest}: linked but not in ${BLOB_LIST_FILE}`);
  });
  let done = 0;
  await eachConcurrently(blobs, PARALLEL_COPIES, async (blob) => {
    const key = blobKey(parseDigest(blob.digest));
    const found = await location.store.stat(key);
    if (!found) problems.push(`blob ${blob.digest}: missing (${key})`);
    else if (found.size !== blob.size)
      problems.push(`blob ${blob.digest}: ${found.size} bytes, not ${blob.size}`);
    else {
      const actual = await storedDigest(location.store, blob.digest);
      if (actual !== blob.digest) problems.push(`blob ${blob.digest}: the bytes hash to ${actual} (${key})`);
    }
    if (++done % 100 === 0) progress(`verified ${done}/${blobs.length} blobs`);
  });
  return { snapshot: info, blobs: blobs.length, problems };
}

/**
 * Restores a snapshot into an empty instance: the blobs first (verified into the store), then the metadata
 * last, so an interrupted restore leaves an instance that is still empty and can be restored again. An SQLite
 * snapshot into SQLite is the database file renamed into place; anything else (a PostgreSQL dump, or a
 * snapshot going into another engine) is loaded row by row (portable-metadata.ts). Refuses a database that
 * holds any repository.
 */
export async function restore(
  location: BackupLocation,
  id: string | undefined,
  metadataUrl: string,
  store: BlobStore,
  progress: Progress = () => {},
): Promise<RestoreSummary> {
  const started = Date.now();
  const postgres = isPostgresUrl(metadataUrl);
  const { info, blobs } = await readSnapshot(location, id);
  if (postgres) await assertPostgresRestorable(metadataUrl);
  else await assertEmpty(sqlitePath(metadataUrl));
  return withScratch(async (scratch) => {
    const file = await fetchMetadata(location, info, scratch);
    let copied = 0;
    let present = 0;
    const from = { store: location.store, name: `the backup (${location.name})` };
    await eachConcurrently(blobs, PARALLEL_COPIES, async (blob, i) => {
      if ((await store.stat(blobKey(parseDigest(blob.digest))))?.size === blob.size) {
        present++;
        return;
      }
      await copyBlob(from, store, blob.digest, `uploads/restore-${randomUUID()}`);
      copied++;
      progress(`blob ${i + 1}/${blobs.length} ${blob.digest} restored`);
    });
    if (!postgres && info.dialect === 'sqlite') await placeSqlite(file, sqlitePath(metadataUrl));
    else {
      const source = info.dialect === 'sqlite' ? await sqliteSource(file) : await dumpSource(file);
      try {
        const rows = await loadMetadata(source, metadataUrl);
        progress(`${rows} metadata rows loaded`);
      } finally {
        await source.close();
      }
    }
    progress(`metadata of snapshot ${info.id} in place`);
    return { snapshot: info, copied, present, durationMs: Date.now() - started };
  });
}

async function placeSqlite(file: string, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await copyFile(file, `${path}.restoring`);
  const handle = await open(`${path}.restoring`, 'r+');
  await handle.sync();
  await handle.close();
  for (const suffix of ['', '-wal', '-shm']) await rm(`${path}${suffix}`, { force: true });
  await rename(`${path}.restoring`, path);
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
