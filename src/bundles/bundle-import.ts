import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Header, extract as tarExtract } from 'tar-stream';
import { hashingReader } from '../migration/index.js';
import { digestOf, parseDigest } from '../registry/index.js';
import { type RegistryClient, RemoteRegistryError } from '../replication/index.js';
import {
  type BundleEntry,
  BundleError,
  type BundleManifest,
  blobEntryName,
  digestOfEntryName,
  INDEX_ENTRY,
  LAYOUT_ENTRY,
  MANIFEST_ENTRY,
  parseBundleManifest,
} from './bundle-format.js';

/** One entry of the tar, as tar-stream hands it over: its bytes must be read to the end before the next. */
type TarEntry = AsyncIterable<Buffer> & { header: Header };

export interface BundleImportSummary {
  tags: number;
  manifests: number;
  blobs: { uploaded: number; present: number; bytes: number };
  durationMs: number;
}

/** Bounds what is held in memory: the digest manifest, and each manifest until all blobs are in. */
const MAX_JSON_BYTES = 64 * 1024 * 1024;
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * Imports a bundle into a registry over the Distribution API, all or nothing as far as anyone can see:
 *
 * 1. Streams the tar once. Every blob entry must be listed in berth-bundle.json with its size; each is hashed
 *    as it streams, and uploaded (the registry checks the digest too) unless the target already holds it, which
 *    makes a second run resume where a failed one stopped. Manifests are kept aside, verified.
 * 2. Only when every listed entry has arrived intact: puts the manifests (children and subjects first), then
 *    the tags. A truncated or altered bundle fails in step 1, naming the entry, before any manifest or tag
 *    exists; the blobs it did upload are invisible without a manifest, and garbage collection removes them.
 */
export async function importBundle(
  file: string,
  client: RegistryClient,
  progress: (line: string) => void = () => {},
): Promise<BundleImportSummary> {
  const started = Date.now();
  const summary: BundleImportSummary = {
    tags: 0,
    manifests: 0,
    blobs: { uploaded: 0, present: 0, bytes: 0 },
    durationMs: 0,
  };
  const { bundle, manifests } = await streamBlobs(file, client, summary, progress);
  for (const entry of bundle.entries) {
    if (entry.kind !== 'manifest') continue;
    const bytes = manifests.get(entry.digest) as Buffer;
    for (const repository of entry.repositories) {
      await client.putManifest(repository, entry.digest, { bytes, mediaType: entry.mediaType as string });
    }
    summary.manifests++;
  }
  progress(`${summary.manifests} manifests in`);
  for (const tag of bundle.tags) {
    const entry = bundle.entries.find((e) => e.digest === tag.digest && e.kind === 'manifest');
    const bytes = manifests.get(tag.digest) as Buffer;
    await client.putManifest(tag.repository, tag.tag, { bytes, mediaType: entry?.mediaType as string });
    summary.tags++;
  }
  progress(`${summary.tags} tags in`);
  summary.durationMs = Date.now() - started;
  return summary;
}

