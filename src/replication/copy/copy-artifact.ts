import { pipeline, type Readable } from 'node:stream';
import { type BulkheadPolicy, bulkhead } from 'cockatiel';
import { tryParseDigest } from '../../registry/index.js';
import {
  type BlobPrefix,
  ContentMismatchError,
  type Descriptor,
  type Manifest,
  printableUrl,
  type RegistryClient,
  RemoteRegistryError,
  referrersTag,
} from '../client/index.js';
import { ByteRate, Throttle } from './bandwidth-limit.js';
import { referencesOf } from './manifest-references.js';
import { assertPlatforms, matchesPlatform } from './platform-filter.js';
import { ensureListedAsReferrer } from './referrers-tag-index.js';

export interface CopyOptions {
  source: { client: RegistryClient; repository: string; reference: string };
  /**
   * `tag`: the tag to set on the target; omitted, the source's tag when the reference is one, else none.
   * `mountFrom`: other repositories of the target that may hold the blobs (mounted rather than uploaded).
   */
  target: {
    client: RegistryClient;
    repository: string;
    tag?: string | undefined;
    mountFrom?: string[] | undefined;
  };
  /**
   * Copy only these children of an index (`linux/amd64`, `linux/arm/v7`). The index itself is then not copied:
   * rewritten it would get a new digest, and faithful it would name children the target lacks. The children
   * go by digest; a tag, when there is one, names the child if exactly one matches, and is not set otherwise.
   */
  platforms?: string[] | undefined;
  /** Copy referrers (signatures, SBOMs, attestations; cosign's .sig/.att/.sbom tags too) after their subject. Default false. */
  referrers?: boolean | undefined;
  /** How deep referrers of referrers go (a signature of an SBOM of the image is depth 2). Default 3. */
  referrerDepth?: number | undefined;
  /** Blobs in flight at once. Default 4. */
  concurrency?: number | undefined;
  /** Blob slots shared with other copies (a replication execution's), instead of concurrency's own. */
  slots?: BulkheadPolicy | undefined;
  /** Blob bytes per second over the whole copy. */
  bytesPerSecond?: number | undefined;
  /** A budget shared with other copies (a replication execution's), instead of bytesPerSecond's own. */
  rate?: ByteRate | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((event: CopyEvent) => void) | undefined;
}

export type CopyEvent =
  | { kind: 'blob'; digest: string; size: number; outcome: 'copied' | 'skipped' | 'mounted' }
  | { kind: 'manifest'; digest: string; outcome: 'copied' | 'skipped' };

export interface CopySummary {
  /** The digest the source reference resolved to. */
  digest: string;
  /** The digest the target tag names after the copy, when a tag was set (or already right). */
  tagged: { tag: string; digest: string } | undefined;
  manifests: { copied: number; skipped: number };
  blobs: { copied: number; skipped: number; mounted: number };
  /** Blob bytes uploaded to the target (mounted and skipped blobs not counted). */
  bytes: number;
  /** Referrer manifests found at the source and now on the target (copied or already there). */
  referrers: number;
}

/** The cosign tag suffixes that hang artifacts off `sha256-<hex>` (signatures, attestations, SBOMs). */
const COSIGN_SUFFIXES = ['sig', 'att', 'sbom'];

/**
 * Copies one artifact between registries faithfully: manifests byte for byte (so digests are the same on
 * both sides), children before their index, blobs before their manifest, streamed from source to target with
 * backpressure; anything the target already has (a HEAD answers) is skipped, so running the copy again after
 * a failure resumes where it stopped.
 */
export async function copyArtifact(options: CopyOptions): Promise<CopySummary> {
  const { source } = options;
  if (options.platforms) assertPlatforms(options.platforms);
  const root = await source.client.getManifest(source.repository, source.reference, options.signal);
  if (!root) {
    const url = new URL(`/v2/${source.repository}/manifests/${source.reference}`, source.client.base);
    throw new RemoteRegistryError('GET', printableUrl(url), 404, [
      {
        code: 'MANIFEST_UNKNOWN',
        message: `${source.repository}:${source.reference} not found at the source`,
      },
    ]);
  }
  const run = new CopyRun(options);
  const tag = options.target.tag ?? (tryParseDigest(source.reference) ? undefined : source.reference);
  const subjects = await run.copyRoot(root, tag);
  if (options.referrers ?? false) {
    await Promise.all(subjects.map((digest) => run.copyReferrers(digest, 1)));
  }
  return run.summary(root.digest);
}

class CopyRun {
  private readonly blobs = new Map<string, Promise<void>>();
  private readonly manifests = new Map<string, Promise<void>>();
  private readonly referrerWalks = new Map<string, Promise<void>>();
  /** Tag-schema index updates, one subject at a time. */
  private readonly tagIndexUpdates = new Map<string, Promise<unknown>>();
  private readonly slots: BulkheadPolicy;
  private readonly rate: ByteRate | undefined;
  private tagged: CopySummary['tagged'];
  private readonly counts = {
    manifests: { copied: 0, skipped: 0 },
    blobs: { copied: 0, skipped: 0, mounted: 0 },
    bytes: 0,
    referrers: 0,
  };

