// Content pushed straight through Berth's registry core (no HTTP), for tests of what sits above it.
import { createHash } from 'node:crypto';
import { parseDigest, type Registry } from '../../src/registry/index.js';
import { MT, ociImageManifest } from './oci-client.js';

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
  const manifest = ociImageManifest(config, []);
  const { digest } = await registry.manifests.put(repository, tag, manifest, MT.ociManifest);
  return digest;
}
