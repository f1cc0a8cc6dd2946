import cluster from 'node:cluster';
import {
  type FillLocks,
  type InvalidationBus,
  type JobLock,
  LocalBus,
  LocalFillLocks,
  LocalJobLock,
  notifyThrough,
  PostgresBus,
  PostgresFillLocks,
  PostgresJobLock,
  WorkerBus,
  WorkerFillLocks,
} from '../cluster/index.js';
import type { Config } from '../config/index.js';
import { CollectionStore, JobRunStore, MetadataStore, openDatabase } from '../metadata/index.js';
import { type BlobStore, FilesystemBlobStore, S3BlobStore } from '../storage/index.js';

/** What a node stands on: bytes, rows, and its links to the other nodes. */
export interface Backends {
  store: BlobStore;
  meta: MetadataStore;
  bus: InvalidationBus;
  jobs: JobLock;
  /** Which process fetches a blob for the pull-through cache while the others wait for it. */
  fills: FillLocks;
  close(): Promise<void>;
}

export async function openBlobStore(config: Config): Promise<BlobStore> {
  if (config.storage.driver === 's3') {
    const s3 = config.storage.s3;
    const options = {
      region: s3.region,
      bucket: s3.bucket,
      forcePathStyle: s3.forcePathStyle,
      connectTimeoutMs: s3.connectTimeoutSeconds * 1000,
      requestTimeoutMs: s3.requestTimeoutSeconds * 1000,
      readBufferBytes: s3.readBufferBytes,
      ...(s3.endpoint && { endpoint: s3.endpoint }),
      ...(s3.prefix && { prefix: s3.prefix }),
      ...(s3.accessKeyId && { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }),
    };
    if (s3.createBucket) return S3BlobStore.create(options);
    const store = new S3BlobStore(options);
    await store.ping();
    return store;
  }
  const store = new FilesystemBlobStore(config.storage.root);
  await store.ping();
  return store;
}

/**
 * Opens storage and metadata, and chooses how this process learns of other processes' writes: PostgreSQL
 * LISTEN/NOTIFY between nodes, the cluster IPC channel between workers on one embedded database, or nothing
 * when it is alone.
 */
export async function openBackends(config: Config, log: (error: Error) => void): Promise<Backends> {
  const store = await openBlobStore(config);
  const database = await openDatabase(config.metadata.url, {
    poolSize: config.metadata.poolSize,
    // Workers share a port and an embedded database; the primary migrated it before forking them.
    migrate: !cluster.isWorker,
  });
  const meta = new MetadataStore(database.db);
  if (!database.postgres && !cluster.isWorker) {
    // Alone on an embedded database: any write lease left in it belongs to a previous run of this process.
    await meta.uploads.releaseAll();
    // Likewise a garbage collection or retention run still marked running, and the collector's claims on
    // blobs: they died with that process (a later run finishes its work).
    await new JobRunStore(database.db).interruptAll();
    await new CollectionStore(database.db).releaseClaims();
  }
  let bus: InvalidationBus;
  let jobs: JobLock;
  let fills: FillLocks;
  if (database.postgres) {
    const { pool } = database.postgres;
    bus = await PostgresBus.start(database.postgres.url, notifyThrough(pool), log);
    jobs = new PostgresJobLock(pool);
    fills = new PostgresFillLocks(database.postgres.url);
  } else {
    bus = WorkerBus.available() ? new WorkerBus() : new LocalBus();
    // On one embedded database, the first worker runs the cluster-wide jobs.
    jobs = new LocalJobLock(!cluster.isWorker || cluster.worker?.id === 1);
    // Workers of one `serve --workers N` ask the primary, which sees a worker die.
    fills = WorkerBus.available() ? new WorkerFillLocks() : new LocalFillLocks();
  }
  return {
    store,
    meta,
    bus,
    jobs,
    fills,
    async close() {
      await fills.close();
      await bus.close();
      await meta.close();
      await store.close?.();
    },
  };
}
