import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// The threads' whole program, as CommonJS text (a file beside this one would be TypeScript under the tests).
// Tasks: unlink a batch of paths; checkpoint an SQLite database's WAL on a connection kept per path; forget
// (close) that connection. better-sqlite3 comes by the path the main thread resolved: an eval'd program
// resolves from the cwd.
const PROGRAM = `
const { parentPort } = require('node:worker_threads');
const { unlinkSync } = require('node:fs');
const databases = new Map();
function unlink(paths) {
  const failed = [];
  for (const path of paths) {
    try {
      unlinkSync(path);
    } catch (error) {
      if (error.code !== 'ENOENT') failed.push({ path, code: error.code, message: error.message });
    }
  }
  return failed;
}
function checkpoint(module, path) {
  let database = databases.get(path);
  if (!database) {
    const SQLite = require(module);
    database = new SQLite(path, { fileMustExist: true });
    databases.set(path, database);
  }
  const [row] = database.pragma('wal_checkpoint(PASSIVE)');
  return { busy: row.busy, log: row.log, checkpointed: row.checkpointed };
}
function forget(path) {
  databases.get(path)?.close();
  databases.delete(path);
}
parentPort.on('message', ({ id, task, paths, module, path }) => {
  try {
    const result =
      task === 'unlink' ? unlink(paths) : task === 'checkpoint' ? checkpoint(module, path) : forget(path);
    parentPort.postMessage({ id, result });
  } catch (error) {
    parentPort.postMessage({ id, error: { code: error.code, message: error.message } });
  }
});
`;

/** How long a thread with nothing to do is kept (each costs ~14 MB of RSS). */
const IDLE_MS = 5_000;
/**
 * How many threads the process has for such work. Two, because an unlink waits for the ext4 journal whenever
 * a push's fsync is committing it, and unlinks waiting together go into one commit.
 */
const THREADS = 2;

export interface UnlinkFailure {
  path: string;
  error: Error;
}

/** What one WAL checkpoint did: frames in the log and how many of them are now in the database file. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

type Task =
  | { task: 'unlink'; paths: string[] }
  | { task: 'checkpoint'; module: string; path: string }
  | { task: 'forget'; path: string };

/**
 * Blocking disk work, done on a couple of threads the whole process shares rather than on the event loop's
 * thread or libuv's four (which every request's file operations share):
 * - garbage collection's unlinks, by the thousand: through fs.promises each is a task on libuv's threads and
 *   a return to the event loop, so deletes either queued ahead of pushes (sixteen in flight: pushes 8×
 *   slower) or crawled (two: 40,000 files in ~7 s on a busy server);
 * - the embedded database's WAL checkpoints (metadata/wal-checkpointer.ts), each a write-back and two fsyncs.
 * Shared because each thread costs ~14 MB of RSS: a collection that unlinks and checkpoints at once runs two
 * threads, not three. A thread starts on first use, ends after a few idle seconds, and never keeps the
 * process alive.
 */
class DiskThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<
    number,
    { resolve: (result: unknown) => void; reject: (error: Error) => void }
  >();
  private next = 0;
  private idle: NodeJS.Timeout | undefined;

  get running(): boolean {
    return this.worker !== undefined;
  }

  run<T>(task: Task): Promise<T> {
    clearTimeout(this.idle);
    const worker = this.started();
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ id, ...task });
    });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(PROGRAM, { eval: true });
    worker.unref();
    worker.on(
      'message',
      ({
        id,
        result,
        error,
      }: {
        id: number;
        result?: unknown;
        error?: { code?: string; message: string };
      }) => {
        const waiting = this.pending.get(id);
        this.pending.delete(id);
        if (this.pending.size === 0) {
          worker.unref();
          this.idle = setTimeout(() => this.stop(worker), IDLE_MS).unref();
        }
        if (error) waiting?.reject(Object.assign(new Error(error.message), { code: error.code }));
        else waiting?.resolve(result);
      },
    );
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the disk thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private stop(worker: Worker): void {
    if (this.worker !== worker || this.pending.size > 0) return;
    this.worker = undefined;
    void worker.terminate();
  }
}

const threads = Array.from({ length: THREADS }, () => new DiskThread());

/** Unlinks the paths (absent ones are fine) on every thread, a share each; resolves to those that failed. */
export async function unlinkAll(paths: string[]): Promise<UnlinkFailure[]> {
  const share = Math.ceil(paths.length / threads.length);
  const parts = threads.map((thread, i) => {
    const part = paths.slice(i * share, (i + 1) * share);
    return part.length === 0
      ? Promise.resolve([])
      : thread.run<{ path: string; code: string; message: string }[]>({ task: 'unlink', paths: part });
  });
  return (await Promise.all(parts))
    .flat()
    .map(({ path, code, message }) => ({ path, error: Object.assign(new Error(message), { code }) }));
}

// Checkpoints run on the first thread, which keeps each database's connection.
let sqliteModule: string | undefined;

/** A PASSIVE checkpoint of the SQLite database at `path`, on a connection of the thread's own. */
export function checkpointWal(path: string): Promise<CheckpointResult> {
  sqliteModule ??= createRequire(import.meta.url).resolve('better-sqlite3');
  return (threads[0] as DiskThread).run({ task: 'checkpoint', module: sqliteModule, path });
}

/** Closes the thread's connection to `path`, if it has one (before the main connection closes). */
export async function forgetDatabase(path: string): Promise<void> {
  const thread = threads[0] as DiskThread;
  // A thread that ended has closed its connections with it.
  if (thread.running) await thread.run({ task: 'forget', path });
}
