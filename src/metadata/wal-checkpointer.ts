import type SQLite from 'better-sqlite3';
import { type CheckpointResult, checkpointWal, forgetDatabase } from '../threads/disk-threads.js';

/** How often the main thread looks for new commits. */
const TICK_MS = 200;
/** SQLite's own default, restored if the thread fails. */
const AUTOCHECKPOINT_PAGES = 1000;

/**
 * Checkpoints an embedded database's write-ahead log on a thread of its own. SQLite's automatic checkpoint
 * runs inside the commit that crosses 1,000 WAL pages: on better-sqlite3 that is the event loop's thread, for
 * a write of the pages back plus two fsyncs. Idle, ~1% of a push's commits took 9–11 ms for it; during garbage
 * collection, whose batches dirty a thousand pages each, most of the collector's commits did, 20–60 ms each
 * (measured with a per-statement timer, 100k bench:gc). Here the main connection never checkpoints: every
 * TICK_MS it asks whether anything was committed (total_changes(), microseconds) and if so has a second
 * connection on a disk thread (threads/disk-threads.ts) run a PASSIVE checkpoint, which never blocks a writer
 * or a reader. Durability is unchanged: commits go to the WAL exactly as before, and recovery after a crash
 * replays it. If a checkpoint there fails, the connection checkpoints on its own again.
 */
export class WalCheckpointer {
  private readonly timer: NodeJS.Timeout;
  private changes: number;
  private running = false;
  private failed = false;
  private closed = false;
  private changesQuery: SQLite.Statement | undefined;

  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly path: string,
  ) {
    sqlite.pragma('wal_autocheckpoint = 0');
    this.changes = this.totalChanges();
    this.timer = setInterval(() => void this.tick(), TICK_MS).unref();
  }

  /** Runs a checkpoint now on the thread (tests). A failure gives the connection its own checkpoints back. */
  async checkpoint(): Promise<CheckpointResult> {
    if (this.failed || this.closed) throw new Error('the checkpoint thread is not in use');
    try {
      return await checkpointWal(this.path);
    } catch (error) {
      this.fallBack();
      throw error;
    }
  }

  /** Stops checkpointing and closes the thread's connection; call before closing the main one. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await forgetDatabase(this.path).catch(() => undefined);
  }

  private async tick(): Promise<void> {
    if (this.running || this.failed || this.closed || !this.sqlite.open) return;
    const changes = this.totalChanges();
    if (changes === this.changes) return;
    this.changes = changes;
    this.running = true;
    try {
      await this.checkpoint();
    } catch {
      // fallen back: the connection checkpoints by itself from now on
    } finally {
      this.running = false;
    }
  }

  private totalChanges(): number {
    this.changesQuery ??= this.sqlite.prepare('select total_changes()').pluck();
    return Number(this.changesQuery.get());
  }

  /** The connection checkpoints by itself again, as SQLite does by default. */
  private fallBack(): void {
    this.failed = true;
    clearInterval(this.timer);
    if (this.sqlite.open) this.sqlite.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  }
}
