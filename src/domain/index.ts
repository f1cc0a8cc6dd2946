/**
 * domain/: the few names and rules that several folders need (auth, registry, metadata, api, …). It sits at the
 * bottom: it imports nothing of Berth, so everyone can import it without forming a circle (metadata/ never
 * imports auth/ or registry/ for a name rule).
 */

export {
  combine,
  type FailureEntry,
  type FailureLimit,
  type FailureLog,
  judge,
  PENDING_TIMEOUT_MS,
  type Reservation,
} from './login-failures.js';
export { DEFAULT_PROJECT, projectOf } from './projects.js';
export { isValidRepositoryName, isValidTag, MAX_NAME_LENGTH, NAME_GRAMMAR } from './repository-names.js';
