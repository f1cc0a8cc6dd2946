import type { z } from 'zod';
import { SIGNATURE_HEADER } from '../events/webhooks/index.js';
import type {
  Execution,
  ReplicationPolicy as Policy,
  ReplicationTask,
} from '../replication/policies/index.js';
import { loginOf, SYSTEM_ADMINS } from './access.js';
import { historyPage, jobRunView } from './job-runs.js';
import {
  ConnectionCheck,
  CreatePolicyBody,
  CreateRegistryBody,
  ExecutionParams,
  PolicyEventsAnswer,
  PolicyParams,
  RegistryParams,
  RemoteRegistry,
  RemoteRegistryList,
  ReplicationExecution,
  ReplicationExecutionList,
  ReplicationPolicy,
  ReplicationPolicyList,
  TasksQuery,
  UpdatePolicyBody,
  UpdateRegistryBody,
} from './replication-schemas.js';
import { type ApiRoute, type Call, field, preamble, route } from './route.js';
import { RunsQuery } from './schemas.js';

type ById = z.output<typeof PolicyParams>;
type AnyCall = Call<unknown, unknown, unknown>;

const tag = 'replication';
const ADMIN_ONLY = preamble({ tag, gate: 'systemAdmin', access: SYSTEM_ADMINS });
/** Tasks shown with an execution; `?status=failed` narrows them. */
const TASKS_SHOWN = 1000;

async function policyView(call: AnyCall, policy: Policy): Promise<z.input<typeof ReplicationPolicy>> {
  const { registryId: _id, ...view } = policy;
  return { ...view, nextRunAt: await call.options.replication.nextRunAt(policy) };
}

function executionView(
  execution: Execution,
  tasks?: ReplicationTask[],
): z.input<typeof ReplicationExecution> {
  const { run } = execution;
  const progress = (run.status === 'running' ? run.progress : (run.summary ?? run.progress)) as z.input<
    typeof ReplicationExecution
  >['progress'];
  return {
    ...jobRunView(run),
    policyId: execution.policyId,
    progress: progress ?? null,
    ...(tasks && {
      tasks: tasks.map(({ executionId: _e, policyId: _p, ...task }) => task),
    }),
  };
}

const registryRoutes: ApiRoute[] = [
  route({
    method: 'GET',
    path: '/registries',
    operationId: 'listRemoteRegistries',
    summary: 'Remote registries replication policies copy to or from',
    task: 'reading remote registries',
    ...ADMIN_ONLY,
    success: { status: 200, description: 'Every remote registry', schema: RemoteRegistryList },
    async handler(call) {
      return { items: await call.options.replication.registries() };
    },
  }),
  route({
    method: 'POST',
    path: '/registries',
    operationId: 'createRemoteRegistry',
    summary: 'Add a remote registry (its password stored encrypted)',
    task: 'adding a remote registry',
    ...ADMIN_ONLY,
    body: CreateRegistryBody,
    success: { status: 201, description: 'Added', schema: RemoteRegistry },
    errors: [409],
    audit: {
      action: 'replication.registry.create',
      resource: (_p, body) => `registry:${field(body, 'name')}`,
    },
    async handler(call) {
      const registry = await call.options.replication.createRegistry(call.body, loginOf(call.identity));
      call.auditDetail = { url: registry.url, username: registry.username };
      return registry;
    },
  }),
  route({
    method: 'GET',
    path: '/registries/{name}',
    operationId: 'getRemoteRegistry',
    summary: 'One remote registry',
    task: 'reading remote registries',
    ...ADMIN_ONLY,
    params: RegistryParams,
    success: { status: 200, description: 'The registry', schema: RemoteRegistry },
    errors: [404],
    async handler(call) {
      return call.options.replication.registry(call.params.name);
    },
  }),
  route({
    method: 'PATCH',
    path: '/registries/{name}',
    operationId: 'updateRemoteRegistry',
    summary: 'Change a remote registry (URL, credentials, name)',
    task: 'changing a remote registry',
    ...ADMIN_ONLY,
    params: RegistryParams,
    body: UpdateRegistryBody,
    success: { status: 200, description: 'Changed', schema: RemoteRegistry },
    errors: [404, 409],
    audit: { action: 'replication.registry.update', resource: (params) => `registry:${params.name ?? '?'}` },
    async handler(call) {
      const registry = await call.options.replication.updateRegistry(call.params.name, call.body);
      // What changed, never the password itself.
      call.auditDetail = {
        changed: Object.keys(call.body).filter((key) => call.body[key as 'url'] !== undefined),
      };
      return registry;
    },
  }),
  route({
    method: 'DELETE',
    path: '/registries/{name}',
    operationId: 'deleteRemoteRegistry',
    summary: 'Remove a remote registry no policy uses',
    task: 'removing a remote registry',
    ...ADMIN_ONLY,
    params: RegistryParams,
    success: { status: 204, description: 'Removed' },
    errors: [404, 409],
    audit: { action: 'replication.registry.delete', resource: (params) => `registry:${params.name ?? '?'}` },
    async handler(call) {
      await call.options.replication.removeRegistry(call.params.name);
    },
  }),
  route({
    method: 'POST',
    path: '/registries/{name}/test',
    operationId: 'testRemoteRegistry',
    summary: 'Test the connection: GET /v2/ with the stored credentials',
    task: 'testing a remote registry',
    ...ADMIN_ONLY,
    params: RegistryParams,
    success: { status: 200, description: 'Whether it answered and let us in', schema: ConnectionCheck },
    errors: [404],
    async handler(call) {
      return call.options.replication.testRegistry(call.params.name);
    },
  }),
];

