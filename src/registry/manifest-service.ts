import type { Invalidation, InvalidationBus } from '../cluster/index.js';
import {
  type ManifestRow,
  type MetadataStore,
  MissingReference,
  type NewManifest,
  type PutOutcome,
  type TagGuard,
} from '../metadata/index.js';
import { digestOf, parseDigest, tryParseDigest } from './digest.js';
import { RegistryError } from './errors.js';
import { ManifestCache } from './manifest-cache.js';
import { negotiate } from './manifest-negotiation.js';
import { type Descriptor, parseManifest } from './manifest-parser.js';
import { MediaType } from './media-types.js';
import { isValidTag } from './names.js';
import type { RegistryPolicy } from './policy.js';

/** A manifest reference from the URL: a tag or a digest (distribution-spec "Pulling manifests"). */
export type Reference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: string };

/**
 * Parses `<reference>`; a malformed one is MANIFEST_INVALID when pushing and MANIFEST_UNKNOWN when reading,
 * since nothing can ever be stored under it.
 */
export function parseReference(reference: string, forWrite: boolean): Reference {
  if (reference.includes(':')) return { kind: 'digest', digest: parseDigest(reference).value };
  if (isValidTag(reference)) return { kind: 'tag', tag: reference };
  throw new RegistryError(forWrite ? 'MANIFEST_INVALID' : 'MANIFEST_UNKNOWN', {
    message: 'invalid tag: must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}',
    detail: { reference },
  });
}

export interface PutResult {
  digest: string;
  subject?: string;
}

/** A manifest this process just stored (ManifestService.onPut). */
export interface PutEvent {
  repository: string;
  digest: string;
  mediaType: string;
  /** `artifactType`, else the config's media type (an image's is its image config type). */
  artifactType?: string;
  subject?: string;
}

export interface ManifestServiceOptions {
  maxManifestBytes: number;
  /** Memory for cached manifests; 0 turns the cache off. */
  cacheBytes: number;
  /** Tells other processes sharing the database what changed, and tells this one what they changed. */
  bus: InvalidationBus;
  /**
   * Whether tag lookups are cached when other processes share the database too (their tag moves then reach this
   * one through the bus, milliseconds late): worth it where a lookup is a network round trip (PostgreSQL), not
   * on an embedded database shared by workers, where it costs microseconds and every worker sees a move at once.
   */
  cacheSharedTags?: boolean;
  /** Its tagProtection keeps immutable tags from moving or going. */
  policy?: Pick<RegistryPolicy, 'tagProtection'>;
}

export class ManifestService {
  private readonly cache: ManifestCache;
  private readonly listeners: ((event: Invalidation) => void)[] = [];
  private readonly putListeners: ((event: PutEvent) => void)[] = [];

  constructor(
    private readonly meta: MetadataStore,
    readonly options: ManifestServiceOptions,
  ) {
    const { bus } = options;
    this.cache = new ManifestCache(options.cacheBytes, {
      live: () => !bus.deaf,
      ...(bus.shared && { maxStaleMs: SHARED_MAX_STALE_MS, noTags: !options.cacheSharedTags }),
    });
    options.bus.subscribe((event) => {
      this.cache.apply(event);
      for (const listener of this.listeners) listener(event);
    });
  }

