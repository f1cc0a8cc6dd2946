// Where verification reads signatures from: the registry's own content, through this narrow interface, so the
// format verifiers stay free of HTTP and metadata (and are unit-testable with an in-memory source).

/** A signature artifact's manifest, exactly as stored. */
export interface SignatureArtifact {
  digest: string;
  mediaType: string;
  artifactType?: string;
  content: Uint8Array;
}

export interface SignatureSource {
  /** cosign's tag scheme: the manifest tagged `sha256-<hex>.sig` in `repository`, if there is one. */
  taggedSignature(repository: string, digest: string): Promise<SignatureArtifact | undefined>;
  /** OCI 1.1 referrers: the manifests in `repository` whose `subject` is `digest`. */
  referrers(repository: string, digest: string): Promise<SignatureArtifact[]>;
  /** A blob's bytes (signature payloads and envelopes are small); throws when it is larger than `maxBytes`. */
  readBlob(repository: string, digest: string, maxBytes: number): Promise<Uint8Array>;
}
