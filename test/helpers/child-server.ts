// Runs Berth as a separate process (the real `berth serve` CLI through tsx), so tests can kill -9 it, send it
// SIGTERM, and start another one on the same data directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cliArgs } from './cli.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * How long a starting Berth may show no progress (no log line: 'berth starting workers' from a primary, then
 * 'berth starting' and 'berth listening' from each server process) before it counts as hung. Counted from
 * the last sign of progress, not from the spawn: on a loaded machine the steps add up to more than any one
 * of them takes, and a fixed budget for all of them failed starts that were merely slow.
 */
export const QUIET_TIMEOUT_MS = 30_000;

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildBerth {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  process: ChildProcess;
  /** Resolves when the process has exited, however it ended. */
  exited: Promise<ChildExit>;
  /** The JSON log lines written to stdout so far, parsed. */
  logs(): Record<string, unknown>[];
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Sends `signal` (SIGKILL by default) unless the process already exited, then waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface ChildBerthOptions {
  /** Extra environment variables; BERTH_* variables of the test runner are not passed on. */
  env?: Record<string, string>;
}

/**
 * Starts `berth serve` on an ephemeral loopback port with its data in `dataDir`, and resolves once it logs
 * 'berth listening' (with the bound port). Rejects if the process exits before that, or shows no progress
 * for QUIET_TIMEOUT_MS.
 */
export function startChildBerth(dataDir: string, options: ChildBerthOptions = {}): Promise<ChildBerth> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('BERTH_')) env[key] = value;
  }
  // The protocol and fault tests run without auth; a test that wants it passes BERTH_AUTH_ENABLED=true.
  env.BERTH_AUTH_ENABLED = 'false';
  Object.assign(env, options.env);
  const child = spawn(
    process.execPath,
    cliArgs('serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--log-level', 'info'),
    { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );

  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderr += text;
  });

  return new Promise<ChildBerth>((resolve, reject) => {
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${message}\nstderr:\n${stderr}`));
    };
    let last = 'nothing yet';
    const quiet = () =>
      fail(`berth showed no progress for ${QUIET_TIMEOUT_MS} ms while starting (last: ${last})`);
    let timer = setTimeout(quiet, QUIET_TIMEOUT_MS);
    child.once('error', (error) => fail(`could not spawn berth: ${error.message}`));
    exited.then(({ code, signal }) => fail(`berth exited before listening (code ${code}, signal ${signal})`));

    // readline keeps draining stdout for the life of the process, so the pipe never fills up.
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (settled) return;
      last = String(entry.msg);
      clearTimeout(timer);
      timer = setTimeout(quiet, QUIET_TIMEOUT_MS);
      if (entry.msg !== 'berth listening') return;
      const port = Number(entry.port);
      if (!Number.isInteger(port) || port <= 0) {
        fail(`'berth listening' without a port: ${line}`);
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        process: child,
        exited,
        logs: () => logs,
        stderr: () => stderr,
        async kill(signal: NodeJS.Signals = 'SIGKILL') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          await exited;
        },
      });
    });
  });
}
