// The names cosign and sigstore put on the wire, from cosign's specs/SIGNATURE_SPEC.md, the containers/image
// signature format (containers-signature.5.md) and sigstore's protobuf-specs (bundle v0.3).

/** A cosign signature layer: the blob is the simple-signing payload; the signature rides in an annotation. */
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
/** The base64 signature over the layer's payload blob. */
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** Keyless signing: the PEM certificate holding the signing key, and the PEM chain up to its root. */
export const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain';

/** cosign's OCI 1.1 referrer signature (`--registry-referrers-mode=oci-1-1`): the same layers, with a subject. */
export const COSIGN_SIGNATURE_ARTIFACT_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
/** cosign's attestations (`.att` tags): DSSE envelopes as layers. */
export const DSSE_ENVELOPE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';

/** `critical.type` values of a simple-signing payload: cosign's, and the containers/image original. */
export const SIMPLE_SIGNING_TYPES: ReadonlySet<string> = new Set([
  'cosign container image signature',
  'atomic container signature',
]);

/** The sigstore bundle (protobuf-specs): v0.3's media type and the older parameterised form. */
export const SIGSTORE_BUNDLE_V03_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const BUNDLE_MEDIA_TYPES: ReadonlySet<string> = new Set([
  SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
  'application/vnd.dev.sigstore.bundle+json;version=0.2',
  'application/vnd.dev.sigstore.bundle+json;version=0.1',
]);

export function isSigstoreBundleMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && BUNDLE_MEDIA_TYPES.has(mediaType.replace(/\s+/g, '').toLowerCase());
}

/** DSSE payload type of an in-toto statement, and the statement types a bundle may carry. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_TYPES: ReadonlySet<string> = new Set([
  'https://in-toto.io/Statement/v1',
  'https://in-toto.io/Statement/v0.1',
]);
/** The predicate type cosign (v3, bundle format) gives an image *signature*; any other predicate is an attestation. */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';

/** Notary Project signature artifacts (verified by ../notation). */
export const NOTATION_SIGNATURE_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';
export const NOTATION_ENVELOPE_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/jose+json',
  'application/cose',
]);

/** Caps on what verification reads: payloads are a few hundred bytes, envelopes and bundles a few KiB. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;
export const MAX_ENVELOPE_BYTES = 4 * 1024 * 1024;
/** A signature is at most a few hundred bytes (RSA-4096: 512); anything far larger is not one. */
export const MAX_SIGNATURE_BYTES = 16 * 1024;
