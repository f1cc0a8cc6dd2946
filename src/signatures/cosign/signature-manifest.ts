// A cosign signature manifest — the `sha256-<hex>.sig` tag's manifest, or an OCI 1.1 referrer of artifact type
// application/vnd.dev.cosign.artifact.sig.v1+json — holds one simple-signing layer per signature
// (SIGNATURE_SPEC.md "OCI Image Manifest V1"): payload blob, signature and certificate in the layer annotations.
import type { SignatureArtifact, SignatureSource } from '../signature-source.js';
import type { SignatureResult } from '../types.js';
import { readDescribedBlob } from './described-blob.js';
import { decodeBase64, isJsonObject, type JsonObject, parseJsonObject } from './json-bytes.js';
import { invalid, type Judgement, judge } from './judgement.js';
import { type LoadedKey, readCertificate } from './public-keys.js';
import { simpleSigningBindingProblem } from './simple-signing.js';
import {
  CERTIFICATE_ANNOTATION,
  MAX_PAYLOAD_BYTES,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
} from './wire-format.js';

/** Signature layers examined per manifest (one per signer; cosign appends a layer per `cosign sign`). */
export const MAX_LAYERS_PER_MANIFEST = 64;

export interface CosignVerification {
  source: SignatureSource;
  repository: string;
  subjectDigest: string;
  keys: readonly LoadedKey[];
}

/**
 * One result per simple-signing layer, for at most `limit` layers (the caller's budget; `skipped` counts the
 * rest). Never throws on what it reads.
 */
export async function verifyCosignSignatureManifest(
  artifact: SignatureArtifact,
  context: CosignVerification,
  limit = MAX_LAYERS_PER_MANIFEST,
): Promise<{ results: SignatureResult[]; skipped: number }> {
  const result = (judgement: Judgement): SignatureResult => ({
    format: 'cosign',
    signatureDigest: artifact.digest,
    ...judgement,
  });
  const manifest = parseJsonObject(artifact.content);
  if (!manifest || !Array.isArray(manifest.layers)) {
    return {
      results: [result(invalid('the signature manifest is not an image manifest with layers'))],
      skipped: 0,
    };
  }
  const layers = manifest.layers.filter(
    (layer): layer is JsonObject => isJsonObject(layer) && layer.mediaType === SIMPLE_SIGNING_MEDIA_TYPE,
  );
  if (layers.length === 0) {
    return {
      results: [result(invalid(`the signature manifest has no ${SIMPLE_SIGNING_MEDIA_TYPE} layer`))],
      skipped: 0,
    };
  }
  const examined = layers.slice(0, Math.max(1, Math.min(limit, MAX_LAYERS_PER_MANIFEST)));
  const results: SignatureResult[] = [];
  for (const layer of examined) results.push(result(await verifyLayer(layer, context)));
  return { results, skipped: layers.length - examined.length };
}

async function verifyLayer(layer: JsonObject, context: CosignVerification): Promise<Judgement> {
  const annotations = isJsonObject(layer.annotations) ? layer.annotations : {};
  const encoded = annotations[SIGNATURE_ANNOTATION];
  if (typeof encoded !== 'string') return invalid(`the layer has no ${SIGNATURE_ANNOTATION} annotation`);
  const signature = decodeBase64(encoded);
  if (!signature) return invalid(`the ${SIGNATURE_ANNOTATION} annotation is not base64`);

  let certificate: ReturnType<typeof readCertificate>;
  const certificatePem = annotations[CERTIFICATE_ANNOTATION];
  if (certificatePem !== undefined && certificatePem !== '') {
    certificate = typeof certificatePem === 'string' ? readCertificate(certificatePem) : undefined;
    if (!certificate) return invalid(`the ${CERTIFICATE_ANNOTATION} annotation is not a PEM certificate`);
  }

  const payload = await readDescribedBlob(
    context.source,
    context.repository,
    layer,
    MAX_PAYLOAD_BYTES,
    'payload',
  );
  if (typeof payload === 'string') return invalid(payload);
  return judge(
    {
      signed: payload,
      signatures: [signature],
      ...(certificate ? { certificate } : {}),
      bindingProblem: simpleSigningBindingProblem(payload, context.subjectDigest),
    },
    context.keys,
  );
}
