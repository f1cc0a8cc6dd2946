// The signatures folder's public face: verification of cosign / sigstore / Notary Project signatures, and the
// shared vocabulary (trust configuration, results, the source they are read from).
export {
  COSIGN_SIGNATURE_ARTIFACT_TYPE,
  isSigstoreBundleMediaType,
  MAX_ENVELOPE_BYTES,
  MAX_PAYLOAD_BYTES,
  NOTATION_SIGNATURE_ARTIFACT_TYPE,
  SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
  SIMPLE_SIGNING_MEDIA_TYPE,
} from './cosign/index.js';
export type { SignatureArtifact, SignatureSource } from './signature-source.js';
export type {
  NotationTrust,
  SignatureFormat,
  SignatureResult,
  SignatureVerdict,
  TrustConfig,
  TrustedKey,
} from './types.js';
export { isSignatureArtifact, MAX_SIGNATURES, verifyArtifact } from './verify-artifact.js';