  constructor(private readonly options: CopyOptions) {
    const concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new Error('concurrency must be a positive integer');
    this.slots = options.slots ?? bulkhead(concurrency, Number.MAX_SAFE_INTEGER);
    this.rate =
      options.rate ??
      (options.bytesPerSecond === undefined ? undefined : new ByteRate(options.bytesPerSecond));
  }

  summary(digest: string): CopySummary {
    return { digest, tagged: this.tagged, ...structuredClone(this.counts) };
  }

  /** The artifact, whole or filtered; returns the digests now on the target whose referrers follow. */
  async copyRoot(root: Manifest, tag: string | undefined): Promise<string[]> {
    const refs = referencesOf(root, this.where(root.digest));
    const platforms = this.options.platforms;
    if (refs.kind !== 'index' || !platforms) {
      await this.copyManifest(root, tag);
      if (tag) this.tagged = { tag, digest: root.digest };
      return [root.digest, ...refs.children.map((child) => child.digest)];
    }
    const chosen = refs.children.filter((child) => matchesPlatform(child, platforms));
    if (chosen.length === 0) {
      const offered = refs.children.map((c) => c.platform && `${c.platform.os}/${c.platform.architecture}`);
      throw new Error(
        `${this.where(root.digest)}: no child matches ${platforms.join(', ')} (it has ${offered.filter(Boolean).join(', ') || 'none with a platform'})`,
      );
    }
    const single = chosen.length === 1 ? tag : undefined;
    await Promise.all(
      chosen.map(async (child) => {
        const manifest = await this.fetchChild(child);
        await this.copyManifest(manifest, single);
        if (single) this.tagged = { tag: single, digest: manifest.digest };
      }),
    );
    return chosen.map((child) => child.digest);
  }

  /**
   * Puts one manifest (and first everything it references) on the target, under its digest and, when given,
   * a tag. A manifest the target has is skipped whole: a registry accepts a manifest only once its
   * references are there.
   */
  copyManifest(manifest: Manifest, tag: string | undefined): Promise<void> {
    const done = this.manifests.get(manifest.digest);
    if (!done) {
      const copied = this.copyManifestOnce(manifest, tag);
      const settled = copied.then(() => {});
      // Kept for later callers, who see its failure when they await it; when there are none, its rejection
      // must not be left unhandled (that would end the process): the caller below gets the failure.
      settled.catch(() => {});
      this.manifests.set(manifest.digest, settled);
      // Put under the tag already (one PUT, not a PUT by digest then a HEAD and a PUT of the tag).
      return copied.then((tagged) => (tag && tagged !== tag ? this.setTag(manifest, tag) : undefined));
    }
    return tag ? done.then(() => this.setTag(manifest, tag)) : done;
  }

  /** Returns the tag the manifest was put under, if it was put under one. */
  private async copyManifestOnce(manifest: Manifest, tag: string | undefined): Promise<string | undefined> {
    const { client, repository } = this.options.target;
    const signal = this.options.signal;
    const refs = referencesOf(manifest, this.where(manifest.digest));
    const present = await client.headManifest(repository, manifest.digest, signal);
    let tagged: string | undefined;
    if (present) {
      this.counts.manifests.skipped++;
      this.progress({ kind: 'manifest', digest: manifest.digest, outcome: 'skipped' });
    } else {
      if (refs.kind === 'index') {
        await Promise.all(
          refs.children.map(async (child) => this.copyManifest(await this.fetchChild(child), undefined)),
        );
      } else {
        await Promise.all(refs.blobs.map((blob) => this.copyBlob(blob)));
      }
      await client.putManifest(repository, tag ?? manifest.digest, manifest, signal);
      tagged = tag;
      this.counts.manifests.copied++;
      this.progress({ kind: 'manifest', digest: manifest.digest, outcome: 'copied' });
    }
    // Checked even when skipped: a run cut off between the manifest and its tag-schema entry resumes here.
    if (refs.subject) {
      const subject = refs.subject.digest;
      const entry: Descriptor = {
        mediaType: manifest.mediaType,
        digest: manifest.digest,
        size: manifest.bytes.length,
        ...(refs.artifactType && { artifactType: refs.artifactType }),
        ...(refs.annotations && { annotations: refs.annotations }),
      };
      const previous = this.tagIndexUpdates.get(subject) ?? Promise.resolve();
      const update = previous
        .catch(() => {})
        .then(() => ensureListedAsReferrer(client, repository, subject, entry, signal));
      this.tagIndexUpdates.set(subject, update);
      await update;
    }
    return tagged;
  }

