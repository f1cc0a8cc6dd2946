import { randomUUID } from 'node:crypto';
import { link, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  blobKey,
  MediaType,
  parseDigest,
  parseManifest,
  type Registry,
  RegistryError,
} from '../registry/index.js';
import { FilesystemBlobStore } from '../storage/index.js';
import { type DistributionSource, DistributionTree } from './distribution-tree.js';
import { type HashingReader, hashingReader } from './hashing-reader.js';

export interface ImportOptions {
  /** Re-hash blobs that are hard-linked rather than copied (copied ones are always hashed on the way). */
  verifyLinked?: boolean;
  /** Never hard-link or copy server-side, always stream-copy and hash (a tree that may change in place later). */
  copy?: boolean;
  /** Only these repositories (exact names); all when absent. */
  repositories?: string[];
  progress?: (line: string) => void;
}

/** Something in the tree that could not be imported; the rest of the repository still is. */
export interface ImportProblem {
  repository: string;
  /** `blob sha256:…`, `manifest sha256:…` or `tag v1`. */
  item: string;
  reason: string;
}

export interface ImportSummary {
  repositories: number;
  tags: number;
  manifests: number;
  /**
   * linked: hard-linked on the same disk; serverCopied: copied by the object store (CopyObject) within its
   * bucket, no byte through Berth; copied: streamed and hashed.
   */
  blobs: { linked: number; serverCopied: number; copied: number; present: number; copiedBytes: number };
  problems: ImportProblem[];
  durationMs: number;
}

/**
 * Registers a Distribution storage tree's repositories, blobs, manifests and tags in Berth, as if each had been
 * pushed: blobs first (hard-linked into a filesystem store on the same disk, else stream-copied and verified),
 * then manifests, validated as on push with their exact bytes (children before the indexes that list them),
 * then tags. Safe to run again: what is already there is kept.
 */
export async function importDistribution(
  root: string | DistributionSource,
  registry: Registry,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const started = Date.now();
  const tree = typeof root === 'string' ? new DistributionTree(root) : root;
  await tree.check();
  const summary: ImportSummary = {
    repositories: 0,
    tags: 0,
    manifests: 0,
    blobs: { linked: 0, serverCopied: 0, copied: 0, present: 0, copiedBytes: 0 },
    problems: [],
    durationMs: 0,
  };
  const all = await tree.repositories();
  const wanted = options.repositories;
  const repositories = wanted ? all.filter((name) => wanted.includes(name)) : all;
  for (const missing of wanted?.filter((name) => !all.includes(name)) ?? []) {
    summary.problems.push({ repository: missing, item: 'repository', reason: 'not in the tree' });
  }
  const importer = new RepositoryImporter(tree, registry, options, summary);
  for (const [i, repository] of repositories.entries()) {
    options.progress?.(`[${i + 1}/${repositories.length}] ${repository}`);
    await importer.run(repository);
    summary.repositories++;
  }
  summary.durationMs = Date.now() - started;
  return summary;
}

class RepositoryImporter {
  constructor(
    private readonly tree: DistributionSource,
    private readonly registry: Registry,
    private readonly options: ImportOptions,
    private readonly summary: ImportSummary,
  ) {}

  async run(repository: string): Promise<void> {
    for (const digest of await this.tree.layers(repository)) {
      await this.attempt(repository, `blob ${digest}`, () => this.importBlob(repository, digest));
    }
    const manifests = new Map<string, { bytes: Buffer; mediaType: string; children: string[] }>();
    for (const digest of await this.tree.manifests(repository)) {
      await this.attempt(repository, `manifest ${digest}`, async () => {
        manifests.set(digest, await this.readManifest(digest));
      });
    }
    for (const digest of childrenFirst(manifests)) {
      const manifest = manifests.get(digest) as { bytes: Buffer; mediaType: string };
      const done = await this.attempt(repository, `manifest ${digest}`, () =>
        this.registry.manifests.put(repository, digest, manifest.bytes, manifest.mediaType),
      );
      if (done) this.summary.manifests++;
    }
    const { tags, broken } = await this.tree.tags(repository);
    for (const tag of broken) {
      this.summary.problems.push({ repository, item: `tag ${tag}`, reason: 'its current/link is missing' });
    }
    for (const [tag, digest] of tags) {
      const manifest = manifests.get(digest);
      const done = await this.attempt(repository, `tag ${tag}`, async () => {
        if (!manifest) throw new Error(`it points to ${digest}, which was not imported`);
        await this.registry.manifests.put(repository, tag, manifest.bytes, manifest.mediaType);
      });
      if (done) this.summary.tags++;
    }
  }

