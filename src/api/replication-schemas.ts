import { z } from 'zod';
import {
  PolicyChangeSchema,
  PolicyInputSchema,
  RegistryChangeSchema,
  RegistryInputSchema,
} from '../replication/policies/index.js';
import { jobRunFields, named, newestFirstPage, RunId } from './schemas.js';

/** Remote registries and replication policies, executions and tasks (see schemas.ts for how they are used). */

export const CreateRegistryBody = named(
  'CreateRemoteRegistry',
  'A registry to replicate to or from. The password is stored encrypted (replication.secretKey) and never returned.',
  RegistryInputSchema,
);

export const UpdateRegistryBody = named(
  'UpdateRemoteRegistry',
  'Fields to change; those left out stay. `password: null` forgets the stored password.',
  RegistryChangeSchema,
);

export const RemoteRegistry = named(
  'RemoteRegistry',
  'A remote registry: never its password, only whether one is stored.',
  z.object({
    id: z.number().int(),
    name: z.string(),
    url: z.string(),
    username: z.string().nullable(),
    hasPassword: z.boolean(),
    description: z.string(),
    createdBy: z.string().nullable(),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  }),
);

export const RemoteRegistryList = named(
  'RemoteRegistryList',
  'Every remote registry, by name.',
  z.object({ items: z.array(RemoteRegistry) }),
);

export const ConnectionCheck = named(
  'RegistryConnectionCheck',
  'Whether the registry answered GET /v2/ and let the stored credentials in; `error` says why not.',
  z.object({ ok: z.boolean(), error: z.string().optional(), latencyMs: z.number().int() }),
);

export const CreatePolicyBody = named(
  'CreateReplicationPolicy',
  'A replication policy: what to copy (filters), where (direction, registry, name rewriting) and when (trigger).',
  PolicyInputSchema,
);

export const UpdatePolicyBody = named(
  'UpdateReplicationPolicy',
  'Fields to change; those left out stay.',
  PolicyChangeSchema,
);

export const ReplicationPolicy = named(
  'ReplicationPolicy',
  'A replication policy.',
  z.object({
    id: z.number().int(),
    name: z.string(),
    description: z.string(),
    registry: z.string(),
    direction: z.enum(['push', 'pull']),
    repositories: z.string(),
    tags: z.string(),
    artifactType: z.string(),
    rewrite: z.object({ from: z.string(), to: z.string() }).nullable(),
    trigger: z.enum(['manual', 'schedule', 'event']),
    schedule: z.string().nullable(),
    replicateDeletes: z.boolean(),
    referrers: z.boolean(),
    bytesPerSecond: z.number().int().nullable(),
    enabled: z.boolean(),
    hasEventSecret: z
      .boolean()
      .describe('an event secret is stored: the remote may POST events to …/policies/{id}/events'),
    nextRunAt: z.number().int().nullable().describe('when the schedule next starts an execution; null: none'),
    createdBy: z.string().nullable(),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  }),
);

export const ReplicationPolicyList = named(
  'ReplicationPolicyList',
  'Every replication policy, by name.',
  z.object({ items: z.array(ReplicationPolicy) }),
);

const ExecutionProgress = named(
  'ReplicationProgress',
  'Tasks done of total, by outcome, and blob bytes uploaded to the target.',
  z.object({
    total: z.number().int(),
    done: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int(),
    immutable: z.number().int().describe('refused by the target: an immutable tag there would move'),
    skipped: z.number().int(),
    bytes: z.number().int(),
  }),
);

export const ReplicationTask = named(
  'ReplicationTask',
  'One artifact of an execution, copied (or deleted) from a source reference to a target repository.',
  z.object({
    id: z.number().int(),
    operation: z.enum(['copy', 'delete']),
    sourceRepository: z.string(),
    sourceReference: z.string().describe('a tag or a digest'),
    targetRepository: z.string(),
    status: z.enum(['pending', 'running', 'succeeded', 'failed', 'immutable', 'skipped']),
    digest: z.string().nullable(),
    bytes: z.number().int(),
    error: z.string().nullable(),
    startedAt: z.number().int().nullable(),
    finishedAt: z.number().int().nullable(),
  }),
);

export const ReplicationExecution = named(
  'ReplicationExecution',
  'An execution of a policy; with its tasks when read alone.',
  z.object({
    ...jobRunFields,
    policyId: z.number().int(),
    progress: ExecutionProgress.nullable().describe('so far, or (once ended) in all'),
    tasks: z.array(ReplicationTask).optional(),
  }),
);

export const ReplicationExecutionList = newestFirstPage(
  'ReplicationExecutionList',
  'executions',
  ReplicationExecution,
);

export const RegistryParams = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be a registry name'),
});
const PolicyId = z
  .string()
  .regex(/^[0-9]{1,15}$/, 'must be a policy id')
  .transform(Number);
export const PolicyParams = z.object({ id: PolicyId });
export const ExecutionParams = z.object({ id: PolicyId, execution: RunId });
export const TasksQuery = z.object({
  status: z
    .enum(['pending', 'running', 'succeeded', 'failed', 'immutable', 'skipped'])
    .optional()
    .describe('only tasks with this status'),
});

export const PolicyEventsAnswer = named(
  'ReplicationEventsAccepted',
  'How many of the events became tasks of the next event execution, and how many the policy left alone ' +
    '(other repositories or tags, pulls, blob pushes, deletes without replicateDeletes).',
  z.object({ accepted: z.number().int(), ignored: z.number().int() }),
);
