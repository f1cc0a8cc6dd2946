import { MediaType } from '../registry/index.js';

/** Config media types of runnable images; anything else with a config (an artifact) is not scanned. */
const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);

const IMAGE_MANIFEST_TYPES: ReadonlySet<string> = new Set([MediaType.OciManifest, MediaType.DockerManifest]);

/**
 * Whether a stored manifest is an image the scanner should inventory: an image manifest whose config is an
 * image config, and not a referrer (signatures and SBOMs have a subject). Indexes are judged through their
 * children, which clients pull by digest (and which are pushed, and scanned, on their own).
 */
export function isScannableImage(manifest: {
  mediaType: string;
  artifactType?: string | null | undefined;
  subject?: string | null | undefined;
}): boolean {
  if (!IMAGE_MANIFEST_TYPES.has(manifest.mediaType)) return false;
  if (manifest.subject) return false;
  return manifest.artifactType === undefined || manifest.artifactType === null
    ? false
    : IMAGE_CONFIG_TYPES.has(manifest.artifactType);
}

/** A stored manifest's type, artifact type and subject, read from its bytes (the row carries only those). */
export function describeStored(manifest: { mediaType: string; content: Buffer }): {
  mediaType: string;
  artifactType?: string;
  subject?: string;
} {
  const out: { mediaType: string; artifactType?: string; subject?: string } = {
    mediaType: manifest.mediaType,
  };
  try {
    const json = JSON.parse(manifest.content.toString('utf8')) as {
      artifactType?: string;
      config?: { mediaType?: string };
      subject?: { digest?: string };
    };
    const type = json.artifactType ?? json.config?.mediaType;
    if (typeof type === 'string') out.artifactType = type;
    if (typeof json.subject?.digest === 'string') out.subject = json.subject.digest;
  } catch {
    // Not JSON: stored manifests always are; treat it as nothing scannable.
  }
  return out;
}
