/** An OCI descriptor (image-spec descriptor.md), as manifests and indexes list them. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
}

/** A manifest exactly as a registry served it: the bytes, their media type and the digest computed from them. */
export interface Manifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

/** What a HEAD tells of a manifest: nothing is verified, since there are no bytes. */
export interface ManifestHead {
  digest: string | undefined;
  mediaType: string | undefined;
  size: number | undefined;
}

export interface Referrers {
  manifests: Descriptor[];
  /** 'api' from GET /v2/<name>/referrers; 'tag-schema' from the `sha256-<hex>` tag of registries without it. */
  via: 'api' | 'tag-schema';
}
