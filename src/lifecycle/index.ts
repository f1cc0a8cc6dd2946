/**
 * lifecycle/: what happens to content over time. Tag immutability (rules under which a pushed tag never moves
 * or goes) and storage quotas (per project, each blob counted once per project), plugged into the registry
 * core through its RegistryPolicy hooks; storage usage and the capacity warning; retention policies (per
 * project, rules that choose what to keep; the rest is deleted by runs that are jobs with a history).
 */

export { type CapacityLog, type CapacityState, CapacityWatch, filesystemSize } from './capacity.js';
export {
  type CollectionSummary,
  GarbageCollector,
  type GarbageCollectorOptions,
  type GcAdmin,
  type RunRequest,
} from './gc/garbage-collector.js';
export { type CollectionPlan, planCollection } from './gc/plan.js';
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
export { cronError, dueAt, isDue, nextAfter } from './jobs/schedule.js';
export { type Scheduled, Scheduler } from './jobs/scheduler.js';
export {
  Lifecycle,
  type LifecycleAdmin,
  type LifecycleOptions,
  type NewImmutabilityRule,
  type StorageUsage,
} from './lifecycle.js';
export { fits, formatBytes, overQuotaError, Quotas } from './quota.js';
export {
  artifactsOf,
  evaluateRetention,
  type ProjectManifest,
  type RetainedArtifact,
  type RetentionArtifact,
  type RetentionEvaluation,
} from './retention/evaluation.js';
export {
  MAX_RETENTION_RULES,
  type RetentionPolicy,
  type RetentionPolicyInput,
  RetentionPolicySchema,
  type RetentionRule,
  type RetentionRuleInput,
  RetentionRuleSchema,
  repositoryPatternProblem,
} from './retention/policy.js';
export {
  Retention,
  type RetentionAdmin,
  type RetentionItem,
  type RetentionItemList,
  type RetentionOptions,
  type RetentionPolicyView,
  type RetentionProgress,
  type RetentionRunOptions,
  type RetentionSummary,
  SUMMARY_ITEMS,
} from './retention/retention.js';
