import type { z } from 'zod';
import type { JobRunRow } from '../metadata/index.js';
import { RegistryError } from '../registry/index.js';
import { loginOf } from './access.js';
import { CollectionRun, CollectionRunList, CollectionRunParams, StartCollectionBody } from './gc-schemas.js';
import { jobRunView, runsPage } from './job-runs.js';
import { type ApiRoute, route } from './route.js';
import { RunsQuery } from './schemas.js';

type RunPath = z.output<typeof CollectionRunParams>;
type RunsPage = z.output<typeof RunsQuery>;

const tag = 'garbage collection';
const ADMINS = 'system administrators';

function runOf(row: JobRunRow): z.input<typeof CollectionRun> {
  return {
    ...jobRunView(row),
    progress: row.status === 'running' ? row.progress : null,
    summary: row.status === 'succeeded' ? (row.summary as z.input<typeof CollectionRun>['summary']) : null,
  };
}

export const gcRoutes: ApiRoute[] = [
  route<undefined, undefined, z.output<typeof StartCollectionBody>>({
    method: 'POST',
    path: '/gc/runs',
    operationId: 'startGarbageCollection',
    summary: 'Start garbage collection (or a dry run) now; pushes and pulls go on meanwhile',
    task: 'starting garbage collection',
    tag,
    gate: 'systemAdmin',
    access: ADMINS,
    body: StartCollectionBody,
    success: {
      status: 202,
      description: 'Started; it runs in the background (poll the run for its progress and summary)',
      schema: CollectionRun,
    },
    errors: [409],
    audit: { action: 'gc.run', resource: () => 'registry' },
    async handler(call) {
      const run = await call.options.gc.start({
        dryRun: call.body.dryRun,
        trigger: 'manual',
        requestedBy: loginOf(call.identity),
      });
      call.auditDetail = { id: run.id, dryRun: run.dryRun };
      call.reply.code(202);
      return runOf(run);
    },
  }),
  route<undefined, RunsPage>({
    method: 'GET',
    path: '/gc/runs',
    operationId: 'listGarbageCollections',
    summary: 'Garbage collection runs, newest first',
    task: 'reading garbage collection runs',
    tag,
    gate: 'systemAdmin',
    access: ADMINS,
    query: RunsQuery,
    success: { status: 200, description: 'One page of runs', schema: CollectionRunList },
    async handler(call) {
      return runsPage(call, (page) => call.options.gc.runs(page), runOf);
    },
  }),
  route<RunPath>({
    method: 'GET',
    path: '/gc/runs/{id}',
    operationId: 'getGarbageCollection',
    summary: 'One garbage collection run: its progress, or its summary once done',
    task: 'reading garbage collection runs',
    tag,
    gate: 'systemAdmin',
    access: ADMINS,
    params: CollectionRunParams,
    success: { status: 200, description: 'The run', schema: CollectionRun },
    errors: [404],
    async handler(call) {
      const run = await call.options.gc.run(call.params.id);
      if (!run)
        throw new RegistryError('NOT_FOUND', { message: `no garbage collection run ${call.params.id}` });
      return runOf(run);
    },
  }),
];
