// What both Notary Project envelope formats (JWS and COSE) parse into, so that the checks after parsing — signed
// attributes, certificates, signature, payload, trust — are written once.

export type NotationAlgorithm = 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512';

export const SIGNING_SCHEME_X509 = 'notary.x509';
export const SIGNING_SCHEME_SIGNING_AUTHORITY = 'notary.x509.signingAuthority';
export const NOTATION_PAYLOAD_MEDIA_TYPE = 'application/vnd.cncf.notary.payload.v1+json';

/** The signed attributes of signature-specification.md ("Standard attributes"), format-independent. */
export interface SignedAttributes {
  alg: NotationAlgorithm;
  signingScheme: typeof SIGNING_SCHEME_X509 | typeof SIGNING_SCHEME_SIGNING_AUTHORITY;
  /** `io.cncf.notary.signingTime`: claimed by the signer, not authenticated (scheme notary.x509). */
  signingTime?: Date;
  /** `io.cncf.notary.authenticSigningTime` (scheme notary.x509.signingAuthority). */
  authenticSigningTime?: Date;
  /** `io.cncf.notary.expiry`: the signer's "best by" time. */
  expiry?: Date;
}

export interface ParsedEnvelope {
  attributes: SignedAttributes;
  /** DER certificates, signing certificate first, root last (JWS `x5c`, COSE `x5chain`). */
  certificates: Uint8Array[];
  /** The payload bytes (a Notary Project payload document); only read after the signature verified. */
  payload: Uint8Array;
  /** The exact bytes the signature covers (JWS Signing Input, or COSE Sig_structure). */
  signedBytes: Uint8Array;
  signature: Uint8Array;
}

/** A reason the envelope is invalid; the verifier turns it into `{ status: 'invalid', reason }`. */
export class InvalidSignatureError extends Error {}

export function invalid(reason: string): never {
  throw new InvalidSignatureError(reason);
}
