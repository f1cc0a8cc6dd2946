import { compileGlob } from '../../lifecycle/index.js';
import { type RegistryClient, RemoteRegistryError } from '../client/index.js';
import { rewriteName } from './name-rewrite.js';
import type { ReplicationPolicy } from './policy.js';
import type { NewTask } from './replication-store.js';

/** Tags that hang artifacts off a digest (cosign's `.sig`/`.att`/`.sbom`, the referrers tag schema's index): copied as referrers. */
const REFERRER_TAG = /^sha256-[0-9a-f]{64}(\.(sig|att|sbom))?$/;

/**
 * The tasks of a full execution: every tag the policy's filters select at the source, one copy each. A
 * repository pattern without wildcards is taken as it is, without listing the catalog (which Docker Hub and
 * most public registries refuse); a repository that vanishes while it is listed is skipped.
 */
export async function planTasks(
  policy: ReplicationPolicy,
  source: RegistryClient,
  signal: AbortSignal,
): Promise<NewTask[]> {
  const repositories: string[] = [];
  if (/[*?]/.test(policy.repositories)) {
    const matches = compileGlob(policy.repositories);
    for await (const name of source.catalog({ signal })) if (matches(name)) repositories.push(name);
  } else {
    repositories.push(policy.repositories);
  }
  const tagMatches = compileGlob(policy.tags);
  const tasks: NewTask[] = [];
  for (const repository of repositories) {
    try {
      for await (const tag of source.tags(repository, { signal })) {
        if (REFERRER_TAG.test(tag) || !tagMatches(tag)) continue;
        tasks.push({
          operation: 'copy',
          sourceRepository: repository,
          sourceReference: tag,
          targetRepository: rewriteName(policy.rewrite, repository),
        });
      }
    } catch (error) {
      if (error instanceof RemoteRegistryError && error.code === 'NAME_UNKNOWN') continue;
      throw error;
    }
  }
  return tasks;
}
