import cluster, { type Worker } from 'node:cluster';
import { FillLockTable } from './fill-locks.js';
import { isEnvelope } from './invalidation.js';

export interface PrimaryOptions {
  workers: number;
  log: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * The primary of `berth serve --workers N`: forks N workers that share the listening port (node:cluster),
 * relays cache invalidations between them, keeps their pull-through fill locks, replaces a worker that dies,
 * and on SIGTERM/SIGINT passes the signal on and exits when every worker has finished its in-flight requests.
 * The primary serves nothing.
 */
export function runPrimary(options: PrimaryOptions): void {
  let stopping = false;
  const started = Date.now();
  // Which worker is fetching which blob for the pull-through cache (fill-locks.ts).
  const fillLocks = new FillLockTable();
  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (message: unknown) => {
      if (fillLocks.handle(worker, message) || !isEnvelope(message)) return;
      for (const other of Object.values(cluster.workers ?? {})) {
        if (other && other !== worker && other.isConnected()) other.send(message);
      }
    });
    return worker;
  };
  for (let i = 0; i < options.workers; i++) fork();

  cluster.on('exit', (worker, code, signal) => {
    fillLocks.workerGone(worker);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    options.log('worker died; starting another', { pid: worker.process.pid, code, signal });
    // A worker that dies at once (bad config, port taken) would be restarted forever; give up instead.
    if (Date.now() - started < 5000) {
      options.log('workers keep dying at start; giving up');
      process.exit(1);
    }
    fork();
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    options.log('shutting down workers', { signal });
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // SIGHUP (logrotate): each worker reopens its audit stream file.
  process.on('SIGHUP', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP');
  });
}
