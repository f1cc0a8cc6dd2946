import { tryParseDigest } from './digest.js';
import { RegistryError } from './errors.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.js';
import { bareMediaType, IMAGE_MANIFEST_TYPES, INDEX_TYPES, MediaType, SCHEMA1_TYPES } from './media-types.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: { architecture?: string; os?: string; variant?: string };
}

export interface ParsedManifest {
  mediaType: string;
  /** Blobs the manifest needs in the repository: config and layers (non-distributable layers excluded). */
  blobs: Descriptor[];
  /** Child manifests of an index or manifest list. */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** For the referrers API: `artifactType`, else the config's media type (distribution-spec "Listing Referrers"). */
  artifactType?: string;
  annotations?: Record<string, string>;
}

function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError('MANIFEST_INVALID', { message, detail });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw invalid(`${where} must be a map of strings`);
  }
  return value as Record<string, string>;
}

function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isRecord(value)) throw invalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size, artifactType, urls, platform } = value;
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid(`${where}.mediaType is required`);
  if (typeof digest !== 'string' || !tryParseDigest(digest)) {
    throw invalid(`${where}.digest is not a valid sha256 or sha512 digest`, { digest });
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${where}.size must be a non-negative integer`, { size });
  }
  const descriptor: Descriptor = { mediaType, digest, size };
  if (artifactType !== undefined) {
    if (typeof artifactType !== 'string') throw invalid(`${where}.artifactType must be a string`);
    descriptor.artifactType = artifactType;
  }
  const annotations = stringMap(value.annotations, `${where}.annotations`);
  if (annotations) descriptor.annotations = annotations;
  if (urls !== undefined) {
    if (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string'))
      throw invalid(`${where}.urls must be strings`);
    descriptor.urls = urls as string[];
  }
  if (platform !== undefined) {
    if (!isRecord(platform)) throw invalid(`${where}.platform must be an object`);
    descriptor.platform = platform as Descriptor['platform'] & object;
  }
  return descriptor;
}

function parseDescriptorList(value: unknown, where: string): Descriptor[] {
  if (!Array.isArray(value)) throw invalid(`${where} must be an array`);
  return value.map((entry, i) => parseDescriptor(entry, `${where}[${i}]`));
}

/** Layers with `urls` (Docker foreign layers, OCI non-distributable layers) live elsewhere; the registry need not hold them. */
function isExternal(layer: Descriptor): boolean {
  return layer.urls !== undefined && layer.urls.length > 0;
}

/**
 * Determines the manifest's media type from the Content-Type header and the body's `mediaType` field.
 * distribution-spec "Pushing Manifests": when the body has `mediaType`, it must match Content-Type.
 */
function resolveMediaType(contentType: string | undefined, bodyType: unknown): string {
  const header = bareMediaType(contentType);
  const headerKnown = header !== undefined && (IMAGE_MANIFEST_TYPES.has(header) || INDEX_TYPES.has(header));
  if (bodyType !== undefined && typeof bodyType !== 'string') throw invalid('mediaType must be a string');
  if (header && SCHEMA1_TYPES.has(header)) throw schema1();
  if (typeof bodyType === 'string' && SCHEMA1_TYPES.has(bodyType)) throw schema1();
  if (headerKnown && bodyType !== undefined && bodyType !== header) {
    throw invalid('the manifest mediaType does not match the Content-Type header', {
      contentType: header,
      mediaType: bodyType,
    });
  }
  const resolved = headerKnown ? header : bodyType;
  if (resolved === undefined) {
    throw invalid('unknown manifest media type: set Content-Type to the manifest media type', {
      contentType: header ?? null,
    });
  }
  if (!IMAGE_MANIFEST_TYPES.has(resolved) && !INDEX_TYPES.has(resolved)) {
    throw invalid(`unsupported manifest media type ${resolved}`, { mediaType: resolved });
  }
  return resolved;
}

function schema1(): RegistryError {
  return invalid(
    'Docker schema 1 manifests are not supported: push the image as Docker schema 2 or OCI (e.g. skopeo --format v2s2)',
  );
}

/** Parses and structurally validates a manifest body. Checks that referenced content exists are made by the caller. */
export function parseManifest(body: Uint8Array, contentType: string | undefined): ParsedManifest {
  let json: unknown;
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (nestsDeeperThan(text)) throw invalid(`manifest nests JSON deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    json = JSON.parse(text);
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!isRecord(json)) throw invalid('manifest must be a JSON object');
  if (json.schemaVersion === 1) throw schema1();
  if (json.schemaVersion !== 2)
    throw invalid('schemaVersion must be 2', { schemaVersion: json.schemaVersion });

  const mediaType = resolveMediaType(contentType, json.mediaType);
  const annotations = stringMap(json.annotations, 'annotations');
  if (json.artifactType !== undefined && typeof json.artifactType !== 'string') {
    throw invalid('artifactType must be a string');
  }
  const subject = json.subject === undefined ? undefined : parseDescriptor(json.subject, 'subject');
  const parsed: ParsedManifest = { mediaType, blobs: [], manifests: [] };
  if (annotations) parsed.annotations = annotations;
  if (subject) parsed.subject = subject;

  if (IMAGE_MANIFEST_TYPES.has(mediaType)) {
    if (json.manifests !== undefined) throw invalid('an image manifest must not have a manifests field');
    const config = parseDescriptor(json.config, 'config');
    const layers = json.layers === undefined ? [] : parseDescriptorList(json.layers, 'layers');
    if (mediaType === MediaType.DockerManifest && layers.length === 0) {
      throw invalid('a Docker schema 2 manifest needs at least one layer');
    }
    parsed.blobs = [config, ...layers.filter((layer) => !isExternal(layer))];
    // image-spec manifest.md: artifactType, else the config media type (the empty config says nothing).
    const artifactType = (json.artifactType as string | undefined) ?? config.mediaType;
    if (json.artifactType === undefined && config.mediaType === MediaType.OciEmpty) {
      throw invalid('artifactType is required when config.mediaType is application/vnd.oci.empty.v1+json');
    }
    parsed.artifactType = artifactType;
  } else {
    if (json.layers !== undefined || json.config !== undefined) {
      throw invalid('an index must not have config or layers fields');
    }
    parsed.manifests = parseDescriptorList(json.manifests, 'manifests');
    if (typeof json.artifactType === 'string') parsed.artifactType = json.artifactType;
  }
  return parsed;
}
