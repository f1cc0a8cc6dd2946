// CNCF Distribution 2.8.2 (Debian's `docker-registry`) on a loopback port, as a real peer for the registry
// client and copy engine tests: filesystem storage in a temp dir, deletes on, and optionally htpasswd auth
// (Distribution's token-less Basic mode).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, run } from '../fixtures/image.js';
import { distributionConfig, filesystemStorage } from '../helpers/distribution-config.js';
import { freePort } from '../helpers/ports.js';

export const DISTRIBUTION_BINARY = findExecutable('docker-registry', ['/usr/bin']);
export const HTPASSWD_BINARY = findExecutable('htpasswd', ['/usr/bin']);

/** Null with a loud warning (the caller skips) when the binaries are missing; in CI an error. */
export function requireDistribution(what: string, withHtpasswd = false): boolean {
  const missing = [
    ...(DISTRIBUTION_BINARY ? [] : ['docker-registry (apt-get install docker-registry)']),
    ...(withHtpasswd && !HTPASSWD_BINARY ? ['htpasswd (apt-get install apache2-utils)'] : []),
  ];
  if (missing.length === 0) return true;
  const reason = `missing ${missing.join(', ')}`;
  if (process.env.CI) throw new Error(`${what} must run in CI: ${reason}`);
  console.warn(`\n!!! SKIPPING ${what}: ${reason} !!!\n`);
  return false;
}

export interface Distribution {
  /** http://127.0.0.1:PORT */
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

/** Starts `docker-registry serve` on a free port; with `htpasswd`, only that user may pull or push. */
export async function startDistribution(
  opts: {
    htpasswd?: { username: string; password: string };
    /** More top-level YAML for config.yml (e.g. a `notifications:` section), one line each. */
    config?: string[];
  } = {},
): Promise<Distribution> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-distribution-'));
  const port = await freePort();
  let auth = '';
  if (opts.htpasswd) {
    const { stdout } = await run(HTPASSWD_BINARY as string, [
      '-Bbn',
      opts.htpasswd.username,
      opts.htpasswd.password,
    ]);
    await writeFile(join(dir, 'htpasswd'), stdout);
    auth = `auth:\n  htpasswd:\n    realm: distribution\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    distributionConfig(filesystemStorage(join(dir, 'data')), port, [auth, ...(opts.config ?? [])]),
  );
  const child = spawn(DISTRIBUTION_BINARY as string, ['serve', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(url, child, () => stderr);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitUntilUp(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited ${child.exitCode}: ${stderr()}`);
    try {
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry did not answer on ${url}: ${stderr()}`);
}
