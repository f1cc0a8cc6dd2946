import type { Readable } from 'node:stream';
import type { RetryPolicy } from 'cockatiel';
import { parseDigest, type Registry, RegistryError } from '../../registry/index.js';
import {
  type BlobPrefix,
  type Descriptor,
  MANIFEST_ACCEPT,
  type Manifest,
  type ManifestHead,
  type Referrers,
  RegistryClient,
  RemoteRegistryError,
  retryPolicy,
} from '../client/index.js';

/** How this Berth names itself in task errors and logs. */
const LOCAL_URL = 'http://berth.local';

/**
 * This Berth as the copy engine sees a registry, served in-process from the registry core rather than over
 * HTTP: no token to mint for ourselves, blobs mounted from any repository that has them (replication is an
 * administrator's act), yet the same tag immutability and quotas a push meets (the core's policy hooks), and
 * pushes heard by ManifestService.onPut like any other. Errors are RemoteRegistryErrors, as from any registry.
 */
export class LocalRegistry extends RegistryClient {
  private readonly retries: RetryPolicy = retryPolicy();
  /** The store is trusted (the scrub checks it): blobs are served as stored, from any offset. */
  override readonly verifiesBlobs = false;

  constructor(private readonly registry: Registry) {
    super({ url: LOCAL_URL });
  }

  override toString(): string {
    return 'this Berth';
  }

  override async ping(): Promise<void> {}

  override async headManifest(repository: string, reference: string): Promise<ManifestHead | undefined> {
    const row = await this.manifest(repository, reference);
    return row && { digest: row.digest, mediaType: row.mediaType, size: row.size };
  }

  override async getManifest(repository: string, reference: string): Promise<Manifest | undefined> {
    const row = await this.manifest(repository, reference);
    return row && { bytes: row.content, mediaType: row.mediaType, digest: row.digest };
  }

  override async putManifest(
    repository: string,
    reference: string,
    manifest: { bytes: Buffer; mediaType: string },
  ): Promise<{ digest: string; subject: string | undefined }> {
    const put = await this.local('PUT', repository, 'manifests', reference, () =>
      this.registry.manifests.put(repository, reference, manifest.bytes, manifest.mediaType),
    );
    return { digest: put.digest, subject: put.subject };
  }

  override async deleteManifest(repository: string, reference: string): Promise<boolean> {
    try {
      await this.local('DELETE', repository, 'manifests', reference, () =>
        this.registry.manifests.delete(repository, reference),
      );
      return true;
    } catch (error) {
      if (isUnknown(error)) return false;
      throw error;
    }
  }

  override async *catalog(options: { pageSize?: number } = {}): AsyncGenerator<string> {
    const pageSize = options.pageSize ?? 1000;
    let last: string | undefined;
    for (;;) {
      const page = await this.registry.catalog(pageSize, last);
      yield* page;
      if (page.length < pageSize) return;
      last = page[page.length - 1];
    }
  }

  override async *tags(repository: string, options: { pageSize?: number } = {}): AsyncGenerator<string> {
    const pageSize = options.pageSize ?? 1000;
    let last: string | undefined;
    for (;;) {
      const page = await this.local('GET', repository, 'tags', 'list', () =>
        this.registry.manifests.tags(repository, pageSize, last),
      );
      yield* page;
      if (page.length < pageSize) return;
      last = page[page.length - 1];
    }
  }

  override async referrers(
    repository: string,
    digest: string,
    options: { artifactType?: string } = {},
  ): Promise<Referrers> {
    const index = (await this.local('GET', repository, 'referrers', digest, () =>
      this.registry.manifests.referrers(repository, digest, options.artifactType),
    )) as { manifests: Descriptor[] };
    return { manifests: index.manifests, via: 'api' };
  }

  override async headBlob(repository: string, digest: string): Promise<{ size: number } | undefined> {
    try {
      return { size: await this.registry.blobs.stat(repository, parseDigest(digest)) };
    } catch (error) {
      if (isUnknown(error)) return undefined;
      throw this.translate(error, 'HEAD', repository, 'blobs', digest);
    }
  }

  /** The stored bytes; with `from`, from its offset on (no hash needed: nothing is verified here). */
  override async getBlob(
    repository: string,
    blob: { digest: string },
    _signal?: AbortSignal,
    from?: BlobPrefix,
  ): Promise<Readable> {
    const digest = parseDigest(blob.digest);
    return this.local('GET', repository, 'blobs', blob.digest, async () => {
      const size = await this.registry.blobs.stat(repository, digest);
      if (!from?.offset) return this.registry.blobs.open(digest);
      if (from.offset >= size) throw new Error(`${blob.digest} has ${size} bytes: none from ${from.offset}`);
      return this.registry.blobs.open(digest, { start: from.offset, end: size - 1 });
    });
  }

  /** Mounted from any repository holding the blob, else uploaded from `open()` (again after a transient failure). */
  override async pushBlob(
    repository: string,
    blob: { digest: string; size: number },
    open: () => Promise<Readable>,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<'mounted' | 'uploaded'> {
    const digest = parseDigest(blob.digest);
    return this.local('PUT', repository, 'blobs', blob.digest, async () => {
      if (await this.registry.blobs.mount(repository, digest, undefined, () => true)) return 'mounted';
      await this.retries.execute(async () => {
        const body = await open();
        try {
          await this.registry.uploads.uploadWhole(repository, digest, { body, length: blob.size });
        } catch (error) {
          body.destroy();
          throw error;
        }
      }, options.signal);
      return 'uploaded';
    });
  }

  private async manifest(repository: string, reference: string) {
    try {
      return await this.registry.manifests.get(repository, reference, MANIFEST_ACCEPT);
    } catch (error) {
      if (isUnknown(error)) return undefined;
      throw this.translate(error, 'GET', repository, 'manifests', reference);
    }
  }

  private async local<T>(
    method: string,
    repository: string,
    kind: string,
    reference: string,
    work: () => Promise<T>,
  ): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw this.translate(error, method, repository, kind, reference);
    }
  }

  /** The core's RegistryError as a remote registry's would read (code, status, message); others as they are. */
  private translate(error: unknown, method: string, repository: string, kind: string, reference: string) {
    if (!(error instanceof RegistryError)) return error;
    return new RemoteRegistryError(
      method,
      `${LOCAL_URL}/v2/${repository}/${kind}/${reference}`,
      error.status,
      [{ code: error.code, message: error.message, detail: error.detail }],
    );
  }
}

function isUnknown(error: unknown): boolean {
  const code = error instanceof RegistryError || error instanceof RemoteRegistryError ? error.code : '';
  return code === 'MANIFEST_UNKNOWN' || code === 'NAME_UNKNOWN' || code === 'BLOB_UNKNOWN';
}
