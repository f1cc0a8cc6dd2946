// Pull-through cache across processes: concurrent first pulls of one blob through different Berth processes
// fetch it from the upstream once. Two real `berth serve` nodes on one PostgreSQL database and one Swift S3
// bucket, and `berth serve --workers 2` on the embedded SQLite database, in front of a real Distribution 2.8.2
// behind a counting HTTP proxy (GETs per blob digest; it can hold a blob's body after its first bytes, and
// park every request while the upstream is down). Also the fill locks themselves, on the real PostgreSQL.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresFillLocks } from '../../src/cluster/index.js';
import { RegistryClient } from '../../src/replication/index.js';
import { fillLockKey, takeFillTurn } from '../../src/replication/proxy/fill-turn.js';
import type { ChildBerth } from '../helpers/child-server.js';
import { type Cluster, startCluster, storageBackends } from '../helpers/cluster.js';
import { ADMIN_URL, postgresAvailable } from '../helpers/postgres.js';
import { ensureSwift, openUploads, s3Client } from '../helpers/swift.js';
import { startWorkers, type Workers } from '../helpers/worker-processes.js';
import { requireDistribution } from './distribution.js';
import { RestartableDistribution } from './restartable-distribution.js';
import { digestOf, pushImage } from './support.js';

const MiB = 1024 * 1024;
const distribution = requireDistribution('pull-through cache across nodes');
const s3 = (await storageBackends()).find((backend) => backend.name.startsWith('s3'));
const clusterRuns = distribution && postgresAvailable && s3?.unavailable === undefined;
if (distribution && postgresAvailable && s3?.unavailable) {
  console.warn(`\n!!! SKIPPING pull-through cache on two nodes: ${s3.unavailable} !!!\n`);
}
const ADMIN_PASSWORD = 'proxy nodes admin password';
/** The API needs a login (proxy projects are bound by a system administrator); pulls are anonymous. */
const AUTH = { BERTH_AUTH_ENABLED: 'true', BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD };
const WAITING = 'pull-through: another process is fetching the blob; waiting until it is stored';

interface Layer {
  digest: string;
  size: number;
}

let upstream: RestartableDistribution;
let gate: CountingGate;
const layers: Record<string, Layer> = {};
let cluster: Cluster | undefined;
let workers: Workers | undefined;
let storageRoot: string | undefined;

/** Binds a new public project `hub` to the upstream (through the gate). */
async function createHub(base: string): Promise<void> {
  const created = await call(base, 'POST', '/api/v1/projects', {
    name: 'hub',
    public: true,
    proxy: { url: gate.url },
  });
  expect(created.status, created.text).toBe(201);
}

// Everything starts at once: the upstream's images, the two nodes and the workers.
beforeAll(async () => {
  if (!distribution) return;
  upstream = await RestartableDistribution.start();
  gate = await CountingGate.start(upstream.port);
  const direct = new RegistryClient({ url: upstream.url, access: 'push' });
  const seed = async () => {
    for (const [name, size] of [
      ['big', 24 * MiB],
      ['killed', 24 * MiB],
      ['orphan', 8 * MiB],
      ['workers', 8 * MiB],
    ] as const) {
      const bytes = randomBytes(size);
      layers[name] = { digest: digestOf(bytes), size };
      await pushImage(direct, name, { tag: 'v1', layers: [bytes] });
    }
  };
  const startNodes = async () => {
    if (!clusterRuns) return;
    cluster = await startCluster(s3 as NonNullable<typeof s3>, { nodes: 2, env: AUTH });
    await createHub(cluster.nodes[0]?.url as string);
  };
  const startWorkerProcesses = async () => {
    storageRoot = await mkdtemp(join(tmpdir(), 'berth-proxy-workers-'));
    workers = await startWorkers(
      'berth-proxy-workers-data-',
      { ...AUTH, BERTH_STORAGE_ROOT: storageRoot },
      2,
    );
    await createHub(workers.berth.url);
  };
  await Promise.all([seed(), startNodes(), startWorkerProcesses()]);
}, 180_000);

