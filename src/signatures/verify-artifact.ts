// The per-artifact entry point: every signature Berth can find for one manifest digest — cosign's `.sig` tag,
// cosign / sigstore / Notary Project referrers — each checked by its format's verifier against the project's
// trust, into one verdict. Pure: all reads go through the SignatureSource.
import { MediaType } from '../registry/index.js';
import {
  COSIGN_SIGNATURE_ARTIFACT_TYPE,
  DSSE_ENVELOPE_MEDIA_TYPE,
  findLayer,
  isSigstoreBundleMediaType,
  loadTrustedKeys,
  MAX_ENVELOPE_BYTES,
  MAX_PAYLOAD_BYTES,
  NOTATION_ENVELOPE_MEDIA_TYPES,
  NOTATION_SIGNATURE_ARTIFACT_TYPE,
  readDescribedBlob,
  SIMPLE_SIGNING_MEDIA_TYPE,
  verifyCosignSignatureManifest,
  verifySigstoreBundleArtifact,
} from './cosign/index.js';
import { isJsonObject, type JsonObject, parseJsonObject } from './cosign/json-bytes.js';
import { verifyNotationSignature } from './notation/index.js';
import type { SignatureArtifact, SignatureSource } from './signature-source.js';
import type { SignatureResult, SignatureVerdict, TrustConfig } from './types.js';

/**
 * Signatures examined per artifact — `.sig` layers, bundles and envelopes, the `.sig` tag first, then signature
 * referrers in the source's order — so a flood of junk signatures costs bounded work. Non-signature referrers
 * (SBOMs, attestations) do not count. When the verdict is not verified, the last result says how many were left.
 */
export const MAX_SIGNATURES = 64;

type SignatureKind = 'cosign' | 'sigstore-bundle' | 'notation';

/**
 * Verifies every signature of `subject` in `repository` against `trust`; `verified` when at least one result
 * is 'verified'. Hostile or broken signature content becomes an 'invalid' result, never an exception; errors
 * of the source itself while listing (taggedSignature, referrers) propagate, so a verdict is never made from a
 * partial view. Sigstore bundles that carry attestations rather than signatures are left out of the results.
 */
export async function verifyArtifact(
  source: SignatureSource,
  repository: string,
  subject: { digest: string; mediaType: string; size: number },
  trust: TrustConfig,
  now: Date = new Date(),
): Promise<SignatureVerdict> {
  const candidates: { artifact: SignatureArtifact; kind: SignatureKind }[] = [];
  const seen = new Set<string>();
  const tagged = await source.taggedSignature(repository, subject.digest);
  if (tagged) {
    candidates.push({ artifact: tagged, kind: 'cosign' });
    seen.add(tagged.digest);
  }
  for (const referrer of await source.referrers(repository, subject.digest)) {
    const kind = referrerKind(referrer);
    if (kind === undefined || seen.has(referrer.digest)) continue;
    seen.add(referrer.digest);
    candidates.push({ artifact: referrer, kind });
  }

  const keys = loadTrustedKeys(trust.keys);
  const context = { source, repository, subjectDigest: subject.digest, keys };
  const signatures: SignatureResult[] = [];
  let skipped = 0;
  for (const { artifact, kind } of candidates) {
    const budget = MAX_SIGNATURES - signatures.length;
    if (budget <= 0) skipped++;
    else if (kind === 'cosign') {
      const layers = await verifyCosignSignatureManifest(artifact, context, budget);
      signatures.push(...layers.results);
      skipped += layers.skipped;
    } else if (kind === 'sigstore-bundle') {
      const result = await verifySigstoreBundleArtifact(artifact, context);
      if (result) signatures.push(result);
    } else signatures.push(await verifyNotationArtifact(artifact, source, repository, subject, trust, now));
  }
  const verified = signatures.some((signature) => signature.status === 'verified');
  const last = signatures[signatures.length - 1];
  if (skipped > 0 && !verified && last) {
    last.reason = `${last.reason ?? ''}; ${skipped} more signatures not examined (limit ${MAX_SIGNATURES})`;
  }
  return { digest: subject.digest, verified, signatures };
}

/** The artifact type a referrer declares (OCI 1.1: `artifactType`, else the config's media type). */
function artifactTypeOf(
  artifactType: string | undefined,
  document: JsonObject | undefined,
): string | undefined {
  if (artifactType) return artifactType;
  if (typeof document?.artifactType === 'string') return document.artifactType;
  const config = document?.config;
  return isJsonObject(config) && typeof config.mediaType === 'string' ? config.mediaType : undefined;
}

function referrerKind(referrer: SignatureArtifact): SignatureKind | undefined {
  const type = artifactTypeOf(
    referrer.artifactType,
    referrer.artifactType ? undefined : parseJsonObject(referrer.content),
  );
  if (type === COSIGN_SIGNATURE_ARTIFACT_TYPE) return 'cosign';
  if (isSigstoreBundleMediaType(type)) return 'sigstore-bundle';
  if (type === NOTATION_SIGNATURE_ARTIFACT_TYPE) return 'notation';
  return undefined;
}

