import type { Kysely } from 'kysely';
import type { Database } from '../metadata/index.js';
import { parseDigest, type Registry, RegistryError } from '../registry/index.js';
import { type ArtifactRow, CatalogStore, type RepositorySummary } from './catalog-store.js';

/** A config blob is shown when it is at most this big (an image config is a few KiB). */
const MAX_CONFIG_BYTES = 1024 * 1024;

export interface ArtifactSummary {
  digest: string;
  mediaType: string;
  artifactType: string | null;
  tags: string[];
  /** The manifest, its blobs, and for an index its children and theirs: what a pull of everything moves. */
  size: number;
  /** `os/architecture[/variant]` of an index's children (attestation entries left out). */
  platforms: string[];
  pushedAt: number;
  lastPulledAt: number | null;
}

export interface ArtifactDetail {
  repository: string;
  digest: string;
  mediaType: string;
  /** The manifest as stored, parsed. */
  manifest: unknown;
  /** The image config, parsed; null for an index, an artifact without a JSON config, or a config over 1 MiB. */
  config: unknown;
  layers: { digest: string; mediaType: string; size: number }[];
  referrers: { digest: string; mediaType: string; artifactType: string | null; size: number }[];
}

interface Descriptor {
  digest?: unknown;
  mediaType?: unknown;
  size?: unknown;
  platform?: { os?: unknown; architecture?: unknown; variant?: unknown };
}

function parseJson(content: Buffer): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(content.toString('utf8'));
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const descriptors = (value: unknown): Descriptor[] =>
  Array.isArray(value) ? value.filter((d): d is Descriptor => d !== null && typeof d === 'object') : [];

function platformsOf(manifest: Record<string, unknown>): string[] {
  const platforms = new Set<string>();
  for (const child of descriptors(manifest.manifests)) {
    const { os, architecture, variant } = child.platform ?? {};
    if (typeof os !== 'string' || typeof architecture !== 'string' || os === 'unknown') continue;
    platforms.add([os, architecture, typeof variant === 'string' ? variant : ''].filter(Boolean).join('/'));
  }
  return [...platforms];
}

function encodeKey(row: { pushedAt: number; digest: string }): string {
  return Buffer.from(`${row.pushedAt}:${row.digest}`).toString('base64url');
}

function decodeKey(cursor: string): { pushedAt: number; digest: string } {
  const text = /^[A-Za-z0-9_-]{1,400}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString() : '';
  const match = /^(\d{1,16}):(.+)$/.exec(text);
  if (!match) throw new RegistryError('INVALID_REQUEST', { message: 'invalid cursor', detail: { cursor } });
  return { pushedAt: Number(match[1]), digest: match[2] as string };
}

/**
 * What the console browses: a project's repositories, a repository's artifacts with tags, sizes and platforms,
 * and one artifact's manifest, config, layers and referrers. Reads only; no HTTP in here.
 */
export class Catalog {
  readonly #store: CatalogStore;

  constructor(
    db: Kysely<Database>,
    private readonly registry: Registry,
  ) {
    this.#store = new CatalogStore(db);
  }

  async repositories(
    project: string,
    page: { limit: number; cursor?: string; search?: string },
  ): Promise<{ items: RepositorySummary[]; total: number; next?: string }> {
    const after = page.cursor === undefined ? undefined : Buffer.from(page.cursor, 'base64url').toString();
    const found = await this.#store.repositories(project, {
      limit: page.limit + 1,
      ...(after !== undefined && { after }),
      ...(page.search && { search: page.search }),
    });
    const items = found.items.slice(0, page.limit);
    const last = items[items.length - 1];
    const more = found.items.length > page.limit && last !== undefined;
    return {
      items,
      total: found.total,
      ...(more && { next: Buffer.from(last.name).toString('base64url') }),
    };
  }

  async artifacts(
    repository: string,
    page: { limit: number; cursor?: string },
  ): Promise<{ items: ArtifactSummary[]; next?: string }> {
    const id = await this.#store.repositoryId(repository);
    if (id === undefined) throw new RegistryError('NAME_UNKNOWN', { detail: { name: repository } });
    const rows = await this.#store.artifacts(id, {
      limit: page.limit + 1,
      ...(page.cursor !== undefined && { after: decodeKey(page.cursor) }),
    });
    const shown = rows.slice(0, page.limit);
    const digests = shown.map((row) => row.digest);
    const tags = await this.#store.tagsOf(id, digests);
    const sizes = await this.#sizes(id, shown);
    const items = shown.map((row) => ({
      digest: row.digest,
      mediaType: row.mediaType,
      artifactType: row.artifactType,
      tags: tags.get(row.digest) ?? [],
      size: sizes.get(row.digest) ?? row.manifestSize,
      platforms: platformsOf(parseJson(row.content)),
      pushedAt: row.pushedAt,
      lastPulledAt: row.lastPulledAt,
    }));
    const last = shown[shown.length - 1];
    return rows.length > page.limit && last ? { items, next: encodeKey(last) } : { items };
  }

  async detail(repository: string, reference: string): Promise<ArtifactDetail> {
    const row = await this.registry.manifests.get(repository, reference, undefined);
    const manifest = parseJson(row.content);
    const configDescriptor = descriptors([manifest.config])[0];
    let config: unknown = null;
    if (
      configDescriptor &&
      typeof configDescriptor.digest === 'string' &&
      typeof configDescriptor.size === 'number' &&
      configDescriptor.size <= MAX_CONFIG_BYTES &&
      String(configDescriptor.mediaType).endsWith('json')
    ) {
      config = await this.#readJson(configDescriptor.digest);
    }
    const layers = descriptors(manifest.layers ?? manifest.manifests ?? manifest.blobs).map((d) => ({
      digest: String(d.digest),
      mediaType: String(d.mediaType ?? ''),
      size: typeof d.size === 'number' ? d.size : 0,
    }));
    const referrers = (await this.registry.meta.referrers(repository, row.digest)).map((r) => ({
      digest: r.digest,
      mediaType: r.mediaType,
      artifactType: r.artifactType,
      size: r.size,
    }));
    return { repository, digest: row.digest, mediaType: row.mediaType, manifest, config, layers, referrers };
  }

  /** Sizes of top-level artifacts: each manifest, its blobs, and an index's children with their blobs. */
  async #sizes(repositoryId: number, rows: ArtifactRow[]): Promise<Map<string, number>> {
    const sizes = new Map(rows.map((row) => [row.digest, row.manifestSize]));
    const direct = await this.#store.references(
      repositoryId,
      rows.map((row) => row.digest),
    );
    const parentOf = new Map<string, string[]>();
    for (const ref of direct) {
      sizes.set(ref.manifest, (sizes.get(ref.manifest) ?? 0) + ref.size);
      if (ref.kind === 'manifest')
        parentOf.set(ref.child, [...(parentOf.get(ref.child) ?? []), ref.manifest]);
    }
    const nested = await this.#store.references(repositoryId, [...parentOf.keys()]);
    for (const ref of nested) {
      if (ref.kind !== 'blob') continue;
      for (const parent of parentOf.get(ref.manifest) ?? [])
        sizes.set(parent, (sizes.get(parent) ?? 0) + ref.size);
    }
    return sizes;
  }

  async #readJson(digest: string): Promise<unknown> {
    const stream = await this.registry.blobs.open(parseDigest(digest));
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > MAX_CONFIG_BYTES) {
        stream.destroy();
        return null;
      }
      chunks.push(chunk);
    }
    const parsed = parseJson(Buffer.concat(chunks));
    return Object.keys(parsed).length > 0 ? parsed : null;
  }
}