afterAll(async () => {
  await Promise.all([cluster?.destroy(), workers?.stop()]);
  if (storageRoot) await rm(storageRoot, { recursive: true, force: true });
  await gate?.close();
  await upstream?.close();
});

describe.skipIf(!clusterRuns)('pull-through cache on two nodes (PostgreSQL + Swift S3)', () => {
  const shared = (): Cluster => {
    if (!cluster) throw new Error('no cluster');
    return cluster;
  };
  const node = (index: number): ChildBerth => {
    const found = shared().nodes[index];
    if (!found) throw new Error(`no node ${index}`);
    return found;
  };

  /** Both nodes know the image (its manifest gives them the layer's size: no HEAD upstream before a GET). */
  const manifestOnBoth = async (name: string) => {
    for (const index of [0, 1]) {
      const res = await call(node(index).url, 'GET', `/v2/hub/${name}/manifests/v1`);
      expect(res.status, res.text).toBe(200);
    }
  };
  /** Node `index` logged that it waits for another process's fetch of `digest`. */
  const waiting = (index: number, digest: string) =>
    until(`node ${index} waits for the other's fetch`, () =>
      node(index)
        .logs()
        .some((line) => line.msg === WAITING && line.digest === digest),
    );
  /** What the shared bucket holds for `digest`, and any fill's temporary object left behind. */
  const stored = async (digest: string) => {
    const objects = await shared().storage.objects();
    return {
      blob: objects.filter((o) => o.key.endsWith(digest.slice('sha256:'.length))).map((o) => o.size),
      temporary: objects.filter((o) => o.key.startsWith('uploads/proxy-')).map((o) => o.key),
    };
  };
  /** Whether the repository links the blob: its bytes are committed (the row in blobs comes before them). */
  const linked = async (repository: string, digest: string) =>
    (
      await shared().query(
        'select 1 from repository_blobs l join repositories r on r.id = l.repository_id where r.name = $1 and l.digest = $2',
        [repository, digest],
      )
    ).length === 1;
  const blobRows = (digest: string) =>
    shared().query<{ size: string }>('select size from blobs where digest = $1', [digest]);

  it('concurrent first pulls of a 24 MiB blob through both nodes fetch it from the upstream once', async () => {
    const layer = layers.big as Layer;
    await manifestOnBoth('big');
    gate.hold(layer.digest);
    const first = blobGet(node(0).url, `/v2/hub/big/blobs/${layer.digest}`);
    await until('the first fetch reaches the upstream', () => gate.gets(layer.digest) === 1);
    const second = blobGet(node(1).url, `/v2/hub/big/blobs/${layer.digest}`);
    await waiting(1, layer.digest);
    gate.release();
    const [a, b] = await Promise.all([readBody(first), readBody(second)]);
    expect(a).toEqual({ status: 200, length: String(layer.size), digest: layer.digest, bytes: layer.size });
    expect(b).toEqual(a);
    expect(gate.gets(layer.digest)).toBe(1);
    expect(await stored(layer.digest)).toEqual({ blob: [layer.size], temporary: [] });
    expect(await blobRows(layer.digest)).toEqual([{ size: String(layer.size) }]);
    const served = node(1)
      .logs()
      .find((line) => line.msg === 'pull-through: blob stored by another process');
    console.info(`proxy across nodes: the waiter was served ${served?.ms} ms after it started waiting`);
  });

  it('the upstream killed mid-fetch: the waiter fetches it itself once the upstream is back, nothing corrupt stored', async () => {
    const name = 'killed';
    const layer = layers[name] as Layer;
    await manifestOnBoth('killed');
    gate.hold(layer.digest);
    const first = await blobGet(node(0).url, `/v2/hub/killed/blobs/${layer.digest}`);
    expect(first.statusCode).toBe(200);
    const firstBody = readBody(first).catch((error: unknown) => error);
    const second = blobGet(node(1).url, `/v2/hub/killed/blobs/${layer.digest}`);
    await waiting(1, layer.digest);

    gate.park();
    await upstream.kill();
    gate.release(); // the held body goes on, into the killed upstream's closed connection
    expect(await firstBody).not.toMatchObject({ digest: layer.digest });
    // Node 0's fetch failed and let go of the lock: node 1 takes over, and its GET waits at the gate.
    await until('the waiter fetches it itself', () => gate.parkedGets(layer.digest) === 1);
    await upstream.up();
    gate.unpark();

    const b = await readBody(second);
    expect(b).toEqual({ status: 200, length: String(layer.size), digest: layer.digest, bytes: layer.size });
    expect(gate.gets(layer.digest)).toBe(2);
    // The client may have had every byte before the store committed them.
    await until('the blob is committed', () => linked(`hub/${name}`, layer.digest));
    expect(await stored(layer.digest)).toEqual({ blob: [layer.size], temporary: [] });
    expect(await blobRows(layer.digest)).toEqual([{ size: String(layer.size) }]);
    // The aborted fill left no multipart upload behind.
    const endpoint = await ensureSwift();
    const client = s3Client(endpoint as NonNullable<typeof endpoint>);
    try {
      const bucket = shared().storage.env.BERTH_STORAGE_S3_BUCKET as string;
      await until('the failed fill is aborted', async () => (await openUploads(client, bucket)).length === 0);
    } finally {
      client.destroy();
    }
    // Node 0 now serves the stored copy: no further upstream GET.
    const again = await readBody(blobGet(node(0).url, `/v2/hub/killed/blobs/${layer.digest}`));
    expect(again).toEqual(b);
    expect(gate.gets(layer.digest)).toBe(2);
  });

  it('the fetching node killed: its lock dies with its session and the waiter fetches it itself', async () => {
    const name = 'orphan';
    const layer = layers[name] as Layer;
    await manifestOnBoth('orphan');
    gate.hold(layer.digest);
    const first = await blobGet(node(0).url, `/v2/hub/orphan/blobs/${layer.digest}`);
    expect(first.statusCode).toBe(200);
    const firstBody = readBody(first).catch((error: unknown) => error);
    const second = blobGet(node(1).url, `/v2/hub/orphan/blobs/${layer.digest}`);
    await waiting(1, layer.digest);
    await node(0).kill('SIGKILL');
    expect(await firstBody).not.toMatchObject({ digest: layer.digest });

    const b = await readBody(second);
    gate.release();
    expect(b).toEqual({ status: 200, length: String(layer.size), digest: layer.digest, bytes: layer.size });
    expect(gate.gets(layer.digest)).toBe(2);
    await until('the blob is committed', () => linked(`hub/${name}`, layer.digest));
    // The dead node's temporary object stays until the upload purge removes it (uploads.ttlSeconds).
    expect((await stored(layer.digest)).blob).toEqual([layer.size]);
    expect(await blobRows(layer.digest)).toEqual([{ size: String(layer.size) }]);
  });
});