async function streamBlobs(
  file: string,
  client: RegistryClient,
  summary: BundleImportSummary,
  progress: (line: string) => void,
): Promise<{ bundle: BundleManifest; manifests: Map<string, Buffer> }> {
  const extract = tarExtract();
  let archiveError: Error | undefined;
  const reading = pipeline(createReadStream(file), extract).catch((error: Error) => {
    archiveError = error;
  });
  let bundle: BundleManifest | undefined;
  let listed = new Map<string, BundleEntry>();
  const manifests = new Map<string, Buffer>();
  const seen = new Set<string>();
  let current = '(the start of the archive)';
  let blobCount = 0;
  try {
    for await (const raw of extract) {
      const entry = raw as unknown as TarEntry;
      const name = entry.header.name;
      current = name;
      if (name === LAYOUT_ENTRY || name === INDEX_ENTRY) {
        const bytes = await readAll(entry, MAX_JSON_BYTES, name);
        try {
          JSON.parse(bytes.toString('utf8'));
        } catch {
          throw new BundleError(name, 'not valid JSON');
        }
        continue;
      }
      if (name === MANIFEST_ENTRY) {
        bundle = parseBundleManifest(await readAll(entry, MAX_JSON_BYTES, name));
        listed = new Map(bundle.entries.map((e) => [e.digest, e]));
        blobCount = bundle.entries.filter((e) => e.kind === 'blob').length;
        continue;
      }
      const digest = digestOfEntryName(name);
      if (!digest) throw new BundleError(name, 'unexpected entry: not part of a bundle');
      if (!bundle) throw new BundleError(name, `comes before ${MANIFEST_ENTRY}: not a Berth bundle`);
      const listing = listed.get(digest);
      if (!listing) throw new BundleError(name, `not listed in ${MANIFEST_ENTRY}`);
      if (entry.header.size !== listing.size) {
        throw new BundleError(name, `${entry.header.size} bytes, listed as ${listing.size}`);
      }
      if (listing.kind === 'manifest') {
        const bytes = await readAll(entry, MAX_MANIFEST_BYTES, name);
        const actual = digestOf(bytes, parseDigest(digest).algorithm);
        if (actual !== digest)
          throw new BundleError(name, `the bytes hash to ${actual}: the bundle was altered`);
        manifests.set(digest, bytes);
      } else {
        await putBlob(client, listing, name, entry, summary);
        progress(
          `blob ${summary.blobs.uploaded + summary.blobs.present}/${blobCount} ${digest} (${listing.size} bytes)`,
        );
      }
      seen.add(digest);
    }
    await reading;
  } catch (error) {
    await reading;
    if (error instanceof BundleError) throw error;
    if (archiveError || !(error instanceof RemoteRegistryError)) {
      throw new BundleError(
        current,
        `unreadable (${(archiveError ?? (error as Error)).message}): the bundle is truncated or damaged`,
      );
    }
    throw error;
  }
  if (archiveError) throw new BundleError(current, `unreadable (${archiveError.message})`);
  if (!bundle) throw new BundleError(MANIFEST_ENTRY, 'missing: not a Berth bundle');
  for (const entry of bundle.entries) {
    if (!seen.has(entry.digest)) {
      throw new BundleError(blobEntryName(entry.digest), 'missing: the bundle is truncated');
    }
  }
  return { bundle, manifests };
}

/** Uploads one blob entry into its first repository (unless there already) and mounts it into the others. */
async function putBlob(
  client: RegistryClient,
  listing: BundleEntry,
  name: string,
  entry: AsyncIterable<Uint8Array>,
  summary: BundleImportSummary,
): Promise<void> {
  const { digest, size } = listing;
  const [first, ...others] = listing.repositories as [string, ...string[]];
  const reader = hashingReader(entry, parseDigest(digest).algorithm);
  const altered = () =>
    new BundleError(name, `the bytes hash to ${reader.digest()}, not ${digest}: the bundle was altered`);
  const present = await client.headBlob(first, digest);
  if (present?.size === size) {
    // Already there (a resumed import): still read and check it, so a damaged bundle is never half trusted.
    for await (const _ of reader);
    if (reader.digest() !== digest) throw altered();
    summary.blobs.present++;
  } else {
    let opened = false;
    try {
      await client.pushBlob(first, { digest, size }, async () => {
        if (opened) throw new Error('a bundle entry can be read once; run the import again to resume');
        opened = true;
        return Readable.from(reader);
      });
    } catch (error) {
      if (reader.bytes() === size && reader.digest() !== digest) throw altered();
      if (error instanceof RemoteRegistryError && error.code === 'DIGEST_INVALID') throw altered();
      throw error;
    }
    if (reader.digest() !== digest) throw altered();
    summary.blobs.uploaded++;
    summary.blobs.bytes += size;
  }
  for (const repository of others) {
    if ((await client.headBlob(repository, digest))?.size === size) continue;
    await client.pushBlob(
      repository,
      { digest, size },
      async () => {
        throw new Error(`${repository} could not mount ${digest} from ${first}`);
      },
      { mountFrom: first },
    );
  }
}

async function readAll(entry: AsyncIterable<Uint8Array>, limit: number, name: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of entry) {
    length += chunk.byteLength;
    if (length > limit) throw new BundleError(name, `larger than ${limit} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
