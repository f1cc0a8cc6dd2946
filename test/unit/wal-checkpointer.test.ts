// The embedded database's WAL checkpoints run on a thread of their own (metadata/wal-checkpointer.ts), not
// inside a commit on the event loop's thread: the main connection never checkpoints while the thread is up.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/metadata/database.js';
import { WalCheckpointer } from '../../src/metadata/wal-checkpointer.js';

let dir: string;
let path: string;
let sqlite: SQLite.Database;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-wal-'));
  path = join(dir, 'berth.db');
  sqlite = new SQLite(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.exec('create table t (id integer primary key, v blob)');
});

afterEach(() => {
  if (sqlite.open) sqlite.close();
  rmSync(dir, { recursive: true, force: true });
});

const MiB = 1024 * 1024;
const size = (file: string) => (existsSync(file) ? statSync(file).size : 0);

/** Commits `mib` MiB in transactions of 64 KiB (more than SQLite's 1,000-page automatic checkpoint). */
function write(mib: number): void {
  const insert = sqlite.prepare('insert into t (v) values (?)');
  const many = sqlite.transaction((n: number) => {
    for (let i = 0; i < n; i++) insert.run(Buffer.alloc(4096, i));
  });
  for (let i = 0; i < mib * 16; i++) many(16);
}

async function until(check: () => boolean, what: string): Promise<void> {
  // A generous deadline: the thread ticks every 200 ms, but a busy machine may be slow to start it.
  const deadline = Date.now() + 60_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('WAL checkpointer', () => {
  it('turns off the connection’s own checkpoints: the WAL keeps every commit until the thread runs', async () => {
    const checkpointer = new WalCheckpointer(sqlite, path);
    try {
      expect(sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      const before = size(path);
      write(6);
      // With SQLite's automatic checkpoint the WAL would have been reset at ~4 MiB and the file grown instead.
      expect(size(`${path}-wal`)).toBeGreaterThan(6 * MiB);
      const answer = await checkpointer.checkpoint();
      expect(answer.log).toBeGreaterThan(1500);
      expect(answer.checkpointed).toBe(answer.log);
      expect(size(path) - before).toBeGreaterThan(6 * MiB);
    } finally {
      await checkpointer.close();
    }
  });

  it('checkpoints on its own once something was committed', async () => {
    const checkpointer = new WalCheckpointer(sqlite, path);
    try {
      const before = size(path);
      write(2);
      expect(size(path)).toBe(before);
      await until(() => size(path) - before > 2 * MiB, 'the database file to receive the WAL’s pages');
    } finally {
      await checkpointer.close();
    }
  });

  it('gives the connection its own checkpoints back when a checkpoint on the thread fails', async () => {
    const checkpointer = new WalCheckpointer(sqlite, join(dir, 'absent', 'berth.db'));
    try {
      await expect(checkpointer.checkpoint()).rejects.toThrow(/unable to open|directory/i);
      expect(sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
      await expect(checkpointer.checkpoint()).rejects.toThrow(/not in use/);
    } finally {
      await checkpointer.close();
    }
  });

  it('is part of every embedded database, which closes cleanly (the WAL is folded in and removed)', async () => {
    sqlite.close();
    const file = join(dir, 'opened.db');
    const { db } = await openDatabase(`sqlite:${file}`);
    const setting = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(db);
    expect(setting.rows[0]?.wal_autocheckpoint).toBe(0);
    await db.destroy();
    expect(existsSync(`${file}-wal`)).toBe(false);
    expect(size(file)).toBeGreaterThan(0);
  });
});
