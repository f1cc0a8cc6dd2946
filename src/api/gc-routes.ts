import type { z } from 'zod';
import type { JobRunRow } from '../metadata/index.js';
import { loginOf, SYSTEM_ADMINS } from './access.js';
import { CollectionRun, CollectionRunList, CollectionRunParams, StartCollectionBody } from './gc-schemas.js';
import { jobRunView, systemRunRoutes } from './job-runs.js';
import { type ApiRoute, route } from './route.js';

const tag = 'garbage collection';

function runOf(row: JobRunRow): z.input<typeof CollectionRun> {
  return {
    ...jobRunView(row),
    progress: row.status === 'running' ? row.progress : null,
    summary: row.status === 'succeeded' ? (row.summary as z.input<typeof CollectionRun>['summary']) : null,
  };
}

export const gcRoutes: ApiRoute[] = [
  route({
    method: 'POST',
    path: '/gc/runs',
    operationId: 'startGarbageCollection',
    summary: 'Start garbage collection (or a dry run) now; pushes and pulls go on meanwhile',
    task: 'starting garbage collection',
    tag,
    gate: 'systemAdmin',
    access: SYSTEM_ADMINS,
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
      return runOf(run);
    },
  }),
  ...systemRunRoutes({
    path: '/gc/runs',
    tag,
    job: 'garbage collection',
    list: {
      operationId: 'listGarbageCollections',
      summary: 'Garbage collection runs, newest first',
      schema: CollectionRunList,
    },
    get: {
      operationId: 'getGarbageCollection',
      summary: 'One garbage collection run: its progress, or its summary once done',
      schema: CollectionRun,
    },
    params: CollectionRunParams,
    history: (options) => options.gc,
    view: runOf,
  }),
];
