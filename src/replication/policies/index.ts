// Replication policies: remote registries, push and pull policies with filters, name rewriting and triggers
// (manual, cron, events), and their executions (job runs with a task per artifact). See replication.ts.
export type { ExecutionProgress } from './execution.js';
export { LocalRegistry } from './local-registry.js';
export { rewriteName, rewriteProblem } from './name-rewrite.js';
export {
  type PolicyChange,
  PolicyChangeSchema,
  type PolicyInput,
  PolicyInputSchema,
  type RegistryChange,
  RegistryChangeSchema,
  type RegistryInput,
  RegistryInputSchema,
  type RemoteRegistry,
  type ReplicationPolicy,
} from './policy.js';
export {
  type ConnectionCheck,
  type Execution,
  Replication,
  type ReplicationOptions,
} from './replication.js';
export type { ReplicationTask, TaskStatus } from './replication-store.js';
