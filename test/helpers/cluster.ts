// Several `berth serve` processes on this machine sharing one fresh PostgreSQL database and one blob store:
// a cluster of stateless nodes, for the multi-node tests. Each node has a data directory of its own, so
// anything a node kept only locally would show up as a difference between nodes.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadBucketCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { filesUnder } from '../fault/support.js';
import { type ChildBerth, startChildBerth } from './child-server.js';
import { createTestDatabase, dropTestDatabase } from './postgres.js';
import { deleteBucket, ensureSwift, type S3Endpoint, s3Client } from './swift.js';

export interface StoredObject {
  /** Relative to the store's root, as Berth names it: blobs/sha256/ab/abcd…, uploads/<id>. */
  key: string;
  size: number;
}

/** One blob store that every node of a cluster uses. */
export interface SharedStorage {
  /** The BERTH_STORAGE_* variables pointing a node at it. */
  env: Record<string, string>;
  /**
   * Whether the bytes of an object still being written are visible to `objects()` (a file's are; an S3
   * multipart upload's are not until it completes).
   */
  partialWritesVisible: boolean;
  /** Every object in the store. */
  objects(): Promise<StoredObject[]>;
  /** Removes the store and everything in it. */
  destroy(): Promise<void>;
}

export interface StorageBackend {
  /** Shown in test names. */
  name: string;
  /** Why this backend cannot run here (its tests are then skipped, saying so), or undefined when it can. */
  unavailable: string | undefined;
  create(): Promise<SharedStorage>;
}

interface BackendDefinition {
  name: string;
  /** Resolves to why the backend cannot run here, or undefined. */
  probe(): Promise<string | undefined>;
  create(): Promise<SharedStorage>;
}

// ---------------------------------------------------------------------------------------------------------------
// Shared filesystem: every node gets the same BERTH_STORAGE_ROOT.

const sharedFilesystem: BackendDefinition = {
  name: 'shared filesystem',
  probe: async () => undefined,
  async create() {
    const root = await mkdtemp(join(tmpdir(), 'berth-cluster-storage-'));
    return {
      env: { BERTH_STORAGE_DRIVER: 'filesystem', BERTH_STORAGE_ROOT: root },
      partialWritesVisible: true,
      objects: async () => (await filesUnder(root)).map(({ path, size }) => ({ key: path, size })),
      destroy: () => rm(root, { recursive: true, force: true }),
    };
  },
};

/** The shared filesystem alone (it runs anywhere), for tests whose subject is not the blob store. */
export const sharedFilesystemBackend: StorageBackend = {
  name: sharedFilesystem.name,
  unavailable: undefined,
  create: () => sharedFilesystem.create(),
};

// ---------------------------------------------------------------------------------------------------------------
// S3: OpenStack Swift's s3api on 127.0.0.1:8080 (test/helpers/swift.ts), a fresh bucket per cluster.

function s3Env(endpoint: S3Endpoint, bucket: string): Record<string, string> {
  return {
    BERTH_STORAGE_DRIVER: 's3',
    BERTH_STORAGE_S3_ENDPOINT: endpoint.endpoint,
    BERTH_STORAGE_S3_REGION: endpoint.region,
    BERTH_STORAGE_S3_BUCKET: bucket,
    BERTH_STORAGE_S3_FORCE_PATH_STYLE: String(endpoint.forcePathStyle),
    BERTH_STORAGE_S3_ACCESS_KEY_ID: endpoint.accessKeyId,
    BERTH_STORAGE_S3_SECRET_ACCESS_KEY: endpoint.secretAccessKey,
  };
}

/** A bucket name no other test uses; the nodes create the bucket when they start. */
function freshBucket(): string {
  return `berth-cluster-${process.pid}-${randomBytes(4).toString('hex')}`;
}

async function bucketExists(client: S3Client, bucket: string): Promise<boolean> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) return false;
    throw error;
  }
}

