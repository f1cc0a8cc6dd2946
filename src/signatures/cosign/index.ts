export { findLayer, readDescribedBlob } from './described-blob.js';
export { type LoadedKey, loadTrustedKeys, verifiesWith } from './public-keys.js';
export {
  type CosignVerification,
  MAX_LAYERS_PER_MANIFEST,
  verifyCosignSignatureManifest,
} from './signature-manifest.js';
export { verifySigstoreBundleArtifact } from './sigstore-bundle.js';
export { readSimpleSigningPayload, type SimpleSigningPayload } from './simple-signing.js';
export {
  CERTIFICATE_ANNOTATION,
  CHAIN_ANNOTATION,
  COSIGN_SIGN_PREDICATE_TYPE,
  COSIGN_SIGNATURE_ARTIFACT_TYPE,
  DSSE_ENVELOPE_MEDIA_TYPE,
  isSigstoreBundleMediaType,
  MAX_ENVELOPE_BYTES,
  MAX_PAYLOAD_BYTES,
  NOTATION_ENVELOPE_MEDIA_TYPES,
  NOTATION_SIGNATURE_ARTIFACT_TYPE,
  SIGNATURE_ANNOTATION,
  SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
  SIMPLE_SIGNING_MEDIA_TYPE,
} from './wire-format.js';
