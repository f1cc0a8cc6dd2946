import type { Assessment } from './pull-policy.js';

/** What the pull-time policy needs of a stored manifest. */
export interface StoredManifest {
  mediaType: string;
  content: Uint8Array;
}

/** Decides whether a manifest is a signature artifact (signatures/verify-artifact.ts). */
export type SignatureArtifactTest = (manifest: {
  mediaType: string;
  artifactType?: string;
  content: Uint8Array;
}) => boolean;

/** Configs of images a runtime would run: a manifest with one of these is an image, whatever else it carries. */
const RUNNABLE_CONFIGS = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);

/**
 * Layers of attachments that are documents about an image, never part of one: in-toto / DSSE attestations
 * (cosign's `.att`), SBOMs (cosign's `.sbom`, oras attach), signature payloads and envelopes.
 */
const ATTACHMENT_LAYERS = new Set([
  'application/vnd.dsse.envelope.v1+json',
  'application/vnd.in-toto+json',
  'application/vnd.cyclonedx+json',
  'application/vnd.cyclonedx+xml',
  'application/vnd.cyclonedx',
  'application/spdx+json',
  'text/spdx',
  'text/spdx+xml',
  'application/vnd.syft+json',
  'application/vnd.dev.cosign.simplesigning.v1+json',
  'application/vnd.dev.sigstore.bundle.v0.3+json',
  'application/jose+json',
  'application/cose',
]);

interface Shape {
  artifactType?: unknown;
  config?: { mediaType?: unknown };
  layers?: { mediaType?: unknown }[];
  subject?: unknown;
}

function shapeOf(content: Uint8Array): Shape | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(content).toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Shape) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why a manifest stays pullable whatever the project's signature policy, or undefined when it is an artifact
 * the policy applies to. Signatures, SBOMs and other referrers must stay pullable so that clients can fetch
 * and verify them; but a runnable image does not escape the policy by carrying a `subject`.
 */
export function exemption(
  manifest: StoredManifest,
  isSignatureArtifact: SignatureArtifactTest,
): (Assessment & { kind: 'exempt' })['why'] | undefined {
  const shape = shapeOf(manifest.content);
  if (!shape) return undefined;
  const configType = typeof shape.config?.mediaType === 'string' ? shape.config.mediaType : undefined;
  const artifactType = typeof shape.artifactType === 'string' ? shape.artifactType : configType;
  if (
    isSignatureArtifact({
      mediaType: manifest.mediaType,
      ...(artifactType !== undefined && { artifactType }),
      content: manifest.content,
    })
  ) {
    return 'signature';
  }
  const runnable = configType !== undefined && RUNNABLE_CONFIGS.has(configType);
  if (shape.subject !== undefined && !runnable) return 'referrer';
  const layers = Array.isArray(shape.layers) ? shape.layers : [];
  if (layers.length > 0 && layers.every((layer) => ATTACHMENT_LAYERS.has(String(layer?.mediaType)))) {
    return 'attachment';
  }
  return undefined;
}
