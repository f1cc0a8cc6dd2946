import type { InvalidationBus } from '../cluster/index.js';
import type { MetadataStore } from '../metadata/index.js';
import type { BlobStore } from '../storage/index.js';
import { type BlobRedirect, BlobService } from './blob-service.js';
import { ManifestService } from './manifest-service.js';
import type { RegistryPolicy } from './policy.js';
import { PullRecorder } from './pull-recorder.js';
import { UploadService } from './upload-service.js';

export interface RegistryOptions {
  maxManifestBytes: number;
  manifestCacheBytes: number;
  uploadTtlMs: number;
  /** How long an upload's write lease lasts unless renewed. */
  uploadLeaseMs?: number;
  /** Redirect blob GETs to the URL this gives (presigned object-store URLs, a CDN's signed URLs). */
  blobRedirect?: BlobRedirect | undefined;
  /** Cache invalidation between processes sharing the metadata database; LocalBus when alone. */
  bus: InvalidationBus;
  onBytesIn?: (bytes: number) => void;
  /** Cache tag lookups although other processes share the database (ManifestServiceOptions.cacheSharedTags). */
  cacheSharedTags?: boolean;
  /** Tag immutability and quotas (lifecycle/), pull policies (signatures/); without it nothing is refused. */
  policy?: RegistryPolicy;
  /** How often recorded pulls are written; default 5 s. */
  pullFlushMs?: number;
}

/** The registry core, free of HTTP: blobs, uploads, manifests, tags, referrers, catalog. */
export class Registry {
  readonly blobs: BlobService;
  readonly uploads: UploadService;
  readonly manifests: ManifestService;
  /** Last pull times of manifests, written in batches (for retention). */
  readonly pulls: PullRecorder;
  /** The hooks lifecycle/ and signatures/ plug in; the /v2 handlers ask the read hooks. */
  readonly policy: RegistryPolicy;

  constructor(
    readonly store: BlobStore,
    readonly meta: MetadataStore,
    options: RegistryOptions,
  ) {
    const policy = options.policy ?? {};
    this.policy = policy;
    this.blobs = new BlobService(store, meta, options.blobRedirect, policy);
    const uploadOptions = {
      ttlMs: options.uploadTtlMs,
      ...(options.uploadLeaseMs && { leaseMs: options.uploadLeaseMs }),
      shared: options.bus.shared,
      ...(options.onBytesIn && { onBytes: options.onBytesIn }),
      policy,
    };
    this.uploads = new UploadService(store, meta, this.blobs, uploadOptions);
    this.manifests = new ManifestService(meta, {
      maxManifestBytes: options.maxManifestBytes,
      cacheBytes: options.manifestCacheBytes,
      bus: options.bus,
      ...(options.cacheSharedTags && { cacheSharedTags: true }),
      policy,
    });
    this.pulls = new PullRecorder(meta, options.pullFlushMs);
  }

  /** Writes what is still buffered (pull times). */
  async close(): Promise<void> {
    await this.pulls.close();
  }

  async catalog(limit: number, last?: string): Promise<string[]> {
    return this.meta.listRepositories(limit, last);
  }
}