const policyRoutes: ApiRoute[] = [
  route({
    method: 'GET',
    path: '/replication/policies',
    operationId: 'listReplicationPolicies',
    summary: 'Replication policies',
    task: 'reading replication policies',
    ...ADMIN_ONLY,
    success: { status: 200, description: 'Every policy', schema: ReplicationPolicyList },
    async handler(call) {
      const policies = await call.options.replication.policies();
      return { items: await Promise.all(policies.map((p) => policyView(call as AnyCall, p))) };
    },
  }),
  route({
    method: 'POST',
    path: '/replication/policies',
    operationId: 'createReplicationPolicy',
    summary: 'Add a replication policy',
    task: 'adding a replication policy',
    ...ADMIN_ONLY,
    body: CreatePolicyBody,
    success: { status: 201, description: 'Added', schema: ReplicationPolicy },
    errors: [404, 409],
    audit: {
      action: 'replication.policy.create',
      resource: (_p, body) => `replication:${field(body, 'name')}`,
    },
    async handler(call) {
      const policy = await call.options.replication.createPolicy(call.body, loginOf(call.identity));
      call.auditDetail = { id: policy.id, direction: policy.direction, registry: policy.registry };
      return policyView(call as AnyCall, policy);
    },
  }),
  route({
    method: 'GET',
    path: '/replication/policies/{id}',
    operationId: 'getReplicationPolicy',
    summary: 'One replication policy',
    task: 'reading replication policies',
    ...ADMIN_ONLY,
    params: PolicyParams,
    success: { status: 200, description: 'The policy', schema: ReplicationPolicy },
    errors: [404],
    async handler(call) {
      return policyView(call as AnyCall, await call.options.replication.policy(call.params.id));
    },
  }),
  route({
    method: 'PATCH',
    path: '/replication/policies/{id}',
    operationId: 'updateReplicationPolicy',
    summary: 'Change a replication policy',
    task: 'changing a replication policy',
    ...ADMIN_ONLY,
    params: PolicyParams,
    body: UpdatePolicyBody,
    success: { status: 200, description: 'Changed', schema: ReplicationPolicy },
    errors: [404, 409],
    audit: { action: 'replication.policy.update', resource: (params) => `replication:${params.id ?? '?'}` },
    async handler(call) {
      const policy = await call.options.replication.updatePolicy(call.params.id, call.body);
      call.auditDetail = { changed: Object.keys(call.body) };
      return policyView(call as AnyCall, policy);
    },
  }),
  route({
    method: 'DELETE',
    path: '/replication/policies/{id}',
    operationId: 'deleteReplicationPolicy',
    summary: 'Remove a replication policy (its execution history goes with it)',
    task: 'removing a replication policy',
    ...ADMIN_ONLY,
    params: PolicyParams,
    success: { status: 204, description: 'Removed' },
    errors: [404],
    audit: { action: 'replication.policy.delete', resource: (params) => `replication:${params.id ?? '?'}` },
    async handler(call) {
      await call.options.replication.removePolicy(call.params.id);
    },
  }),
  route({
    method: 'POST',
    path: '/replication/policies/{id}/executions',
    operationId: 'startReplication',
    summary: 'Start an execution now: every artifact the policy selects',
    task: 'starting a replication',
    ...ADMIN_ONLY,
    params: PolicyParams,
    success: {
      status: 202,
      description: 'Started; it runs in the background (poll the execution)',
      schema: ReplicationExecution,
    },
    errors: [404, 409],
    audit: { action: 'replication.run', resource: (params) => `replication:${params.id ?? '?'}` },
    async handler(call) {
      const run = await call.options.replication.run(call.params.id, loginOf(call.identity));
      call.auditDetail = { execution: run.id };
      return executionView({ run, policyId: call.params.id });
    },
  }),
  route({
    method: 'GET',
    path: '/replication/policies/{id}/executions',
    operationId: 'listReplications',
    summary: "A policy's executions, newest first",
    task: 'reading replication executions',
    ...ADMIN_ONLY,
    params: PolicyParams,
    query: RunsQuery,
    success: { status: 200, description: 'One page of executions', schema: ReplicationExecutionList },
    errors: [404],
    async handler(call) {
      const id = call.params.id;
      const replication = call.options.replication;
      await replication.policy(id);
      return historyPage(
        call,
        async (page) => (await replication.executions(id, page)).map((e) => e.run),
        (run) => executionView({ run, policyId: id }),
      );
    },
  }),
  route({
    method: 'GET',
    path: '/replication/policies/{id}/executions/{execution}',
    operationId: 'getReplication',
    summary:
      'One execution: its progress or summary, and its tasks (the first 1000; `?status=failed` narrows)',
    task: 'reading replication executions',
    ...ADMIN_ONLY,
    params: ExecutionParams,
    query: TasksQuery,
    success: { status: 200, description: 'The execution with its tasks', schema: ReplicationExecution },
    errors: [404],
    async handler(call) {
      const { id, execution } = call.params;
      const replication = call.options.replication;
      const found = await replication.execution(id, execution);
      const tasks = await replication.tasks(id, execution, {
        limit: TASKS_SHOWN,
        ...(call.query.status && { status: call.query.status }),
      });
      return executionView(found, tasks);
    },
  }),
  route({
    method: 'POST',
    path: '/replication/policies/{id}/executions/{execution}/retry',
    operationId: 'retryReplication',
    summary: 'Start an execution of the tasks an ended execution did not finish',
    task: 'retrying a replication',
    ...ADMIN_ONLY,
    params: ExecutionParams,
    success: { status: 202, description: 'Started', schema: ReplicationExecution },
    errors: [404, 409],
    audit: { action: 'replication.retry', resource: (params) => `replication:${params.id ?? '?'}` },
    async handler(call) {
      const { id, execution } = call.params;
      const run = await call.options.replication.retry(id, execution, loginOf(call.identity));
      call.auditDetail = { execution: run.id, retryOf: execution };
      return executionView({ run, policyId: id });
    },
  }),
];

