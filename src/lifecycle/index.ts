/**
 * lifecycle/: what happens to content over time. Tag immutability (rules under which a pushed tag never moves
 * or goes) and storage quotas (per project, each blob counted once per project), plugged into the registry
 * core through its RegistryPolicy hooks; storage usage and the capacity warning.
 */

export { type CapacityLog, type CapacityState, CapacityWatch, filesystemSize } from './capacity.js';
export { compileGlob, type GlobMatcher, matchesGlob } from './glob.js';
export {
  type ImmutabilityRule,
  immutableTagError,
  protectingRule,
  REPOSITORY_PATTERN,
  TAG_PATTERN,
  TagImmutability,
} from './immutability.js';
export { type JobContext, JobRunner, type JobRunnerOptions, type JobWork } from './jobs/job-runner.js';
export { cronError, isDue, nextAfter } from './jobs/schedule.js';
export {
  Lifecycle,
  type LifecycleAdmin,
  type LifecycleOptions,
  type NewImmutabilityRule,
  type StorageUsage,
} from './lifecycle.js';
export { fits, formatBytes, overQuotaError, Quotas } from './quota.js';
