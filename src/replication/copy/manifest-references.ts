import { MediaType } from '../../registry/index.js';
import type { Descriptor, Manifest } from '../client/index.js';

/** What a manifest points at, as the copy needs it: child manifests (an index) or blobs (an image), and its subject. */
export interface References {
  kind: 'index' | 'image';
  children: Descriptor[];
  blobs: Descriptor[];
  subject: Descriptor | undefined;
  /** The descriptor a referrers index lists for this manifest (image-spec: artifactType, else config type). */
  artifactType: string | undefined;
  annotations: Record<string, string> | undefined;
}

const INDEX_TYPES: ReadonlySet<string> = new Set([MediaType.OciIndex, MediaType.DockerManifestList]);

interface ManifestShape {
  mediaType?: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export function referencesOf(manifest: Manifest, where: string): References {
  let shape: ManifestShape;
  try {
    shape = JSON.parse(manifest.bytes.toString('utf8')) as ManifestShape;
  } catch {
    throw new Error(`${where}: manifest ${manifest.digest} is not JSON`);
  }
  if (typeof shape !== 'object' || shape === null)
    throw new Error(`${where}: manifest ${manifest.digest} is not an object`);
  const isIndex =
    INDEX_TYPES.has(manifest.mediaType) || (shape.manifests !== undefined && shape.layers === undefined);
  const check = (list: unknown, field: string): Descriptor[] => {
    if (list === undefined) return [];
    if (!Array.isArray(list) || !list.every(isDescriptor)) {
      throw new Error(`${where}: manifest ${manifest.digest} has a malformed ${field}`);
    }
    return list;
  };
  const subject = shape.subject && isDescriptor(shape.subject) ? shape.subject : undefined;
  if (isIndex) {
    return {
      kind: 'index',
      children: check(shape.manifests, 'manifests'),
      blobs: [],
      subject,
      artifactType: shape.artifactType,
      annotations: shape.annotations,
    };
  }
  const config = shape.config ? check([shape.config], 'config') : [];
  return {
    kind: 'image',
    children: [],
    blobs: [...config, ...check(shape.layers, 'layers')],
    subject,
    artifactType: shape.artifactType ?? config[0]?.mediaType,
    annotations: shape.annotations,
  };
}

function isDescriptor(value: unknown): value is Descriptor {
  const d = value as Descriptor;
  return (
    typeof d === 'object' &&
    d !== null &&
    typeof d.digest === 'string' &&
    typeof d.size === 'number' &&
    Number.isSafeInteger(d.size) &&
    d.size >= 0 &&
    typeof d.mediaType === 'string'
  );
}