/** Every object with its size (swift.ts lists names only). */
async function listObjects(client: S3Client, bucket: string): Promise<StoredObject[]> {
  const found: StoredObject[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      if (object.Key !== undefined) found.push({ key: object.Key, size: object.Size ?? 0 });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return found;
}

async function removeBucket(client: S3Client, bucket: string): Promise<void> {
  if (await bucketExists(client, bucket)) await deleteBucket(client, bucket);
}

let swiftEndpoint: S3Endpoint | undefined;

const swiftS3: BackendDefinition = {
  name: 's3 (Swift s3api)',
  async probe() {
    // ensureSwift starts Swift when it can, and throws under CI when it cannot.
    swiftEndpoint = await ensureSwift();
    return swiftEndpoint ? undefined : 'Swift s3api does not answer on 127.0.0.1:8080 (scripts/swift-s3.sh)';
  },
  async create() {
    const endpoint = swiftEndpoint;
    if (!endpoint) throw new Error('the s3 backend was not probed, or is unavailable');
    const client = s3Client(endpoint);
    const bucket = freshBucket();
    return {
      env: s3Env(endpoint, bucket),
      partialWritesVisible: false,
      objects: () => listObjects(client, bucket),
      async destroy() {
        try {
          await removeBucket(client, bucket);
        } finally {
          client.destroy();
        }
      },
    };
  },
};

/** Every storage backend the multi-node tests run on, in this order. */
const BACKENDS: BackendDefinition[] = [sharedFilesystem, swiftS3];

/** The storage backends, each with why it cannot run here (when it cannot). */
export async function storageBackends(): Promise<StorageBackend[]> {
  return Promise.all(
    BACKENDS.map(async (backend) => ({
      name: backend.name,
      unavailable: await backend.probe(),
      create: () => backend.create(),
    })),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The cluster

export interface Cluster {
  /** The running nodes; `restart` replaces an entry in place. */
  nodes: ChildBerth[];
  /** The shared metadata database (postgres://…). */
  databaseUrl: string;
  storage: SharedStorage;
  /** Runs SQL on the shared database, to check what the nodes wrote. */
  query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Server pids of the nodes' change-feed connections (their LISTEN) to the shared database. */
  changeFeeds(): Promise<number[]>;
  /** Terminates every change-feed connection, as a network blip or a database failover would. */
  cutChangeFeeds(): Promise<void>;
  /** Starts node `index` again (after it was killed) on its own data directory; returns the new process. */
  restart(index: number): Promise<ChildBerth>;
  /** Stops every node, then removes the database, the storage and the data directories. */
  destroy(): Promise<void>;
}

export interface ClusterOptions {
  nodes?: number;
  /** Extra BERTH_* variables for every node. */
  env?: Record<string, string>;
}

/** What a node's change-feed connection last ran (src/cluster/postgres-bus.ts), and how to find it. */
const FEED_QUERY = 'LISTEN berth_invalidate';
const FEEDS =
  'select pid from pg_stat_activity where datname = current_database() and query = $1 and pid <> pg_backend_pid()';

/** How long a node may take to finish after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 5000;

async function stop(node: ChildBerth): Promise<void> {
  const timer = setTimeout(() => node.process.kill('SIGKILL'), STOP_TIMEOUT_MS);
  try {
    await node.kill('SIGTERM');
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts `nodes` (3) `berth serve` processes at once on a fresh PostgreSQL database and fresh storage of the
 * given backend. They start concurrently, as a real cluster does, so migrations and bucket creation race.
 */
export async function startCluster(backend: StorageBackend, options: ClusterOptions = {}): Promise<Cluster> {
  const count = options.nodes ?? 3;
  const databaseUrl = await createTestDatabase();
  const cleanups: (() => Promise<unknown>)[] = [() => dropTestDatabase(databaseUrl)];
  const nodes: ChildBerth[] = [];
  let client: pg.Client | undefined;
  const destroy = async () => {
    await Promise.all(nodes.map(stop));
    await client?.end().catch(() => {});
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
  try {
    const storage = await backend.create();
    cleanups.push(() => storage.destroy());
    // A short write lease: the kill -9 tests wait for a dead node's lease to lapse.
    const env = {
      ...storage.env,
      BERTH_METADATA_URL: databaseUrl,
      BERTH_UPLOADS_LEASE_SECONDS: '3',
      ...options.env,
    };
    const dataDirs = await Promise.all(
      Array.from({ length: count }, () => mkdtemp(join(tmpdir(), 'berth-cluster-node-'))),
    );
    for (const dir of dataDirs) cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const started = await Promise.allSettled(dataDirs.map((dir) => startChildBerth(dir, { env })));
    for (const result of started) if (result.status === 'fulfilled') nodes.push(result.value);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;

    client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const db = client;
    return {
      nodes,
      databaseUrl,
      storage,
      async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
        return (await db.query<R>(sql, params)).rows;
      },
      async changeFeeds() {
        const rows = await db.query<{ pid: number }>(FEEDS, [FEED_QUERY]);
        return rows.rows.map((row) => row.pid);
      },
      async cutChangeFeeds() {
        await db.query(`select pg_terminate_backend(pid) from (${FEEDS}) feeds`, [FEED_QUERY]);
      },
      async restart(index) {
        const dir = dataDirs[index];
        const old = nodes[index];
        if (dir === undefined || old === undefined) throw new Error(`no node ${index}`);
        await old.kill('SIGKILL');
        const node = await startChildBerth(dir, { env });
        nodes[index] = node;
        return node;
      },
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}
