import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { type Berth, createBerth } from '../../src/server/index.js';
import { OciClient } from './oci-client.js';
import { createTestDatabase, dropTestDatabase, testMetadata } from './postgres.js';

export interface TestBerth {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, for clients such as skopeo. */
  host: string;
  port: number;
  dataDir: string;
  berth: Berth;
  close(): Promise<void>;
}

/** PostgreSQL databases by data directory, so a server restarted on the same directory finds its rows. */
const databases = new Map<string, string>();

/**
 * Starts a real Berth on an ephemeral loopback port. With `dataDir`, the directory is reused (and kept), so a
 * second server on it sees the first one's data; without, a temp directory is made and removed on close.
 * `config` entries are dotted keys, as flags would give them: { 'deletes.enabled': false }.
 * Auth is off unless `config` turns it on ({ 'auth.enabled': true }).
 * Under the `postgres` test project, metadata lives in a fresh PostgreSQL database per data directory.
 * `clock` stamps audit events and drives the anomaly detector (createBerth's BerthOptions).
 */
export async function startBerth(
  opts: { dataDir?: string; config?: Record<string, unknown>; clock?: () => number } = {},
): Promise<TestBerth> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'berth-test-')));
  let database: string | undefined;
  if (testMetadata === 'postgres' && opts.config?.['metadata.url'] === undefined) {
    database = databases.get(dataDir) ?? (await createTestDatabase());
    databases.set(dataDir, database);
  }
  const config = loadConfig({
    overrides: {
      dataDir,
      ...(database && { 'metadata.url': database }),
      'http.host': '127.0.0.1',
      'http.port': 0,
      'log.level': process.env.BERTH_TEST_LOG ?? 'silent',
      // The protocol tests run without auth; the auth tests turn it on.
      'auth.enabled': false,
      ...opts.config,
    },
  });
  const berth = await createBerth(config, opts.clock ? { clock: opts.clock } : {});
  const address = await berth.listen();
  const port = Number(new URL(address).port);
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    dataDir,
    berth,
    async close() {
      await berth.close();
      if (opts.dataDir) return;
      await rm(dataDir, { recursive: true, force: true });
      if (database) {
        databases.delete(dataDir);
        await dropTestDatabase(database);
      }
    },
  };
}

/**
 * One Berth with its defaults for the enclosing file (or describe block), started before its tests with an
 * OciClient on it, both handed to `use`, and closed after them.
 */
export function startBerthWithClient(use: (started: { berth: TestBerth; client: OciClient }) => void): void {
  let berth: TestBerth | undefined;
  beforeAll(async () => {
    berth = await startBerth();
    use({ berth, client: new OciClient(berth.url) });
  });
  afterAll(async () => {
    await berth?.close();
  });
}

/**
 * A Berth serving HTTPS itself, with a self-signed certificate for 127.0.0.1 (openssl, RSA, one day) written
 * to `dir` as cert.pem and key.pem.
 */
export async function startHttpsBerth(dir: string): Promise<TestBerth> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await promisify(execFile)('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'],
    ...['-keyout', key, '-out', cert],
  ]);
  return startBerth({ config: { 'http.tlsCert': cert, 'http.tlsKey': key } });
}
