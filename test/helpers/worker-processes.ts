// `berth serve --workers N` as a child process on a fresh data directory (the embedded SQLite database), and
// requests that say which worker served them: node:cluster hands each new connection to the next worker.
import { mkdtemp, rm } from 'node:fs/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../fault/support.js';
import { type ChildBerth, QUIET_TIMEOUT_MS, startChildBerth } from './child-server.js';
import { type Reply, send } from './raw-http.js';

export interface Workers {
  berth: ChildBerth;
  /** The pids of the workers (the processes that logged 'berth listening'; the primary serves nothing). */
  pids: number[];
  /** Kills the primary and the workers (which outlive a SIGKILLed primary), and removes the data directory. */
  stop(): Promise<void>;
}

/** Starts `berth serve` with `count` workers and waits until every one of them listens. */
export async function startWorkers(
  dataDirPrefix: string,
  env: Record<string, string>,
  count = 2,
): Promise<Workers> {
  const dataDir = await mkdtemp(join(tmpdir(), dataDirPrefix));
  let berth: ChildBerth | undefined;
  let pids: number[] = [];
  const stop = async () => {
    await berth?.kill('SIGKILL');
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const child = await startChildBerth(dataDir, { env: { ...env, BERTH_WORKERS: String(count) } });
    berth = child;
    const listening = () => [
      ...new Set(
        child
          .logs()
          .filter((entry) => entry.msg === 'berth listening')
          .map((entry) => Number(entry.pid)),
      ),
    ];
    // startChildBerth returns at the first worker's 'berth listening'; wait for the others, as long as the
    // start makes progress (a log line at least every QUIET_TIMEOUT_MS: a slow machine is not a hung start).
    await whileProgressing(child, `${count} workers listening`, () => listening().length === count);
    pids = listening();
    return { berth: child, pids, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Resolves once `done()` holds; rejects if the process exits first or logs nothing for QUIET_TIMEOUT_MS. */
async function whileProgressing(child: ChildBerth, what: string, done: () => boolean): Promise<void> {
  let seen = child.logs().length;
  let quietSince = Date.now();
  while (!done()) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`berth exited while waiting for ${what}\nstderr:\n${child.stderr()}`);
    }
    if (child.logs().length > seen) {
      seen = child.logs().length;
      quietSince = Date.now();
    } else if (Date.now() - quietSince > QUIET_TIMEOUT_MS) {
      throw new Error(`no progress for ${QUIET_TIMEOUT_MS} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface Served extends Reply {
  /** The process that answered. */
  pid: number;
}

let counter = 0;

/**
 * One request on a connection of its own (so that node:cluster hands it to the next worker), with a request id
 * to find the process that served it in `logs` (waiting up to `logWaitMs` for its log line).
 */
export async function sendServed(
  base: string,
  logs: () => Record<string, unknown>[],
  method: string,
  path: string,
  options: { headers?: OutgoingHttpHeaders; body?: Buffer } = {},
  logWaitMs?: number,
): Promise<Served> {
  const id = `served-${process.pid}-${++counter}`;
  const reply = await send(base, method, path, {
    ...options,
    headers: { ...options.headers, 'x-request-id': id },
  });
  let pid: number | undefined;
  await waitFor(
    `the log line of request ${id}`,
    () => {
      const entry = logs().find((line) => line.reqId === id && line.msg === 'request');
      pid = entry === undefined ? undefined : Number(entry.pid);
      return pid !== undefined;
    },
    logWaitMs,
  );
  return { ...reply, pid: pid as number };
}
