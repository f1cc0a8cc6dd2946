import type { MetadataStore } from '../metadata/index.js';
import { blobKey, parseDigest, RegistryError } from '../registry/index.js';
import type { BlobStore } from '../storage/index.js';
import type { SignatureArtifact, SignatureSource } from './signature-source.js';

/** At most this many referrers of one artifact are looked at (signatures, SBOMs, attestations…). */
export const MAX_REFERRERS = 100;

/** cosign's tag scheme: `sha256:abc…` is signed under the tag `sha256-abc….sig`. */
export function signatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

/** The subject digest a cosign `sha256-<hex>.sig|.att|.sbom` tag names, or undefined for any other tag. */
export function subjectOfTag(tag: string): string | undefined {
  const match = /^(sha256|sha512)-([0-9a-f]{64,128})\.(sig|att|sbom)$/.exec(tag);
  return match ? `${match[1]}:${match[2]}` : undefined;
}

/**
 * Signatures as the registry holds them, read straight from metadata and blob storage (no HTTP): the
 * verifiers see only what the repository itself holds.
 */
export class RegistrySignatureSource implements SignatureSource {
  constructor(
    private readonly meta: MetadataStore,
    private readonly store: BlobStore,
  ) {}

  async taggedSignature(repository: string, digest: string): Promise<SignatureArtifact | undefined> {
    const row = await this.meta.manifestByTag(repository, signatureTag(digest));
    return row && { digest: row.digest, mediaType: row.mediaType, content: row.content };
  }

  async referrers(repository: string, digest: string): Promise<SignatureArtifact[]> {
    const rows = (await this.meta.referrers(repository, digest)).slice(0, MAX_REFERRERS);
    const found: SignatureArtifact[] = [];
    for (const referrer of rows) {
      const row = await this.meta.manifestByDigest(repository, referrer.digest);
      if (!row) continue;
      found.push({
        digest: row.digest,
        mediaType: row.mediaType,
        ...(referrer.artifactType !== null && { artifactType: referrer.artifactType }),
        content: row.content,
      });
    }
    return found;
  }

  async readBlob(repository: string, digest: string, maxBytes: number): Promise<Uint8Array> {
    const parsed = parseDigest(digest);
    const size = await this.meta.linkedBlobSize(repository, parsed.value);
    if (size === undefined) throw new RegistryError('BLOB_UNKNOWN', { detail: { digest } });
    if (size > maxBytes) throw new Error(`blob ${digest} is ${size} bytes, more than ${maxBytes}`);
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of await this.store.read(blobKey(parsed))) {
      total += (chunk as Buffer).length;
      if (total > maxBytes) throw new Error(`blob ${digest} is more than ${maxBytes} bytes`);
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }
}
