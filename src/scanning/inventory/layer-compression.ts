import { createGunzip } from 'node:zlib';
import { zstdDecompress } from './zstd-stream.js';

export type Compression = 'gzip' | 'zstd' | 'none';

// OCI image-spec media-types.md and the Docker v2.2 manifest; the non-distributable/foreign kinds are
// layers like any other once their bytes are at hand.
const LAYER_MEDIA_TYPES: Record<string, Compression> = {
  'application/vnd.oci.image.layer.v1.tar': 'none',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar': 'none',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': 'zstd',
  'application/vnd.docker.image.rootfs.diff.tar': 'none',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'gzip',
};

/** The compression a layer media type names, or undefined when it is not a filesystem layer. */
export function compressionOfMediaType(mediaType: string): Compression | undefined {
  return LAYER_MEDIA_TYPES[mediaType];
}

/** What the first bytes show; anything without a compression magic is taken for a plain tar. */
export function compressionOfBytes(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/**
 * The compression to undo: the media type's, confirmed by the magic bytes. Docker and containerd decompress by
 * magic, and registries hold gzip layers labelled plain tar (and the reverse), so a compression the bytes show
 * plainly wins over the label; a label that promises compression the bytes lack is an error.
 */
export function chooseCompression(mediaType: string, head: Buffer): Compression {
  const declared = compressionOfMediaType(mediaType);
  if (declared === undefined) throw new Error(`media type ${mediaType} is not a filesystem layer`);
  const seen = compressionOfBytes(head);
  if (seen === 'none' && declared !== 'none')
    throw new Error(`layer is not ${declared}-compressed as its media type says`);
  return seen;
}

/** The pipeline stages that undo `compression` (none for a plain tar). */
export function decompressionStages(compression: Compression, maxZstdWindowBytes: number) {
  switch (compression) {
    case 'gzip':
      // Bigger output chunks than zlib's 16 KiB default: fewer hops through the tar parser.
      return [createGunzip({ chunkSize: 128 * 1024 })];
    case 'zstd':
      return [zstdDecompress(maxZstdWindowBytes)];
    default:
      return [];
  }
}
