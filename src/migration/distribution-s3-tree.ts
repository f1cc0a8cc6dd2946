import { type BlobStore, S3BlobStore } from '../storage/index.js';
import type { DistributionSource } from './distribution-tree.js';

const V2 = 'docker/registry/v2';

interface RepositoryEntry {
  layers: Set<string>;
  manifests: Set<string>;
  tags: Set<string>;
}

/**
 * A CNCF Distribution tree in an S3 bucket, as its s3 driver writes it: the same paths as on a disk
 * (distribution-tree.ts) under `<rootdirectory>/docker/registry/v2/`. One listing of `repositories/` finds
 * every repository, layer link, revision and tag (the digest of a layer or revision is in its path); only tag
 * links are read. Blobs are read with GET, or copied server-side into a Berth store in the same bucket.
 */
export class S3DistributionTree implements DistributionSource {
  readonly location: string;
  private index: Promise<Map<string, RepositoryEntry>> | undefined;

  /** `reader` is an S3BlobStore whose prefix is the tree's root (Distribution's rootdirectory). */
  constructor(
    private readonly reader: S3BlobStore,
    location: string,
  ) {
    this.location = location;
  }

  close(): Promise<void> {
    return this.reader.close();
  }

  async check(): Promise<void> {
    await this.reader.ping();
    if ((await this.repositoryIndex()).size === 0) {
      throw new Error(
        `${this.location}: no ${V2}/repositories/ objects; give the bucket and the prefix Distribution's rootdirectory names`,
      );
    }
  }

  async repositories(): Promise<string[]> {
    return [...(await this.repositoryIndex()).keys()].sort();
  }

  async layers(repository: string): Promise<string[]> {
    return [...((await this.repositoryIndex()).get(repository)?.layers ?? [])].sort();
  }

  async manifests(repository: string): Promise<string[]> {
    return [...((await this.repositoryIndex()).get(repository)?.manifests ?? [])].sort();
  }

  async tags(repository: string): Promise<{ tags: Map<string, string>; broken: string[] }> {
    const tags = new Map<string, string>();
    const broken: string[] = [];
    const names = [...((await this.repositoryIndex()).get(repository)?.tags ?? [])].sort();
    for (const tag of names) {
      const key = `${V2}/repositories/${repository}/_manifests/tags/${tag}/current/link`;
      const text = await this.text(key);
      const digest = text?.trim();
      if (digest && /^sha256:[0-9a-f]{64}$/.test(digest)) tags.set(tag, digest);
      else broken.push(tag);
    }
    return { tags, broken };
  }

  async blobSize(digest: string): Promise<number | undefined> {
    return (await this.reader.stat(this.blobKey(digest)))?.size;
  }

  async readBlob(digest: string): Promise<AsyncIterable<Uint8Array>> {
    return this.reader.read(this.blobKey(digest));
  }

  async copyBlobTo(digest: string, size: number, store: BlobStore, key: string): Promise<boolean> {
    if (!(store instanceof S3BlobStore) || !this.sameBucket(store)) return false;
    await store.copyFromBucket(this.reader.prefix + this.blobKey(digest), size, key);
    return true;
  }

  /** Whether `store` is in the same bucket of the same object store (so CopyObject can reach the tree). */
  private sameBucket(store: S3BlobStore): boolean {
    return store.bucket === this.reader.bucket && store.endpointId === this.reader.endpointId;
  }

  private blobKey(digest: string): string {
    const [algorithm, hex] = digest.split(':') as [string, string];
    return `${V2}/blobs/${algorithm}/${hex.slice(0, 2)}/${hex}/data`;
  }

  private async text(key: string): Promise<string | undefined> {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of await this.reader.read(key)) chunks.push(Buffer.from(chunk as Uint8Array));
      return Buffer.concat(chunks).toString('utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  private repositoryIndex(): Promise<Map<string, RepositoryEntry>> {
    this.index ??= this.listRepositories();
    return this.index;
  }

  private async listRepositories(): Promise<Map<string, RepositoryEntry>> {
    const found = new Map<string, RepositoryEntry>();
    const entry = (name: string) => {
      let repository = found.get(name);
      if (!repository) {
        repository = { layers: new Set(), manifests: new Set(), tags: new Set() };
        found.set(name, repository);
      }
      return repository;
    };
    const base = `${V2}/repositories/`;
    for await (const { key } of this.reader.walk(base)) {
      const path = key.slice(base.length);
      let match = /^(.+?)\/_layers\/(sha256)\/([0-9a-f]{64})\/link$/.exec(path);
      if (match) {
        entry(match[1] as string).layers.add(`${match[2]}:${match[3]}`);
        continue;
      }
      match = /^(.+?)\/_manifests\/revisions\/(sha256)\/([0-9a-f]{64})\/link$/.exec(path);
      if (match) {
        entry(match[1] as string).manifests.add(`${match[2]}:${match[3]}`);
        continue;
      }
      match = /^(.+?)\/_manifests\/tags\/([^/]+)\/current\/link$/.exec(path);
      if (match) entry(match[1] as string).tags.add(match[2] as string);
    }
    return found;
  }
}
