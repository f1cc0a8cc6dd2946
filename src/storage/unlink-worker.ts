import { Worker } from 'node:worker_threads';

// The thread's whole program, as CommonJS text: a file beside this one would be TypeScript under the tests.
const PROGRAM = `
const { parentPort } = require('node:worker_threads');
const { unlinkSync } = require('node:fs');
parentPort.on('message', ({ id, paths }) => {
  const failed = [];
  for (const path of paths) {
    try {
      unlinkSync(path);
    } catch (error) {
      if (error.code !== 'ENOENT') failed.push({ path, code: error.code, message: error.message });
    }
  }
  parentPort.postMessage({ id, failed });
});
`;

/** How long a thread with nothing to do is kept. */
const IDLE_MS = 5_000;

export interface UnlinkFailure {
  path: string;
  error: Error;
}

/**
 * Unlinks files by the thousand on a thread of its own. Through fs.promises each unlink is a task on libuv's
 * four threads, which every request's file operations share, and a return to the event loop before the next:
 * garbage collection's deletes either queued ahead of pushes (sixteen in flight: pushes 8× slower) or crawled
 * (two: 40,000 files in ~7 s on a busy server). Here a batch runs as plain unlink(2) calls, off both.
 * A thread starts on first use, ends after a few idle seconds, and never keeps the process alive.
 */
export class UnlinkWorker {
  private readonly threads: UnlinkThread[];

  /** `threads`: unlinks of one call run on that many threads at once, each a share of the paths. */
  constructor(threads = 1) {
    this.threads = Array.from({ length: threads }, () => new UnlinkThread());
  }

  /** Unlinks the paths (absent ones are fine); resolves to those that could not be, with why. */
  async unlink(paths: string[]): Promise<UnlinkFailure[]> {
    const share = Math.ceil(paths.length / this.threads.length);
    // A thread whose share is empty answers at once without starting.
    const parts = this.threads.map((thread, i) => thread.unlink(paths.slice(i * share, (i + 1) * share)));
    return (await Promise.all(parts)).flat();
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((thread) => thread.close()));
  }
}

class UnlinkThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<
    number,
    { resolve: (failed: UnlinkFailure[]) => void; reject: (error: Error) => void }
  >();
  private next = 0;
  private idle: NodeJS.Timeout | undefined;

  unlink(paths: string[]): Promise<UnlinkFailure[]> {
    if (paths.length === 0) return Promise.resolve([]);
    clearTimeout(this.idle);
    const worker = this.started();
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ id, paths });
    });
  }

  async close(): Promise<void> {
    clearTimeout(this.idle);
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(PROGRAM, { eval: true });
    worker.unref();
    worker.on(
      'message',
      ({ id, failed }: { id: number; failed: { path: string; code: string; message: string }[] }) => {
        const waiting = this.pending.get(id);
        this.pending.delete(id);
        if (this.pending.size === 0) {
          worker.unref();
          // A thread costs ~10 MB of RSS: it goes once a run has stopped using it.
          this.idle = setTimeout(() => void this.close(), IDLE_MS).unref();
        }
        waiting?.resolve(
          failed.map(({ path, code, message }) => ({
            path,
            error: Object.assign(new Error(message), { code }),
          })),
        );
      },
    );
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the unlink thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}