describe.skipIf(!distribution)('pull-through cache with berth serve --workers 2 (SQLite)', () => {
  it('concurrent first pulls through two workers fetch the blob from the upstream once', async () => {
    const layer = layers.workers as Layer;
    if (!workers || !storageRoot) throw new Error('no workers');
    const { berth } = workers;
    const root = storageRoot;
    const url = berth.url;
    expect((await call(url, 'GET', '/v2/hub/workers/manifests/v1')).status).toBe(200);
    gate.hold(layer.digest);
    // A connection each: node:cluster hands new connections to the workers in turn.
    const first = blobGet(url, `/v2/hub/workers/blobs/${layer.digest}`);
    await until('the first fetch reaches the upstream', () => gate.gets(layer.digest) === 1);
    const second = blobGet(url, `/v2/hub/workers/blobs/${layer.digest}`);
    await until('the other worker waits for the first one', () =>
      berth.logs().some((line) => line.msg === WAITING && line.digest === layer.digest),
    );
    gate.release();
    const [a, b] = await Promise.all([readBody(first), readBody(second)]);
    expect(a).toEqual({ status: 200, length: String(layer.size), digest: layer.digest, bytes: layer.size });
    expect(b).toEqual(a);
    expect(gate.gets(layer.digest)).toBe(1);
    const logs = berth.logs();
    const fetcher = logs.find((l) => l.msg === 'pull-through: blob cached' && l.digest === layer.digest);
    const waiter = logs.find((l) => l.msg === WAITING && l.digest === layer.digest);
    expect(fetcher?.pid).toBeDefined();
    expect(waiter?.pid).not.toBe(fetcher?.pid);
    const hex = layer.digest.slice('sha256:'.length);
    expect((await stat(join(root, 'blobs', 'sha256', hex.slice(0, 2), hex))).size).toBe(layer.size);
    const uploads = await readdir(join(root, 'uploads')).catch(() => [] as string[]);
    expect(uploads.filter((name) => name.startsWith('proxy-'))).toEqual([]);
  });
});

