// Content pushed straight through Berth's registry core (no HTTP), for tests of what sits above it.
import { createHash } from 'node:crypto';
import { parseDigest, type Registry } from '../../src/registry/index.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** Pushes an image of `config` and no layers to `repository:tag`; returns the manifest's digest. */
export async function pushConfigOnlyImage(
  registry: Registry,
  repository: string,
  tag: string,
  config: Buffer,
): Promise<string> {
  const hex = createHash('sha256').update(config).digest('hex');
  const upload = `uploads/config-only-${hex}`;
  await registry.store.write(upload, [config], 0);
  await registry.blobs.commit(repository, upload, parseDigest(`sha256:${hex}`), config.length);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: `sha256:${hex}`,
        size: config.length,
      },
      layers: [],
    }),
  );
  const { digest } = await registry.manifests.put(repository, tag, manifest, OCI_MANIFEST);
  return digest;
}