  /** Runs one step; a failure becomes a problem of the summary. */
  private async attempt(repository: string, item: string, step: () => Promise<unknown>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (error) {
      const reason =
        error instanceof RegistryError
          ? `${error.code}: ${error.message}${error.detail ? ` ${JSON.stringify(error.detail)}` : ''}`
          : (error as Error).message;
      this.summary.problems.push({ repository, item, reason });
      return false;
    }
  }

  private async readManifest(digest: string) {
    const size = await this.tree.blobSize(digest);
    if (size === undefined) throw new Error(`its bytes are missing from ${this.tree.location}`);
    const limit = this.registry.manifests.options.maxManifestBytes;
    if (size > limit) throw new Error(`larger than manifests.maxBytes (${size} > ${limit})`);
    const chunks: Buffer[] = [];
    for await (const chunk of await this.tree.readBlob(digest)) chunks.push(Buffer.from(chunk));
    const bytes = Buffer.concat(chunks);
    const parsed = parseManifest(bytes, impliedMediaType(bytes));
    return { bytes, mediaType: parsed.mediaType, children: parsed.manifests.map((d) => d.digest) };
  }

  private async importBlob(repository: string, digestText: string): Promise<void> {
    const digest = parseDigest(digestText);
    const size = await this.tree.blobSize(digest.value);
    if (size === undefined) throw new Error(`its bytes are missing from ${this.tree.location}`);
    const { store, meta } = this.registry;
    const key = blobKey(digest);
    const present = await store.stat(key);
    if (present?.size === size && (await meta.blobSize(digest.value)) === size) {
      await meta.linkBlob(repository, digest.value, size);
      this.summary.blobs.present++;
      return;
    }
    const temp = `uploads/import-${randomUUID()}`;
    let how: 'linked' | 'serverCopied' | 'copied' = 'copied';
    const path = this.tree.blobPath?.(digest.value);
    if (path && store instanceof FilesystemBlobStore && !this.options.copy) {
      if (await hardLink(path, join(store.root, temp))) how = 'linked';
    } else if (this.tree.copyBlobTo && !this.options.copy) {
      // Straight to the blob's key: commit below finds it there with its size and only links it.
      if (await this.tree.copyBlobTo(digest.value, size, store, key)) how = 'serverCopied';
    }
    if (how !== 'copied' && this.options.verifyLinked) {
      const copy = how === 'linked' ? temp : key;
      await checkDigest(digest.value, hashingReader(await store.read(copy), digest.algorithm), () =>
        store.delete(copy),
      );
    }
    if (how === 'copied') {
      const reader = hashingReader(await this.tree.readBlob(digest.value), digest.algorithm);
      await store.write(temp, reader, 0);
      await checkDigest(digest.value, reader, () => store.delete(temp));
    }
    // commit makes the bytes durable under the blob's address, then links the blob into the repository.
    await this.registry.blobs.commit(repository, temp, digest, size);
    if (how === 'copied') {
      this.summary.blobs.copied++;
      this.summary.blobs.copiedBytes += size;
    } else this.summary.blobs[how]++;
  }
}

/** Hard-links `source` at `target`; false when the two are on different filesystems or links are refused. */
async function hardLink(source: string, target: string): Promise<boolean> {
  await mkdir(dirname(target), { recursive: true });
  try {
    await link(source, target);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EXDEV' || code === 'EPERM' || code === 'ENOTSUP' || code === 'EMLINK') return false;
    throw error;
  }
}

/** Drains what is left of the reader and compares its digest; on a mismatch cleans up and throws. */
async function checkDigest(
  expected: string,
  reader: HashingReader,
  cleanUp: () => Promise<void>,
): Promise<void> {
  for await (const _ of reader);
  const actual = reader.digest();
  if (actual === expected) return;
  await cleanUp();
  throw new Error(`its bytes hash to ${actual}: the tree is corrupt`);
}

/**
 * Distribution stores no media type with a manifest, and an OCI manifest may leave out its `mediaType` field
 * (image-spec: "SHOULD"); like Distribution, tell an index from an image by its `manifests` field then.
 */
function impliedMediaType(bytes: Buffer): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined; // parseManifest says what is wrong
  }
  if (typeof json !== 'object' || json === null || 'mediaType' in json) return undefined;
  return 'manifests' in json ? MediaType.OciIndex : MediaType.OciManifest;
}

/** Manifest digests ordered so that an index comes after the children it lists (when they are here). */
function childrenFirst(manifests: Map<string, { children: string[] }>): string[] {
  const ordered: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (digest: string) => {
    if (state.has(digest)) return;
    state.set(digest, 'visiting');
    for (const child of manifests.get(digest)?.children ?? []) if (manifests.has(child)) visit(child);
    state.set(digest, 'done');
    ordered.push(digest);
  };
  for (const digest of manifests.keys()) visit(digest);
  return ordered;
}