describe.skipIf(!postgresAvailable)('fill locks on PostgreSQL', () => {
  const key = fillLockKey('http://upstream.test', `sha256:${randomBytes(32).toString('hex')}`);
  let other: pg.Client;

  beforeAll(async () => {
    other = new pg.Client({ connectionString: ADMIN_URL });
    await other.connect();
  });

  afterAll(async () => {
    await other?.end();
  });

  const holdElsewhere = () => other.query('select pg_advisory_lock(hashtextextended($1, 0))', [key]);
  const letGoElsewhere = () => other.query('select pg_advisory_unlock(hashtextextended($1, 0))', [key]);

  it('one holder across sessions and within a process; released, the next one takes it', async () => {
    const a = new PostgresFillLocks(ADMIN_URL);
    const b = new PostgresFillLocks(ADMIN_URL);
    try {
      const lease = await a.tryAcquire(key);
      expect(lease).toBeDefined();
      expect(await a.tryAcquire(key), 'a second caller in the same process').toBeUndefined();
      expect(await b.tryAcquire(key), 'another process').toBeUndefined();
      lease?.release();
      lease?.release();
      const next = await until('the lock is free', () => b.tryAcquire(key));
      next.release();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a waiter whose holder stored the blob serves it; one whose holder died fetches; one kept waiting gives up', async () => {
    const locks = new PostgresFillLocks(ADMIN_URL);
    try {
      // The holder stores the blob, then lets go.
      await holdElsewhere();
      let isStored = false;
      let waited = false;
      const served = takeFillTurn({
        locks,
        key,
        waitMs: 60_000,
        stored: async () => isStored,
        onWait: () => {
          waited = true;
        },
      });
      await until('the turn waits', () => waited);
      isStored = true;
      await letGoElsewhere();
      expect(await served).toEqual({ kind: 'stored' });

      // The holder's session ends (its process died): the waiter takes the lock and fetches.
      const dying = new pg.Client({ connectionString: ADMIN_URL });
      await dying.connect();
      await dying.query('select pg_advisory_lock(hashtextextended($1, 0))', [key]);
      const taken = takeFillTurn({ locks, key, waitMs: 60_000, stored: async () => false });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const pid = (await dying.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
      dying.on('error', () => {});
      await other.query('select pg_terminate_backend($1)', [pid]);
      const turn = await taken;
      expect(turn).toMatchObject({ kind: 'fetch' });
      expect(turn.kind === 'fetch' && turn.lease !== undefined && turn.reason === undefined).toBe(true);
      if (turn.kind === 'fetch') turn.lease?.release();
      await dying.end().catch(() => {});

      // A holder that never lets go: after waitMs the waiter fetches anyway, without the lock.
      await holdElsewhere();
      expect(await takeFillTurn({ locks, key, waitMs: 300, stored: async () => false })).toEqual({
        kind: 'fetch',
        lease: undefined,
        reason: 'timeout',
      });
      await letGoElsewhere();
    } finally {
      await locks.close();
    }
  });

  it('locks that cannot be asked: the caller fetches rather than fails', async () => {
    const url = new URL(ADMIN_URL);
    url.port = String(await closedPort());
    const locks = new PostgresFillLocks(url.toString());
    try {
      const turn = await takeFillTurn({ locks, key, waitMs: 60_000, stored: async () => false });
      expect(turn).toMatchObject({ kind: 'fetch', lease: undefined, reason: 'unavailable' });
    } finally {
      await locks.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------

async function call(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      accept: 'application/vnd.oci.image.manifest.v1+json',
      ...(path.startsWith('/api/') && {
        authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`,
      }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, text: await res.text() };
}

/** A GET on a connection of its own; resolves with the answer's head, the body still to read. */
function blobGet(base: string, path: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { agent: false }, resolve);
    req.on('error', reject);
    req.end();
  });
}

/** Status, Content-Length, and the SHA-256 and length of the body, read as it comes. */
async function readBody(answer: IncomingMessage | Promise<IncomingMessage>) {
  const res = await answer;
  const hash = createHash('sha256');
  let bytes = 0;
  await new Promise<void>((resolve, reject) => {
    res.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    res.on('end', resolve);
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(new Error(`the body ended after ${bytes} bytes`));
    });
  });
  return {
    status: res.statusCode,
    length: res.headers['content-length'],
    digest: `sha256:${hash.digest('hex')}`,
    bytes,
  };
}

/** Polls `condition` until it holds (or returns something), for up to 60 s. */
async function until<T>(what: string, condition: () => T | Promise<T>): Promise<NonNullable<T>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

/**
 * A real HTTP proxy in front of the upstream that counts GETs per blob digest. `hold(digest)`: the next GET of
 * that blob is held after its first MiB until `release()`. `park()`: every request waits, unforwarded, until
 * `unpark()` (the upstream is down and comes back).
 */
class CountingGate {
  private readonly counts = new Map<string, number>();
  private held: { digest: string; taken: boolean; waiting: (() => void)[] } | undefined;
  private parked: { path: string; go: () => void }[] | undefined;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(port: number): Promise<CountingGate> {
    let self: CountingGate | undefined;
    const server = createServer((req, res) => self?.handle(req, res, port));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (typeof address !== 'object' || !address) throw new Error('no port');
    self = new CountingGate(server, `http://127.0.0.1:${address.port}`);
    return self;
  }

  /** GETs of the blob forwarded to the upstream so far. */
  gets(digest: string): number {
    return this.counts.get(digest) ?? 0;
  }

  parkedGets(digest: string): number {
    return (this.parked ?? []).filter((entry) => entry.path.endsWith(`/blobs/${digest}`)).length;
  }

  hold(digest: string): void {
    this.held = { digest, taken: false, waiting: [] };
  }

  release(): void {
    const waiting = this.held?.waiting ?? [];
    this.held = undefined;
    for (const resume of waiting) resume();
  }

  park(): void {
    this.parked = [];
  }

  unpark(): void {
    const parked = this.parked ?? [];
    this.parked = undefined;
    for (const entry of parked) entry.go();
  }

  async close(): Promise<void> {
    this.release();
    this.unpark();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse, port: number): void {
    const path = req.url ?? '/';
    if (this.parked) {
      this.parked.push({ path: req.method === 'GET' ? path : '', go: () => this.handle(req, res, port) });
      return;
    }
    const method = req.method ?? 'GET';
    const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(path)?.[1];
    if (method === 'GET' && digest) this.counts.set(digest, this.gets(digest) + 1);
    const held = this.held?.digest === digest && this.held && !this.held.taken ? this.held : undefined;
    if (held && method === 'GET') held.taken = true;
    const forwarded = httpRequest(
      { host: '127.0.0.1', port, method, path, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        // The upstream gone before the end (killed): the client sees the connection cut, as it would.
        answer.on('close', () => {
          if (!answer.complete) res.destroy();
        });
        answer.on('error', () => res.destroy());
        res.on('close', () => answer.destroy());
        if (!held || method !== 'GET' || answer.statusCode !== 200) {
          answer.pipe(res);
          return;
        }
        // Held once the client has had a MiB: the registry client holds back its last chunk until the digest is
        // checked, so a single chunk would reach no one.
        let sent = 0;
        const forward = (chunk: Buffer) => {
          res.write(chunk);
          sent += chunk.length;
          if (sent < MiB || this.held !== held) return;
          answer.off('data', forward);
          answer.pause();
          held.waiting.push(() => answer.pipe(res));
        };
        answer.on('data', forward);
        answer.on('end', () => res.end());
      },
    );
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  }
}
