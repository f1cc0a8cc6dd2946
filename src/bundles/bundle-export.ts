import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { type Pack, pack as tarPack } from 'tar-stream';
import { parseManifest } from '../registry/index.js';
import type { Manifest, RegistryClient } from '../replication/index.js';
import {
  BUNDLE_VERSION,
  type BundleEntry,
  type BundleManifest,
  type BundleTag,
  blobEntryName,
  INDEX_ENTRY,
  LAYOUT_ENTRY,
  MANIFEST_ENTRY,
  REF_NAME,
} from './bundle-format.js';

export interface ExportSummary {
  tags: number;
  manifests: number;
  blobs: number;
  bytes: number;
  durationMs: number;
}

/** `REPO:TAG`, `REPO@DIGEST`, or `REPO` for all its tags. */
export interface ExportReference {
  repository: string;
  reference?: string;
}

export function parseExportReference(text: string): ExportReference {
  const at = text.indexOf('@');
  if (at > 0) return { repository: text.slice(0, at), reference: text.slice(at + 1) };
  const colon = text.lastIndexOf(':');
  if (colon > text.lastIndexOf('/'))
    return { repository: text.slice(0, colon), reference: text.slice(colon + 1) };
  return { repository: text };
}

/**
 * Writes the artifacts named by `refs` (each image or index with its child manifests, blobs and referrers:
 * signatures, SBOMs, attestations, and their referrers in turn) as one bundle tar at `out`, reading them from a
 * registry over the Distribution API. Blobs stream from the registry into the tar, verified on the way; the tar
 * is written next to `out` and renamed into place once complete.
 */
export async function exportBundle(
  client: RegistryClient,
  refs: ExportReference[],
  out: string,
  progress: (line: string) => void = () => {},
): Promise<ExportSummary> {
  const started = Date.now();
  const collector = new Collector(client);
  for (const ref of refs) {
    if (ref.reference !== undefined) await collector.add(ref.repository, ref.reference);
    else for await (const tag of client.tags(ref.repository)) await collector.add(ref.repository, tag);
  }
  const manifests = [...collector.manifests.values()];
  const blobs = [...collector.blobs.values()];
  const bundle: BundleManifest = {
    version: BUNDLE_VERSION,
    created: new Date().toISOString(),
    source: client.toString(),
    tags: collector.tags,
    entries: [...manifests.map(({ bytes: _, ...entry }) => entry), ...blobs],
  };
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: collector.named.map(({ name, digest }) => {
      const entry = collector.manifests.get(digest) as BundleEntry;
      return { mediaType: entry.mediaType, digest, size: entry.size, annotations: { [REF_NAME]: name } };
    }),
  };

  const partial = `${out}.partial`;
  const pack = tarPack();
  const written = pipeline(pack, createWriteStream(partial));
  let bytes = 0;
  try {
    await addFile(pack, LAYOUT_ENTRY, Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    await addFile(pack, MANIFEST_ENTRY, Buffer.from(JSON.stringify(bundle, null, 1)));
    await addFile(pack, INDEX_ENTRY, Buffer.from(JSON.stringify(index)));
    for (const manifest of manifests) await addFile(pack, blobEntryName(manifest.digest), manifest.bytes);
    for (const [i, blob] of blobs.entries()) {
      progress(`blob ${i + 1}/${blobs.length} ${blob.digest} (${blob.size} bytes)`);
      const source = await client.getBlob(blob.repositories[0] as string, blob);
      await new Promise<void>((resolve, reject) => {
        const entry = pack.entry(
          { name: blobEntryName(blob.digest), size: blob.size, mode: 0o644 },
          (error) => (error ? reject(error) : resolve()),
        );
        pipeline(source, entry).catch(reject);
      });
      bytes += blob.size;
    }
    pack.finalize();
    await written;
    await rename(partial, out);
  } catch (error) {
    pack.destroy(error as Error);
    await written.catch(() => {});
    await rm(partial, { force: true });
    throw error;
  }
  return {
    tags: collector.tags.length,
    manifests: manifests.length,
    blobs: blobs.length,
    bytes,
    durationMs: Date.now() - started,
  };
}

function addFile(pack: Pack, name: string, content: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ name, size: content.byteLength, mode: 0o644 }, content, (error) =>
      error ? reject(error) : resolve(),
    );
  });
}

/** Walks what the references reach, recording each manifest after its children and before its referrers. */
class Collector {
  readonly manifests = new Map<string, BundleEntry & { bytes: Buffer }>();
  readonly blobs = new Map<string, BundleEntry>();
  readonly tags: BundleTag[] = [];
  /** index.json's entries: `REPO:TAG` or `REPO@DIGEST`. */
  readonly named: { name: string; digest: string }[] = [];
  private readonly visited = new Set<string>();

  constructor(private readonly client: RegistryClient) {}

  async add(repository: string, reference: string): Promise<void> {
    const manifest = await this.fetch(repository, reference);
    const isDigest = reference.includes(':');
    if (!isDigest) this.tags.push({ repository, tag: reference, digest: manifest.digest });
    this.named.push({ name: `${repository}${isDigest ? '@' : ':'}${reference}`, digest: manifest.digest });
    await this.walk(repository, manifest);
  }

  private async fetch(repository: string, reference: string): Promise<Manifest> {
    const manifest = await this.client.getManifest(repository, reference);
    if (!manifest) throw new Error(`${repository}:${reference}: no such manifest on ${this.client}`);
    return manifest;
  }

  private async walk(repository: string, manifest: Manifest): Promise<void> {
    const key = `${repository}@${manifest.digest}`;
    if (this.visited.has(key)) return;
    this.visited.add(key);
    const parsed = parseManifest(manifest.bytes, manifest.mediaType);
    for (const child of parsed.manifests)
      await this.walk(repository, await this.fetch(repository, child.digest));
    for (const blob of parsed.blobs) {
      const entry = this.blobs.get(blob.digest);
      if (!entry)
        this.blobs.set(blob.digest, {
          digest: blob.digest,
          size: blob.size,
          kind: 'blob',
          repositories: [repository],
        });
      else if (!entry.repositories.includes(repository)) entry.repositories.push(repository);
    }
    const entry = this.manifests.get(manifest.digest);
    if (!entry) {
      this.manifests.set(manifest.digest, {
        digest: manifest.digest,
        size: manifest.bytes.byteLength,
        kind: 'manifest',
        mediaType: manifest.mediaType,
        repositories: [repository],
        bytes: manifest.bytes,
      });
    } else entry.repositories.push(repository);
    const { manifests: referrers } = await this.client.referrers(repository, manifest.digest);
    for (const referrer of referrers)
      await this.walk(repository, await this.fetch(repository, referrer.digest));
  }
}
