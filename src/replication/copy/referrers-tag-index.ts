import { MediaType } from '../../registry/index.js';
import { type Descriptor, type RegistryClient, referrersTag } from '../client/index.js';

/**
 * distribution-spec v1.1 "Referrers Tag Schema": on a registry without the referrers API, the pusher of a
 * manifest with a subject keeps the index under the tag `sha256-<hex>` listing it. Adds `referrer` there
 * unless the registry lists it already (by its API or that index). Calls for one subject must not overlap.
 */
export async function ensureListedAsReferrer(
  target: RegistryClient,
  repository: string,
  subject: string,
  referrer: Descriptor,
  signal?: AbortSignal,
): Promise<'listed' | 'added'> {
  const listed = await target.referrers(repository, subject, { signal });
  if (listed.via === 'api' || listed.manifests.some((m) => m.digest === referrer.digest)) return 'listed';
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [...listed.manifests, referrer],
  };
  await target.putManifest(
    repository,
    referrersTag(subject),
    { bytes: Buffer.from(JSON.stringify(index)), mediaType: MediaType.OciIndex },
    signal,
  );
  return 'added';
}
