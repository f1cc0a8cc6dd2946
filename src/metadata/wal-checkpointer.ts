import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

// The thread's whole program, as CommonJS text (a file beside this one would be TypeScript under the tests).
// better-sqlite3 is loaded by the path the main thread resolved: an eval'd program resolves from the cwd.
const PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const SQLite = require(workerData.module);
const database = new SQLite(workerData.path, { fileMustExist: true });
parentPort.on('message', (id) => {
  try {
    const [row] = database.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ id, busy: row.busy, log: row.log, checkpointed: row.checkpointed });
  } catch (error) {
    parentPort.postMessage({ id, error: error.message });
  }
});
`;

/** How often the main thread looks for new commits. */
const TICK_MS = 200;
/** How long a thread with nothing to checkpoint is kept (each costs ~10 MB of RSS). */
const IDLE_MS = 10_000;
/** SQLite's own default, restored if the thread fails. */
const AUTOCHECKPOINT_PAGES = 1000;

/**
 * Checkpoints an embedded database's write-ahead log on a thread of its own. SQLite's automatic checkpoint
 * runs inside the commit that crosses 1,000 WAL pages: on better-sqlite3 that is the event loop's thread, for
 * a write of the pages back plus two fsyncs. Idle, ~1% of a push's commits took 9–11 ms for it; during garbage
 * collection, whose batches dirty a thousand pages each, most of the collector's commits did, 20–60 ms each
 * (measured with a per-statement timer, 100k bench:gc). Here the main connection never checkpoints: every
 * TICK_MS it asks whether anything was committed (total_changes(), microseconds) and if so has a second
 * connection on a worker thread run a PASSIVE checkpoint, which never blocks a writer or a reader. Durability
 * is unchanged: commits go to the WAL exactly as before, and recovery after a crash replays it.
 * If the thread cannot start or dies, the connection checkpoints on its own again.
 */
export class WalCheckpointer {
  private worker: Worker | undefined;
  private readonly timer: NodeJS.Timeout;
  private changes: number;
  private running = false;
  private idleSince = 0;
  private failed = false;
  private closed = false;
  private next = 0;
  private readonly answers = new Map<number, (answer: CheckpointAnswer) => void>();
  private changesQuery: SQLite.Statement | undefined;

  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly path: string,
  ) {
    sqlite.pragma('wal_autocheckpoint = 0');
    this.changes = this.totalChanges();
    this.timer = setInterval(() => void this.tick(), TICK_MS).unref();
  }

  /** Runs a checkpoint now on the thread (tests); resolves to what SQLite reported. */
  checkpoint(): Promise<CheckpointAnswer> {
    if (this.failed || this.closed) return Promise.reject(new Error('the checkpoint thread is not running'));
    const worker = this.started();
    const id = this.next++;
    return new Promise((resolve) => {
      this.answers.set(id, resolve);
      worker.ref();
      worker.postMessage(id);
    });
  }

  /** Stops the thread; call before closing the connection. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
    for (const answer of this.answers.values()) answer({ error: 'closed' });
    this.answers.clear();
  }

  private async tick(): Promise<void> {
    if (this.running || this.failed || this.closed || !this.sqlite.open) return;
    const changes = this.totalChanges();
    if (changes === this.changes) {
      if (this.worker && this.answers.size === 0 && Date.now() - this.idleSince > IDLE_MS)
        void this.stopIdle();
      return;
    }
    this.changes = changes;
    this.running = true;
    try {
      await this.checkpoint();
    } catch {
      // failed or closed meanwhile: nothing to do here
    } finally {
      this.running = false;
      this.idleSince = Date.now();
    }
  }

  private totalChanges(): number {
    this.changesQuery ??= this.sqlite.prepare('select total_changes()').pluck();
    return Number(this.changesQuery.get());
  }

  private async stopIdle(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(PROGRAM, { eval: true, workerData: { module, path: this.path } });
    worker.unref();
    worker.on('message', (message: CheckpointAnswer & { id: number }) => {
      const answer = this.answers.get(message.id);
      this.answers.delete(message.id);
      if (this.answers.size === 0) worker.unref();
      const { id: _, ...rest } = message;
      answer?.(rest);
    });
    const fail = () => {
      if (this.worker !== worker) return; // terminated on purpose
      this.worker = undefined;
      this.fallBack();
    };
    worker.on('error', fail);
    worker.on('exit', fail);
    this.worker = worker;
    this.idleSince = Date.now();
    return worker;
  }

  /** The thread is gone unasked: the connection checkpoints by itself again, as SQLite does by default. */
  private fallBack(): void {
    this.failed = true;
    clearInterval(this.timer);
    for (const answer of this.answers.values()) answer({ error: 'the checkpoint thread exited' });
    this.answers.clear();
    if (this.sqlite.open) this.sqlite.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  }
}

/** What one checkpoint did: WAL frames in the log and how many of them are now in the database file. */
export interface CheckpointAnswer {
  busy?: number;
  log?: number;
  checkpointed?: number;
  error?: string;
}