  /** Hears every committed change to manifests and tags: this process's, and the others' through the bus. */
  onChange(listener: (event: Invalidation) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Hears every manifest stored by this process, once committed (scan on push). Not told of other processes'
   * pushes; a listener must not throw, and must not make the push wait.
   */
  onPut(listener: (event: PutEvent) => void): void {
    this.putListeners.push(listener);
  }

  /** Validates and stores a manifest exactly as received; points the tag at it when the reference is a tag. */
  async put(
    repository: string,
    reference: string,
    body: Buffer,
    contentType: string | undefined,
  ): Promise<PutResult> {
    const ref = parseReference(reference, true);
    if (body.byteLength > this.options.maxManifestBytes) throw this.tooLarge();
    const manifest = parseManifest(body, contentType);

    const digest =
      ref.kind === 'digest' ? digestOf(body, parseDigest(ref.digest).algorithm) : digestOf(body, 'sha256');
    if (ref.kind === 'digest' && digest !== ref.digest) {
      throw new RegistryError('DIGEST_INVALID', {
        message: 'the manifest digest does not match the reference',
        detail: { reference: ref.digest, actual: digest },
      });
    }
    const result: PutResult = { digest };
    if (manifest.subject) result.subject = manifest.subject.digest;
    const tag = ref.kind === 'tag' ? ref.tag : undefined;
    const protection = tag === undefined ? undefined : await this.protection(repository);
    const row: NewManifest = {
      digest,
      mediaType: manifest.mediaType,
      size: body.byteLength,
      content: body,
      subject: manifest.subject?.digest ?? null,
      artifactType: manifest.artifactType ?? null,
      annotations: manifest.annotations ? JSON.stringify(manifest.annotations) : null,
      references: [
        ...manifest.blobs.map((d) => ({ digest: d.digest, kind: 'blob' as const })),
        ...manifest.manifests.map((d) => ({ digest: d.digest, kind: 'manifest' as const })),
      ],
    };
    // A manifest the repository already holds (a tag move, a re-push) had its references' sizes checked when
    // it was stored: the same bytes name the same descriptors. Only their presence is checked again.
    const moved: Invalidation | undefined =
      tag === undefined ? undefined : { kind: 'tag-changed', repository, tag };
    // On PostgreSQL the statement that moves the tag also sends the NOTIFY (at its commit): one round trip.
    const { bus } = this.options;
    const notify = moved && bus.shared ? bus.notification?.(moved) : undefined;
    const outcome =
      (await this.reportingMissing(() =>
        this.meta.putStoredManifest(repository, row, tag, protection, notify),
      )) ?? (await this.storeNew(repository, manifest.blobs, manifest.manifests, row, tag, protection));
    if (moved) {
      // Unchanged (the tag was already there): the other processes have nothing to forget and are not told;
      // this one forgets anyway, in case it has not yet heard of another node's move of the tag.
      if (!outcome.tagChanged) this.cache.apply(moved);
      else if (outcome.notified) this.forget(moved);
      else await this.changed(moved);
    }
    if (result.subject && outcome.stored)
      await this.changed({ kind: 'referrers-changed', repository, subject: result.subject });
    const event: PutEvent = { repository, digest, mediaType: manifest.mediaType };
    if (manifest.artifactType !== undefined) event.artifactType = manifest.artifactType;
    if (result.subject) event.subject = result.subject;
    for (const listener of this.putListeners) listener(event);
    return result;
  }

  /** A manifest new to the repository: its references checked, then stored with them. */
  private async storeNew(
    repository: string,
    blobs: Descriptor[],
    manifests: Descriptor[],
    row: NewManifest,
    tag: string | undefined,
    protection: TagGuard | undefined,
  ): Promise<PutOutcome> {
    await this.checkReferences(repository, blobs, manifests);
    return this.reportingMissing(() => this.meta.putManifest(repository, row, tag, protection));
  }

  /** A reference that vanished since the check (garbage collection, a blob delete) reported as unknown. */
  private async reportingMissing<T>(store: () => Promise<T>): Promise<T> {
    try {
      return await store();
    } catch (error) {
      if (error instanceof MissingReference) {
        throw new RegistryError('MANIFEST_BLOB_UNKNOWN', { detail: { digest: error.digest } });
      }
      throw error;
    }
  }

  tooLarge(): RegistryError {
    return new RegistryError('SIZE_INVALID', {
      status: 413,
      message: `manifest larger than ${this.options.maxManifestBytes} bytes`,
      detail: { limit: this.options.maxManifestBytes },
    });
  }

  /** Every blob and child manifest must be in the repository, with the size the descriptor claims. */
  private async checkReferences(
    repository: string,
    blobs: Descriptor[],
    manifests: Descriptor[],
  ): Promise<void> {
    const blobSizes = await this.meta.blobsIn(
      repository,
      blobs.map((d) => d.digest),
    );
    for (const blob of blobs) {
      const size = blobSizes.get(blob.digest);
      if (size === undefined)
        throw new RegistryError('MANIFEST_BLOB_UNKNOWN', { detail: { digest: blob.digest } });
      if (size !== blob.size) throw sizeMismatch(blob, size);
    }
    const children = await this.meta.manifestsIn(
      repository,
      manifests.map((d) => d.digest),
    );
    for (const child of manifests) {
      const found = children.get(child.digest);
      if (!found) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', { detail: { digest: child.digest } });
      if (found.size !== child.size) throw sizeMismatch(child, found.size);
    }
  }

  /** The manifest a GET should answer with, after Accept negotiation. */
  async get(repository: string, reference: string, accept: string | undefined): Promise<ManifestRow> {
    const ref = parseReference(reference, false);
    const row =
      ref.kind === 'tag'
        ? await this.byTag(repository, ref.tag)
        : await this.byDigest(repository, ref.digest);
    if (!row) throw await this.unknown(repository, reference);
    const decision = negotiate(row.mediaType, accept);
    if (decision === 'serve') return row;
    if (decision === 'platform') {
      const child = await this.defaultPlatformChild(repository, row);
      if (child && negotiate(child.mediaType, accept) === 'serve') return child;
    }
    throw new RegistryError('MANIFEST_UNKNOWN', {
      message: `the manifest is a ${row.mediaType}, which the Accept header does not allow`,
      detail: { mediaType: row.mediaType, accept },
    });
  }

  private async byDigest(repository: string, digest: string): Promise<ManifestRow | undefined> {
    const cached = this.cache.manifest(repository, digest);
    if (cached) return cached;
    const snapshot = this.cache.snapshot;
    const row = await this.meta.manifestByDigest(repository, digest);
    if (row) this.cache.rememberManifest(repository, row, snapshot);
    return row;
  }

  private async byTag(repository: string, tag: string): Promise<ManifestRow | undefined> {
    const digest = this.cache.tag(repository, tag);
    const cached = digest === undefined ? undefined : this.cache.manifest(repository, digest);
    if (cached) return cached;
    const snapshot = this.cache.snapshot;
    const row = await this.meta.manifestByTag(repository, tag);
    if (row) {
      this.cache.rememberTag(repository, tag, row.digest, snapshot);
      this.cache.rememberManifest(repository, row, snapshot);
    }
    return row;
  }

  /** Docker's fallback for clients that cannot read a list: the linux/amd64 image of it. */
  private async defaultPlatformChild(
    repository: string,
    index: ManifestRow,
  ): Promise<ManifestRow | undefined> {
    const parsed = parseManifest(index.content, index.mediaType);
    const child = parsed.manifests.find(
      (d) => d.platform?.os === 'linux' && d.platform.architecture === 'amd64',
    );
    return child && this.byDigest(repository, child.digest);
  }

  async delete(repository: string, reference: string): Promise<void> {
    const ref = parseReference(reference, false);
    const protection = await this.protection(repository);
    let deleted: boolean;
    if (ref.kind === 'tag') {
      // A protected tag is never deleted, even one pushed while this request looks.
      const refusal = protection?.(ref.tag);
      if (refusal)
        throw (await this.meta.hasTag(repository, ref.tag))
          ? refusal
          : await this.unknown(repository, reference);
      deleted = await this.meta.deleteTag(repository, ref.tag);
      await this.changed({ kind: 'tag-changed', repository, tag: ref.tag });
    } else {
      const digest = ref.digest;
      deleted = await this.meta.deleteManifest(
        repository,
        digest,
        protection && ((tag) => protection(tag, digest)),
      );
      await this.changed({ kind: 'manifest-deleted', repository, digest });
    }
    if (!deleted) throw await this.unknown(repository, reference);
  }

  private protection(repository: string) {
    return this.options.policy?.tagProtection?.(repository);
  }

  /**
   * Forgets what a committed write changed, here and (when the database is shared) on the other processes.
   * Garbage collection and retention call it too, for what they delete.
   */
  async changed(event: Invalidation): Promise<void> {
    await this.changedAll([event]);
  }

  /** Several committed changes at once (a collector's batch): told to the other processes in one message. */
  async changedAll(events: Invalidation[]): Promise<void> {
    for (const event of events) {
      this.cache.apply(event);
      for (const listener of this.listeners) listener(event);
    }
    if (this.options.bus.shared && events.length > 0) await this.options.bus.publishAll(events);
  }

  /** A committed change the other processes were already told of: forgotten here, and told to listeners. */
  private forget(event: Invalidation): void {
    this.cache.apply(event);
    for (const listener of this.listeners) listener(event);
  }

  /**
   * Tags in lexical order after `last`; served from the cached whole list when the repository is not huge.
   * Otherwise each page is one index range scan of `limit` rows from `last`: the cost of a page does not grow
   * with the number of tags (a repository over the cap is read whole once, then remembered as too large).
   */
  async tags(repository: string, limit: number, last?: string): Promise<string[]> {
    let all = this.cache.tagList(repository);
    if (!all) {
      if (!this.cache.keepsTagLists || this.cache.tagListTooLarge(repository)) {
        const page = await this.meta.listTags(repository, limit, last);
        if (page === undefined) throw new RegistryError('NAME_UNKNOWN', { detail: { name: repository } });
        return page;
      }
      const snapshot = this.cache.snapshot;
      const listed = await this.meta.listTags(repository, CACHED_TAG_LIST_MAX + 1);
      if (listed === undefined) throw new RegistryError('NAME_UNKNOWN', { detail: { name: repository } });
      if (listed.length > CACHED_TAG_LIST_MAX) {
        this.cache.rememberTagListTooLarge(repository);
        const page = await this.meta.listTags(repository, limit, last);
        return page ?? [];
      }
      this.cache.rememberTagList(repository, listed, snapshot);
      all = listed;
    }
    const start = last === undefined ? 0 : firstAfter(all, last);
    return all.slice(start, start + limit);
  }

  /** distribution-spec v1.1 "Listing Referrers": an image index of the manifests whose subject is `digest`. */
  async referrers(repository: string, digest: string, artifactType?: string): Promise<object> {
    const subject = parseDigest(digest).value;
    const rows = await this.meta.referrers(repository, subject, artifactType);
    return {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: rows.map((row) => {
        const descriptor: Descriptor = { mediaType: row.mediaType, digest: row.digest, size: row.size };
        if (row.artifactType !== null) descriptor.artifactType = row.artifactType;
        if (row.annotations !== null) descriptor.annotations = JSON.parse(row.annotations);
        return descriptor;
      }),
    };
  }

  private async unknown(repository: string, reference: string): Promise<RegistryError> {
    if ((await this.meta.repositoryId(repository)) === undefined) {
      return new RegistryError('NAME_UNKNOWN', { detail: { name: repository } });
    }
    return new RegistryError('MANIFEST_UNKNOWN', {
      detail: tryParseDigest(reference) ? { digest: reference } : { tag: reference },
    });
  }
}

/**
 * With other processes on the database, how long a cached tag or manifest is kept at most: the bound for a
 * change whose announcement was lost (its writer died between commit and NOTIFY). Announced changes are seen
 * within milliseconds.
 */
const SHARED_MAX_STALE_MS = 30_000;

/** Repositories with more tags than this are paged by the database instead of from a cached list. */
const CACHED_TAG_LIST_MAX = 50_000;

/** Index of the first entry greater than `last` in a sorted list (binary search). */
function firstAfter(sorted: string[], last: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((sorted[mid] as string) <= last) low = mid + 1;
    else high = mid;
  }
  return low;
}

function sizeMismatch(descriptor: Descriptor, actual: number): RegistryError {
  return new RegistryError('MANIFEST_INVALID', {
    message: `descriptor size ${descriptor.size} does not match the stored size ${actual}`,
    detail: { digest: descriptor.digest, size: descriptor.size, stored: actual },
  });
}
