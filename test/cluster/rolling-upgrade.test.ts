// The zero-downtime rolling restart of docs/deployment.md, as an operator does it: two Berth nodes sharing
// PostgreSQL and a blob store behind the shipped nginx config (deploy/nginx.conf), clients pulling in a loop, and
// each node in turn stopped with SIGTERM, started again on its address, and waited for — ready, and serving
// traffic through nginx again — before the next. Not one pull may fail.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from '../fixtures/image.js';
import { cliArgs } from '../helpers/cli.js';
import { renderNginx, startNginx } from '../helpers/nginx.js';
import { buildImage, OciClient } from '../helpers/oci-client.js';
import { freePort } from '../helpers/ports.js';
import { createTestDatabase, dropTestDatabase, postgresAvailable } from '../helpers/postgres.js';

const hasNginx = requireTool('nginx');
if (!hasNginx) console.warn('\n!!! SKIPPING the rolling upgrade test: nginx is not installed !!!\n');
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TIMEOUT = 240_000;
const REPOSITORY = 'rolling/app';

/** A `berth serve` process on a fixed port (behind nginx a node keeps its address across restarts). */
interface Node {
  port: number;
  process: ChildProcess;
  exited: Promise<number | null>;
  /** Requests this process logged as served (its one-line-per-request log). */
  served(): number;
}

function startNode(port: number, dataDir: string, env: Record<string, string>): Promise<Node> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('BERTH_')));
  const child = spawn(
    process.execPath,
    cliArgs(
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--data-dir',
      dataDir,
      '--log-level',
      'info',
    ),
    {
      cwd: REPO_ROOT,
      env: { ...clean, BERTH_AUTH_ENABLED: 'false', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let served = 0;
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node :${port} did not start\n${stderr}`)), 60_000);
    void exited.then((code) =>
      reject(new Error(`node :${port} exited (${code}) before listening\n${stderr}`)),
    );
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line.includes('"msg":"request"') && line.includes('"route":"manifest"')) served += 1;
      if (line.includes('"msg":"berth listening"')) {
        clearTimeout(timer);
        resolve({ port, process: child, exited, served: () => served });
      }
    });
  });
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe.skipIf(!hasNginx || !postgresAvailable)('rolling restart behind nginx', () => {
  let dir: string;
  let database: string;
  let env: Record<string, string>;
  const nodes: Node[] = [];
  let nginx: ChildProcess | undefined;
  let proxy: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-rolling-'));
    database = await createTestDatabase();
    env = {
      BERTH_METADATA_URL: database,
      BERTH_STORAGE_ROOT: join(dir, 'shared-storage'),
      // The drain bound: long enough for any pull in flight here.
      BERTH_HTTP_SHUTDOWN_TIMEOUT_SECONDS: '20',
    };
    const ports = [await freePort(), await freePort()];
    for (const [index, port] of ports.entries()) {
      await mkdir(join(dir, `node-${index}`));
      nodes.push(await startNode(port, join(dir, `node-${index}`), env));
    }
    const port = await freePort();
    const config = await renderNginx(dir, ports, port);
    proxy = `http://127.0.0.1:${port}`;
    nginx = await startNginx(dir, config, `${proxy}/v2/`);
  }, TIMEOUT);

  afterAll(async () => {
    nginx?.kill('SIGTERM');
    for (const node of nodes) node.process.kill('SIGKILL');
    if (database) await dropTestDatabase(database);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(
    'restarts each node in turn while clients pull in a loop, with zero failed pulls',
    async () => {
      // Layers big enough that pulls are in flight when a node is told to stop.
      const image = buildImage({ layers: 2, layerSize: 512 * 1024 });
      await new OciClient(proxy).pushImage(REPOSITORY, image, 'v1');
      const blobs = [
        ...(image.json.layers as { digest: string }[]).map((layer) => layer.digest),
        (image.json.config as { digest: string }).digest,
      ];

      let pulls = 0;
      const failures: string[] = [];
      let stop = false;
      /** One pull, as a client does it: the manifest by tag, then every blob, each checked against its digest. */
      const pull = async (): Promise<void> => {
        const manifest = await fetch(`${proxy}/v2/${REPOSITORY}/manifests/v1`, {
          headers: { accept: image.mediaType },
        });
        const body = new Uint8Array(await manifest.arrayBuffer());
        if (manifest.status !== 200 || sha256(body) !== image.digest) {
          throw new Error(`manifest: ${manifest.status} ${Buffer.from(body).toString().slice(0, 200)}`);
        }
        for (const digest of blobs) {
          const blob = await fetch(`${proxy}/v2/${REPOSITORY}/blobs/${digest}`);
          const bytes = new Uint8Array(await blob.arrayBuffer());
          if (blob.status !== 200 || sha256(bytes) !== digest) {
            throw new Error(`blob ${digest.slice(0, 19)}: ${blob.status}, ${bytes.length} bytes`);
          }
        }
      };
      const client = async () => {
        while (!stop) {
          try {
            await pull();
            pulls += 1;
          } catch (error) {
            failures.push(`${new Date().toISOString()} ${(error as Error).message}`);
          }
        }
      };
      const clients = [client(), client(), client()];

      const timeline: string[] = [];
      for (const [index, node] of [...nodes].entries()) {
        const before = pulls;
        // 1. SIGTERM: the node answers /readyz 503, closes its listener, finishes what is in flight, exits.
        node.process.kill('SIGTERM');
        expect(await node.exited, `node ${index} exits cleanly after draining`).toBe(0);
        timeline.push(`node ${index} stopped after ${pulls - before} pulls during its drain`);
        // 2. The upgraded node starts on the same address (the same data directory: local scratch only).
        const restarted = await startNode(node.port, join(dir, `node-${index}`), env);
        nodes[index] = restarted;
        await until(`node ${index} ready`, () =>
          fetch(`http://127.0.0.1:${node.port}/readyz`).then(
            (r) => r.status === 200,
            () => false,
          ),
        );
        // 3. Before the next node goes, this one must be taking traffic through nginx again: nginx marks a node
        //    that refused connections as failed for fail_timeout (5 s) and only then tries it again.
        await until(`node ${index} serving through nginx`, () => restarted.served() >= 5);
        timeline.push(`node ${index} back, ${pulls} pulls so far`);
      }
      // Pulls go on a moment with both restarted nodes, then stop.
      const settled = pulls;
      await until('pulls after the restarts', () => pulls >= settled + 10);
      stop = true;
      await Promise.all(clients);

      console.log(`rolling restart: ${pulls} pulls, ${failures.length} failed; ${timeline.join('; ')}`);
      expect(failures).toEqual([]);
      expect(pulls).toBeGreaterThan(20);
      // Both restarted processes served pulls: the restart really moved traffic, and it came back.
      expect(nodes.map((node) => node.served() > 0)).toEqual([true, true]);
    },
    TIMEOUT,
  );
});
