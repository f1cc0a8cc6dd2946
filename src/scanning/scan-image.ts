import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { Registry } from '../registry/index.js';
import { digestOf, parseDigest, RegistryError } from '../registry/index.js';
import type { ScanEngines } from './engines.js';
import { bySeverity, type SeveritySummary, summarize } from './severity.js';
import type { Finding, Inventory } from './types.js';

/** The image config is read whole (it is JSON that the manifest's descriptor sizes); past this it is refused. */
const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

/** An SBOM written as a referrer of the image. */
export interface StoredSbom {
  mediaType: string;
  /** The referrer manifest's digest. */
  digest: string;
}

export interface ImageScan {
  inventory: Inventory;
  findings: Finding[];
  summary: SeveritySummary;
  dbVersion: number | null;
  sboms: StoredSbom[];
  /** Problems storing the SBOMs (a full quota, say); the scan itself still counts. */
  sbomProblems: string[];
}

interface ImageManifest {
  config: { digest: string; size: number };
  layers: { digest: string; mediaType: string; size: number }[];
}

function parseImage(content: Buffer): ImageManifest {
  const json = JSON.parse(content.toString('utf8')) as Partial<ImageManifest>;
  if (!json.config || !Array.isArray(json.layers)) {
    throw new Error('the manifest is not an image manifest (no config or layers)');
  }
  return json as ImageManifest;
}

/**
 * Inventories one image of a repository, matches it against the vulnerability database and stores its SBOMs
 * as referrers. Throws when the image cannot be read at all; an image that can be read but not fully analyzed
 * yields an incomplete inventory, which the report shows.
 */
export async function scanImage(
  registry: Registry,
  engines: ScanEngines,
  repository: string,
  digest: string,
  previousSboms: readonly StoredSbom[] = [],
): Promise<ImageScan> {
  const manifest = await registry.meta.manifestByDigest(repository, digest);
  if (!manifest) throw new Error('the manifest no longer exists');
  const image = parseImage(manifest.content);
  if (image.config.size > MAX_CONFIG_BYTES) {
    throw new Error(`the image config is ${image.config.size} bytes, over the ${MAX_CONFIG_BYTES} read`);
  }
  const config = await buffer(await registry.blobs.open(parseDigest(image.config.digest)));
  const inventory = await engines.inventory({
    subject: digest,
    config,
    layers: image.layers.map((layer) => ({
      digest: layer.digest,
      mediaType: layer.mediaType,
      size: layer.size,
    })),
    openLayer: (layer) => registry.blobs.open(parseDigest(layer)),
  });
  const database = await engines.vulnerabilities.info();
  const findings = database
    ? (await engines.vulnerabilities.match(inventory.packages, inventory.facts.os)).sort(bySeverity)
    : [];

  const sboms: StoredSbom[] = [];
  const sbomProblems: string[] = [];
  const created = new Date();
  const subject = { mediaType: manifest.mediaType, digest, size: manifest.size };
  for (const attachment of engines.sboms(inventory, { repository, digest, created })) {
    try {
      const artifact = engines.referrer(attachment, subject, created);
      sboms.push({
        mediaType: attachment.mediaType,
        digest: await storeArtifact(registry, repository, artifact),
      });
    } catch (error) {
      sbomProblems.push(`could not store the ${attachment.mediaType} SBOM: ${(error as Error).message}`);
    }
  }
  // An SBOM of an earlier scan that this one replaced is deleted (its blobs go with the next collection).
  for (const old of previousSboms) {
    if (sboms.some((sbom) => sbom.digest === old.digest)) continue;
    await registry.manifests.delete(repository, old.digest).catch(() => undefined);
  }
  return {
    inventory,
    findings,
    summary: summarize(findings),
    dbVersion: database?.version ?? null,
    sboms,
    sbomProblems,
  };
}

/** Pushes a referrer artifact's blobs (skipping those present) and manifest; resolves to its digest. */
async function storeArtifact(
  registry: Registry,
  repository: string,
  artifact: { manifest: Buffer; blobs: { digest: string; bytes: Buffer }[] },
): Promise<string> {
  for (const blob of artifact.blobs) {
    const digest = parseDigest(blob.digest);
    const present = await registry.blobs.stat(repository, digest).then(
      () => true,
      (error: unknown) => {
        if (error instanceof RegistryError && error.code === 'BLOB_UNKNOWN') return false;
        throw error;
      },
    );
    if (present) continue;
    await registry.uploads.uploadWhole(repository, digest, {
      body: Readable.from([blob.bytes]),
      length: blob.bytes.byteLength,
    });
  }
  const result = await registry.manifests.put(
    repository,
    // By digest: an SBOM referrer needs no tag (the referrers API finds it).
    digestOf(artifact.manifest, 'sha256'),
    artifact.manifest,
    'application/vnd.oci.image.manifest.v1+json',
  );
  return result.digest;
}
