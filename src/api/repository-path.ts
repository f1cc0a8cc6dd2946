import { DEFAULT_PROJECT } from '../auth/index.js';
import { isValidRepositoryName, RegistryError } from '../registry/index.js';

/**
 * Reads the repository `{name}/{repo}` of an /api/v1 path, checked against the name grammar (NAME_INVALID). In
 * the default project a single-segment `repo` may also be the bare repository (`busybox` belongs to library as
 * much as `library/busybox`, see auth's projectOf): the nested name first, then the bare one on NAME_UNKNOWN.
 * The catalog, signature and scanning views of an artifact all find it this way.
 */
export async function inRepository<T>(
  project: string,
  repo: string,
  read: (repository: string) => Promise<T>,
): Promise<T> {
  const nested = `${project}/${repo}`;
  if (!isValidRepositoryName(nested)) throw new RegistryError('NAME_INVALID', { detail: { name: nested } });
  if (project !== DEFAULT_PROJECT || repo.includes('/')) return read(nested);
  try {
    return await read(nested);
  } catch (error) {
    if (!(error instanceof RegistryError && error.code === 'NAME_UNKNOWN')) throw error;
    return read(repo); // valid: `library/${repo}` was
  }
}