/** Where other registries tell an event-triggered pull policy of their pushes and deletes. */
const eventRoutes: ApiRoute[] = [
  // B is the text as received (rawBody): no schema says so.
  route<ById, undefined, string>({
    method: 'POST',
    path: '/replication/policies/{id}/events',
    operationId: 'receiveReplicationEvents',
    summary:
      "A remote's pushes and deletes for an event-triggered pull policy: Berth's CloudEvents webhook, Harbor's " +
      "webhook or Distribution's notification envelope; replicated within seconds",
    task: 'sending replication events',
    tag,
    // No account: the remote proves the policy's event secret instead (checked over the exact body).
    gate: 'none',
    access:
      "the policy's remote, proving its eventSecret: an X-Berth-Signature: sha256=<hex HMAC-SHA256 of the body> " +
      'header (Berth webhooks with that secret), or Authorization: Bearer <eventSecret> (Distribution, Harbor)',
    params: PolicyParams,
    rawBody: {
      mediaTypes: [
        'application/cloudevents+json',
        'application/json',
        'application/vnd.docker.distribution.events.v1+json',
        'application/cloudevents-batch+json',
      ],
      description:
        'A Berth CloudEvent (io.berth.artifact.pushed / .deleted) or a batch of them, a Harbor payload ' +
        '(PUSH_ARTIFACT / DELETE_ARTIFACT), or a Distribution envelope {"events":[{"action":"push","target":{…}}]}',
    },
    success: {
      status: 202,
      description: 'Taken: the accepted events run as tasks of the next event execution',
      schema: PolicyEventsAnswer,
    },
    errors: [401, 404, 409],
    audit: { action: 'replication.events', resource: (params) => `replication:${params.id ?? '?'}` },
    async handler(call) {
      const header = (name: string) => {
        const value = call.request.headers[name];
        return typeof value === 'string' ? value : undefined;
      };
      const answer = await call.options.replication.receiveEvents(
        call.params.id,
        Buffer.from(call.body, 'utf8'),
        { signature: header(SIGNATURE_HEADER), authorization: header('authorization') },
      );
      call.auditDetail = answer;
      return answer;
    },
  }),
];

export const replicationRoutes: ApiRoute[] = [...registryRoutes, ...policyRoutes, ...eventRoutes];
