// An SBOM packaged as an OCI artifact that refers to its image (image-spec v1.1 manifest.md, "Guidelines for
// Artifact Usage"): an image manifest whose artifactType is the SBOM's media type, whose config is the empty
// descriptor, whose one layer is the SBOM, and whose subject is the image. `oras discover --artifact-type
// application/spdx+json` and the referrers API list it by that artifactType.
import { digestOf, isDigest, MediaType } from '../../registry/index.js';
import { SbomInputError, timestamp } from './image-identity.js';
import { SbomMediaType } from './media-types.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** image-spec manifest.md: the empty JSON object `{}` as config, two bytes, this digest. */
export const EMPTY_CONFIG: Descriptor & { data: string } = {
  mediaType: MediaType.OciEmpty,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
  data: 'e30=',
};
const EMPTY_CONFIG_BYTES = Buffer.from('{}');

export const SBOM_GENERATOR_ANNOTATION = 'dev.berth.sbom.generator';

export interface SbomReferrer {
  /** The artifact manifest's exact bytes; store and digest these. */
  manifest: Buffer;
  mediaType: typeof MediaType.OciManifest;
  digest: string;
  /** Every blob the manifest names (the empty config and the SBOM), to push before the manifest. */
  blobs: { digest: string; mediaType: string; bytes: Buffer }[];
}

export interface SbomReferrerInput {
  sbom: Buffer;
  mediaType: SbomMediaType;
  /** The image the SBOM describes, as its manifest is stored. */
  subject: Descriptor;
  created: Date;
  /** `berth-0.1.0`. */
  generator: string;
}

export function buildSbomReferrer(input: SbomReferrerInput): SbomReferrer {
  const { subject } = input;
  if (!Object.values(SbomMediaType).includes(input.mediaType)) {
    throw new SbomInputError(`not an SBOM media type: ${input.mediaType}`);
  }
  if (!isDigest(subject.digest) || !Number.isSafeInteger(subject.size) || subject.size < 0) {
    throw new SbomInputError(`invalid subject descriptor: ${JSON.stringify(subject)}`);
  }
  if (subject.mediaType !== MediaType.OciManifest && subject.mediaType !== MediaType.DockerManifest) {
    throw new SbomInputError(`the subject must be an image manifest, not ${subject.mediaType}`);
  }
  const sbomDigest = digestOf(input.sbom);
  const extension = input.mediaType === SbomMediaType.Spdx ? 'spdx.json' : 'cdx.json';
  const created = timestamp(input.created);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: input.mediaType,
    config: EMPTY_CONFIG,
    layers: [
      {
        mediaType: input.mediaType,
        digest: sbomDigest,
        size: input.sbom.length,
        annotations: { 'org.opencontainers.image.title': `sbom.${extension}` },
      },
    ],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: {
      'org.opencontainers.image.created': created,
      [SBOM_GENERATOR_ANNOTATION]: input.generator,
    },
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return {
    manifest: bytes,
    mediaType: MediaType.OciManifest,
    digest: digestOf(bytes),
    blobs: [
      { digest: EMPTY_CONFIG.digest, mediaType: EMPTY_CONFIG.mediaType, bytes: EMPTY_CONFIG_BYTES },
      { digest: sbomDigest, mediaType: input.mediaType, bytes: input.sbom },
    ],
  };
}
