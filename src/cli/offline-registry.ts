import { type InvalidationBus, LocalBus, notifyThrough, PostgresBus } from '../cluster/index.js';
import type { Config } from '../config/index.js';
import { type MetadataDatabase, MetadataStore, openDatabase } from '../metadata/index.js';
import { Registry } from '../registry/index.js';
import { openBlobStore } from '../server/index.js';

/** The registry core opened from a configuration in this process, for the commands that act without a server. */
export interface OfflineRegistry {
  registry: Registry;
  database: MetadataDatabase;
  close(): Promise<void>;
}

/**
 * Opens the configured storage and metadata database (migrating it, as `serve` does) and the registry core on
 * them, without the start-up clean-ups of `serve`: a server may be running on the same data. On PostgreSQL,
 * the running nodes hear of the changes (LISTEN/NOTIFY); a server on an embedded database does not, and may
 * serve a tag list it cached before until it restarts.
 */
export async function openOfflineRegistry(config: Config): Promise<OfflineRegistry> {
  const store = await openBlobStore(config);
  const database = await openDatabase(config.metadata.url, { poolSize: 4 });
  const meta = new MetadataStore(database.db);
  let bus: InvalidationBus = new LocalBus();
  if (database.postgres) {
    const { pool, url } = database.postgres;
    bus = await PostgresBus.start(url, notifyThrough(pool), () => {});
  }
  const registry = new Registry(store, meta, {
    maxManifestBytes: config.manifests.maxBytes,
    manifestCacheBytes: 0,
    uploadTtlMs: config.uploads.ttlSeconds * 1000,
    bus,
  });
  return {
    registry,
    database,
    async close() {
      await registry.close();
      await bus.close();
      await meta.close();
      await store.close?.();
    },
  };
}