  private async setTag(manifest: Manifest, tag: string): Promise<void> {
    const { client, repository } = this.options.target;
    const current = await client.headManifest(repository, tag, this.options.signal);
    if (current?.digest !== manifest.digest) {
      await client.putManifest(repository, tag, manifest, this.options.signal);
    }
  }

  /** A child or referrer manifest from the source, checked against the descriptor that names it. */
  private async fetchChild(descriptor: Descriptor): Promise<Manifest> {
    const { client, repository } = this.options.source;
    const child = await client.getManifest(repository, descriptor.digest, this.options.signal);
    if (!child) throw new Error(`${this.where(descriptor.digest)}: manifest not found at the source`);
    if (child.bytes.length !== descriptor.size) {
      throw new ContentMismatchError(
        `${this.where(descriptor.digest)}: ${child.bytes.length} bytes, the descriptor says ${descriptor.size}`,
        { digest: descriptor.digest, size: descriptor.size },
        { size: child.bytes.length },
      );
    }
    return child;
  }

  private copyBlob(blob: Descriptor): Promise<void> {
    let done = this.blobs.get(blob.digest);
    if (!done) {
      done = this.slots.execute(() => this.copyBlobOnce(blob), this.options.signal);
      this.blobs.set(blob.digest, done);
    }
    return done;
  }

  private async copyBlobOnce(blob: Descriptor): Promise<void> {
    const { source, target, signal } = this.options;
    const present = await target.client.headBlob(target.repository, blob.digest, signal);
    if (present) {
      this.counts.blobs.skipped++;
      this.progress({ kind: 'blob', digest: blob.digest, size: blob.size, outcome: 'skipped' });
      return;
    }
    const mountFrom = await this.mountSource(blob.digest);
    // A resumed chunked upload reopens the source where the target's session stands (a registry's: a Range
    // GET, verified on from the hash of the bytes before it; this Berth's store: read from there).
    const open = async (from?: BlobPrefix): Promise<Readable> => {
      const bytes = await source.client.getBlob(source.repository, blob, signal, from);
      if (!this.rate) return bytes;
      const throttle = new Throttle(this.rate, signal);
      pipeline(bytes, throttle, () => {});
      return throttle;
    };
    const outcome = await target.client.pushBlob(target.repository, blob, () => open(), {
      mountFrom,
      signal,
      resumeFrom: open,
      resumeVerifies: source.client.verifiesBlobs,
    });
    if (outcome === 'mounted') this.counts.blobs.mounted++;
    else {
      this.counts.blobs.copied++;
      this.counts.bytes += blob.size;
    }
    this.progress({
      kind: 'blob',
      digest: blob.digest,
      size: blob.size,
      outcome: outcome === 'mounted' ? 'mounted' : 'copied',
    });
  }

  /** A repository of the target that holds the blob: one of the hints, or the source's own when both are one registry. */
  private async mountSource(digest: string): Promise<string | undefined> {
    const { source, target, signal } = this.options;
    const candidates = [...(target.mountFrom ?? [])];
    if (source.client === target.client) candidates.unshift(source.repository);
    for (const repository of candidates) {
      if (repository === target.repository) continue;
      if (await target.client.headBlob(repository, digest, signal)) return repository;
    }
    return undefined;
  }

  /**
   * The referrers of a manifest now on the target (the API or tag schema, and cosign's tags), each copied
   * after its subject, then theirs, down to referrerDepth.
   */
  copyReferrers(subject: string, depth: number): Promise<void> {
    let walk = this.referrerWalks.get(subject);
    if (!walk) {
      walk = this.walkReferrers(subject, depth);
      this.referrerWalks.set(subject, walk);
    }
    return walk;
  }

  private async walkReferrers(subject: string, depth: number): Promise<void> {
    if (depth > (this.options.referrerDepth ?? 3)) return;
    const { client, repository } = this.options.source;
    const signal = this.options.signal;
    const found = await client.referrers(repository, subject, { signal });
    const byDescriptor = found.manifests.map(async (descriptor) => {
      await this.copyManifest(await this.fetchChild(descriptor), undefined);
      return descriptor.digest;
    });
    const byCosignTag = COSIGN_SUFFIXES.map(async (suffix) => {
      const tag = `${referrersTag(subject)}.${suffix}`;
      const manifest = await client.getManifest(repository, tag, signal);
      if (!manifest) return undefined;
      await this.copyManifest(manifest, tag);
      return manifest.digest;
    });
    const copied = (await Promise.all([...byDescriptor, ...byCosignTag])).filter((d): d is string => !!d);
    this.counts.referrers += copied.length;
    await Promise.all(copied.map((digest) => this.copyReferrers(digest, depth + 1)));
  }

  private where(digest: string): string {
    const { client, repository } = this.options.source;
    return `${client} ${repository}@${digest}`;
  }

  private progress(event: CopyEvent): void {
    this.options.onProgress?.(event);
  }
}
