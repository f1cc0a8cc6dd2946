import { isValidRepositoryName, MAX_NAME_LENGTH, NAME_GRAMMAR } from '../domain/index.js';
import { RegistryError } from './errors.js';

// The grammars live in domain/ (auth/ checks scope names with them too); registry/ keeps exporting them.
export { isValidRepositoryName, isValidTag, MAX_NAME_LENGTH } from '../domain/index.js';

export function assertRepositoryName(name: string): string {
  if (!isValidRepositoryName(name)) {
    throw new RegistryError('NAME_INVALID', {
      message:
        name.length > MAX_NAME_LENGTH
          ? `repository name longer than ${MAX_NAME_LENGTH} characters`
          : `repository name must match ${NAME_GRAMMAR}`,
      detail: { name },
    });
  }
  return name;
}
