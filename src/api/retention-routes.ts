import type { z } from 'zod';
import type { JobRunRow } from '../metadata/index.js';
import { loginOf, MEMBERS } from './access.js';
import { historyPage, jobRunView } from './job-runs.js';
import {
  RetentionPolicy,
  RetentionRun,
  RetentionRunList,
  RetentionRunParams,
  SetRetentionPolicyBody,
  StartRetentionRunBody,
} from './retention-schemas.js';
import { type ApiRoute, preamble, route } from './route.js';
import { ProjectParams, RunsQuery } from './schemas.js';

const tag = 'retention';
const FOR_MEMBERS = preamble({ tag, gate: 'authenticated', access: MEMBERS, project: 'member' });
const FOR_ADMINS = preamble({
  tag,
  gate: 'authenticated',
  access: 'project administrators of the project and system administrators',
  project: 'project:settings',
});

function runOf(row: JobRunRow): z.input<typeof RetentionRun> {
  return {
    ...jobRunView(row),
    project: row.scope,
    progress: row.status === 'running' ? row.progress : null,
    summary: row.status === 'running' ? null : (row.summary as z.input<typeof RetentionRun>['summary']),
  };
}

export const retentionRoutes: ApiRoute[] = [
  route({
    method: 'GET',
    path: '/projects/{name}/retention',
    operationId: 'getRetentionPolicy',
    summary: "Read a project's retention policy",
    task: "reading a project's retention policy",
    ...FOR_MEMBERS,
    params: ProjectParams,
    success: { status: 200, description: 'Its policy (no rules when it has none)', schema: RetentionPolicy },
    errors: [404],
    async handler(call) {
      const { name } = call.params;
      return call.options.retention.policy(name);
    },
  }),
  route({
    method: 'PUT',
    path: '/projects/{name}/retention',
    operationId: 'setRetentionPolicy',
    summary: "Set a project's retention policy and schedule",
    task: "setting a project's retention policy",
    ...FOR_ADMINS,
    params: ProjectParams,
    body: SetRetentionPolicyBody,
    success: { status: 200, description: 'The policy as stored', schema: RetentionPolicy },
    errors: [404],
    audit: { action: 'retention.set', resource: (params) => params.name ?? '?' },
    async handler(call) {
      const { name } = call.params;
      const policy = await call.options.retention.setPolicy(name, call.body);
      call.auditDetail = { rules: policy.rules, schedule: policy.schedule };
      return policy;
    },
  }),
  route({
    method: 'POST',
    path: '/projects/{name}/retention/runs',
    operationId: 'startRetentionRun',
    summary: 'Start a retention run (or a dry run) now',
    task: 'starting a retention run',
    ...FOR_ADMINS,
    params: ProjectParams,
    body: StartRetentionRunBody,
    success: {
      status: 202,
      description: 'Started; it runs in the background (poll the run for its summary)',
      schema: RetentionRun,
    },
    errors: [404, 409],
    audit: { action: 'retention.run', resource: (params) => params.name ?? '?' },
    async handler(call) {
      const { name } = call.params;
      const run = await call.options.retention.run(name, {
        dryRun: call.body.dryRun,
        trigger: 'manual',
        requestedBy: loginOf(call.identity),
      });
      call.auditDetail = { id: run.id, dryRun: run.dryRun };
      return runOf(run);
    },
  }),
  route({
    method: 'GET',
    path: '/projects/{name}/retention/runs',
    operationId: 'listRetentionRuns',
    summary: "A project's retention runs, newest first",
    task: "reading a project's retention runs",
    ...FOR_MEMBERS,
    params: ProjectParams,
    query: RunsQuery,
    success: { status: 200, description: 'One page of runs', schema: RetentionRunList },
    errors: [404],
    async handler(call) {
      const { name } = call.params;
      return historyPage(call, (page) => call.options.retention.runs(name, page), runOf);
    },
  }),
  route({
    method: 'GET',
    path: '/projects/{name}/retention/runs/{id}',
    operationId: 'getRetentionRun',
    summary: 'One retention run: its progress, or its summary once done',
    task: "reading a project's retention runs",
    ...FOR_MEMBERS,
    params: RetentionRunParams,
    success: { status: 200, description: 'The run', schema: RetentionRun },
    errors: [404],
    async handler(call) {
      const { name, id } = call.params;
      return runOf(await call.options.retention.getRun(name, id));
    },
  }),
];