async function verifyNotationArtifact(
  artifact: SignatureArtifact,
  source: SignatureSource,
  repository: string,
  subject: { digest: string; mediaType: string; size: number },
  trust: TrustConfig,
  now: Date,
): Promise<SignatureResult> {
  const layer = findLayer(artifact.content, (mediaType) => NOTATION_ENVELOPE_MEDIA_TYPES.has(mediaType));
  const format = layer?.mediaType === 'application/cose' ? 'notation-cose' : 'notation-jws';
  const invalid = (reason: string): SignatureResult => ({
    format,
    signatureDigest: artifact.digest,
    status: 'invalid',
    reason,
  });
  if (!layer) return invalid('the notation signature manifest has no JWS or COSE envelope layer');
  const envelope = await readDescribedBlob(
    source,
    repository,
    layer,
    MAX_ENVELOPE_BYTES,
    'signature envelope',
  );
  if (typeof envelope === 'string') return invalid(envelope);
  try {
    const result = await verifyNotationSignature({
      envelope,
      envelopeMediaType: layer.mediaType as string,
      subject,
      trust: trust.notation,
      now,
    });
    return { ...result, signatureDigest: artifact.digest };
  } catch (error) {
    return invalid(`the notation envelope could not be verified: ${(error as Error).message}`);
  }
}

/** Manifests beyond this size are not signature manifests (theirs are a few hundred bytes). */
const MAX_SIGNATURE_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_SIGNATURE_LAYERS = 64;
/** A cosign `.sig` manifest's config is a tiny image config. */
const MAX_SIGNATURE_CONFIG_BYTES = 64 * 1024;

/** The layers (media type, largest size) a signature manifest of each kind may have. */
interface LayerRule {
  accepts(mediaType: string): boolean;
  maxBytes: number;
}

const oneOf = (types: ReadonlySet<string>) => (mediaType: string) => types.has(mediaType);
const SIMPLE_SIGNING_LAYERS: LayerRule = {
  accepts: (t) => t === SIMPLE_SIGNING_MEDIA_TYPE,
  maxBytes: MAX_PAYLOAD_BYTES,
};

function layerRules(artifactType: string | undefined): LayerRule[] {
  if (artifactType === NOTATION_SIGNATURE_ARTIFACT_TYPE) {
    return [{ accepts: oneOf(NOTATION_ENVELOPE_MEDIA_TYPES), maxBytes: MAX_ENVELOPE_BYTES }];
  }
  if (isSigstoreBundleMediaType(artifactType)) {
    return [{ accepts: isSigstoreBundleMediaType, maxBytes: MAX_ENVELOPE_BYTES }];
  }
  if (artifactType === COSIGN_SIGNATURE_ARTIFACT_TYPE) return [SIMPLE_SIGNING_LAYERS];
  // cosign's tag scheme (`.sig`, and `.att` attestations): an ordinary image manifest of signature layers
  return [
    SIMPLE_SIGNING_LAYERS,
    { accepts: (t) => t === DSSE_ENVELOPE_MEDIA_TYPE, maxBytes: MAX_ENVELOPE_BYTES },
  ];
}

/**
 * True for manifests that are themselves signatures (cosign .sig manifests, notation/cosign referrer signatures,
 * sigstore bundles): the pull policy always serves them. Also cosign's `.att` attestation manifests (DSSE
 * layers). Recognised strictly — an image manifest whose every layer has a signature media type and a small
 * declared size — so that an image cannot pass itself off as a signature to dodge the policy with real layers.
 */
export function isSignatureArtifact(manifest: {
  mediaType: string;
  artifactType?: string;
  content: Uint8Array;
}): boolean {
  if (manifest.content.length > MAX_SIGNATURE_MANIFEST_BYTES) return false;
  if (manifest.mediaType !== MediaType.OciManifest && manifest.mediaType !== MediaType.DockerManifest)
    return false;
  const document = parseJsonObject(manifest.content);
  if (!document || !Array.isArray(document.layers)) return false;
  const layers = document.layers;
  if (layers.length === 0 || layers.length > MAX_SIGNATURE_LAYERS) return false;
  const config = document.config;
  if (isJsonObject(config) && typeof config.size === 'number' && config.size > MAX_SIGNATURE_CONFIG_BYTES) {
    return false;
  }
  return layerRules(artifactTypeOf(manifest.artifactType, document)).some(({ accepts, maxBytes }) =>
    layers.every(
      (layer) =>
        isJsonObject(layer) &&
        typeof layer.mediaType === 'string' &&
        accepts(layer.mediaType) &&
        typeof layer.size === 'number' &&
        layer.size >= 0 &&
        layer.size <= maxBytes,
    ),
  );
}
